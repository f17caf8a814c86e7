-- Counts per machine (or line), product, local day and shift: fine-grained counters (a count per
-- minute) are summed to that grain. Good and reject complete each other when only one is exported.
with counts as (
    select
        *,
        coalesce(production_date, {{ local_date('counted_at') }}) as day,
        coalesce(reject_count, total_count - good_count, 0) as rejects
    from {{ ref('stg_mapped__production_counts') }}
)

select
    client_id,
    machine_id,
    product_id,
    day as production_date,
    coalesce(shift, 'all') as shift,
    max(planned_time_s) as planned_time_s,
    cast(sum(total_count) as bigint) as total_count,
    cast(sum(total_count - rejects) as bigint) as good_count,
    cast(sum(rejects) as bigint) as reject_count,
    mode(defect_code) filter (where rejects > 0) as defect_code,
    min(source_name) as source_name,
    min(source_file) as source_file,
    min(load_batch_id) as load_batch_id
from counts
where day is not null and total_count is not null
group by client_id, machine_id, product_id, day, coalesce(shift, 'all')

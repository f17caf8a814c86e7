-- Inspections of a unit or a lot. Exports say pass/fail, or counts, or both: the missing half follows
-- from the other (a failed unit is one defect; a lot with no defects passed).
with results as (
    select * from {{ ref('stg_mapped__quality_results') }}
),

cycles as (
    select cycle_id, machine_id, product_id, started_at from {{ ref('fct_cycles') }}
),

counted as (
    select
        results.*,
        coalesce(results.inspected_count, 1) as inspected,
        coalesce(
            results.defect_count,
            case when results.is_pass then 0 when not results.is_pass then coalesce(results.inspected_count, 1) end
        ) as defects
    from results
)

select
    counted.client_id,
    counted.inspection_id,
    counted.cycle_id,
    counted.lot_id,
    coalesce(counted.machine_id, cycles.machine_id) as machine_id,
    coalesce(counted.product_id, cycles.product_id) as product_id,
    coalesce(counted.inspected_at, cycles.started_at) as inspected_at,
    coalesce(counted.production_date, {{ local_date('coalesce(counted.inspected_at, cycles.started_at)') }})
        as production_date,
    counted.shift,
    counted.inspected as inspected_count,
    counted.defects as defect_count,
    coalesce(counted.is_pass, counted.defects = 0) as is_pass,
    case when counted.defects > 0 then coalesce(counted.defect_code, 'UNSPECIFIED') end as defect_code,
    case when counted.defects > 0 then counted.defect_text end as defect_text,
    counted.source_name,
    counted.source_file,
    counted.source_row,
    counted.load_batch_id
from counted
left join cycles on counted.cycle_id = cycles.cycle_id
where counted.defects is not null

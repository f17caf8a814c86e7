-- Defects by code, largest first, with the cumulative share that makes a Pareto chart.
with by_code as (
    select
        client_id,
        defect_code,
        any_value(defect_name) as defect_name,
        sum(defect_count) as defect_count
    from {{ ref('fct_quality_results') }}
    where defect_count > 0
    group by client_id, defect_code
)

select
    cast(client_id as varchar) as client_id,
    cast(defect_code as varchar) as defect_code,
    cast(defect_name as varchar) as defect_name,
    cast(defect_count as bigint) as defect_count,
    cast(round(defect_count / sum(defect_count) over (), 6) as double) as share,
    cast(sum(defect_count) over (order by defect_count desc, defect_code rows unbounded preceding)
        / sum(defect_count) over () as double) as cumulative_share,
    cast(row_number() over (order by defect_count desc, defect_code) as integer) as pareto_rank
from by_code

-- Defects by code, largest first, with the cumulative share that makes a Pareto chart. Shares are rounded
-- to 6 decimals, then + 0.0 (-0.0 becomes 0.0), so the same data gives the same figures to the last digit.
with by_code as (
    select
        results.client_id,
        results.defect_code,
        any_value(coalesce(types.defect_name, results.defect_code)) as defect_name,
        sum(results.defect_count) as defect_count
    from {{ ref('fct_quality_results') }} as results
    left join {{ ref('dim_defect_types') }} as types on results.defect_code = types.defect_code
    where results.defect_count > 0
    group by results.client_id, results.defect_code
)

select
    cast(client_id as varchar) as client_id,
    cast(defect_code as varchar) as defect_code,
    cast(defect_name as varchar) as defect_name,
    cast(defect_count as bigint) as defect_count,
    cast(round(defect_count / sum(defect_count) over (), 6) + 0.0 as double) as share,
    cast(round(sum(defect_count) over (order by defect_count desc, defect_code rows unbounded preceding)
        / sum(defect_count) over (), 6) + 0.0 as double) as cumulative_share,
    cast(row_number() over (order by defect_count desc, defect_code) as integer) as pareto_rank
from by_code

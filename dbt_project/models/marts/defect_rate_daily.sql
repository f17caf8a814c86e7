-- Measures are rounded to 6 decimals, then + 0.0 (-0.0 becomes 0.0): DuckDB adds floats in parallel in no
-- fixed order, and re-running the same data must give the same numbers to the last digit.
select
    cast(client_id as varchar) as client_id,
    cast(machine_id as varchar) as machine_id,
    cast(production_date as date) as production_date,
    cast(sum(inspected_count) as bigint) as inspected_count,
    cast(sum(defect_count) as bigint) as defect_count,
    cast(round(sum(defect_count) / nullif(sum(inspected_count), 0), 6) + 0.0 as double) as defect_rate
from {{ ref('fct_quality_results') }}
group by all

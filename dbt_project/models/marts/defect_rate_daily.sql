select
    cast(client_id as varchar) as client_id,
    cast(machine_id as varchar) as machine_id,
    cast(production_date as date) as production_date,
    cast(sum(inspected_count) as bigint) as inspected_count,
    cast(sum(defect_count) as bigint) as defect_count,
    cast(sum(defect_count) / nullif(sum(inspected_count), 0) as double) as defect_rate
from {{ ref('fct_quality_results') }}
group by all

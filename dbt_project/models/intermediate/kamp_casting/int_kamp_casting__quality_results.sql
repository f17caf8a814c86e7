-- Every cast is inspected; the export records pass/fail only, so defects carry code UNSPECIFIED.
select
    client_id,
    cast_id as inspection_id,
    cast_id as cycle_id,
    cast(null as varchar) as lot_id,
    machine_id,
    product_id,
    cast_at as inspected_at,
    cast(cast_at_local as date) as production_date,
    1 as inspected_count,
    case when is_defect then 1 else 0 end as defect_count,
    not is_defect as is_pass,
    case when is_defect then 'UNSPECIFIED' end as defect_code,
    case when is_defect then 'defect (type not recorded)' end as defect_name,
    source_file,
    load_batch_id
from {{ ref('int_kamp_casting__casts_deduplicated') }}

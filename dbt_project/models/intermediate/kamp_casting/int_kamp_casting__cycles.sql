select
    client_id,
    cast_id as cycle_id,
    machine_id,
    product_id,
    cast_at as started_at,
    cast(cast_at_local as date) as production_date,
    production_cycle_time_s as cycle_time_s,
    1 as part_count,
    source_file,
    load_batch_id
from {{ ref('int_kamp_casting__casts_deduplicated') }}

select
    client_id,
    shot_id as cycle_id,
    machine_id,
    product_id,
    shot_at as started_at,
    cast(shot_at_local as date) as production_date,
    cycle_time_s,
    1 as part_count,
    source_file,
    load_batch_id
from {{ ref('int_kamp_molding__shots_deduplicated') }}

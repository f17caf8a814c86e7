select
    client_id,
    product_id,
    product_name,
    ideal_cycle_time_s,
    parts_per_cycle,
    source_file,
    load_batch_id
from {{ ref('stg_client__products') }}

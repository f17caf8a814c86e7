select
    client_id,
    site_id,
    line_id,
    machine_id,
    machine_name,
    machine_class,
    rated_power_kw,
    source_file,
    load_batch_id
from {{ ref('stg_client__machines') }}

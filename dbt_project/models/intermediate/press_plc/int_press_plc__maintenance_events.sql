select
    client_id,
    work_order_id,
    machine_id,
    event_type,
    failure_mode,
    reported_at,
    repair_started_at,
    repair_ended_at,
    epoch(repair_ended_at - repair_started_at) as repair_time_s,
    source_file,
    load_batch_id
from {{ ref('stg_press_plc__maintenance') }}
qualify row_number() over (partition by work_order_id order by loaded_at, load_batch_id, source_row) = 1

-- Maintenance orders and failures, their own entity (never posing as quality).
select
    client_id,
    maintenance_id,
    machine_id,
    unit_id,
    coalesce(event_type, 'corrective') as event_type,
    failure_mode,
    reported_at,
    repair_started_at,
    repair_ended_at,
    epoch(repair_ended_at) - epoch(coalesce(repair_started_at, reported_at)) as repair_time_s,
    source_name,
    source_file,
    source_row,
    load_batch_id
from {{ ref('stg_mapped__maintenance_events') }}

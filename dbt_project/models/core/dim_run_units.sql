-- Run-to-failure units (engines, tools, moulds): their observed life in cycles, and whether it ended in a
-- failure (a failure maintenance event names the unit) — what remaining-useful-life models learn from.
with cycles as (
    select * from {{ ref('fct_cycles') }} where unit_id is not null
),

failures as (
    select unit_id, min(reported_at) as failed_at
    from {{ ref('fct_maintenance_events') }}
    where unit_id is not null and event_type = 'failure'
    group by unit_id
)

select
    any_value(cycles.client_id) as client_id,
    cycles.unit_id,
    mode(cycles.machine_id) as machine_id,
    min(cycles.started_at) as first_cycle_at,
    max(cycles.started_at) as last_cycle_at,
    count(*) as cycles_observed,
    coalesce(max(cycles.unit_cycle), count(*)) as life_cycles,
    any_value(failures.failed_at) is not null as has_failed,
    any_value(failures.failed_at) as failed_at,
    min(cycles.source_file) as source_file,
    min(cycles.load_batch_id) as load_batch_id
from cycles
left join failures on cycles.unit_id = failures.unit_id
group by cycles.unit_id

-- Run-to-failure units (engines, tools, moulds): their observed life in cycles, and whether it ended in a
-- failure — a failure maintenance event naming the unit, or the mapping declaring the unit's records run to
-- failure (its last cycle is its failure) — what remaining-useful-life models learn from.
with cycles as (
    select * from {{ ref('fct_cycles') }} where unit_id is not null
),

failures as (
    select unit_id, min(reported_at) as failed_at
    from {{ ref('fct_maintenance_events') }}
    where unit_id is not null and event_type = 'failure'
    group by unit_id
),

units as (
    select
        any_value(cycles.client_id) as client_id,
        cycles.unit_id,
        mode(cycles.machine_id order by cycles.machine_id) as machine_id,
        min(cycles.started_at) as first_cycle_at,
        max(cycles.started_at) as last_cycle_at,
        max(coalesce(cycles.ended_at, cycles.started_at)) as last_cycle_end,
        count(*) as cycles_observed,
        coalesce(max(cycles.unit_cycle), count(*)) as life_cycles,
        bool_or(cycles.unit_run_to_failure) as run_to_failure,
        min(cycles.source_file) as source_file,
        min(cycles.load_batch_id) as load_batch_id
    from cycles
    group by cycles.unit_id
)

select
    units.client_id,
    units.unit_id,
    units.machine_id,
    units.first_cycle_at,
    units.last_cycle_at,
    units.cycles_observed,
    units.life_cycles,
    failures.failed_at is not null or units.run_to_failure as has_failed,
    coalesce(failures.failed_at, case when units.run_to_failure then units.last_cycle_end end) as failed_at,
    units.source_file,
    units.load_batch_id
from units
left join failures on units.unit_id = failures.unit_id

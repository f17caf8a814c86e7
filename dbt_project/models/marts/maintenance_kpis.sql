-- Sums are rounded to 6 decimals where they are taken and measures again at the end, then + 0.0 (-0.0
-- becomes 0.0): DuckDB adds floats in parallel in no fixed order, and re-running the same data must give the
-- same numbers to the last digit.
-- MTBF = operating time ÷ failures; MTTR = repair time ÷ repairs (failures), per machine with a log.
with events as (
    select
        client_id,
        machine_id,
        count(*) filter (where event_type = 'failure') as failure_count,
        round(sum(repair_time_s) filter (where event_type = 'failure'), 6) + 0.0 as failure_repair_s
    from {{ ref('fct_maintenance_events') }}
    group by all
),

operating as (
    select machine_id, round(sum(least(greatest(run_time_s, 0), planned_time_s)), 6) / 3600.0 as operating_time_h
    from {{ ref('int_oee_inputs_daily') }}
    group by machine_id
)

select
    cast(events.client_id as varchar) as client_id,
    cast(events.machine_id as varchar) as machine_id,
    cast(events.failure_count as bigint) as failure_count,
    cast(round(coalesce(operating.operating_time_h, 0), 6) + 0.0 as double) as operating_time_h,
    cast(round(operating.operating_time_h / nullif(events.failure_count, 0), 6) + 0.0 as double) as mtbf_h,
    cast(round(events.failure_repair_s / 3600.0 / nullif(events.failure_count, 0), 6) + 0.0 as double) as mttr_h
from events
left join operating on events.machine_id = operating.machine_id

-- Stops with a reason from the common tree. Delivered stop records come first; for machines whose data
-- has none, stops are read from the machine-state intervals (down or planned stop), and their reason from
-- the maintenance order that covers them (breakdown or planned maintenance).
with delivered as (
    select
        client_id,
        downtime_id,
        machine_id,
        started_at,
        coalesce(duration_s, epoch(ended_at) - epoch(started_at)) as duration_s,
        coalesce(production_date, {{ local_date('started_at') }}) as production_date,
        shift,
        coalesce(reason_code, 'UNSPECIFIED') as reason_code,
        reason_text,
        'delivered' as origin,
        source_name,
        source_file,
        load_batch_id
    from {{ ref('stg_mapped__downtime_events') }}
),

from_states as (
    select states.*
    from {{ ref('fct_machine_states') }} as states
    where states.state in ('down', 'planned_stop')
        and states.machine_id not in (select machine_id from delivered where machine_id is not null)
),

maintenance as (
    select * from {{ ref('fct_maintenance_events') }}
),

explained as (
    select
        from_states.*,
        maintenance.event_type
    from from_states
    left join maintenance
        on from_states.machine_id = maintenance.machine_id
        and from_states.started_at
            between maintenance.reported_at - interval 30 minute
            and coalesce(maintenance.repair_ended_at, maintenance.reported_at + interval 1 day)
    qualify row_number() over (
        partition by from_states.machine_id, from_states.started_at order by maintenance.reported_at
    ) = 1
),

derived as (
    select
        client_id,
        machine_id || '@' || strftime({{ local_time('started_at') }}, '%Y%m%dT%H%M%S') as downtime_id,
        machine_id,
        started_at,
        duration_s,
        {{ local_date('started_at') }} as production_date,
        cast(null as varchar) as shift,
        case
            when event_type in ('failure', 'corrective') then 'BREAKDOWN'
            when event_type in ('preventive', 'inspection') then 'PLANNED_MAINTENANCE'
            when state = 'planned_stop' then 'PLANNED_STOP'
            else 'UNSPECIFIED'
        end as reason_code,
        state_text as reason_text,
        'machine states' as origin,
        source_name,
        source_file,
        load_batch_id
    from explained
),

stops as (
    select * from delivered
    union all
    select * from derived
)

select
    stops.client_id,
    stops.downtime_id,
    stops.machine_id,
    stops.started_at,
    stops.duration_s,
    stops.production_date,
    stops.shift,
    stops.reason_code,
    reasons.reason_name,
    stops.reason_text,
    reasons.is_planned,
    reasons.loss_category,
    stops.origin,
    stops.source_name,
    stops.source_file,
    stops.load_batch_id
from stops
left join {{ ref('dim_stop_reasons') }} as reasons on stops.reason_code = reasons.reason_code

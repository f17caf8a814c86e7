-- Planned production time per machine and local day, from the shift calendar: every shift pattern that
-- applies to the machine on that weekday (within its validity), nothing on non-working days. A client
-- with no calendar runs around the clock. Days are those on which the machine has any data.
with activity as (
    {% for entity, column in [('fct_cycles', 'production_date'), ('fct_production_counts', 'production_date'),
                              ('fct_downtime_events', 'production_date')] %}
    select distinct machine_id, {{ column }} as production_date from {{ ref(entity) }}
    where machine_id is not null and {{ column }} is not null
    union
    {% endfor %}
    select distinct machine_id, {{ local_date('started_at') }} as production_date from {{ ref('fct_machine_states') }}
),

shifts as (
    select * from {{ ref('dim_shifts') }}
),

has_calendar as (
    select count(*) > 0 as yes from shifts
),

non_working as (
    select * from {{ ref('stg_mapped__non_working_days') }}
),

calendar as (
    select
        activity.machine_id,
        activity.production_date,
        round(sum(shifts.planned_time_s), 6) + 0.0 as shift_time_s,  -- the same figure whatever the order
        count(shifts.shift) as shifts
    from activity
    left join shifts
        on (shifts.machine_id is null or shifts.machine_id = activity.machine_id)
        and shifts.iso_dow = isodow(activity.production_date)
        and activity.production_date between coalesce(shifts.valid_from, date '1900-01-01')
            and coalesce(shifts.valid_to, date '2999-12-31')
    group by all
)

select
    calendar.machine_id,
    calendar.production_date,
    case
        when exists (
            select 1 from non_working
            where non_working.day = calendar.production_date
                and (non_working.machine_id is null or non_working.machine_id = calendar.machine_id)
        ) then 0.0
        when has_calendar.yes then coalesce(calendar.shift_time_s, 0.0)
        else 86400.0
    end as planned_time_s,
    case when has_calendar.yes then 'shift calendar' else 'around the clock (no calendar)' end as planned_from
from calendar
cross join has_calendar

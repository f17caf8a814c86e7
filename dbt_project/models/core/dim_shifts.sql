-- The shift calendar: one row per shift pattern and weekday it runs (ISO: 1 = Monday … 7 = Sunday), with
-- its planned seconds (shift length less breaks; a shift ending before it starts ends the next day).
with shifts as (
    select * from {{ ref('stg_mapped__shifts') }}
),

day_names as (
    select * from {{ ref('weekday_names') }}
),

tokens as (
    select shifts.*, unnest(string_split(replace(lower(coalesce(weekdays, 'mon-fri')), ' ', ''), ',')) as token
    from shifts
),

ranges as (
    select
        tokens.*,
        first_day.first_dow as from_dow,
        coalesce(last_day.last_dow, first_day.last_dow) as to_dow
    from tokens
    left join day_names as first_day on split_part(tokens.token, '-', 1) = first_day.day_name
    left join day_names as last_day on nullif(split_part(tokens.token, '-', 2), '') = last_day.day_name
),

days as (
    -- A range may wrap the week (fri-mon): count on past Sunday, then fold back to 1-7.
    select
        ranges.*,
        unnest(generate_series(from_dow, to_dow + case when to_dow < from_dow then 7 else 0 end)) as day_number
    from ranges
    where from_dow is not null
)

select distinct
    client_id,
    shift,
    machine_id,
    ((day_number - 1) % 7) + 1 as iso_dow,
    starts,
    ends,
    valid_from,
    valid_to,
    (epoch(ends) - epoch(starts) + case when ends <= starts then 86400 else 0 end) - coalesce(break_s, 0)
        as planned_time_s,
    source_file,
    load_batch_id
from days

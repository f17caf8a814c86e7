-- Machine state intervals. Delivered intervals keep their end; samples (a state column on a time series)
-- last until the next sample, at most one sample period (a gap in the data is not a state). Consecutive
-- pieces of the same state are merged into one interval, never across the factory's local midnight, so
-- that daily figures (run time, stops) count each day's own time.
with states as (
    select * from {{ ref('stg_mapped__machine_states') }}
    where started_at is not null and state is not null
),

-- Each sample beside its neighbours, in one pass over the machine's samples (one sort, not one per step):
-- the previous sample's end is computed from its own columns (its next sample is this one).
neighbours as (
    select
        *,
        lead(started_at) over machine_time as next_started_at,
        lag(state) over machine_time as previous_state,
        lag(started_at) over machine_time as previous_started_at,
        lag(ended_at) over machine_time as previous_ended_at,
        lag(duration_s) over machine_time as previous_duration_s
    from states
    window machine_time as (partition by machine_id order by started_at)
),

marked as (
    select
        *,
        coalesce(
            ended_at,
            least(next_started_at, started_at + to_microseconds(cast(duration_s * 1e6 as bigint))),
            next_started_at
        ) as ends,
        case
            when previous_state = state
                and coalesce(
                    previous_ended_at,
                    least(started_at, previous_started_at + to_microseconds(cast(previous_duration_s * 1e6 as bigint)))
                ) = started_at
                and {{ local_date('previous_started_at') }} = {{ local_date('started_at') }}
                then 0
            else 1
        end as is_new_interval
    from neighbours
),

numbered as (
    select *, sum(is_new_interval) over (partition by machine_id order by started_at rows unbounded preceding) as interval_no
    from marked
)

select
    any_value(client_id) as client_id,
    machine_id,
    any_value(state) as state,
    mode(state_text) as state_text,
    min(started_at) as started_at,
    max(ends) as ended_at,
    epoch(max(ends)) - epoch(min(started_at)) as duration_s,
    count(*) as samples,
    min(source_name) as source_name,
    min(source_file) as source_file,
    min(load_batch_id) as load_batch_id
from numbered
where ends is not null
group by machine_id, interval_no

-- Machine state intervals. Delivered intervals keep their end; samples (a state column on a time series)
-- last until the next sample, at most one sample period (a gap in the data is not a state). Consecutive
-- pieces of the same state are merged into one interval, never across the factory's local midnight, so
-- that daily figures (run time, stops) count each day's own time.
with states as (
    select * from {{ ref('stg_mapped__machine_states') }}
),

bounded as (
    select
        *,
        coalesce(
            ended_at,
            least(
                lead(started_at) over (partition by machine_id order by started_at),
                started_at + to_microseconds(cast(duration_s * 1e6 as bigint))
            ),
            started_at + to_microseconds(cast(duration_s * 1e6 as bigint)),
            lead(started_at) over (partition by machine_id order by started_at)
        ) as ends
    from states
    where started_at is not null and state is not null
),

marked as (
    select
        *,
        case
            when lag(state) over (partition by machine_id order by started_at) = state
                and lag(ends) over (partition by machine_id order by started_at) = started_at
                and {{ local_date('lag(started_at) over (partition by machine_id order by started_at)') }}
                    = {{ local_date('started_at') }}
                then 0
            else 1
        end as is_new_interval
    from bounded
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

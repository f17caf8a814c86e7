-- Consecutive DOWN minutes form one stop (a gap of more than 5 minutes ends it). The stop's reason comes
-- from the work order whose repair window it falls in: breakdown (BM) or planned maintenance (PM).
with minutes as (
    select * from {{ ref('int_press_plc__sensor_minutes') }}
),

marked as (
    select
        *,
        machine_status = 'DOWN' as is_down,
        lag(machine_status) over (partition by machine_id order by read_at) as previous_status,
        lag(read_at) over (partition by machine_id order by read_at) as previous_read_at
    from minutes
),

numbered as (
    select
        *,
        sum(case when previous_status is distinct from 'DOWN' or read_at - previous_read_at > interval 5 minute
            then 1 else 0 end) over (partition by machine_id order by read_at rows unbounded preceding) as stop_number
    from marked
    where is_down
),

stops as (
    select
        client_id,
        machine_id,
        stop_number,
        min(read_at) as started_at,
        min(read_at_local) as started_at_local,
        count(*) * 60.0 as duration_s,
        min(source_file) as source_file,
        min(load_batch_id) as load_batch_id
    from numbered
    group by all
),

work_orders as (
    select * from {{ ref('stg_press_plc__maintenance') }}
),

reasons as (
    select * from {{ ref('downtime_reasons') }}
),

explained as (
    select
        stops.*,
        case work_orders.work_order_type when 'PM' then '계획정지' else '설비고장' end as reason_ko
    from stops
    left join work_orders
        on stops.machine_id = work_orders.machine_id
        and stops.started_at between work_orders.reported_at - interval 30 minute and work_orders.repair_ended_at
    qualify row_number() over (partition by stops.machine_id, stops.stop_number order by work_orders.reported_at) = 1
)

select
    explained.client_id,
    explained.machine_id || '@' || strftime(explained.started_at_local, '%Y%m%dT%H%M') as downtime_id,
    explained.machine_id,
    cast(explained.started_at_local as date) as production_date,
    'day' as shift,
    explained.started_at,
    explained.duration_s,
    reasons.reason_code,
    reasons.reason_name_en as reason_name,
    reasons.is_planned,
    reasons.loss_category,
    explained.source_file,
    explained.load_batch_id
from explained
left join reasons on explained.reason_ko = reasons.reason_ko

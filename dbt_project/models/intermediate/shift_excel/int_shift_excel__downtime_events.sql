-- The diary gives stop durations per shift, not start times: started_at stays empty.
with stops as (
    select * from {{ ref('stg_shift_excel__downtime') }}
),

reasons as (
    select * from {{ ref('downtime_reasons') }}
)

select
    stops.client_id,
    stops.load_batch_id || ':' || stops.source_row as downtime_id,
    stops.machine_id,
    stops.production_date,
    stops.shift,
    cast(null as timestamptz) as started_at,
    stops.duration_s,
    reasons.reason_code,
    reasons.reason_name_en as reason_name,
    reasons.is_planned,
    reasons.loss_category,
    stops.source_file,
    stops.load_batch_id
from stops
left join reasons on stops.reason_ko = reasons.reason_ko

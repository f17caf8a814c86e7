-- Strokes per press and local day; the press line runs one (day) shift; every stroke makes one part.
with minutes as (
    select * from {{ ref('int_press_plc__sensor_minutes') }}
),

settings as (
    select * from {{ ref('stg_client__settings') }}
),

product as (
    select min(product_id) as product_id from {{ ref('stg_client__products') }}
)

select
    minutes.client_id,
    cast(minutes.read_at_local as date) as production_date,
    'day' as shift,
    minutes.machine_id,
    product.product_id,
    settings.planned_hours_per_day * 3600 as planned_time_s,
    sum(minutes.stroke_count) as total_count,
    sum(minutes.stroke_count) as good_count,
    0 as reject_count,
    min(minutes.source_file) as source_file,
    min(minutes.load_batch_id) as load_batch_id
from minutes
cross join settings
cross join product
group by all

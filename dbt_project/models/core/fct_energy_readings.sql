-- Energy per meter and interval. An export gives the start, the end or both; the interval length fills in.
with readings as (
    select * from {{ ref('stg_mapped__energy_readings') }}
),

meters as (
    select * from {{ ref('stg_mapped__energy_meters') }}
),

only_meter as (
    select case when count(*) = 1 then min(meter_id) end as meter_id from meters
),

dims as (
    select meter_id, site_id from {{ ref('dim_energy_meters') }}
)

select
    readings.client_id,
    coalesce(readings.meter_id, only_meter.meter_id, 'main') as meter_id,
    dims.site_id,
    coalesce(
        readings.interval_start,
        readings.interval_end - to_microseconds(cast(readings.interval_s * 1e6 as bigint))
    ) as interval_start,
    coalesce(
        readings.interval_end,
        readings.interval_start + to_microseconds(cast(readings.interval_s * 1e6 as bigint))
    ) as interval_end,
    readings.energy_kwh,
    readings.reactive_kvarh,
    readings.source_name,
    readings.source_file,
    readings.load_batch_id
from readings
cross join only_meter
left join dims on coalesce(readings.meter_id, only_meter.meter_id, 'main') = dims.meter_id
where readings.energy_kwh is not null

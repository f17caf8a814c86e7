{{ config(materialized='incremental', incremental_strategy='append', on_schema_change='fail') }}
-- Incremental: only the new load batches' rows are appended (see macros/incremental.sql for when).
-- depends_on: {{ ref('stg_mapped__energy_readings') }}
-- Energy per meter and interval. An export gives the start, the end or both; the interval length fills in.
with readings as (
    {% if is_incremental() %}
    {{ new_batch_rows('energy_readings') }}
    {% else %}
    select * from {{ ref('stg_mapped__energy_readings') }}
    {% endif %}
),

dims as (
    select meter_id, site_id from {{ ref('dim_energy_meters') }}
)

select
    readings.client_id,
    coalesce(readings.meter_id, {{ the_only('meter_id', ref('stg_mapped__energy_meters')) }}, 'main') as meter_id,
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
left join dims on coalesce(readings.meter_id, {{ the_only('meter_id', ref('stg_mapped__energy_meters')) }}, 'main') = dims.meter_id
where readings.energy_kwh is not null

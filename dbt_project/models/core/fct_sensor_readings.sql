{{ config(materialized='incremental', incremental_strategy='append', on_schema_change='fail') }}
-- Incremental: only the new load batches' rows are appended (see macros/incremental.sql for when).
-- depends_on: {{ ref('stg_mapped__sensor_readings') }}
-- Sensor readings in long form (machine × tag × time), in canonical units.
with readings as (
    {% if is_incremental() %}
    {{ new_batch_rows('sensor_readings') }}
    {% else %}
    select * from {{ ref('stg_mapped__sensor_readings') }}
    {% endif %}
)

select
    readings.client_id,
    coalesce(readings.machine_id, {{ the_only('machine_id', ref('dim_equipment')) }}) as machine_id,
    readings.unit_id,
    readings.cycle_id,
    readings.tag,
    readings.read_at,
    readings.value,
    readings.unit,
    readings.quantity_kind,
    readings.source_name,
    readings.source_file,
    readings.load_batch_id
from readings
where readings.value is not null and readings.read_at is not null

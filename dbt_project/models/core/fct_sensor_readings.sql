-- Sensor readings in long form (machine × tag × time), in canonical units.
with readings as (
    select * from {{ ref('stg_mapped__sensor_readings') }}
),

only_machine as (
    select case when count(*) = 1 then min(machine_id) end as machine_id from {{ ref('dim_equipment') }}
)

select
    readings.client_id,
    coalesce(readings.machine_id, only_machine.machine_id) as machine_id,
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
cross join only_machine
where readings.value is not null and readings.read_at is not null

with readings as (
    {{ unpivot_parameters(
        ref('int_press_plc__sensor_minutes'),
        ['client_id', 'machine_id', 'read_at', 'source_file', 'load_batch_id'],
        [('oil_temp_c', '°C'), ('hydraulic_pressure_mpa', 'MPa'), ('vibration_mm_s', 'mm/s'),
         ('motor_current_a', 'A')]
    ) }}
)

select
    client_id,
    machine_id,
    parameter_name as tag,
    read_at,
    parameter_value as value,
    unit,
    source_file,
    load_batch_id
from readings

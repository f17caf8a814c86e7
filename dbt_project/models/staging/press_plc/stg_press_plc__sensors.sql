with source as (
    select * from {{ source('press_plc', 'sensors') }}
),

renamed as (
    select
        -- ids
        "press_id" as machine_id,
        -- timestamps (local wall-clock time)
        try_cast("timestamp" as timestamp) as read_at_local,
        {{ local_to_utc('try_cast("timestamp" as timestamp)') }} as read_at,
        -- state and counts
        upper(trim("status")) as machine_status,
        try_cast("strokes" as integer) as stroke_count,
        -- measures, converted to the common units (°F → °C, bar → MPa)
        (try_cast("oil_temp_F" as double) - 32) * 5 / 9 as oil_temp_c,
        try_cast("hydraulic_pressure_bar" as double) / 10 as hydraulic_pressure_mpa,
        try_cast("vibration_mm_s" as double) as vibration_mm_s,
        try_cast("motor_current_A" as double) as motor_current_a,
        {{ lineage_columns() }}
    from source
)

select * from renamed

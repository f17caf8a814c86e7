with source as (
    select * from {{ source('uci_steel_energy', 'energy') }}
),

renamed as (
    select
        -- timestamps: `date` is the END of a 15-minute interval, day first, local time
        try_strptime("date", '%d/%m/%Y %H:%M') as interval_end_local,
        {{ local_to_utc("try_strptime(\"date\", '%d/%m/%Y %H:%M')") }} as interval_end,
        -- measures
        try_cast("Usage_kWh" as double) as energy_kwh,
        try_cast("Lagging_Current_Reactive_Power_kVarh" as double) as lagging_reactive_kvarh,
        try_cast("Leading_Current_Reactive_Power_kVarh" as double) as leading_reactive_kvarh,
        try_cast("CO2(tCO2)" as double) * 1000 as reported_co2_kg,
        try_cast("Lagging_Current_Power_Factor" as double) as lagging_power_factor_pct,
        try_cast("Leading_Current_Power_Factor" as double) as leading_power_factor_pct,
        -- descriptions
        "WeekStatus" as week_status,
        "Load_Type" as load_type,
        {{ lineage_columns() }}
    from source
)

select * from renamed

-- Sums are rounded to 6 decimals where they are taken, then + 0.0 (-0.0 becomes 0.0), and ratios are taken
-- of the rounded sums: DuckDB adds floats in parallel in no fixed order, and re-running the same data must
-- give the same numbers to the last digit.
-- Energy per site and local day, energy per good unit where the site reports production, and CO2 from
-- each meter's contract factor or else the grid factor of its country valid that day.
with readings as (
    select
        readings.client_id,
        meters.site_id,
        meters.country,
        meters.contract_factor_kg_per_kwh,
        {{ local_date('readings.interval_start') }} as reading_date,
        readings.energy_kwh
    from {{ ref('fct_energy_readings') }} as readings
    left join {{ ref('dim_energy_meters') }} as meters on readings.meter_id = meters.meter_id
),

factors as (
    select * from {{ ref('emission_factors') }}
),

with_factor as (
    select
        readings.*,
        coalesce(readings.contract_factor_kg_per_kwh, factors.kg_co2e_per_kwh) as factor
    from readings
    left join factors
        on readings.country = factors.country
        and readings.reading_date between factors.valid_from and factors.valid_to
),

daily as (
    select
        client_id,
        coalesce(site_id, 'main') as site_id,
        reading_date,
        round(sum(energy_kwh), 6) + 0.0 as energy_kwh,
        round(sum(energy_kwh * factor), 6) + 0.0 as co2_kg
    from with_factor
    group by all
),

production as (
    select coalesce(equipment.site_id, 'main') as site_id, inputs.production_date, sum(inputs.good_count) as good_count
    from {{ ref('int_oee_inputs_daily') }} as inputs
    inner join {{ ref('dim_equipment') }} as equipment on inputs.machine_id = equipment.machine_id
    group by all
)

select
    cast(daily.client_id as varchar) as client_id,
    cast(daily.site_id as varchar) as site_id,
    cast(daily.reading_date as date) as reading_date,
    cast(daily.energy_kwh as double) as energy_kwh,
    cast(production.good_count as bigint) as good_count,
    cast(round(daily.energy_kwh / nullif(production.good_count, 0), 6) + 0.0 as double) as kwh_per_good_unit,
    cast(round(daily.co2_kg / nullif(daily.energy_kwh, 0), 6) + 0.0 as double) as emission_factor_kg_per_kwh,
    cast(daily.co2_kg as double) as co2_kg
from daily
left join production on daily.site_id = production.site_id and daily.reading_date = production.production_date

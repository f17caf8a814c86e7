-- Measures are rounded to 6 decimals: DuckDB adds floats in parallel in no fixed order, and re-running
-- the same data must give the same numbers to the last digit.
-- Energy per site and local day, energy per good unit where the site reports production, and CO2 from
-- the grid factor valid that day (or the client's own factor from client.yml).
with daily as (
    select
        client_id,
        site_id,
        {{ local_date('interval_start') }} as reading_date,
        sum(energy_kwh) as energy_kwh
    from {{ ref('fct_energy_readings') }}
    group by all
),

production as (
    select equipment.site_id, inputs.production_date, sum(inputs.good_count) as good_count
    from {{ ref('int_oee_inputs_daily') }} as inputs
    inner join {{ ref('dim_equipment') }} as equipment on inputs.machine_id = equipment.machine_id
    group by all
),

factors as (
    select * from {{ ref('emission_factors') }} where country = 'KR'
),

settings as (
    select * from {{ ref('stg_client__settings') }}
),

joined as (
    select
        daily.*,
        production.good_count,
        coalesce(settings.emission_factor_kg_per_kwh, factors.kg_co2e_per_kwh) as emission_factor_kg_per_kwh
    from daily
    cross join settings
    left join production on daily.site_id = production.site_id and daily.reading_date = production.production_date
    left join factors on daily.reading_date between factors.valid_from and factors.valid_to
)

select
    cast(client_id as varchar) as client_id,
    cast(site_id as varchar) as site_id,
    cast(reading_date as date) as reading_date,
    cast(round(energy_kwh, 6) as double) as energy_kwh,
    cast(good_count as bigint) as good_count,
    cast(round(energy_kwh / nullif(good_count, 0), 6) as double) as kwh_per_good_unit,
    cast(round(emission_factor_kg_per_kwh, 6) as double) as emission_factor_kg_per_kwh,
    cast(round(energy_kwh * emission_factor_kg_per_kwh, 6) as double) as co2_kg
from joined

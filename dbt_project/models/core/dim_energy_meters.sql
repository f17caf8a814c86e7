-- Energy meters from the mapping (or the one meter readings name), with the country whose grid factor applies.
with declared as (
    select * from {{ ref('stg_mapped__energy_meters') }}
),

seen as (
    select distinct coalesce(
        readings.meter_id,
        (select case when count(*) = 1 then min(meter_id) end from declared),
        'main'
    ) as meter_id
    from {{ ref('stg_mapped__energy_readings') }} as readings
),

client as (
    select * from {{ ref('stg_mapped__client') }}
),

sites as (
    select * from {{ ref('dim_sites') }}
),

only_site as (
    select case when count(*) = 1 then min(site_id) end as site_id from sites
)

select
    client.client_id,
    coalesce(declared.meter_id, seen.meter_id) as meter_id,
    coalesce(declared.meter_name, declared.meter_id, seen.meter_id) as meter_name,
    coalesce(declared.site_id, only_site.site_id) as site_id,
    declared.machine_id,
    coalesce(declared.country, sites.country, client.country) as country,
    declared.emission_factor_kg_per_kwh as contract_factor_kg_per_kwh,
    coalesce(declared.source_file, 'seen in the data') as source_file,
    coalesce(declared.load_batch_id, client.mapping_fingerprint) as load_batch_id
from declared
full outer join seen on declared.meter_id = seen.meter_id
cross join client
cross join only_site
left join sites on coalesce(declared.site_id, only_site.site_id) = sites.site_id

-- Sites from the mapping, plus any site a machine or meter names without a master row.
with declared as (
    select site_id, site_name, country, region, source_file, load_batch_id from {{ ref('stg_mapped__sites') }}
),

named as (
    select distinct site_id from {{ ref('stg_mapped__equipment') }} where site_id is not null
    union
    select distinct site_id from {{ ref('stg_mapped__energy_meters') }} where site_id is not null
),

client as (
    select * from {{ ref('stg_mapped__client') }}
)

select
    client.client_id,
    coalesce(declared.site_id, named.site_id) as site_id,
    coalesce(declared.site_name, declared.site_id, named.site_id) as site_name,
    coalesce(declared.country, client.country) as country,
    coalesce(declared.region, client.region) as region,
    coalesce(declared.source_file, 'mapping.yml') as source_file,
    coalesce(declared.load_batch_id, client.mapping_fingerprint) as load_batch_id
from declared
full outer join named on declared.site_id = named.site_id
cross join client

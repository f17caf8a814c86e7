-- One row per client: the key/value settings from client.yml, pivoted to typed columns.
with source as (
    select * from {{ source('client', 'settings') }}
),

renamed as (
    select
        max(value) filter (where key = 'client_id') as client_id,
        max(value) filter (where key = 'client_name') as client_name,
        max(value) filter (where key = 'timezone') as timezone,
        cast(max(value) filter (where key = 'planned_hours_per_day') as double) as planned_hours_per_day,
        try_cast(max(value) filter (where key = 'emission_factor_kg_per_kwh') as double) as emission_factor_kg_per_kwh,
        max(_source_file) as source_file,
        max(_load_batch_id) as load_batch_id
    from source
)

select * from renamed

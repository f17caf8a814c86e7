with source as (
    select * from {{ source('client', 'machines') }}
),

renamed as (
    select
        -- ids
        machine_id,
        line_id,
        site_id,
        -- descriptions
        machine_name,
        machine_class,
        -- measures
        try_cast(rated_power_kw as double) as rated_power_kw,
        {{ lineage_columns() }}
    from source
)

select * from renamed

with source as (
    select * from {{ source('client', 'products') }}
),

renamed as (
    select
        -- ids
        product_id,
        product_name,
        -- measures
        cast(ideal_cycle_time_s as double) as ideal_cycle_time_s,
        cast(coalesce(parts_per_cycle, '1') as integer) as parts_per_cycle,
        {{ lineage_columns() }}
    from source
)

select * from renamed

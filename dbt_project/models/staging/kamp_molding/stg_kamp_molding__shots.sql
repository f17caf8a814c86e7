with source as (
    select * from {{ source('kamp_molding', 'shots') }}
),

renamed as (
    select
        -- ids
        "_id" as shot_id,
        "EQUIP_CD" as machine_id,
        "EQUIP_NAME" as machine_name,
        "PART_NAME" as product_id,
        "PART_FACT_SERIAL" as part_serial,
        -- timestamps (the export is in the factory's local time)
        try_cast("TimeStamp" as timestamp) as shot_at_local,
        {{ local_to_utc('try_cast("TimeStamp" as timestamp)') }} as shot_at,
        -- process parameters
        {%- for raw, name, unit in kamp_molding_parameters() %}
        try_cast("{{ raw }}" as double) as {{ name }},
        {%- endfor %}
        -- quality (PassOrFail = 1 marks a reject; Reason holds the Korean defect type, 'None' when good)
        try_cast("PassOrFail" as integer) = 1 as is_defect,
        nullif(trim("Reason"), 'None') as defect_name_ko,
        {{ lineage_columns() }}
    from source
)

select * from renamed

with source as (
    select * from {{ source('kamp_casting', 'casts') }}
),

renamed as (
    select
        -- ids
        "id" as cast_id,
        "mold_code" as product_id,
        try_cast("count" as integer) as mold_shot_counter,
        -- timestamps (date and time are exported apart, in local time)
        try_cast("date" || ' ' || "time" as timestamp) as cast_at_local,
        {{ local_to_utc('try_cast("date" || \' \' || "time" as timestamp)') }} as cast_at,
        -- process parameters (-1 is the export's "no reading" for molten_volume)
        {%- for raw, name, unit in kamp_casting_parameters() %}
        {%- if raw == 'molten_volume' %}
        nullif(try_cast("{{ raw }}" as double), -1) as {{ name }},
        {%- else %}
        try_cast("{{ raw }}" as double) as {{ name }},
        {%- endif %}
        {%- endfor %}
        -- flags
        "working" = '가동' as is_running,
        "tryshot_signal" = 'D' as is_try_shot,
        try_cast("passorfail" as double) = 1 as is_defect,
        {{ lineage_columns() }}
    from source
)

select * from renamed

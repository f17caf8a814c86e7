with source as (
    select * from {{ source('press_plc', 'maintenance') }}
),

renamed as (
    select
        -- ids
        "wo_no" as work_order_id,
        "press_id" as machine_id,
        -- classification (BM = breakdown maintenance, PM = planned maintenance)
        upper(trim("wo_type")) as work_order_type,
        case upper(trim("wo_type")) when 'BM' then 'failure' when 'PM' then 'preventive' end as event_type,
        nullif(trim("failure_mode"), '') as failure_mode,
        "technician" as technician,
        -- timestamps (local time in the log)
        {{ local_to_utc('try_cast("reported_at" as timestamp)') }} as reported_at,
        {{ local_to_utc('try_cast("repair_start" as timestamp)') }} as repair_started_at,
        {{ local_to_utc('try_cast("repair_end" as timestamp)') }} as repair_ended_at,
        {{ lineage_columns() }}
    from source
)

select * from renamed

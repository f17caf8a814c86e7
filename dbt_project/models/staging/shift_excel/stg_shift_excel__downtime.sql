with source as (
    select * from {{ source('shift_excel', 'downtime') }}
),

renamed as (
    select
        -- ids
        "라인" as machine_id,
        -- dates
        try_cast(left("일자", 10) as date) as production_date,
        case "근무조" when '주간' then 'day' when '야간' then 'night' else "근무조" end as shift,
        -- reason and measures
        trim("비가동사유") as reason_ko,
        try_cast("비가동시간(분)" as double) * 60 as duration_s,
        "비고" as note,
        {{ lineage_columns() }}
    from source
)

select * from renamed

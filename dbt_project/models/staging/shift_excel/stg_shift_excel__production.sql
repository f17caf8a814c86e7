with source as (
    select * from {{ source('shift_excel', 'production') }}
),

renamed as (
    select
        -- ids
        "라인" as machine_id,
        "품번" as product_id,
        -- dates (Excel dates arrive as 'YYYY-MM-DD[ 00:00:00]')
        try_cast(left("일자", 10) as date) as production_date,
        case "근무조" when '주간' then 'day' when '야간' then 'night' else "근무조" end as shift,
        -- measures (minutes → seconds)
        try_cast("계획시간(분)" as double) * 60 as planned_time_s,
        try_cast("생산수량" as integer) as total_count,
        try_cast("양품수량" as integer) as good_count,
        try_cast("불량수량" as integer) as reject_count,
        nullif(trim("불량유형"), '') as defect_name_ko,
        {{ lineage_columns() }}
    from source
)

select * from renamed

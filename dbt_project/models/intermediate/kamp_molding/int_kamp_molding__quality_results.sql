-- Every shot is inspected: one unit, pass or fail with its defect type.
with shots as (
    select * from {{ ref('int_kamp_molding__shots_deduplicated') }}
),

defect_codes as (
    select * from {{ ref('defect_codes') }}
)

select
    shots.client_id,
    shots.shot_id as inspection_id,
    shots.shot_id as cycle_id,
    cast(null as varchar) as lot_id,
    shots.machine_id,
    shots.product_id,
    shots.shot_at as inspected_at,
    cast(shots.shot_at_local as date) as production_date,
    1 as inspected_count,
    case when shots.is_defect then 1 else 0 end as defect_count,
    not shots.is_defect as is_pass,
    case when shots.is_defect then coalesce(defect_codes.defect_code, 'UNSPECIFIED') end as defect_code,
    case when shots.is_defect then coalesce(defect_codes.defect_name_en, shots.defect_name_ko) end as defect_name,
    shots.source_file,
    shots.load_batch_id
from shots
left join defect_codes on shots.defect_name_ko = defect_codes.defect_name_ko

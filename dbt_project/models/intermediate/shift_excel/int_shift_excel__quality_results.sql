-- The diary records quality per shift lot: inspected = produced, defects by their main type.
with counts as (
    select * from {{ ref('int_shift_excel__production_counts') }}
),

defect_codes as (
    select * from {{ ref('defect_codes') }}
)

select
    counts.client_id,
    counts.machine_id || '/' || counts.product_id || '/' || counts.production_date || '/' || counts.shift
        as inspection_id,
    cast(null as varchar) as cycle_id,
    counts.machine_id || '/' || counts.production_date || '/' || counts.shift as lot_id,
    counts.machine_id,
    counts.product_id,
    cast(null as timestamptz) as inspected_at,
    counts.production_date,
    counts.total_count as inspected_count,
    counts.reject_count as defect_count,
    counts.reject_count = 0 as is_pass,
    case when counts.reject_count > 0 then coalesce(defect_codes.defect_code, 'UNSPECIFIED') end as defect_code,
    case when counts.reject_count > 0
        then coalesce(defect_codes.defect_name_en, counts.defect_name_ko, 'defect (type not recorded)') end
        as defect_name,
    counts.source_file,
    counts.load_batch_id
from counts
left join defect_codes on counts.defect_name_ko = defect_codes.defect_name_ko

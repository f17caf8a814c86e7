-- One row per day, shift, line and product: a row typed twice in the diary is counted once.
select
    client_id,
    production_date,
    shift,
    machine_id,
    product_id,
    planned_time_s,
    total_count,
    good_count,
    reject_count,
    defect_name_ko,
    source_file,
    load_batch_id
from {{ ref('stg_shift_excel__production') }}
qualify row_number() over (
    partition by production_date, shift, machine_id, product_id order by loaded_at, load_batch_id, source_row
) = 1

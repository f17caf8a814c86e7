-- The PLC gateway sometimes exports an hour twice: one row per press and minute, earliest load wins.
select *
from {{ ref('stg_press_plc__sensors') }}
qualify row_number() over (partition by machine_id, read_at order by loaded_at, load_batch_id, source_row) = 1

-- A shot delivered twice (same _id, e.g. in overlapping exports) is kept once: the earliest load wins.
select *
from {{ ref('stg_kamp_molding__shots') }}
qualify row_number() over (partition by shot_id order by loaded_at, load_batch_id, source_row) = 1

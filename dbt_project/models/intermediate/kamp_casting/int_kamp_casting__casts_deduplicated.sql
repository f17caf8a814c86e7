-- The export has no machine column: the client's configuration names its single casting machine.
-- A cast delivered twice (same id) is kept once: the earliest load wins.
with casts as (
    select * from {{ ref('stg_kamp_casting__casts') }}
    qualify row_number() over (partition by cast_id order by loaded_at, load_batch_id, source_row) = 1
),

machine as (
    select min(machine_id) as machine_id from {{ ref('stg_client__machines') }}
)

select casts.*, machine.machine_id
from casts
cross join machine

-- Process parameters per cycle in long form (one row per cycle and parameter), in canonical units.
with parameters as (
    select * from {{ ref('stg_mapped__cycle_parameters') }}
),

only_machine as (
    select case when count(*) = 1 then min(machine_id) end as machine_id from {{ ref('dim_equipment') }}
)

select
    parameters.client_id,
    parameters.cycle_id,
    coalesce(parameters.machine_id, only_machine.machine_id) as machine_id,
    parameters.tag as parameter_name,
    parameters.value as parameter_value,
    parameters.unit,
    parameters.quantity_kind,
    parameters.source_name,
    parameters.source_file,
    parameters.source_row,
    parameters.load_batch_id
from parameters
cross join only_machine
where parameters.value is not null

-- Process parameters per cycle in long form (one row per cycle and parameter), in canonical units.
with parameters as (
    select * from {{ ref('stg_mapped__cycle_parameters') }}
)

select
    parameters.client_id,
    parameters.cycle_id,
    coalesce(parameters.machine_id, {{ the_only('machine_id', ref('dim_equipment')) }}) as machine_id,
    parameters.tag as parameter_name,
    parameters.value as parameter_value,
    parameters.unit,
    parameters.quantity_kind,
    parameters.source_name,
    parameters.source_file,
    parameters.source_row,
    parameters.load_batch_id
from parameters
where parameters.value is not null

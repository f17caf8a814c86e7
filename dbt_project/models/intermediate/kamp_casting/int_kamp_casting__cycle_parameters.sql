with parameters as (
    {{ unpivot_parameters(
        ref('int_kamp_casting__casts_deduplicated'),
        ['client_id', 'cast_id', 'machine_id', 'source_file', 'load_batch_id'],
        parameter_units(kamp_casting_parameters())
    ) }}
)

select
    client_id,
    cast_id as cycle_id,
    machine_id,
    parameter_name,
    parameter_value,
    unit,
    source_file,
    load_batch_id
from parameters

{{ config(materialized='incremental', incremental_strategy='append', on_schema_change='fail') }}
-- Incremental: only the new load batches' rows are appended (see macros/incremental.sql for when).
-- depends_on: {{ ref('stg_mapped__cycle_parameters') }}
-- Process parameters per cycle in long form (one row per cycle and parameter), in canonical units.
with parameters as (
    {% if is_incremental() %}
    {{ new_batch_rows('cycle_parameters') }}
    {% else %}
    select * from {{ ref('stg_mapped__cycle_parameters') }}
    {% endif %}
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

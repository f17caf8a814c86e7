{{ config(materialized='incremental', incremental_strategy='append', on_schema_change='fail') }}
-- Incremental: only the new load batches' rows are appended (see macros/incremental.sql for when).
-- depends_on: {{ ref('stg_mapped__cycles') }}
-- One row per cycle or shot. Parts per cycle default to the product's cavities; the local day is the
-- factory's calendar day of the cycle's start.
with cycles as (
    {% if is_incremental() %}
    {{ new_batch_rows('cycles') }}
    {% else %}
    select * from {{ ref('stg_mapped__cycles') }}
    {% endif %}
),

products as (
    select * from {{ ref('dim_products') }}
)

select
    cycles.client_id,
    cycles.cycle_id,
    coalesce(cycles.machine_id, {{ the_only('machine_id', ref('dim_equipment')) }}) as machine_id,
    cycles.product_id,
    cycles.work_order_id,
    cycles.lot_id,
    cycles.unit_id,
    cycles.unit_cycle,
    coalesce(cycles.unit_run_to_failure, false) as unit_run_to_failure,
    cycles.started_at,
    cycles.ended_at,
    {{ local_date('cycles.started_at') }} as production_date,
    coalesce(cycles.cycle_time_s, epoch(cycles.ended_at) - epoch(cycles.started_at)) as cycle_time_s,
    coalesce(cycles.part_count, products.parts_per_cycle, 1) as part_count,
    cycles.source_name,
    cycles.source_file,
    cycles.source_row,
    cycles.load_batch_id
from cycles
left join products on cycles.product_id = products.product_id

-- Measures are rounded to 6 decimals, then + 0.0 (-0.0 becomes 0.0): DuckDB adds floats in parallel in no
-- fixed order, and re-running the same data must give the same numbers to the last digit (the sums in
-- int_oee_inputs_daily are rounded where they are taken, so the ratios here start from the same figures).
-- OEE = availability × performance × quality per machine and day. Ratios are capped at 1: a day whose
-- recorded run time exceeds its plan (overtime) counts as fully available, not as 110 %. A day whose run
-- time is unknown (cycles exported without cycle times) has no availability, never 0 % (DuckDB's
-- greatest() skips nulls, so the unknown is kept explicitly).
with inputs as (
    select * from {{ ref('int_oee_inputs_daily') }}
),

equipment as (
    select * from {{ ref('dim_equipment') }}
),

ratios as (
    select
        inputs.client_id,
        inputs.machine_id,
        equipment.machine_name,
        inputs.production_date,
        inputs.planned_time_s,
        case when inputs.run_time_s is not null
            then least(greatest(inputs.run_time_s, 0), inputs.planned_time_s) end as run_time_s,
        inputs.total_count,
        inputs.good_count,
        case when inputs.planned_time_s > 0 and inputs.run_time_s is not null
            then least(greatest(inputs.run_time_s, 0) / inputs.planned_time_s, 1.0) end as availability,
        case when inputs.run_time_s > 0
            then least(inputs.ideal_run_time_s / inputs.run_time_s, 1.0) end as performance,
        case when inputs.total_count > 0
            then inputs.good_count / inputs.total_count end as quality
    from inputs
    left join equipment on inputs.machine_id = equipment.machine_id
)

select
    cast(client_id as varchar) as client_id,
    cast(machine_id as varchar) as machine_id,
    cast(machine_name as varchar) as machine_name,
    cast(production_date as date) as production_date,
    cast(round(planned_time_s, 6) + 0.0 as double) as planned_time_s,
    cast(round(run_time_s, 6) + 0.0 as double) as run_time_s,
    cast(total_count as bigint) as total_count,
    cast(good_count as bigint) as good_count,
    cast(round(availability, 6) + 0.0 as double) as availability,
    cast(round(performance, 6) + 0.0 as double) as performance,
    cast(round(quality, 6) + 0.0 as double) as quality,
    cast(round(availability * performance * quality, 6) + 0.0 as double) as oee
from ratios

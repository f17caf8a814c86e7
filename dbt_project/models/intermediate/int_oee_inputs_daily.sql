-- Planned time, run time, counts and ideal run time per machine and local day, from whatever the client
-- delivers:
-- - planned: the exported plan (shift reports) or else the shift calendar, less planned stops;
-- - run: running state time (machine states), else the sum of cycle times, else planned less unplanned stops;
-- - counts: parts from cycles, else production counts; good = counts less defects.
-- Float sums are rounded to 6 decimals where they are taken, then + 0.0 (-0.0 becomes 0.0): DuckDB adds floats
-- in parallel in no fixed order, and the same data must give the same figures to the last digit.
with planned as (
    select * from {{ ref('int_planned_time_daily') }}
),

products as (
    select * from {{ ref('dim_products') }}
),

defects_per_cycle as (
    select cycle_id, sum(defect_count) as defect_count
    from {{ ref('fct_quality_results') }}
    where cycle_id is not null
    group by cycle_id
),

cycles as (
    select
        cycles.machine_id,
        cycles.production_date,
        round(sum(cycles.cycle_time_s), 6) + 0.0 as cycle_run_s,
        sum(cycles.part_count) as total_count,
        sum(cycles.part_count) - coalesce(sum(defects_per_cycle.defect_count), 0) as good_count,
        round(sum(products.ideal_cycle_time_s / products.parts_per_cycle * cycles.part_count), 6) + 0.0
            as ideal_run_time_s
    from {{ ref('fct_cycles') }} as cycles
    left join defects_per_cycle on cycles.cycle_id = defects_per_cycle.cycle_id
    left join products on cycles.product_id = products.product_id
    group by all
),

-- A shift report may repeat its shift's plan on every product row: each shift's plan counts once.
shift_plans as (
    select machine_id, production_date, shift, max(planned_time_s) as planned_time_s
    from {{ ref('fct_production_counts') }}
    group by all
),

counts as (
    select
        counts.machine_id,
        counts.production_date,
        (
            select round(sum(plans.planned_time_s), 6) + 0.0 from shift_plans as plans
            where plans.machine_id = counts.machine_id and plans.production_date = counts.production_date
        ) as exported_plan_s,
        sum(counts.total_count) as total_count,
        sum(counts.good_count) as good_count,
        round(sum(products.ideal_cycle_time_s / products.parts_per_cycle * counts.total_count), 6) + 0.0
            as ideal_run_time_s
    from {{ ref('fct_production_counts') }} as counts
    left join products on counts.product_id = products.product_id
    group by all
),

stops as (
    select
        machine_id,
        production_date,
        coalesce(round(sum(duration_s) filter (where is_planned), 6) + 0.0, 0) as planned_stop_s,
        coalesce(round(sum(duration_s) filter (where not is_planned or is_planned is null), 6) + 0.0, 0)
            as unplanned_stop_s
    from {{ ref('fct_downtime_events') }}
    group by all
),

states as (
    select
        machine_id,
        {{ local_date('started_at') }} as production_date,
        round(sum(duration_s) filter (where state = 'running'), 6) + 0.0 as running_s
    from {{ ref('fct_machine_states') }}
    group by all
),

machines_with_states as (
    select distinct machine_id from {{ ref('fct_machine_states') }}
),

combined as (
    select
        planned.machine_id,
        planned.production_date,
        greatest(coalesce(counts.exported_plan_s, planned.planned_time_s) - coalesce(stops.planned_stop_s, 0), 0)
            as planned_time_s,
        case
            when planned.machine_id in (select machine_id from machines_with_states) then coalesce(states.running_s, 0)
            when cycles.machine_id is not null then cycles.cycle_run_s
            else coalesce(counts.exported_plan_s, planned.planned_time_s)
                - coalesce(stops.planned_stop_s, 0) - coalesce(stops.unplanned_stop_s, 0)
        end as run_time_s,
        coalesce(cycles.total_count, counts.total_count, 0) as total_count,
        coalesce(cycles.good_count, counts.good_count, 0) as good_count,
        coalesce(cycles.ideal_run_time_s, counts.ideal_run_time_s) as ideal_run_time_s
    from planned
    left join cycles using (machine_id, production_date)
    left join counts using (machine_id, production_date)
    left join stops using (machine_id, production_date)
    left join states using (machine_id, production_date)
)

select
    client.client_id,
    combined.*
from combined
cross join {{ ref('stg_mapped__client') }} as client

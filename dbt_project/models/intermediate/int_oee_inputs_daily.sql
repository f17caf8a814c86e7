-- Planned time, run time, counts and ideal run time per machine and local day, from whichever data the
-- client has: cycles/shots (run time = sum of cycle times; planned = planned hours per day) or shift
-- counts (planned = shift plan minus planned stops; run = planned minus unplanned stops).
with settings as (
    select * from {{ ref('stg_client__settings') }}
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

from_cycles as (
    select
        cycles.client_id,
        cycles.machine_id,
        cycles.production_date,
        any_value(settings.planned_hours_per_day) * 3600.0 as planned_time_s,
        sum(cycles.cycle_time_s) as run_time_s,
        sum(cycles.part_count) as total_count,
        sum(cycles.part_count) - coalesce(sum(defects_per_cycle.defect_count), 0) as good_count,
        sum(coalesce(products.ideal_cycle_time_s / products.parts_per_cycle, cycles.cycle_time_s) * cycles.part_count)
            as ideal_run_time_s
    from {{ ref('fct_cycles') }} as cycles
    left join defects_per_cycle on cycles.cycle_id = defects_per_cycle.cycle_id
    left join products on cycles.product_id = products.product_id
    cross join settings
    group by all
),

stops as (
    select
        machine_id,
        production_date,
        coalesce(sum(duration_s) filter (where is_planned), 0) as planned_stop_s,
        coalesce(sum(duration_s) filter (where not is_planned or is_planned is null), 0) as unplanned_stop_s
    from {{ ref('fct_downtime_events') }}
    group by all
),

counts as (
    select
        production.client_id,
        production.machine_id,
        production.production_date,
        sum(production.planned_time_s) as shift_plan_s,
        sum(production.total_count) as total_count,
        sum(production.good_count) as good_count,
        sum(products.ideal_cycle_time_s / products.parts_per_cycle * production.total_count) as ideal_run_time_s
    from {{ ref('fct_production_counts') }} as production
    left join products on production.product_id = products.product_id
    group by all
),

from_counts as (
    select
        counts.client_id,
        counts.machine_id,
        counts.production_date,
        counts.shift_plan_s - coalesce(stops.planned_stop_s, 0) as planned_time_s,
        counts.shift_plan_s - coalesce(stops.planned_stop_s, 0) - coalesce(stops.unplanned_stop_s, 0) as run_time_s,
        counts.total_count,
        counts.good_count,
        counts.ideal_run_time_s
    from counts
    left join stops on counts.machine_id = stops.machine_id and counts.production_date = stops.production_date
)

select * from from_cycles
union all
select * from from_counts

"""Standard model: defect prediction from process parameters (quality).

Needs: ``core.fct_cycles``, ``core.fct_cycle_parameters`` and unit results in ``core.fct_quality_results``
(one inspection per cycle). One row per cycle: its process parameters (wide), plus the cycle's context on
its machine — seconds since the previous cycle and cycles since the last restart (start-up rejects are a
large share of defects in molding and casting), local hour of day and product — the combinations the
parameters' units imply (power from torque and speed, temperature differences), each parameter's history
on its machine (against the machine's normal over its previous 200 inspected cycles; level, spread and
trend over the last 10), and where the maintenance log covers the machine, the time and inspected cycles
since its last maintenance order (all from :mod:`~forgeline.standard_models.features`). The learner keeps
the strongest of them when there are many (feature selection on the fitting rows).

Naive baseline: the machine's defect rate over its previous 50 cycles (what a shift leader watching the
reject bin would go by). Metric: PR-AUC on the last 30 % of the time range.

Reading it: the score is the chance that a cycle's part is a defect; alerts at the threshold catch the
share of the holdout's defects the page gives as recall. The top features are the
parameters that move the prediction most: start the root-cause analysis, and the search for a safe
operating window, with them.
"""

from __future__ import annotations

import duckdb
import pandas as pd

from forgeline.clients import ClientConfig
from forgeline.i18n import N_, as_number, later
from forgeline.standard_models.base import (
    NotEnoughData,
    TrainingSet,
    cycle_parameter_names,
    has_table,
    read_frame,
    sql_literal,
)
from forgeline.standard_models.families import EVENTS
from forgeline.standard_models.features import (
    HISTORY_FEATURES,
    Window,
    has_maintenance,
    history_expressions,
    history_name,
    history_summary,
    maintenance_clock_sql,
    tag_kinds,
    with_combinations,
)

FAMILY = EVENTS
NAME = "defect_prediction"
TASK = "classification: P(defect) per cycle"
# How the champion rule's sentence names the rows and the positive cases.
ROWS_NAME, POSITIVES_NAME = N_("holdout cycles"), N_("defects")
REQUIRED_TABLES = ["fct_cycles", "fct_cycle_parameters", "fct_quality_results"]
RESTART_GAP_S = 600  # a pause of 10 minutes or more restarts the process (cold mold, purge)
BASELINE_WINDOW = 50


# One row per inspected cycle, with its context on its machine computed in DuckDB (window functions over
# millions of cycles; pandas' per-machine transforms took ~30 s and ~3 GB on 2.9 M cycles). The parameters
# go wide in one aggregation (PIVOT aggregates twice): one value per cycle and parameter, chosen
# order-independently (first() would take whichever row a parallel scan meets first); + 0.0 turns -0.0
# into 0.0, so the same data always hashes the same.
# The window's order (started_at, cycle_id) breaks ties between cycles started at the same instant.
TRAINING_SQL = f"""
with inspected as (
    select c.cycle_id, c.machine_id, c.product_id, c.started_at, not q.is_pass as is_defect
    from core.fct_cycles as c
    inner join core.fct_quality_results as q on q.cycle_id = c.cycle_id
    where c.started_at is not null and q.is_pass is not null
),
parameters as (
    select cycle_id, {{columns}}
    from core.fct_cycle_parameters
    group by cycle_id
),
paced as (
    select *,
        date_diff('microsecond', lag(started_at) over by_machine, started_at) / 1e6 as gap_s
    from inspected
    window by_machine as (partition by machine_id order by started_at, cycle_id)
),
restarted as (
    select *,
        sum(case when gap_s is null or gap_s >= {RESTART_GAP_S} then 1 else 0 end)
            over (partition by machine_id order by started_at, cycle_id rows unbounded preceding) as run_no
    from paced
),
clocked as ({{clock}}),
joined as (
    select clocked.*, parameters.* exclude (cycle_id),
        row_number() over (partition by clocked.machine_id
                           order by clocked.started_at, clocked.cycle_id) as position
    from clocked
    left join parameters on parameters.cycle_id = clocked.cycle_id
)
select
    {{parameters}}
    gap_s as seconds_since_previous_cycle,
    row_number() over (partition by machine_id, run_no order by started_at, cycle_id) - 1
        as cycles_since_restart,
    hour(timezone($timezone, started_at)) as hour_of_day_local,
    date_diff('microsecond', last_maintenance_at, started_at) / 1e6 as seconds_since_maintenance,
    case when last_maintenance_at is not null then row_number() over (
        partition by machine_id, last_maintenance_at order by started_at, cycle_id
    ) - 1 end as cycles_since_maintenance,
    {{product}} as _product,
    started_at as _started_at,
    machine_id as _machine_id,
    cycle_id as _cycle_id,
    is_defect::integer as _label,
    -- Past only: the frame ends one cycle before, so a cycle's own result never feeds its baseline.
    coalesce(avg(is_defect::integer) over (
        partition by machine_id order by started_at, cycle_id
        rows between {BASELINE_WINDOW} preceding and 1 preceding
    ), 0.0) as _baseline
from joined
{{windows}}
order by started_at, machine_id, cycle_id
"""
CONTEXT_COLUMNS = ["seconds_since_previous_cycle", "cycles_since_restart", "hour_of_day_local"]
MAINTENANCE_COLUMNS = ["seconds_since_maintenance", "cycles_since_maintenance"]
# A parameter's history on its machine: the last 10 inspected cycles, and the 200 before for its normal.
HISTORY = Window(partition="machine_id", order="started_at, cycle_id", position="position", per="cycle")


PARAMETER_PREFIX = "parameter:"  # a client's parameter names never meet the context columns' in SQL


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _parameter_column(name: str) -> str:
    identifier = _quoted(PARAMETER_PREFIX + name)
    return f"min(parameter_value) filter (where parameter_name = {sql_literal(name)}) + 0.0 as {identifier}"


def build_training_set(con: duckdb.DuckDBPyConnection, config: ClientConfig) -> TrainingSet:
    # The parameters named up front: they become the columns.
    names = cycle_parameter_names(con)
    columns = ", ".join(map(_parameter_column, names)) or "null as _no_parameters"
    # The product as an ENUM of its sorted values arrives as a pandas category, as astype("category")
    # would make it, without a Python string per cycle.
    products = [
        row[0]
        for row in con.execute(
            "select distinct product_id from core.fct_cycles where product_id is not null order by 1"
        ).fetchall()
    ]
    product = f"product_id::ENUM({', '.join(map(sql_literal, products))})" if products else "null"
    # The maintenance clock's columns are always there (unknown without orders), so the feature set does not
    # change the day a client's first maintenance order arrives.
    maintained = has_maintenance(con, "select machine_id from core.fct_cycles")
    clock = (
        maintenance_clock_sql("restarted", "machine_id", "started_at")
        if has_table(con, "core", "fct_maintenance_events")
        else "select *, null::timestamptz as last_maintenance_at from restarted"
    )
    selected = "".join(
        f"{item},\n    "
        for name in names
        for item in [_quoted(PARAMETER_PREFIX + name)]
        + history_expressions(_quoted(PARAMETER_PREFIX + name), PARAMETER_PREFIX + name, HISTORY)
    )
    sql = (
        TRAINING_SQL.replace("{columns}", columns)
        .replace("{product}", product)
        .replace("{clock}", clock)
        .replace("{parameters}", selected)
        .replace("{windows}", HISTORY.clause() if names else "")
    )
    read = read_frame(con, sql, {"timezone": config.timezone}, sample_by="_machine_id, _cycle_id")
    frame = read.rows
    if frame.empty:
        raise NotEnoughData("no cycles with a unit inspection result (fct_cycles ⋈ fct_quality_results)")
    history = {
        history_name(name, feature): history_name(PARAMETER_PREFIX + name, feature)
        for name in names
        for feature in HISTORY_FEATURES
    }
    clashing = sorted(set(names) & {*CONTEXT_COLUMNS, *MAINTENANCE_COLUMNS, *history, "product"})
    if clashing:
        raise NotEnoughData(
            f"process parameter(s) {clashing} are named like a feature this model computes itself; rename "
            "them in mapping.yml (e.g. with a prefix) to train on both"
        )
    parameter_columns = sorted(names)
    has_units = bool(
        con.execute(
            "select 1 from information_schema.columns where table_schema = 'core' "
            "and table_name = 'fct_cycle_parameters' and column_name = 'unit'"
        ).fetchall()
    )
    units = (
        dict(
            con.execute(
                "select parameter_name, coalesce(min(unit), '') from core.fct_cycle_parameters "
                "where parameter_name is not null group by 1"
            ).fetchall()
        )
        if has_units
        else {}
    )
    renamed = {PARAMETER_PREFIX + name: name for name in names} | {v: k for k, v in history.items()}
    context = CONTEXT_COLUMNS + MAINTENANCE_COLUMNS
    features = frame[[*renamed, *context]].rename(columns=renamed)[
        [*parameter_columns, *sorted(history), *context]
    ]
    features = features.assign(
        cycles_since_restart=frame["cycles_since_restart"].astype("int64"),
        hour_of_day_local=frame["hour_of_day_local"].astype("int32"),
        # An ENUM arrives as an ordered category; products have no order.
        product=frame["_product"].astype("category").cat.as_unordered(),
    )
    # Nullable: before a machine's first order nobody knows its age (a float NaN for the learner).
    for column in MAINTENANCE_COLUMNS:
        features[column] = frame[column].astype("float64")
    # Power from torque and speed, temperature differences: the combinations the tags' kinds imply.
    features, derived = with_combinations(features, tag_kinds(con, "process_parameter"), parameter_columns)
    return TrainingSet(
        features=features,
        label=frame["_label"].astype("int64"),
        time=pd.to_datetime(frame["_started_at"], utc=True),
        baseline_score=frame["_baseline"].astype("float64"),
        baseline_name=later(N_("defect rate of the previous {n} cycles"), n=as_number(BASELINE_WINDOW)),
        description={
            "rows": f"one per inspected cycle ({read.described()})",
            "label": "1 = the cycle's unit failed inspection",
            "parameters": len(parameter_columns),
            "derived": [c.meaning for c in derived],
            "history": history_summary("each parameter", HISTORY),
            "maintenance clock": "time and inspected cycles since the machine's last maintenance order"
            if maintained
            else "none: no maintenance order for these machines",
        },
        settings={name: units.get(name, "") for name in parameter_columns},
        timezone=config.timezone,
        context=frame[["_machine_id", "_cycle_id"]].rename(columns=lambda c: c.removeprefix("_")),
    )

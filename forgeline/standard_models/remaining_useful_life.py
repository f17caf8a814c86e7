"""Standard model: remaining useful life of run-to-failure units (engines, tools, moulds, bearings).

Needs: ``core.fct_cycles`` with a ``unit_id`` (and ideally ``unit_cycle``) and the cycle's sensor or process
values in ``core.fct_cycle_parameters``; units known to have failed (``core.dim_run_units.has_failed``): a
failure maintenance event naming the unit, or a mapping that declares its records run to failure
(``unit_run_to_failure: {value: true}`` on the cycles feed). One row per cycle of a failed unit, up to its
failure: each parameter's value, its mean over the unit's last 10 cycles and its trend (least-squares
slope per cycle) over the last 30, the unit's age in cycles, and the combinations of the cycle's values
its units imply (power from torque and speed, temperature differences; see
:mod:`~forgeline.standard_models.features`) — all from the unit's past only.

Label: the cycles left before the failure, capped at 125 (the usual practice since the NASA turbofan
benchmark: early in life nothing tells 300 cycles left from 200, and no model should be scored on it).
Rows are ordered by the time of their unit's failure (when their label became known), so the holdout is
the units that failed last, and no held-out unit lends a single cycle to training.

Naive baseline: the mean life of the units that failed before the cycle, less the unit's age (what a
maintenance planner replacing at the average life would go by). Metrics: RMSE in cycles on the capped
remaining life over every cycle of the held-out units, MAE, and the PHM08 score (NASA's asymmetric
penalty: a late prediction, exp(d/10) - 1, costs more than an early one, exp(-d/13) - 1), as a mean per
cycle.

Reading it: the prediction is how many more cycles the unit is likely to run. A unit predicted under a
planner's lead time (say 20 cycles) is due for replacement; the top features are the signals that show
wear coming. Units still running are scored on each run (their latest cycle); the page lists them with
their predicted remaining life.
"""

from __future__ import annotations

import logging

import duckdb
import numpy as np
import pandas as pd

from forgeline.clients import ClientConfig
from forgeline.i18n import N_, later
from forgeline.standard_models.base import NotEnoughData, TrainingSet, cycle_parameter_names, sql_literal
from forgeline.standard_models.families import REMAINING_LIFE, RUL_CAP
from forgeline.standard_models.features import (
    Window,
    history_expressions,
    history_name,
    tag_kinds,
    with_combinations,
)

log = logging.getLogger("forgeline.standard_models")

FAMILY = REMAINING_LIFE
NAME = "remaining_useful_life"
TASK = "regression: remaining cycles per run-to-failure unit"
ROWS_NAME = N_("held-out unit cycles")
REQUIRED_TABLES = ["fct_cycles", "fct_cycle_parameters", "dim_run_units"]
# A parameter's history on its unit (features.py): its mean over the last 10 cycles, its slope over 30.
HISTORY = Window(
    partition="c.unit_id, p.parameter_name",
    order="c.age, c.cycle_id",
    position="c.age",
    per="cycle",
    trend=30,
)
HISTORY_KINDS = ("recent_mean", "recent_trend")
ROLLED = "_rolled"  # the SQL's name for a parameter before its history goes wide by name
MIN_FAILED_UNITS = 8  # fewer: no honest holdout of units, nor a mean life to compare with
AGE = "age_cycles"

# Every cycle of every unit (failed or running), with its features from the unit's past only: the windows
# end at the current cycle. A failed unit's cycles after its failure (a repaired unit) are left out. The
# mean life before a cycle is the failed units' as of an ASOF join on failure time (one row per failure
# time, so ties never pick at random). + 0.0 turns -0.0 into 0.0: the same data always hashes the same.
TRAINING_SQL = """
with units as (
    select unit_id, has_failed, failed_at from core.dim_run_units
),
cycles as (
    select c.cycle_id, c.unit_id, c.machine_id, c.started_at, u.has_failed, u.failed_at,
        coalesce(c.unit_cycle, row_number() over (partition by c.unit_id order by c.started_at, c.cycle_id))
            as age
    from core.fct_cycles as c
    inner join units as u on u.unit_id = c.unit_id
    where c.started_at is not null and (not u.has_failed or c.started_at <= u.failed_at)
),
lives as (
    select unit_id, any_value(failed_at) as failed_at, max(age) as life
    from cycles where has_failed group by unit_id
),
past_lives as (
    select failed_at,
        sum(sum(life)) over (order by failed_at) / sum(count(*)) over (order by failed_at) as mean_life
    from lives group by failed_at
),
rolled as (
    select p.cycle_id, p.parameter_name as name, p.parameter_value as value, {history}
    from core.fct_cycle_parameters as p
    inner join cycles as c on c.cycle_id = p.cycle_id
    where p.parameter_name is not null
    {windows}
),
wide as (
    select cycle_id, {columns} from rolled group by cycle_id
)
select wide.* exclude (cycle_id),
    cycles.age as _age,
    cycles.unit_id as _unit_id,
    cycles.machine_id as _machine_id,
    cycles.started_at as _started_at,
    cycles.has_failed as _has_failed,
    cycles.failed_at as _failed_at,
    lives.life - cycles.age as _remaining,
    past_lives.mean_life as _mean_life
from cycles
left join wide on wide.cycle_id = cycles.cycle_id
left join lives on lives.unit_id = cycles.unit_id
asof left join past_lives on cycles.started_at > past_lives.failed_at
order by cycles.failed_at nulls last, cycles.unit_id, cycles.age, cycles.cycle_id
"""


def _features_of(name: str) -> list[str]:
    """One parameter's features: its value, then its history (no spaces or brackets are added: LightGBM
    rewrites such names, and the champion is matched to the data by name)."""
    return [name, *(history_name(name, kind) for kind in HISTORY_KINDS)]


def _columns(name: str) -> list[str]:
    """The features of one parameter, wide: its value, recent mean and recent trend."""
    where = f"filter (where name = {sql_literal(name)})"
    sources = ["value", *(history_name(ROLLED, kind) for kind in HISTORY_KINDS)]
    return [
        f'min("{source}") {where} + 0.0 as "{feature.replace(chr(34), chr(34) * 2)}"'
        for source, feature in zip(sources, _features_of(name), strict=True)
    ]


def _check_cycle_numbers(frame: pd.DataFrame) -> None:
    """Refuse units whose cycle numbers repeat (two units under one id); name those with gaps."""
    repeated = frame.duplicated(["_unit_id", "_age"])
    if repeated.any():
        units = sorted(map(str, frame.loc[repeated, "_unit_id"].unique()))
        raise NotEnoughData(
            f"{len(units)} unit(s) repeat a cycle number ({', '.join(units[:5])}"
            f"{'…' if len(units) > 5 else ''}): two units share an id, e.g. two files that number their "
            "units from 1. Make `unit_id` unique in mapping.yml (docs/mapping.md, Run-to-failure records)."
        )
    ages = frame.groupby("_unit_id")["_age"].agg(["min", "max", "count"])
    gaps = ages.index[(ages["max"] - ages["min"] + 1) != ages["count"]]
    if len(gaps):
        log.warning(
            "remaining_useful_life: %d unit(s) miss cycle numbers (%s%s): quarantined rows or a file cut "
            "short; a unit declared run to failure that lost its last rows is learnt as failing early",
            len(gaps),
            ", ".join(map(str, gaps[:5])),
            "…" if len(gaps) > 5 else "",
        )


def build_training_set(con: duckdb.DuckDBPyConnection, config: ClientConfig) -> TrainingSet:
    names = cycle_parameter_names(con)
    failed = con.execute("select count(*) from core.dim_run_units where has_failed").fetchone()
    if int(failed[0] if failed else 0) < MIN_FAILED_UNITS:
        raise NotEnoughData(
            f"{int(failed[0] if failed else 0)} unit(s) have run to failure (core.dim_run_units); remaining "
            f"useful life needs at least {MIN_FAILED_UNITS}. Map the failures (a maintenance event of type "
            "failure naming the unit, or `unit_run_to_failure: {value: true}` on a cycles feed of "
            "run-to-failure records)."
        )
    computed = {AGE} | {feature for name in names for feature in _features_of(name)[1:]}
    clashing = sorted(computed & set(names))
    if clashing:
        raise NotEnoughData(
            f"parameter(s) {clashing} are named like a feature this model computes itself; rename them in "
            "mapping.yml"
        )
    columns = ", ".join(c for name in names for c in _columns(name)) or "null as _no_parameters"
    sql = (
        TRAINING_SQL.replace("{columns}", columns)
        .replace(
            "{history}", ", ".join(history_expressions("p.parameter_value", ROLLED, HISTORY, HISTORY_KINDS))
        )
        .replace("{windows}", HISTORY.clause())
    )
    frame = con.execute(sql).df()
    _check_cycle_numbers(frame)
    feature_names = [feature for name in names for feature in _features_of(name)]
    features = frame[feature_names].astype("float64").assign(**{AGE: frame["_age"].astype("float64")})
    # Power from torque and speed, temperature differences of the cycle's own values (features.py).
    features, derived = with_combinations(features, tag_kinds(con, "process_parameter"), names)
    # What a row is, for people and for the look-ahead check: the unit, its cycle number and machine.
    context = pd.DataFrame(
        {
            "unit_id": frame["_unit_id"].astype(str),
            "cycle": frame["_age"].astype("int64"),
            "machine_id": frame["_machine_id"],
        }
    )
    known = frame["_has_failed"].fillna(False).astype(bool).to_numpy()
    age = frame["_age"].to_numpy(dtype=float)
    baseline = np.clip(frame["_mean_life"].to_numpy(dtype=float) - age, 0, RUL_CAP)
    # A unit still running: its latest cycle is scored in operation, nothing of it is learnt.
    running = frame.loc[~known]
    latest = running.groupby("_unit_id", sort=True)["_age"].transform("max").eq(running["_age"])
    pending_rows = running.index[latest.to_numpy()]
    pending = pd.concat(
        [features.loc[pending_rows], context.loc[pending_rows], frame.loc[pending_rows, ["_started_at"]]],
        axis=1,
    ).rename(columns={"_started_at": "time"})
    pending = pending.reset_index(drop=True).assign(
        time=lambda f: pd.to_datetime(f["time"], utc=True), baseline=baseline[pending_rows]
    )
    return TrainingSet(
        features=features[known].reset_index(drop=True),
        label=pd.Series(np.minimum(frame.loc[known, "_remaining"].to_numpy(dtype=float), RUL_CAP)),
        # When the label became known: the unit's failure. The split keeps each unit whole.
        time=pd.Series(pd.to_datetime(frame.loc[known, "_failed_at"], utc=True).to_numpy()),
        baseline_score=pd.Series(baseline[known]),
        baseline_name=later(N_("mean life of the units failed before, less the unit's age")),
        description={
            "rows": "one per cycle of a unit that ran to failure, up to its failure",
            "label": f"cycles left before the failure, capped at {RUL_CAP}",
            "parameters": len(names),
            "failed_units": int(frame.loc[known, "_unit_id"].nunique()),
            "running_units": int(len(pending)),
            "derived": [c.meaning for c in derived],
        },
        unit="cycles",
        timezone=config.timezone,
        context=context[known].reset_index(drop=True),
        pending=pending,
    )

"""Generic feature engineering from the common schema: features a standard model adds the same way for
every client, decided by what a tag measures (its quantity kind in ``core.dim_sensor_tags``, from the
mapping's units), never by a client's column names.

- **Mechanical power** from torque and rotational speed: P [kW] = τ [N·m] × n [rpm] × 2π / 60 / 1000, for
  each torque tag with each rotational-speed tag. A spindle or motor under load shows in power when
  neither torque nor speed alone says much (the AI4I 2020 predictive-maintenance data defines its power
  failures on it).
- **Temperature differences** between each pair of temperature tags (process less air, one mould half less
  the other): heat flow and cooling show in a difference, not in either level.

Each combines values of the same row (one cycle, one cycle of a unit), so it can never look ahead. At most
:data:`MAX_COMBINATIONS` powers. Differences only among at most :data:`MAX_TEMPERATURES` temperatures: with
more (a molding machine's barrel zones, a casting die's eight thermocouples) which pairs matter cannot be
told from their kinds, and dozens of arbitrary pairs only add noise to a model that already reads each
level (on KAMP's injection-molding data, pairs taken in tag order lowered the holdout PR-AUC).

Per machine (and tag), from the machine's past only, computed in DuckDB window functions
(:func:`history_expressions`):

- **per-machine normalization**: how far a value stands from the machine's own normal (its mean over the
  rows before, in standard deviations of those rows), so one machine's high is not another's normal;
- **the recent level and trend**: the mean and the slope (per row) over the last few rows, this one
  included: a parameter creeping up shows in its slope before its level leaves the window;
- **the spread** over the recent rows (a sensor starting to chatter).

And the **maintenance clock** (:func:`maintenance_clock_sql`): time and rows since the machine's last
maintenance order ended, the wear a fixed maintenance interval assumes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import combinations, product

import duckdb
import numpy as np
import pandas as pd

from forgeline.standard_models.base import has_table

MAX_COMBINATIONS = 8
MAX_TEMPERATURES = 4  # at most 6 differences
TORQUE, SPEED, TEMPERATURE = "torque", "rotational_speed", "temperature"


@dataclass(frozen=True)
class Combination:
    """One derived feature: its column, the two tags it reads, and what it is (for the model card)."""

    name: str
    left: str
    right: str
    meaning: str
    power: bool  # torque x speed in kW; else the difference left - right

    def values(self, frame: pd.DataFrame) -> np.ndarray:
        left = frame[self.left].to_numpy(dtype=float)
        right = frame[self.right].to_numpy(dtype=float)
        if self.power:
            return left * right * 2 * math.pi / 60 / 1000 + 0.0
        return left - right + 0.0


def tag_kinds(con: duckdb.DuckDBPyConnection, tag_type: str) -> dict[str, str]:
    """Each tag of ``tag_type`` ('process_parameter' or 'sensor') with its quantity kind, if the mapping
    gave it a unit; none where the warehouse has no tag dimension (core tables written by hand)."""
    if not has_table(con, "core", "dim_sensor_tags"):
        return {}
    return dict(
        con.execute(
            "select tag, min(quantity_kind) from core.dim_sensor_tags "
            "where tag_type = ? and quantity_kind is not null group by tag order by tag",
            [tag_type],
        ).fetchall()
    )


def combinations_of(kinds: dict[str, str], columns: list[str]) -> list[Combination]:
    """The combinations the kinds of ``columns`` imply (only tags that are columns, in sorted order)."""
    by_kind: dict[str, list[str]] = {}
    for column in sorted(set(columns)):
        if column in kinds:
            by_kind.setdefault(kinds[column], []).append(column)
    powers = [
        Combination(
            f"power_kw__{torque}__{speed}", torque, speed, f"power from {torque} x {speed} (kW)", power=True
        )
        for torque, speed in product(by_kind.get(TORQUE, []), by_kind.get(SPEED, []))
    ][:MAX_COMBINATIONS]
    temperatures = by_kind.get(TEMPERATURE, [])
    differences = [
        Combination(f"difference__{a}__{b}", a, b, f"{a} less {b} (°C)", power=False)
        for a, b in combinations(temperatures, 2)
        if len(temperatures) <= MAX_TEMPERATURES
    ]
    return powers + differences


def with_combinations(
    features: pd.DataFrame, kinds: dict[str, str], columns: list[str]
) -> tuple[pd.DataFrame, list[Combination]]:
    """``features`` with the combinations of ``columns`` added (a name already taken by a client's own tag
    is skipped: its data wins), and the combinations added."""
    added = [c for c in combinations_of(kinds, columns) if c.name not in features.columns]
    if not added:
        return features, []
    derived = pd.DataFrame({c.name: c.values(features) for c in added}, index=features.index)
    return pd.concat([features, derived], axis=1), added


@dataclass(frozen=True)
class Window:
    """A window of a machine's (or unit's) rows, ``partition`` ordered by ``order``: the last ``recent`` rows
    (this one included) for the level and spread, the last ``trend`` (default: ``recent``) for the slope,
    and the ``normal`` rows before this one for its normal. ``position`` is the x of the trend (a row
    count, or hours for time-stamped rows), ``per`` its unit."""

    partition: str
    order: str
    position: str
    per: str
    recent: int = 10
    normal: int = 200
    trend: int | None = None
    # "rows", or a time unit ("hours"): the frames then span that much time, however many rows it holds
    # (a machine that stopped for a day has no rows in it); ``order`` must then be one timestamp column.
    span: str = "rows"

    def _back(self, count: int) -> str:
        return f"{count} preceding" if self.span == "rows" else f"interval {count} {self.span} preceding"

    def clause(self) -> str:
        over = f"partition by {self.partition} order by {self.order}"
        kind = "rows" if self.span == "rows" else "range"
        trend = self._back((self.trend or self.recent) - 1)
        return (
            f"window recent as ({over} {kind} between {self._back(self.recent - 1)} and current row), "
            f"trend as ({over} {kind} between {trend} and current row), "
            f"normal as ({over} {kind} between {self._back(self.normal)} and {self._back(1)})"
        )


HISTORY_FEATURES = ("vs_normal", "recent_mean", "recent_std", "recent_trend")
# How a history feature reads on a chart, beside its tag's name.
HISTORY_READINGS = {
    "vs_normal": "vs machine's normal",
    "recent_mean": "recent mean",
    "recent_std": "recent spread",
    "recent_trend": "recent trend",
}


def history_name(column: str, feature: str) -> str:
    return f"{column}__{feature}"


def is_history_column(name: str) -> bool:
    """Whether a feature column is a history feature (``history_name``): a function of its machine's
    earlier rows, which are features themselves."""
    return str(name).rpartition("__")[2] in HISTORY_FEATURES


def readable(feature: str) -> str:
    """A feature's name for people: ``mold_temp__vs_normal`` reads "mold_temp, vs machine's normal"; the
    combinations read as what they are; anything else is left as it is."""
    column, _, kind = feature.rpartition("__")
    if column and kind in HISTORY_READINGS:
        return f"{column}, {HISTORY_READINGS[kind]}"
    if feature.startswith("power_kw__") and feature.count("__") == 2:
        _, torque, speed = feature.split("__")
        return f"power from {torque} x {speed} (kW)"
    if feature.startswith("difference__") and feature.count("__") == 2:
        _, left, right = feature.split("__")
        return f"{left} less {right}"
    return feature


def history_summary(value: str, window: Window) -> str:
    """The history features of ``value`` in one sentence, for the model card and the training set's notes."""
    return (
        f"{value} against the machine's previous {window.normal} {window.span} (in standard deviations); "
        f"its mean and spread over the last {window.recent} {window.span}, and its slope per {window.per} "
        f"over the last {window.trend or window.recent}"
    )


def history_expressions(
    value: str, column: str, window: Window, features: tuple[str, ...] = HISTORY_FEATURES
) -> list[str]:
    """SQL select items of ``value``'s history ``features``, named by :func:`history_name` after
    ``column``. They need ``window.clause()`` in their query. Every frame ends at the current row: nothing
    after a row reaches it. + 0.0 turns -0.0 into 0.0 (the two hash differently). Not rounded: a slope per
    cycle of a slow wear signal lives in the sixth decimal (rounding it cost the remaining-life model 2 %
    RMSE); the windows' order is fixed (ties broken by id), and the look-ahead tests compare exact values."""
    expressions = {
        "vs_normal": f"({value} - avg({value}) over normal) / nullif(stddev_samp({value}) over normal, 0)",
        "recent_mean": f"avg({value}) over recent",
        "recent_std": f"stddev_samp({value}) over recent",
        "recent_trend": f"regr_slope({value}, {window.position}) over trend",
    }
    return [
        f"{expressions[feature]} + 0.0 as " + '"' + history_name(column, feature).replace('"', '""') + '"'
        for feature in features
    ]


def maintenance_clock_sql(
    rows: str, machine: str, at: str, name: str = "last_maintenance_at", event_type: str | None = None
) -> str:
    """``rows`` (a relation with ``machine`` and time ``at``) with ``name``: when the machine's latest
    maintenance order (of any type, or of ``event_type`` only) that had ended by ``at`` ended (null before
    the first). An ASOF join: for each row the one order it needs, in one sorted pass."""
    # An order counts once its repair has ended; an order that never has repair times (an inspection
    # written as one line) once reported. An open order (started, not ended) does not count yet: counting it
    # at its start would reset the clock of the cycles made during the repair, and move them back once it
    # closes (a past row's feature changing with later data).
    done = (
        "case when repair_started_at is null and repair_ended_at is null then reported_at "
        "else repair_ended_at end"
    )
    of_type = f"and event_type = '{event_type}'" if event_type else ""
    return f"""
        select {rows}.*, maintenance.done_at as {name}
        from {rows}
        asof left join (
            select machine_id, {done} as done_at
            from core.fct_maintenance_events
            where machine_id is not null and {done} is not null {of_type}
        ) as maintenance
            on {rows}.{machine} = maintenance.machine_id and {rows}.{at} >= maintenance.done_at
    """


def has_maintenance(con: duckdb.DuckDBPyConnection, machines_sql: str) -> bool:
    """Whether any machine of ``machines_sql`` (a query of machine ids) has a maintenance order."""
    return has_table(con, "core", "fct_maintenance_events") and bool(
        con.execute(
            f"select 1 from core.fct_maintenance_events where machine_id in ({machines_sql}) limit 1"
        ).fetchall()
    )

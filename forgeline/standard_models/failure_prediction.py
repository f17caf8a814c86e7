"""Standard model: failure risk within a horizon from sensor readings (maintenance).

Needs: ``core.fct_sensor_readings`` and failures in ``core.fct_maintenance_events``. One row per machine
and hour: each tag's hourly mean and max, its 6-hour mean, and that mean's deviation from the machine's
own trailing 3-day median (drift, independent of each machine's normal level); the tag's history on its
machine (:mod:`~forgeline.standard_models.features`: its hourly mean against the machine's previous week,
its level, spread and trend over the last 24 hours); and the maintenance clock (hours since the machine's
last maintenance order, and since its last failure). Label: a failure is reported within the 24 hours
after the hour ends. Hours inside a repair are left out (the machine is down, not at risk).

Naive baseline: hours since the machine's last repair ended (the age-based rule behind fixed maintenance
intervals). Metric: PR-AUC on the last 30 % of the time range, with an embargo of one horizon before
the holdout so that no training label looks into it.

Reading it: the score is the chance that a failure is reported within 24 hours. A machine whose score
stays high deserves an inspection before its next shift; the top features say which sensor drifts before
failures, which is where a maintenance plan should look first.
"""

from __future__ import annotations

from datetime import timedelta

import duckdb
import numpy as np
import pandas as pd

from forgeline.clients import ClientConfig
from forgeline.i18n import N_, later
from forgeline.standard_models.base import NotEnoughData, TrainingSet
from forgeline.standard_models.families import EVENTS
from forgeline.standard_models.features import (
    HISTORY_FEATURES,
    Window,
    history_expressions,
    history_name,
    history_summary,
    maintenance_clock_sql,
)

FAMILY = EVENTS
NAME = "failure_prediction"
HORIZON = timedelta(hours=24)
BUCKET = timedelta(hours=1)  # one row per machine and hour
TASK = f"classification: P(failure within {int(HORIZON.total_seconds() // 3600)} h) per machine-hour"
# How the champion rule's sentence names the rows and the positive cases.
ROWS_NAME, POSITIVES_NAME = N_("holdout machine-hours"), N_("hours before a failure")
REQUIRED_TABLES = ["fct_sensor_readings", "fct_maintenance_events"]
SHORT_WINDOW_H = 6
NORMAL_WINDOW_H = 72
# A tag's history on its machine: the last 24 hours (level, spread, trend), the week before for its normal.
HISTORY = Window(
    partition="machine_id, tag", order="hour", position="hours", per="hour", recent=24, normal=168
)
HISTORY_COLUMN = "_h"  # the SQL's name for a tag's hourly mean, before its history goes wide by tag
CLOCK_COLUMNS = ["hours_since_maintenance", "hours_since_failure"]


def _failures_within_horizon(hours: pd.DataFrame, failures: pd.DataFrame) -> pd.Series:
    """1 where the machine has a failure reported within HORIZON after the hour ends: in (end, end +
    HORIZON], end = hour + 1 h. From the hour's end, not its start: the row's features read the whole
    hour, and a failure inside it would be labelled by readings taken after it."""
    label = np.zeros(len(hours), dtype=int)
    ends = hours["hour"] + BUCKET
    for machine_id, reported_at in failures[["machine_id", "reported_at"]].itertuples(index=False):
        mask = (hours["machine_id"] == machine_id) & (ends < reported_at) & (ends >= reported_at - HORIZON)
        label[mask.to_numpy()] = 1
    return pd.Series(label, index=hours.index)


def build_training_set(con: duckdb.DuckDBPyConnection, config: ClientConfig) -> TrainingSet:
    # Order-independent aggregates: DuckDB adds floats in parallel in no fixed order, so avg(double) may
    # differ in its last bits between two builds of the same data (and round to -0.0 or 0.0). A decimal
    # sum is exact whatever the order; + 0.0 turns -0.0 into 0.0.
    # Each tag's history on its machine (normal, recent level, spread, trend) over its hourly means, in
    # DuckDB window functions partitioned by machine and tag.
    history = ", ".join(history_expressions("mean_value", HISTORY_COLUMN, HISTORY))
    readings = con.execute(
        f"""
        with hourly as (
            select machine_id, time_bucket(interval 1 hour, read_at) as hour, tag,
                   cast(avg(cast(value as decimal(38, 9))) as double) + 0.0 as mean_value,
                   max(value) + 0.0 as max_value
            from core.fct_sensor_readings
            where value is not null
            group by all
        )
        select *, {history}
        from (select *, epoch(hour) / 3600 as hours from hourly)
        {HISTORY.clause()}
        order by machine_id, hour, tag
        """
    ).df()
    events = con.execute(
        """
        select machine_id, event_type, reported_at, repair_started_at, repair_ended_at
        from core.fct_maintenance_events
        order by machine_id, reported_at, repair_started_at, repair_ended_at, event_type
        """
    ).df()
    if readings.empty:
        raise NotEnoughData("no sensor readings (core.fct_sensor_readings is empty)")
    failures = events[events["event_type"] == "failure"]
    if failures.empty:
        raise NotEnoughData("no failures in the maintenance log: nothing to learn a failure risk from")
    for column in ["hour"]:
        readings[column] = pd.to_datetime(readings[column], utc=True)
    for column in ["reported_at", "repair_started_at", "repair_ended_at"]:
        events[column] = pd.to_datetime(events[column], utc=True)
    failures = events[events["event_type"] == "failure"]

    stats = {"mean_value": "mean", "max_value": "max"} | {
        history_name(HISTORY_COLUMN, feature): feature for feature in HISTORY_FEATURES
    }
    # Every statistic of every tag, even one whose history is still empty (pivot_table drops all-empty
    # columns; its dropna=False would add every machine x hour instead): the same columns however far the
    # data reaches.
    tags = sorted(readings["tag"].unique())
    wide = readings.pivot_table(index=["machine_id", "hour"], columns="tag", values=list(stats)).reindex(
        columns=pd.MultiIndex.from_product([list(stats), tags])
    )
    wide.columns = [
        f"{tag}_{stats[stat]}" if stat in ("mean_value", "max_value") else history_name(tag, stats[stat])
        for stat, tag in wide.columns
    ]
    wide = wide.reset_index().sort_values(["machine_id", "hour"], kind="stable").reset_index(drop=True)

    features = pd.DataFrame(index=wide.index)
    for tag in tags:
        mean = wide[f"{tag}_mean"]
        grouped = mean.groupby(wide["machine_id"])
        short = grouped.transform(lambda s: s.rolling(SHORT_WINDOW_H, min_periods=1).mean())
        normal = grouped.transform(lambda s: s.rolling(NORMAL_WINDOW_H, min_periods=6).median())
        features[f"{tag}_mean"] = mean
        features[f"{tag}_max"] = wide[f"{tag}_max"]
        features[f"{tag}_mean_{SHORT_WINDOW_H}h"] = short
        features[f"{tag}_drift_vs_{NORMAL_WINDOW_H}h_median"] = short - normal
        for feature in HISTORY_FEATURES:
            features[history_name(tag, feature)] = wide[history_name(tag, feature)]
    # The maintenance clock: hours since the machine's last order of any type ended, and since its last
    # failure was repaired (unknown before the first).
    clock = con.execute(
        f"""
        with hours as (
            select distinct machine_id, time_bucket(interval 1 hour, read_at) as hour
            from core.fct_sensor_readings where value is not null
        ),
        maintained as ({maintenance_clock_sql("hours", "machine_id", "hour")}),
        failed as ({maintenance_clock_sql("maintained", "machine_id", "hour", "last_failure_at", "failure")})
        select machine_id, hour,
            date_diff('second', last_maintenance_at, hour) / 3600 as hours_since_maintenance,
            date_diff('second', last_failure_at, hour) / 3600 as hours_since_failure
        from failed
        """
    ).df()
    clock["hour"] = pd.to_datetime(clock["hour"], utc=True)
    clocked = wide[["machine_id", "hour"]].merge(clock, on=["machine_id", "hour"], how="left")
    for column in CLOCK_COLUMNS:
        features[column] = clocked[column].astype("float64").to_numpy()

    # Leave out hours inside a repair window (down, not at risk).
    in_repair = np.zeros(len(wide), dtype=bool)
    repair_ends = []
    for row in events.itertuples(index=False):
        start = row.reported_at if row.event_type == "failure" else row.repair_started_at
        in_repair |= (
            (wide["machine_id"] == row.machine_id)
            & (wide["hour"] >= start)
            & (wide["hour"] < row.repair_ended_at)
        ).to_numpy()
        repair_ends.append((row.machine_id, row.repair_ended_at))

    # Baseline: hours since the last repair ended on this machine (or since its data starts).
    first_hour = wide.groupby("machine_id")["hour"].transform("min")
    last_repair_end = pd.Series(pd.NaT, index=wide.index, dtype="datetime64[ns, UTC]")
    for machine_id, ended in sorted(repair_ends, key=lambda item: item[1]):
        mask = (wide["machine_id"] == machine_id) & (wide["hour"] >= ended)
        last_repair_end[mask] = ended
    age_h = (wide["hour"] - last_repair_end.fillna(first_hour)).dt.total_seconds() / 3600

    label = _failures_within_horizon(wide, failures)
    keep = ~in_repair
    return TrainingSet(
        features=features[keep].reset_index(drop=True),
        label=label[keep].reset_index(drop=True),
        time=wide.loc[keep, "hour"].reset_index(drop=True),
        baseline_score=age_h[keep].reset_index(drop=True),
        baseline_name=later(N_("hours since the last repair")),
        embargo=HORIZON,
        timezone=config.timezone,
        context=wide.loc[keep, ["machine_id"]].reset_index(drop=True),
        description={
            "rows": "one per machine and hour outside repairs",
            "label": f"1 = a failure is reported within {HORIZON}",
            "tags": ", ".join(tags),
            "history": history_summary("each tag's hourly mean", HISTORY),
            "maintenance clock": "hours since the machine's last maintenance order and last failure",
        },
    )

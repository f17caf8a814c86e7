"""Standard model: unusual behaviour in sensor streams (unsupervised anomaly detection).

Needs: ``core.fct_sensor_readings``. Labelled incidents are optional: failures in
``core.fct_maintenance_events`` and breakdown stops in ``core.fct_downtime_events`` (reasons of the
``breakdowns`` loss category). Without them the detector still runs and lists its alarms for review, but
nothing checks it, and it never becomes champion.

One row per machine and interval. The interval adapts to the data: the shortest of 1 minute, 5 minutes,
15 minutes, 1 hour, 6 hours or 1 day that holds about 5 readings of a tag and keeps a client within 200,000
rows. Per tag, computed in DuckDB from the machine's past only:

- ``__level``: the interval's mean against the machine's own mean of all earlier intervals (each machine
  measured against itself);
- ``__spread``: the spread of the readings inside the interval (chatter, a loose sensor);
- ``__change``: the step from the machine's previous interval;
- ``__shift``: the mean against the machine's last 12 intervals (a drift that sets in).

The detector (:mod:`~forgeline.standard_models.detector`) learns normal running from the training part,
leaving out intervals in an incident's lead window. A row's label is 1 when an incident is reported on its
machine within the next 24 hours: the alarms that would have warned of it.

Naive baseline: the largest excursion of any single tag from its machine's last 12 intervals, in standard
deviations of those intervals (a rolling 3-sigma chart on every tag, as a plant would set one up).
Metrics: PR-AUC (the ranking, and the champion rule's measure), precision of the alarms at the detector's
threshold (its precision at k, k the alarms it raises), the share of the holdout's incidents warned of by
an alarm within 24 hours before them, and how long before.

Reading it: an alarm says the machine's sensors look unlike its normal running. The features that moved
most in the alarms say where to look first: a sensor to check, or wear that is setting in.
"""

from __future__ import annotations

import logging
from datetime import timedelta

import duckdb
import pandas as pd

from forgeline.clients import ClientConfig
from forgeline.standard_models.base import NotEnoughData, TrainingSet
from forgeline.standard_models.families import ANOMALIES

log = logging.getLogger("forgeline.standard_models")

FAMILY = ANOMALIES
NAME = "sensor_anomalies"
LEAD = timedelta(hours=24)  # an alarm up to this long before an incident warned of it
TASK = "anomaly detection: unusual sensor behaviour per machine and interval (unsupervised)"
ROWS_NAME, POSITIVES_NAME = "holdout machine-intervals", "incidents"
REQUIRED_TABLES = ["fct_sensor_readings"]
INTERVALS = ["1 minute", "5 minutes", "15 minutes", "1 hour", "6 hours", "1 day"]
READINGS_PER_INTERVAL = 5
MAX_ROWS = 200_000  # machine-intervals, at most (a factory-year of minute readings stays bounded)
RECENT = 12  # intervals in the short window (the shift feature and the baseline's chart)
MIN_RECENT = 3  # intervals the baseline's chart needs before it draws limits
STATISTICS = ("level", "sustained", "spread")

# One row per machine, interval and tag, from the machine's past only (windows end at the interval, or
# before it). Averages of decimals are exact whatever the order DuckDB adds them in: the same data gives
# the same features to the last bit; + 0.0 turns -0.0 into 0.0.
FEATURES_SQL = """
with intervals as (
    select machine_id, tag, time_bucket(interval '{interval}', read_at) as interval_start,
           cast(avg(cast(value as decimal(38, 9))) as double) + 0.0 as mean_value,
           coalesce(round(stddev_pop(value), 6), 0.0) + 0.0 as spread
    from core.fct_sensor_readings
    where value is not null and machine_id is not null and tag is not null and read_at is not null
    group by all
),
windows as (
    select *,
           avg(mean_value) over history as history_mean,
           avg(mean_value) over recent as recent_mean,
           stddev_pop(mean_value) over recent as recent_sd,
           count(*) over recent as recent_n,
           avg(mean_value) over sustained as sustained_mean
    from intervals
    window history as (partition by machine_id, tag order by interval_start
                       rows between unbounded preceding and 1 preceding),
           recent as (partition by machine_id, tag order by interval_start
                      rows between {recent} preceding and 1 preceding),
           sustained as (partition by machine_id, tag order by interval_start
                         rows between {sustained} preceding and current row)
)
select machine_id, interval_start, tag,
       round(mean_value - history_mean, 6) + 0.0 as level,
       round(sustained_mean - history_mean, 6) + 0.0 as sustained,
       spread,
       case when recent_n >= {min_recent} and recent_sd > 1e-9
            then round(abs(mean_value - recent_mean) / recent_sd, 6) + 0.0 end as excursion
from windows
order by machine_id, interval_start, tag
"""

# Labelled incidents: failures, and stops for breakdowns (a failure and its stop are one incident: the
# family merges incidents on a machine within one lead window of each other).
FAILURES_SQL = """
select machine_id, reported_at, 'failure' as kind
from core.fct_maintenance_events
where event_type = 'failure' and machine_id is not null and reported_at is not null
"""
BREAKDOWN_STOPS_SQL = """
select stops.machine_id, stops.started_at as reported_at, 'breakdown stop' as kind
from core.fct_downtime_events as stops
join core.dim_stop_reasons as reasons on stops.reason_code = reasons.reason_code
where reasons.loss_category = 'breakdowns' and stops.machine_id is not null and stops.started_at is not null
"""

# Intervals inside a repair (a failure's report to the repair's end, or an order's repair window): the
# machine is down or being worked on, which is neither normal running nor an anomaly to warn of.
REPAIRS_SQL = """
select machine_id,
       case when event_type = 'failure' then coalesce(reported_at, repair_started_at)
            else repair_started_at end as started_at,
       repair_ended_at as ended_at
from core.fct_maintenance_events
where machine_id is not null and repair_ended_at is not null
order by machine_id, started_at, ended_at
"""


def _tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    return {
        row[0]
        for row in con.execute(
            "select table_name from information_schema.tables where table_schema = 'core'"
        ).fetchall()
    }


def choose_interval(con: duckdb.DuckDBPyConnection) -> str:
    """The shortest interval that holds about READINGS_PER_INTERVAL readings of a tag and keeps the rows
    within MAX_ROWS (the longest, a day, when none does)."""
    readings, series, machines, first, last = con.execute(
        """
        select count(*), count(distinct (machine_id, tag)), count(distinct machine_id),
               min(read_at), max(read_at)
        from core.fct_sensor_readings
        where value is not null and machine_id is not null and tag is not null and read_at is not null
        """
    ).fetchone()
    if not readings:
        raise NotEnoughData("no sensor readings (core.fct_sensor_readings is empty)")
    span = max((pd.Timestamp(last) - pd.Timestamp(first)).total_seconds(), 1.0)
    cadence = span * series / readings  # seconds between a tag's readings, on average
    for interval in INTERVALS:
        seconds = pd.Timedelta(interval.replace("minutes", "min").replace("minute", "min")).total_seconds()
        # "About" READINGS_PER_INTERVAL: a logger that skipped a few minutes still fits its 5-minute interval.
        if seconds >= 0.8 * READINGS_PER_INTERVAL * cadence and machines * span / seconds <= MAX_ROWS:
            return interval
    return INTERVALS[-1]


def build_training_set(con: duckdb.DuckDBPyConnection, config: ClientConfig) -> TrainingSet:
    interval = choose_interval(con)
    sql = FEATURES_SQL.format(interval=interval, recent=RECENT, min_recent=MIN_RECENT, sustained=RECENT - 1)
    long = con.execute(sql).df()
    if long.empty:
        raise NotEnoughData("no sensor readings (core.fct_sensor_readings is empty)")
    long["interval_start"] = pd.to_datetime(long["interval_start"], utc=True)
    # One column per tag and statistic; a tag without readings in an interval is missing there (NaN).
    wide = long.set_index(["machine_id", "interval_start", "tag"])[list(STATISTICS)].unstack("tag")
    wide.columns = [f"{tag}__{statistic}" for statistic, tag in wide.columns]
    wide = wide.reindex(sorted(wide.columns), axis=1).sort_index()
    excursion = long.groupby(["machine_id", "interval_start"])["excursion"].max().reindex(wide.index)
    rows = wide.index.to_frame(index=False)
    features = wide.reset_index(drop=True)

    tables = _tables(con)
    incidents = pd.DataFrame(columns=["machine_id", "reported_at", "kind"])
    repairs = pd.DataFrame(columns=["machine_id", "started_at", "ended_at"])
    parts = []
    if "fct_maintenance_events" in tables:
        parts.append(FAILURES_SQL)
        repairs = con.execute(REPAIRS_SQL).df()
    if {"fct_downtime_events", "dim_stop_reasons"} <= tables:
        parts.append(BREAKDOWN_STOPS_SQL)
    if parts:
        incidents = con.execute(" union all ".join(parts) + " order by machine_id, reported_at, kind").df()
    incidents["reported_at"] = pd.to_datetime(incidents["reported_at"], utc=True)
    for column in ("started_at", "ended_at"):
        repairs[column] = pd.to_datetime(repairs[column], utc=True)

    # Label: an incident on the machine within LEAD after the interval starts (an ASOF match: the next one).
    label = pd.Series(0, index=rows.index)
    in_repair = pd.Series(False, index=rows.index)
    for machine_id, mine in rows.groupby("machine_id", sort=False):
        starts = mine["interval_start"]
        times = incidents.loc[incidents["machine_id"] == machine_id, "reported_at"].sort_values()
        if len(times):
            after = times.searchsorted(starts, side="right")  # the first incident after the start
            upcoming = times.to_numpy()[after.clip(max=len(times) - 1)]
            known = after < len(times)
            label[mine.index] = (known & (upcoming <= (starts + LEAD).to_numpy())).astype(int)
        for repair in repairs[repairs["machine_id"] == machine_id].itertuples(index=False):
            if pd.notna(repair.started_at):
                in_repair[mine.index] |= (starts >= repair.started_at) & (starts < repair.ended_at)
    keep = ~in_repair.to_numpy()
    log.info(
        "sensor anomalies: %s machine-intervals of %s, %d tag(s), %d labelled incident(s)",
        f"{int(keep.sum()):,}",
        interval,
        long["tag"].nunique(),
        len(incidents),
    )
    return TrainingSet(
        features=features[keep].reset_index(drop=True),
        label=label[keep].reset_index(drop=True),
        time=rows.loc[keep, "interval_start"].reset_index(drop=True),
        baseline_score=excursion.reset_index(drop=True)[keep].reset_index(drop=True),
        baseline_name=f"largest excursion of one tag from its last {RECENT} intervals (standard deviations)",
        # A label looks a lead window ahead; with no incident at all there is no label to leak.
        embargo=LEAD if len(incidents) else timedelta(0),
        timezone=config.timezone,
        context=rows.loc[keep, ["machine_id"]].reset_index(drop=True),
        incidents=incidents[["machine_id", "reported_at", "kind"]].reset_index(drop=True),
        description={
            "rows": f"one per machine and {interval} outside repairs",
            "interval": interval,
            "label": f"1 = an incident (failure, breakdown stop) is reported within {LEAD}",
            "tags": ", ".join(sorted(long["tag"].unique())),
        },
    )

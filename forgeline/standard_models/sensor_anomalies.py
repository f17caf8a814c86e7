"""Standard model: unusual behaviour in sensor streams (unsupervised anomaly detection).

Needs: ``core.fct_sensor_readings``. Labelled incidents are optional: failures in
``core.fct_maintenance_events`` and breakdown stops in ``core.fct_downtime_events`` (reasons of the
``breakdowns`` loss category). Without them the detector still runs and lists its alarms for review, but
nothing checks it, and it never becomes champion.

One row per machine and interval. The interval adapts to the data: the shortest of 1 minute, 5 minutes,
15 minutes, 1 hour, 6 hours or 1 day that holds about 5 readings of a tag and keeps a client within 200,000
rows (fewer with many tags: at most 30 million feature values). A row is timed at its interval's end, when
its readings are all in. Per tag, computed in DuckDB from the machine's past only:

- ``__level``: the interval's mean against the machine's own mean of all earlier intervals (each machine
  measured against itself);
- ``__sustained``: the same over the machine's last 12 intervals (a drift that has set in, not a blip);
- ``__spread``: the spread of the readings inside the interval (chatter, a loose sensor).

The detector (:mod:`~forgeline.standard_models.detector`) learns normal running from the training part,
leaving out intervals in an incident's lead window. A row's label is 1 when an incident is reported on its
machine at or within the 24 hours after its interval ends. Intervals that overlap a repair or contain an
incident are left out: the machine is down or failing, which is neither normal running nor a warning.

Naive baseline: the largest excursion of any single tag from its machine's last 12 intervals, in standard
deviations of those intervals (a rolling 3-sigma chart on every tag, as a plant would set one up).
Metrics: precision at k (the champion rule's measure: of the 1 % highest-scored holdout intervals, the
share that came in the day before an incident), the incidents warned of by a sustained alarm (3
consecutive alarmed intervals, for intervals up to an hour) in the day before them, how long before, and
how many the same alarms shifted to random times would have warned of; PR-AUC beside.

Reading it: an alarm says the machine's sensors look unlike its normal running. The features behind the
alarms (their share of its distance from normal) say where to look first: a sensor to check, or wear
that is setting in.
"""

from __future__ import annotations

import logging
from datetime import timedelta

import duckdb
import numpy as np
import pandas as pd

from forgeline.clients import ClientConfig
from forgeline.i18n import N_, as_number, later
from forgeline.standard_models.base import Incidents, NotEnoughData, TrainingSet, sql_literal
from forgeline.standard_models.families import ANOMALIES

log = logging.getLogger("forgeline.standard_models")

FAMILY = ANOMALIES
NAME = "sensor_anomalies"
LEAD = timedelta(hours=24)  # an alarm up to this long before an incident warned of it
TASK = "anomaly detection: unusual sensor behaviour per machine and interval (unsupervised)"
ROWS_NAME, POSITIVES_NAME = N_("holdout machine-intervals"), N_("incidents")
REQUIRED_TABLES = ["fct_sensor_readings"]
INTERVALS = ["1 minute", "5 minutes", "15 minutes", "1 hour", "6 hours", "1 day"]
READINGS_PER_INTERVAL = 5
MAX_ROWS = 200_000  # machine-intervals, at most (a factory-year of minute readings stays bounded)
MAX_VALUES = 30_000_000  # feature values (rows x tags x statistics), at most: memory stays bounded
RECENT = 12  # intervals in the short windows (the sustained level, and the baseline's chart)
MIN_RECENT = 3  # intervals the baseline's chart needs before it draws limits
STATISTICS = ("level", "spread", "sustained")
# A warning is this many consecutive alarmed intervals (for intervals up to an hour; longer ones: one): a
# 1 % alarm rate would touch most days by chance, three in a row almost never.
SUSTAINED_ALARM = 3

# One row per machine, interval and tag, from the machine's past only (windows end at the interval, or
# before it), then one column per tag and statistic. Averages of decimals are exact whatever the order
# DuckDB adds them in: the same data gives the same features to the last bit; + 0.0 turns -0.0 into 0.0.
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
),
per_tag as (
    select machine_id, interval_start, tag,
           round(mean_value - history_mean, 6) + 0.0 as level,
           round(sustained_mean - history_mean, 6) + 0.0 as sustained,
           spread,
           case when recent_n >= {min_recent} and recent_sd > 1e-9
                then round(abs(mean_value - recent_mean) / recent_sd, 6) + 0.0 end as excursion
    from windows
)
select machine_id, interval_start, interval_start + interval '{interval}' as interval_end,
       {columns},
       max(excursion) as excursion
from per_tag
group by machine_id, interval_start
order by machine_id, interval_start
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
# machine is down or being worked on, which is neither normal running nor an anomaly to warn of. A machine's
# latest failure without an end yet is still being repaired: it lasts to the end of the data (so rows up to
# any time are left out the same way, whatever end a later delivery brings); an older one without an end
# was closed unrecorded, and is no repair window.
REPAIRS_SQL = """
with events as (
    select *,
           case when event_type = 'failure' then coalesce(reported_at, repair_started_at)
                else repair_started_at end as started_at,
           max(coalesce(reported_at, repair_started_at)) over (partition by machine_id) as latest
    from core.fct_maintenance_events
    where machine_id is not null
)
select machine_id, started_at,
       coalesce(
           repair_ended_at,
           case when event_type = 'failure' and started_at = latest
                then (select max(read_at) from core.fct_sensor_readings) + interval 1 day end
       ) as ended_at
from events
where started_at is not null
  and (repair_ended_at is not null or (event_type = 'failure' and started_at = latest))
order by machine_id, started_at, ended_at
"""


def _tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    return {
        row[0]
        for row in con.execute(
            "select table_name from information_schema.tables where table_schema = 'core'"
        ).fetchall()
    }


def tag_names(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [
        row[0]
        for row in con.execute(
            "select distinct tag from core.fct_sensor_readings where tag is not null and value is not null "
            "order by 1"
        ).fetchall()
    ]


def choose_interval(con: duckdb.DuckDBPyConnection, tags: int = 1) -> str:
    """The shortest interval that holds about READINGS_PER_INTERVAL readings of a tag and keeps the rows
    within MAX_ROWS and the feature values within MAX_VALUES (the longest, a day, when none does)."""
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
    most = min(MAX_ROWS, MAX_VALUES // max(tags * len(STATISTICS), 1))
    for interval in INTERVALS:
        seconds = _seconds(interval)
        # "About" READINGS_PER_INTERVAL: a logger that skipped a few minutes still fits its 5-minute interval.
        if seconds >= 0.8 * READINGS_PER_INTERVAL * cadence and machines * span / seconds <= most:
            return interval
    return INTERVALS[-1]


def _seconds(interval: str) -> float:
    return pd.Timedelta(interval.replace("minutes", "min").replace("minute", "min")).total_seconds()


def _naive_utc(times: pd.Series) -> np.ndarray:
    """UTC times as plain datetime64 (comparable and searchable without time-zone objects)."""
    return pd.to_datetime(times, utc=True).dt.tz_localize(None).to_numpy("datetime64[ns]")


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def build_training_set(con: duckdb.DuckDBPyConnection, config: ClientConfig) -> TrainingSet:
    tags = tag_names(con)
    if not tags:
        raise NotEnoughData("no sensor readings (core.fct_sensor_readings is empty)")
    interval = choose_interval(con, len(tags))
    columns = ",\n       ".join(
        f"max({statistic}) filter (where tag = {sql_literal(tag)}) as {_quoted(f'{tag}__{statistic}')}"
        for tag in tags
        for statistic in STATISTICS
    )
    sql = FEATURES_SQL.format(
        interval=interval, recent=RECENT, min_recent=MIN_RECENT, sustained=RECENT - 1, columns=columns
    )
    wide = con.execute(sql).df()
    for column in ("interval_start", "interval_end"):
        wide[column] = pd.to_datetime(wide[column], utc=True)
    names = sorted(f"{tag}__{statistic}" for tag in tags for statistic in STATISTICS)

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

    # Label: an incident on the machine within LEAD after the interval ends. Left out: intervals that hold
    # an incident (their readings run past it) or overlap a repair.
    label = np.zeros(len(wide), dtype=int)
    left_out = np.zeros(len(wide), dtype=bool)
    lead = np.timedelta64(LEAD)
    for machine_id, mine in wide.groupby("machine_id", sort=False):
        starts, ends = _naive_utc(mine["interval_start"]), _naive_utc(mine["interval_end"])
        rows = mine.index.to_numpy()
        times = np.sort(_naive_utc(incidents.loc[incidents["machine_id"] == machine_id, "reported_at"]))
        if len(times):
            # Half-open intervals [start, end): an incident at the end comes after every reading in it.
            at_end = np.searchsorted(times, ends, side="left")  # the first incident at or after the end
            upcoming = times[np.minimum(at_end, len(times) - 1)]
            label[rows] = ((at_end < len(times)) & (upcoming <= ends + lead)).astype(int)
            at_start = np.searchsorted(times, starts, side="left")  # … at or after the start
            inside = times[np.minimum(at_start, len(times) - 1)] < ends
            left_out[rows] |= (at_start < len(times)) & inside
        mine_repairs = repairs[(repairs["machine_id"] == machine_id) & repairs["started_at"].notna()]
        for started, ended in zip(
            _naive_utc(mine_repairs["started_at"]), _naive_utc(mine_repairs["ended_at"]), strict=True
        ):
            left_out[rows] |= (starts < ended) & (ends > started)
    keep = ~left_out
    log.info(
        "sensor anomalies: %s machine-intervals of %s, %d tag(s), %d labelled incident(s)",
        f"{int(keep.sum()):,}",
        interval,
        len(tags),
        len(incidents),
    )
    kept = wide[keep].reset_index(drop=True)
    return TrainingSet(
        features=kept[names],
        label=pd.Series(label[keep]),
        time=kept["interval_end"],
        baseline_score=kept["excursion"].astype(float),
        baseline_name=later(
            N_(
                "a 3-sigma chart on every tag: the largest excursion of one tag from its last {n} intervals, "
                "in their standard deviations"
            ),
            n=as_number(RECENT),
        ),
        # A label looks a lead window ahead; with no incident at all there is no label to leak.
        embargo=LEAD if len(incidents) else timedelta(0),
        timezone=config.timezone,
        context=kept[["machine_id"]],
        incidents=Incidents(
            events=incidents[["machine_id", "reported_at", "kind"]].reset_index(drop=True),
            lead=LEAD,
            sustained=SUSTAINED_ALARM if _seconds(interval) <= 3600 else 1,
        ),
        description={
            "rows": f"one per machine and {interval} (timed at its end) outside repairs and incidents",
            "interval": interval,
            "label": f"1 = an incident (failure, breakdown stop) within {LEAD} after the interval",
            "tags": ", ".join(tags),
        },
    )

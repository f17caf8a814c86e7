"""The energy baseline on a seeded synthetic site with a known truth: use follows production, holidays
stop the line, an anomaly is planted in the holdout, and a meter-derived column is laid as a trap.
Real DuckDB, LightGBM and MLflow (SQLite store)."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime

import duckdb
import numpy as np
import pandas as pd
import pytest

from forgeline.clients import ClientConfig
from forgeline.quality import GateResult
from forgeline.settings import Settings
from forgeline.standard_models import build_training_set, energy_baseline, train_client_models
from forgeline.standard_models.base import TrainingSet, look_ahead_columns
from forgeline.standard_models.champion import MIN_HOLDOUT_DAYS, compare_errors, decide_on_errors

pytestmark = pytest.mark.models

SEED = 11
CLIENT = "synthetic-mill"
TIMEZONE = "Asia/Seoul"
FACTOR = 0.4594  # kg CO2e per kWh in the synthetic energy mart
KWH_PER_CYCLE = 2.0
ANOMALY_KWH = 60.0
ANOMALY_START = pd.Timestamp("2026-11-04 10:00", tz=TIMEZONE)  # a Wednesday in the holdout
ANOMALY_INTERVALS = 8
HOLIDAY = pd.Timestamp("2026-10-09").date()  # 한글날 (Hangul Day), a Friday


def synthetic_site(days: int = 70) -> tuple[pd.DataFrame, pd.DataFrame]:
    """15-minute readings of one meter and the cycles of one press on the same site.

    Truth: kWh = 5 + 2 x cycles started in the interval + noise (sd 1). The press runs 08–20 local on
    weekdays that are not Korean public holidays, at a daily order level drawn between 4 and 20 cycles per
    interval: the calendar alone cannot know a day's level, production can. Eight intervals from
    ANOMALY_START use 60 kWh more than that. ``reactive_kvarh`` is 0.6 x kWh: a trap no baseline may read.
    """
    rng = np.random.default_rng(SEED)
    local = pd.date_range("2026-09-01", periods=days * 96, freq="15min", tz=TIMEZONE)
    holidays = {pd.Timestamp(d).date() for d in ("2026-09-24", "2026-09-25", "2026-10-05", "2026-10-09")}
    level = {day: rng.uniform(4, 20) for day in sorted(set(local.date))}
    working = (local.hour >= 8) & (local.hour < 20) & (local.dayofweek < 5)
    working &= ~pd.Series(local.date).isin(holidays).to_numpy()
    cycles_per = np.where(working, rng.poisson([level[d] for d in local.date]), 0)
    kwh = 5 + KWH_PER_CYCLE * cycles_per + rng.normal(0, 1, len(local))
    anomaly = (local >= ANOMALY_START) & (
        local < ANOMALY_START + pd.Timedelta(minutes=15 * ANOMALY_INTERVALS)
    )
    kwh = np.round(np.where(anomaly, kwh + ANOMALY_KWH, kwh), 3)
    start = local.tz_convert("UTC")
    readings = pd.DataFrame(
        {
            "client_id": CLIENT,
            "meter_id": "M-MAIN",
            "site_id": None,
            "interval_start": start,
            "interval_end": start + pd.Timedelta(minutes=15),
            "energy_kwh": kwh,
            "reactive_kvarh": np.round(0.6 * kwh, 3),
        }
    )
    at = np.repeat(start.to_numpy(), cycles_per)
    offsets = np.concatenate([np.arange(n) * (900 // max(n, 1)) for n in cycles_per if n])
    cycles = pd.DataFrame(
        {
            "client_id": CLIENT,
            "cycle_id": [f"C{i:06d}" for i in range(len(at))],
            "machine_id": "PRESS-1",
            "started_at": pd.to_datetime(at, utc=True) + pd.to_timedelta(offsets, unit="s"),
        }
    )
    return readings, cycles


def write_core(settings: Settings, readings: pd.DataFrame, cycles: pd.DataFrame) -> None:
    settings.warehouse_dir.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(settings.warehouse_path(CLIENT)))
    try:
        for schema in ("core", "marts"):
            con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        con.execute(
            "CREATE OR REPLACE TABLE core.fct_energy_readings AS SELECT * EXCLUDE (site_id) FROM readings"
        )
        con.execute(
            "CREATE OR REPLACE TABLE core.dim_energy_meters AS "
            "SELECT 'M-MAIN' AS meter_id, 'S1' AS site_id, 'KR' AS country, NULL::VARCHAR AS machine_id"
        )
        con.execute("CREATE OR REPLACE TABLE core.fct_cycles AS SELECT * FROM cycles")
        con.execute(
            "CREATE OR REPLACE TABLE core.dim_equipment AS SELECT 'PRESS-1' AS machine_id, 'S1' AS site_id"
        )
        con.execute(
            "CREATE OR REPLACE TABLE marts.energy_daily AS SELECT DISTINCT 'S1' AS site_id, "
            f"cast(timezone('{TIMEZONE}', interval_start) AS date) AS reading_date, "
            f"{FACTOR} AS emission_factor_kg_per_kwh FROM readings"
        )
    finally:
        con.close()


def make_client(settings: Settings, days: int = 70) -> ClientConfig:
    write_core(settings, *synthetic_site(days))
    return ClientConfig(id=CLIENT, name="합성제철", timezone=TIMEZONE, models=["energy_baseline"])


def test_the_baseline_reads_calendar_and_production_never_the_meter(workspace: Settings) -> None:
    config = make_client(workspace)
    data = build_training_set(workspace, config, "energy_baseline")
    assert list(data.features.columns) == [
        *energy_baseline.CALENDAR_FEATURES,
        *energy_baseline.PRODUCTION_FEATURES,
    ]  # the reactive-energy trap is never read
    assert data.unit == "kWh" and len(data.label) == 70 * 96
    local = data.time.dt.tz_convert(TIMEZONE)
    holiday = (local.dt.date == HOLIDAY).to_numpy()
    assert data.features.loc[holiday, "public_holiday"].eq(1).all()
    assert data.features.loc[~holiday & (local.dt.dayofweek < 5).to_numpy(), "public_holiday"].sum() == 3 * 96
    assert data.features.loc[holiday, "cycles_started"].eq(0).all()
    # The naive baseline: the same weekday and time in the four weeks before, this interval never included.
    row = int(np.flatnonzero((local == pd.Timestamp("2026-10-28 10:00", tz=TIMEZONE)).to_numpy())[0])
    weeks_before = [row - 96 * 7 * k for k in range(1, 5)]
    assert data.baseline_score[row] == pytest.approx(data.label[weeks_before].mean())
    assert data.context is not None and data.context["kg_co2e_per_unit"].eq(FACTOR).all()


def _cut(settings: Settings, cut: pd.Timestamp) -> None:
    con = duckdb.connect(str(settings.warehouse_path(CLIENT)))
    try:
        con.execute("DELETE FROM core.fct_energy_readings WHERE interval_start > ?", [cut.to_pydatetime()])
        con.execute("DELETE FROM core.fct_cycles WHERE started_at > ?", [cut.to_pydatetime()])
    finally:
        con.close()


def test_features_are_leakage_free_and_a_planted_look_ahead_is_caught(workspace: Settings) -> None:
    config = make_client(workspace, days=42)
    later = build_training_set(workspace, config, "energy_baseline")
    full_copy = workspace.warehouse_path(CLIENT).with_suffix(".full")
    shutil.copy(workspace.warehouse_path(CLIENT), full_copy)
    cut = pd.Timestamp("2026-09-30 12:00", tz="UTC")
    _cut(workspace, cut)
    earlier = build_training_set(workspace, config, "energy_baseline")
    assert len(earlier.label) < len(later.label)
    assert look_ahead_columns(earlier, later, cut) == []

    def with_look_ahead(data: TrainingSet) -> TrainingSet:
        # The next interval's use: known only once that interval is over.
        planted = data.features.assign(next_interval_kwh=data.label.shift(-1).to_numpy())
        return TrainingSet(planted, data.label, data.time, data.baseline_score, data.baseline_name)

    assert look_ahead_columns(with_look_ahead(earlier), with_look_ahead(later), cut) == ["next_interval_kwh"]

    def dropping_rows_without_a_future(data: TrainingSet) -> TrainingSet:
        # The same look-ahead, hidden by dropping the row that has no next interval yet.
        planted = with_look_ahead(data)
        keep = planted.features["next_interval_kwh"].notna().to_numpy()
        return TrainingSet(
            planted.features[keep].reset_index(drop=True),
            planted.label[keep].reset_index(drop=True),
            planted.time[keep].reset_index(drop=True),
            planted.baseline_score[keep].reset_index(drop=True),
            planted.baseline_name,
        )

    assert look_ahead_columns(
        dropping_rows_without_a_future(earlier), dropping_rows_without_a_future(later), cut
    ) == ["(rows)"]


def test_the_defect_model_is_leakage_free_too(workspace: Settings) -> None:
    """The same check on the defect model's features (restart counts, gaps, parameters) and baseline."""
    from test_standard_models import synthetic_cycles
    from test_standard_models import write_core as write_cycles

    config = ClientConfig(id="leak-check", name="합성공장", models=["defect_prediction"])
    cycles, parameters = synthetic_cycles("planted")
    write_cycles(workspace, config.id, cycles, parameters)
    later = build_training_set(workspace, config, "defect_prediction")
    cut = pd.Timestamp(cycles["started_at"].iloc[len(cycles) * 2 // 3])
    keep = cycles["started_at"] <= cut
    write_cycles(
        workspace,
        config.id,
        cycles[keep],
        parameters[parameters["cycle_id"].isin(cycles.loc[keep, "cycle_id"])],
    )
    earlier = build_training_set(workspace, config, "defect_prediction")
    assert len(earlier.label) < len(later.label)
    assert look_ahead_columns(earlier, later, cut) == []


def test_the_failure_model_is_leakage_free_too(workspace: Settings) -> None:
    """The same check on the failure model's hourly means, rolling windows, drift and age baseline."""
    from test_standard_models import write_sensor_core

    config = ClientConfig(id="sensor-leak-check", name="센서공장", models=["failure_prediction"])
    write_sensor_core(workspace, config.id)
    later = build_training_set(workspace, config, "failure_prediction")
    cut = datetime(2026, 9, 8, 12, tzinfo=UTC)  # an hour's start: every earlier hour is complete
    con = duckdb.connect(str(workspace.warehouse_path(config.id)))
    try:
        con.execute("DELETE FROM core.fct_sensor_readings WHERE read_at >= ?", [cut])
        con.execute("DELETE FROM core.fct_maintenance_events WHERE reported_at >= ?", [cut])
    finally:
        con.close()
    earlier = build_training_set(workspace, config, "failure_prediction")
    assert len(earlier.label) < len(later.label)
    # Hours before the cut: the one starting at the cut is not complete in the earlier data.
    assert look_ahead_columns(earlier, later, pd.Timestamp(cut) - pd.Timedelta(hours=1)) == []


def test_the_baseline_finds_the_driver_and_the_planted_anomaly(workspace: Settings) -> None:
    config = make_client(workspace)
    gate = GateResult(client_id=CLIENT, passed=True, checked_at=datetime.now(UTC).isoformat())
    [result] = train_client_models(workspace, config, gate)
    assert (result.family, result.metric_name, result.unit) == ("expected_value", "rmse", "kWh")
    assert result.n_test_positives is None
    assert result.model_metric < result.baseline_metric / 2  # production explains what the calendar cannot
    assert result.top_features[0]["feature"] == "cycles_started"
    assert result.is_champion and "becomes champion" in result.champion_decision
    assert result.holdout_cv_rmse is not None and result.holdout_nmbe is not None
    assert abs(result.holdout_nmbe) < 0.05
    # The planted intervals are flagged, and their excess is put in CO2 at the mart's factor.
    assert result.anomalies is not None and result.anomalies >= ANOMALY_INTERVALS
    assert result.anomaly_excess >= ANOMALY_INTERVALS * ANOMALY_KWH * 0.8
    assert result.anomaly_co2_kg == pytest.approx(result.anomaly_excess * FACTOR)
    anomaly_day = str(ANOMALY_START.date())
    [day] = [d for d in result.holdout_daily if d["day"] == anomaly_day]
    assert day["flagged"] >= ANOMALY_INTERVALS and day["actual"] > day["expected"]

    # The same data again: the run is kept, with the same figures.
    [again] = train_client_models(workspace, config, gate)
    assert again.reused and again.model_version == result.model_version
    assert again.model_metric == result.model_metric and again.is_champion


def test_the_error_bootstrap_is_paired_and_needs_enough_days() -> None:
    rng = np.random.default_rng(0)
    days = np.repeat(np.arange(20), 48)
    actual = rng.normal(50, 10, len(days))
    good = actual + rng.normal(0, 2, len(days))
    poor = actual + rng.normal(0, 6, len(days))
    comparison = compare_errors(actual, good, poor, groups=days)
    assert comparison.challenger == pytest.approx(np.sqrt(np.mean((actual - good) ** 2)))
    assert comparison.difference == pytest.approx(comparison.other - comparison.challenger)
    assert 0 < comparison.low < comparison.difference < comparison.high
    decision = decide_on_errors(actual, good, poor, groups=days, version=2, unit="kWh", rows_name="intervals")
    assert decision.promote and "RMSE" in decision.reason and "kWh" in decision.reason
    # A champion as good as the challenger stays champion.
    kept = decide_on_errors(
        actual, good, poor, champion=good + 0.01, groups=days, champion_version=1, version=2
    )
    assert not kept.promote and "stays champion" in kept.reason
    short = days < MIN_HOLDOUT_DAYS - 1
    thin = decide_on_errors(actual[short], good[short], poor[short], groups=days[short], version=3)
    assert not thin.promote and f"at least {MIN_HOLDOUT_DAYS}" in thin.reason


def test_two_meters_a_catch_up_reading_and_a_late_delivery(workspace: Settings) -> None:
    """Two 15-minute main meters on one site: a catch-up reading spanning two intervals is never counted
    in one, and the intervals after a meter's last reading wait for its (late) delivery."""
    readings, _ = synthetic_site(days=21)
    second = readings.assign(meter_id="M-HALL", energy_kwh=1.0, reactive_kvarh=0.0)
    late_from = readings["interval_start"].max() - pd.Timedelta(days=2)
    second = second[second["interval_start"] < late_from]  # its last two days not delivered yet
    # One catch-up reading of 30 minutes in place of two 15-minute ones.
    catch_up_at = readings["interval_start"].iloc[96 * 10]
    second = second[~second["interval_start"].isin([catch_up_at, catch_up_at + pd.Timedelta(minutes=15)])]
    catch_up = second.iloc[[0]].assign(
        interval_start=catch_up_at, interval_end=catch_up_at + pd.Timedelta(minutes=30), energy_kwh=2.0
    )
    write_core(workspace, pd.concat([readings, second, catch_up]), _.iloc[:0])
    con = duckdb.connect(str(workspace.warehouse_path(CLIENT)))
    try:
        con.execute(
            "CREATE OR REPLACE TABLE core.dim_energy_meters AS SELECT * FROM (VALUES "
            "('M-MAIN', 'S1', 'KR', NULL::VARCHAR), ('M-HALL', 'S1', 'KR', NULL::VARCHAR)) "
            "AS t(meter_id, site_id, country, machine_id)"
        )
    finally:
        con.close()
    config = ClientConfig(id=CLIENT, name="합성제철", timezone=TIMEZONE, models=["energy_baseline"])
    data = build_training_set(workspace, config, "energy_baseline")
    start = data.time
    assert not start.isin([catch_up_at, catch_up_at + pd.Timedelta(minutes=15)]).any()
    assert start.max() < late_from  # the late meter's days are not read as a saving
    by_time = pd.Series(data.label.to_numpy(), index=start)
    main = readings.set_index("interval_start")["energy_kwh"]
    assert (by_time - main.reindex(by_time.index)).round(6).eq(1.0).all()  # both meters, every row

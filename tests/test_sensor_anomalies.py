"""Anomaly detection on sensor streams, on a seeded plant with a known truth: two machines whose oil heats
with their load (day shifts loaded, nights light); before each of ~24 failures the oil runs hotter than
the load explains, a little more each hour for 12 hours (friction: the current stays as it was). The
detector learns normal running unsupervised; the failures only score it. Real DuckDB, MLflow and skops."""

from __future__ import annotations

from datetime import UTC, datetime

import duckdb
import numpy as np
import pandas as pd
import pytest

from forgeline.clients import ClientConfig
from forgeline.quality import GateResult
from forgeline.settings import Settings
from forgeline.standard_models import build_training_set, train_client_models
from forgeline.standard_models.base import TrainingSet, look_ahead_columns
from forgeline.standard_models.champion import MIN_HOLDOUT_INCIDENTS
from forgeline.standard_models.detector import ALARM_BUDGET, Z_CLIP, SensorAnomalyDetector

pytestmark = [pytest.mark.models]

SEED = 11
START = pd.Timestamp(datetime(2026, 3, 2, tzinfo=UTC))
DAYS = 40
DRIFT_HOURS = 12
MACHINES = ("M1", "M2")


def plant(seed: int = SEED) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Minute readings of oil temperature, motor current and pressure, and the failures (the truth)."""
    rng = np.random.default_rng(seed)
    minutes = pd.date_range(START, periods=DAYS * 24 * 60, freq="min")
    hour = minutes.hour.to_numpy()
    frames, failures = [], []
    for m, machine in enumerate(MACHINES):
        load = np.where((hour >= 6) & (hour < 22), 1.0, 0.2) + rng.normal(0, 0.05, len(minutes))
        oil = 50 + 8 * load + rng.normal(0, 0.4, len(minutes))
        current = 10 + 20 * load + rng.normal(0, 0.8, len(minutes))
        pressure = 5 + rng.normal(0, 0.3, len(minutes))
        failed_at = [
            START + pd.Timedelta(days=2 + 3 * k + 1.5 * m, hours=int(rng.integers(0, 24))) for k in range(13)
        ]
        failed_at = [t for t in failed_at if t < minutes[-1] - pd.Timedelta(hours=6)]
        for t in failed_at:
            end = int((t - START).total_seconds() // 60)
            start = end - DRIFT_HOURS * 60
            oil[start:end] += 3.0 * np.linspace(0, 1, end - start)
            failures.append({"machine_id": machine, "reported_at": t})
        for tag, values in (("oil_temp", oil), ("motor_current", current), ("pressure", pressure)):
            frames.append(
                pd.DataFrame({"machine_id": machine, "tag": tag, "read_at": minutes, "value": values})
            )
    readings = pd.concat(frames, ignore_index=True)
    events = pd.DataFrame(failures).assign(event_type="failure")
    events["repair_started_at"] = events["reported_at"]
    events["repair_ended_at"] = events["reported_at"] + pd.Timedelta(hours=2)
    # A repair's hours are down, not running: no readings then.
    for row in events.itertuples(index=False):
        down = (
            (readings["machine_id"] == row.machine_id)
            & (readings["read_at"] >= row.reported_at)
            & (readings["read_at"] < row.repair_ended_at)
        )
        readings = readings[~down]
    return readings.reset_index(drop=True), events


def write_core(
    settings: Settings, client_id: str, readings: pd.DataFrame, events: pd.DataFrame | None
) -> None:
    settings.warehouse_dir.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(settings.warehouse_path(client_id)))
    try:
        con.execute("CREATE SCHEMA IF NOT EXISTS core")
        con.execute("DROP TABLE IF EXISTS core.fct_maintenance_events")
        con.register("readings_frame", readings)
        con.execute("CREATE OR REPLACE TABLE core.fct_sensor_readings AS SELECT * FROM readings_frame")
        if events is not None:
            con.register("events_frame", events)
            con.execute("CREATE TABLE core.fct_maintenance_events AS SELECT * FROM events_frame")
    finally:
        con.close()


def passed_gate(client_id: str) -> GateResult:
    return GateResult(client_id=client_id, passed=True, checked_at=datetime.now(UTC).isoformat())


def test_the_detector_flags_a_broken_relationship_no_single_tag_shows() -> None:
    """Two sensors that move together; the planted rows keep each sensor inside its normal range but break
    the relationship. Q (the principal-component model's residual) objects; normal rows rarely alarm."""
    rng = np.random.default_rng(SEED)
    load = rng.uniform(0, 1, 5_000)
    normal = pd.DataFrame({"oil": 50 + 8 * load + rng.normal(0, 0.2, 5_000), "current": 10 + 20 * load})
    normal["current"] += rng.normal(0, 0.4, 5_000)
    detector = SensorAnomalyDetector().fit(normal)
    broken = pd.DataFrame({"oil": [57.5, 57.0, 51.0, 50.5], "current": [11.0, 12.0, 29.0, 28.5]})
    assert normal["oil"].min() < broken["oil"].min() and broken["oil"].max() < normal["oil"].max()
    assert (
        normal["current"].min() < broken["current"].min()
        and broken["current"].max() < normal["current"].max()
    )
    assert (detector.anomaly_score(broken) >= detector.threshold_).all()
    objecting = detector.statistics(broken).idxmax(axis=1)
    assert set(objecting) == {"q"}, detector.statistics(broken)
    fresh = 50 + 8 * (later := rng.uniform(0, 1, 5_000)) + rng.normal(0, 0.2, 5_000)
    again = pd.DataFrame({"oil": fresh, "current": 10 + 20 * later + rng.normal(0, 0.4, 5_000)})
    assert (detector.anomaly_score(again) >= detector.threshold_).mean() <= 3 * ALARM_BUDGET
    # A feature that never varied in training counts at most Z_CLIP spreads when it moves: it cannot drown
    # the others.
    steady = normal.assign(valve=1.0)
    clipped = SensorAnomalyDetector().fit(steady).deviations(broken.assign(valve=500.0))
    assert (clipped["valve"] == Z_CLIP).all()
    # Deterministic: the same data gives the same detector.
    assert np.array_equal(
        SensorAnomalyDetector().fit(normal).anomaly_score(broken), detector.anomaly_score(broken)
    )


def test_features_are_leakage_free_and_a_planted_look_ahead_is_caught(workspace: Settings) -> None:
    config = ClientConfig(id="anomaly-leak-check", name="센서공장", models=["sensor_anomalies"])
    readings, events = plant()
    write_core(workspace, config.id, readings, events)
    later = build_training_set(workspace, config, "sensor_anomalies")
    assert later.description["interval"] == "5 minutes"
    # Rows are timed at their interval's end: every row up to the cut is complete in the cut data. The cut
    # falls inside a repair, which the cut data knows without its end (not delivered yet); failures are
    # reported on the hour, on an interval's boundary.
    failure = events.loc[
        events["reported_at"] > pd.Timestamp(datetime(2026, 3, 25, tzinfo=UTC)), "reported_at"
    ]
    cut = failure.min() + pd.Timedelta(hours=1)
    known = events[events["reported_at"] < cut].copy()
    known.loc[known["repair_ended_at"] > cut, "repair_ended_at"] = pd.NaT
    assert known["repair_ended_at"].isna().sum() == 1
    write_core(workspace, config.id, readings[readings["read_at"] < cut], known)
    earlier = build_training_set(workspace, config, "sensor_anomalies")
    assert len(earlier.label) < len(later.label)
    assert look_ahead_columns(earlier, later, cut) == []

    def with_look_ahead(data: TrainingSet) -> TrainingSet:
        # The next interval's oil level: known only once that interval is over.
        column = data.features["oil_temp__level"].groupby(data.context["machine_id"]).shift(-1)
        return TrainingSet(
            data.features.assign(next_oil=column.to_numpy()),
            data.label,
            data.time,
            data.baseline_score,
            data.baseline_name,
            context=data.context,
        )

    assert look_ahead_columns(with_look_ahead(earlier), with_look_ahead(later), cut) == ["next_oil"]


def test_the_detector_warns_of_the_planted_failures_and_becomes_champion(workspace: Settings) -> None:
    config = ClientConfig(id="anomaly-plant", name="센서공장", models=["sensor_anomalies"])
    readings, events = plant()
    write_core(workspace, config.id, readings, events)
    [result] = train_client_models(workspace, config, passed_gate(config.id))
    assert result.family == "anomaly" and result.metric_name == "precision_at_k"
    assert result.holdout_incidents >= MIN_HOLDOUT_INCIDENTS
    # The planted drift runs 12 hours: nearly every failure is warned of, hours ahead, and most alarms are
    # warnings. A rolling 3-sigma chart on each tag, given the same alarm budget, spends it on the shift
    # changes (a step no recent hour explains), which fall in every failure's day too: counting warnings
    # alone would flatter it, so the ranking (PR-AUC) and the alarms' precision are what tell them apart.
    assert result.holdout_incidents_warned >= 0.8 * result.holdout_incidents, result
    assert result.holdout_warning_h > 3
    assert result.model_metric > result.baseline_metric + 0.2
    assert result.holdout_precision > 0.5
    # Each incident, as the page lists it: the counts are these rows'.
    assert len(result.incidents) == result.holdout_incidents
    assert sum(i["warned"] for i in result.incidents) == result.holdout_incidents_warned
    assert all(i["warning_h"] > 0 for i in result.incidents if i["warned"])
    # The same alarms at random times would warn of some (a third of the time lies in some failure's day
    # before), far fewer than they did.
    assert result.holdout_incidents_warned >= result.holdout_incidents_warned_by_chance + 3
    # The strongest alarms are listed for review, strongest first, with what moved in them.
    scores = [a["score"] for a in result.alarms]
    assert 0 < len(scores) <= 20 and scores == sorted(scores, reverse=True)
    # A broken relationship is shared between its sides (oil against current): the oil is among the top.
    assert "oil_temp" in result.alarms[0]["moved"], result.alarms[0]
    assert result.is_champion, result.champion_decision
    assert "becomes champion" in result.champion_decision and "incidents" in result.champion_decision
    # What drove the alarms: the planted tag, and the one it broke with.
    assert {f["feature"].split("__")[0] for f in result.top_features[:2]} <= {"oil_temp", "motor_current"}
    assert any(f["feature"].startswith("oil_temp") for f in result.top_features[:2]), result.top_features
    # In operation: the champion was loaded back from MLflow (skops) and scored its weeks.
    assert result.operation_weekly and all("alarm" in w["sentence"] for w in result.operation_weekly)
    [again] = train_client_models(workspace, config, passed_gate(config.id))
    assert again.reused and again.model_version == result.model_version


def test_without_incidents_it_runs_for_review_and_is_never_champion(workspace: Settings) -> None:
    config = ClientConfig(id="anomaly-unlabelled", name="용해공장", models=["sensor_anomalies"])
    readings, _ = plant()
    write_core(workspace, config.id, readings, None)
    [result] = train_client_models(workspace, config, passed_gate(config.id))
    assert not result.is_champion
    assert "no labelled incident" in result.champion_decision
    assert np.isnan(result.model_metric) and result.holdout_incidents == 0
    assert result.holdout_alarm_rate is not None and result.holdout_alarm_rate > 0
    # The alarms are still listed, by day and the strongest one by one, for a consultant to review.
    assert sum(day["flagged"] for day in result.holdout_daily) > 0
    assert result.alarms and result.incidents == []


def test_precision_at_k_takes_weights_as_repeated_rows() -> None:
    """The champion rule's bootstrap weighs rows by how often a resample drew them: a weight of 2 must count
    as the row twice, so the resampled figure is the figure of the resampled rows."""
    from forgeline.standard_models.base import precision_at_k

    rng = np.random.default_rng(SEED)
    label = (rng.uniform(size=400) < 0.2).astype(int)
    score = label * 0.5 + rng.uniform(size=400)
    weight = rng.integers(0, 3, size=400)
    repeated = np.repeat(np.arange(400), weight)
    assert precision_at_k(label, score, weight, share=0.05) == pytest.approx(
        precision_at_k(label[repeated], score[repeated], share=0.05), abs=0.02
    )
    # The top 5 % of a perfect ranking are all problem rows; of a reversed one, none.
    assert precision_at_k(label, label + 0.0, share=0.05) == 1.0
    assert precision_at_k(label, -label + 0.0, share=0.05) == 0.0


def test_a_warning_is_a_sustained_alarm_and_chance_keeps_the_alarms_clustering() -> None:
    """Three alarmed intervals in a row make a warning; a gap in the data (a repair) breaks a run; the
    warning's lead runs from its first raised row; chance shifts the alarms, clustered as they are."""
    from forgeline.standard_models.families import chance_of_warning, warnings

    times = pd.date_range(START, periods=1_000, freq="5min")
    times = times[(times < START + pd.Timedelta(hours=40)) | (times >= START + pd.Timedelta(hours=42))]
    alarm = np.zeros(len(times), dtype=bool)
    late = int(np.searchsorted(times, START + pd.Timedelta(hours=60)))
    alarm[late : late + 5] = True  # one warning: 5 in a row, raised at the third
    gap = int(np.searchsorted(times, START + pd.Timedelta(hours=42)))
    alarm[gap - 2 : gap + 1] = True  # 2 before a 2-hour gap and 1 after: no warning
    alarm[10:12] = True  # 2 in a row: no warning
    scored = pd.DataFrame({"machine_id": "M1", "time": times, "alarm": alarm, "outcome": 0})
    incident = times[late + 8]
    episodes = pd.DataFrame({"machine_id": ["M1"], "reported_at": [incident], "kind": ["failure"]})
    [row] = warnings(episodes, scored, "alarm", pd.Timedelta(hours=24), 3).itertuples(index=False)
    assert row.warned and row.warning_h == pytest.approx((incident - times[late + 2]).total_seconds() / 3600)
    early = pd.DataFrame({"machine_id": ["M1"], "reported_at": [times[gap + 20]], "kind": ["failure"]})
    assert not warnings(early, scored, "alarm", pd.Timedelta(hours=24), 3)["warned"].any()
    # At random times the one warning lands in the day before the incident in about a third of the shifts
    # (24 of the data's ~83 hours); never in all, and the same every time.
    chance = chance_of_warning(episodes, scored, "alarm", pd.Timedelta(hours=24), 3)
    assert 0.1 < chance < 0.6
    assert chance == chance_of_warning(episodes, scored, "alarm", pd.Timedelta(hours=24), 3)

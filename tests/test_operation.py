"""Models in operation: the champion scores every row after its training, week by week against outcomes,
and a planted shift is flagged as drift while a steady process is not. Real DuckDB, LightGBM and MLflow."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest

from forgeline.quality import GateResult
from forgeline.settings import Settings
from forgeline.standard_models import build_training_set, energy_baseline, train_client_models
from forgeline.standard_models.base import TrainingSet
from forgeline.standard_models.families import EVENTS
from forgeline.standard_models.operation import DRIFT_NMBE, track

pytestmark = pytest.mark.models


class _Constant:
    """A model that always says the same probability (a calibrated model of a steady 5 % defect rate)."""

    feature_names_in_ = np.array(["x"])

    def predict_proba(self, features: pd.DataFrame) -> np.ndarray:
        return np.column_stack([np.full(len(features), 0.95), np.full(len(features), 0.05)])


class _Events:
    FAMILY = EVENTS


def _steady_then_worse(weeks: int = 6, per_week: int = 2_016) -> TrainingSet:
    """Cycles at a steady 5 % defect rate, then 12 % in the last two weeks (a shift the model cannot see)."""
    rng = np.random.default_rng(3)
    n = weeks * per_week
    time = pd.Series(pd.date_range("2026-10-05", periods=n, freq="300s", tz="UTC"))  # 2,016 a week
    rate = np.where(np.arange(n) >= (weeks - 2) * per_week, 0.12, 0.05)
    label = pd.Series((rng.random(n) < rate).astype(int))
    features = pd.DataFrame({"x": rng.normal(size=n)})
    context = pd.DataFrame({"machine_id": "M1", "cycle_id": [f"C{i}" for i in range(n)]})
    return TrainingSet(features, label, time, pd.Series(np.zeros(n)), "none", context=context)


def test_a_steady_process_is_not_drift_and_a_shift_is() -> None:
    data = _steady_then_worse()
    weeks, scores = track(_Events, data, _Constant(), "3", pd.Timestamp("2026-10-04", tz="UTC"), "UTC")
    assert [w["week"] for w in weeks] == [f"2026-10-{d:02d}" for d in (5, 12, 19, 26)] + [
        "2026-11-02",
        "2026-11-09",
    ]
    assert [w["drift"] for w in weeks] == [False] * 4 + [True] * 2
    assert "under-states the risk" in weeks[-1]["sentence"] and weeks[0]["model_version"] == "3"
    assert all(w["rows"] == 2_016 for w in weeks) and weeks[0]["predicted"] == pytest.approx(100.8)
    # The latest scores, newest last, each saying which machine and cycle it is.
    assert (
        scores[-1]["key"] == f"machine_id=M1, cycle_id=C{len(data.label) - 1}" and len(scores) == 2_000
    )  # SCORE_ROWS


def test_rows_before_the_cut_and_outcomes_not_yet_known_are_left_out() -> None:
    data = _steady_then_worse()
    cut = pd.Timestamp(data.time.iloc[6_000])
    data.embargo = pd.Timedelta(days=1)
    weeks, scores = track(_Events, data, _Constant(), "1", cut, "UTC")
    assert sum(w["rows"] for w in weeks) == int(
        ((data.time > cut) & (data.time <= data.time.max() - data.embargo)).sum()
    )
    # The last day's outcomes cannot be known yet (a label horizon): scored, published without one.
    last_day = [s for s in scores if pd.Timestamp(s["time"]) > data.time.max() - data.embargo]
    assert last_day and all(s["outcome"] is None for s in last_day)


def test_the_energy_champion_in_operation_flags_a_lasting_change(workspace: Settings) -> None:
    from test_energy_baseline import TIMEZONE, make_client

    config = make_client(workspace)
    gate = GateResult(client_id=config.id, passed=True, checked_at=datetime.now(UTC).isoformat())
    [result] = train_client_models(workspace, config, gate)
    assert result.is_champion and result.operation_weekly
    assert not any(w["drift"] for w in result.operation_weekly if w["rows"] == 7 * 96)  # a steady site
    assert {s["key"] for s in result.scores} == {"site_id=S1"}

    # A lasting saving from some week on: the champion, scored again, sees those weeks run low.
    data = build_training_set(workspace, config, "energy_baseline")
    saving_from = pd.Timestamp("2026-10-26", tz=TIMEZONE)
    saved = data.label.where(data.time < saving_from, data.label * 0.7)
    changed = TrainingSet(
        data.features, saved, data.time, data.baseline_score, data.baseline_name, unit="kWh"
    )
    import mlflow

    model = mlflow.sklearn.load_model(f"models:/{result.registered_model}/{result.model_version}")
    cut = pd.Timestamp(data.time.iloc[int(len(data.time) * 0.7)])
    weeks, _ = track(energy_baseline, changed, model, result.model_version, cut, TIMEZONE)
    later = [w for w in weeks if w["week"] >= "2026-10-26" and w["rows"] == 7 * 96]
    assert later and all(w["drift"] and "less than expected" in w["sentence"] for w in later)
    assert all(abs(w["predicted"] - w["actual"]) / w["actual"] > DRIFT_NMBE for w in later)


def test_positive_rows_in_runs_are_not_taken_for_drift() -> None:
    """A failure labels a whole day of machine-hours: a calibrated model of that is not drifting, though
    the week's count varies far more than independent rows would."""
    rng = np.random.default_rng(5)
    hours = pd.date_range("2026-09-07", periods=12 * 7 * 24, freq="h", tz="UTC")
    frames = []
    for machine in ("M1", "M2"):
        failing_days = rng.random(12 * 7) < 0.1
        label = np.repeat(failing_days, 24).astype(int)
        frames.append(pd.DataFrame({"time": hours, "label": label, "machine_id": machine}))
    rows = pd.concat(frames).sort_values(["time", "machine_id"], kind="stable").reset_index(drop=True)
    data = TrainingSet(
        pd.DataFrame({"x": np.zeros(len(rows))}),
        rows["label"],
        rows["time"],
        pd.Series(np.zeros(len(rows))),
        "none",
        context=rows[["machine_id"]],
    )

    class Calibrated(_Constant):
        def predict_proba(self, features: pd.DataFrame) -> np.ndarray:
            return np.column_stack([np.full(len(features), 0.9), np.full(len(features), 0.1)])

    weeks, _ = track(_Events, data, Calibrated(), "1", pd.Timestamp("2026-09-01", tz="UTC"), "UTC")
    assert len(weeks) == 12 and sum(w["drift"] for w in weeks) <= 1


def test_a_time_zone_whose_dst_starts_at_midnight_does_not_stop_scoring() -> None:
    data = _steady_then_worse()  # 2026-10-05 onwards; Chile's clocks went forward at midnight on 09-06
    data.time = data.time - pd.Timedelta(days=35)
    weeks, _ = track(
        _Events, data, _Constant(), "1", pd.Timestamp("2026-08-01", tz="UTC"), "America/Santiago"
    )
    assert weeks and sum(w["rows"] for w in weeks) == len(data.label)

"""Generic history features (features.py): per-machine normalization, the recent level and trend, the
maintenance clock, and feature selection. Each is tested on seeded cycles with a planted cause that only
that feature can see, and the features are checked for look-ahead with a planted look-ahead caught."""

from __future__ import annotations

from datetime import UTC, datetime

import duckdb
import numpy as np
import pandas as pd
import pytest

from forgeline.clients import ClientConfig
from forgeline.settings import Settings
from forgeline.standard_models import build_training_set, learner
from forgeline.standard_models.base import TrainingSet, look_ahead_columns
from forgeline.standard_models.families import EVENTS

SEED = 11
START = datetime(2026, 6, 1, tzinfo=UTC)
PRESSURE = "clamp_force_kn"


def write_plant(
    settings: Settings, client_id: str, cycles: pd.DataFrame, maintenance: pd.DataFrame | None = None
) -> None:
    """Core tables as dbt leaves them: cycles, one inspection per cycle, parameters (long), maintenance."""
    parameters = cycles.drop(columns=["machine_id", "started_at", "is_pass"]).melt(
        id_vars="cycle_id", var_name="parameter_name", value_name="parameter_value"
    )
    settings.warehouse_dir.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(settings.warehouse_path(client_id)))
    try:
        con.execute("create schema if not exists core")
        con.register("cycles", cycles)
        con.register("parameters", parameters)
        con.execute(
            "create or replace table core.fct_cycles as "
            "select cycle_id, machine_id, 'P1' as product_id, started_at from cycles"
        )
        con.execute(
            "create or replace table core.fct_quality_results as select cycle_id, is_pass from cycles"
        )
        con.execute("create or replace table core.fct_cycle_parameters as select * from parameters")
        if maintenance is not None:
            con.register("maintenance", maintenance)
            con.execute("create or replace table core.fct_maintenance_events as select * from maintenance")
    finally:
        con.close()


def drifting_machines(n_per_machine: int = 3_000) -> pd.DataFrame:
    """Three presses whose clamp force wanders (a slow random walk over a range of 40 kN, each machine at its
    own level); a cycle pushed 5 kN above its machine's recent normal is a defect 90 % of the time. The raw
    force cannot tell a push from a high level; the force against the machine's own normal can."""
    rng = np.random.default_rng(SEED)
    frames = []
    for number, base in enumerate((100.0, 120.0, 140.0)):
        walk = np.cumsum(rng.normal(0, 0.03, n_per_machine))
        pushed = rng.random(n_per_machine) < 0.04
        force = base + 20 * np.sin(walk) + rng.normal(0, 1, n_per_machine) + 5 * pushed
        defect = np.where(pushed, rng.random(n_per_machine) < 0.9, rng.random(n_per_machine) < 0.003)
        frames.append(
            pd.DataFrame(
                {
                    "cycle_id": [f"M{number}-{i:05d}" for i in range(n_per_machine)],
                    "machine_id": f"M{number}",
                    "started_at": pd.date_range(START, periods=n_per_machine, freq="60s"),
                    "is_pass": ~defect,
                    PRESSURE: force,
                    "cooling_time_s": rng.normal(12, 1, n_per_machine),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def wearing_machine(n: int = 8_000, interval: int = 400) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One press serviced every ``interval`` cycles (a preventive order); its defect rate climbs with the
    cycles since the last service, from 0.2 % to 30 %. The parameters are noise."""
    rng = np.random.default_rng(SEED)
    started = pd.date_range(START, periods=n, freq="60s")
    since = np.arange(n) % interval
    defect = rng.random(n) < 0.002 + 0.3 * (since / interval) ** 3
    cycles = pd.DataFrame(
        {
            "cycle_id": [f"C{i:05d}" for i in range(n)],
            "machine_id": "M1",
            "started_at": started,
            "is_pass": ~defect,
            PRESSURE: rng.normal(120, 2, n),
            "cooling_time_s": rng.normal(12, 1, n),
        }
    )
    # Each service ends 30 s before the first cycle after it (the order is closed before the press runs).
    done = started[since == 0][1:] - pd.Timedelta(seconds=30)
    maintenance = pd.DataFrame(
        {
            "maintenance_id": [f"PM{i}" for i in range(len(done))],
            "machine_id": "M1",
            "event_type": "preventive",
            "reported_at": done - pd.Timedelta(minutes=20),
            "repair_started_at": done - pd.Timedelta(minutes=20),
            "repair_ended_at": done,
        }
    )
    return cycles, maintenance


def fit(data: TrainingSet, drop: tuple[str, ...] = ()) -> tuple[float, float, list[str]]:
    """Holdout PR-AUC of the model and of the baseline, and the model's top features."""
    kept = [c for c in data.features.columns if not c.endswith(drop)] if drop else list(data.features.columns)
    fitted = EVENTS.fit(
        TrainingSet(**{**data.__dict__, "features": data.features[kept]}), progress=lambda _: None
    )
    return (
        fitted.metrics["holdout_pr_auc"],
        fitted.baseline["baseline_pr_auc"],
        [f["feature"] for f in fitted.top_features],
    )


def test_a_push_above_the_machines_own_normal_is_found_only_with_its_history(workspace: Settings) -> None:
    config = ClientConfig(id="drifting-presses", name="드리프트공장", models=["defect_prediction"])
    write_plant(workspace, config.id, drifting_machines())
    data = build_training_set(workspace, config, "defect_prediction")
    assert {f"{PRESSURE}__vs_normal", f"{PRESSURE}__recent_trend"} <= set(data.features.columns)
    with_history, baseline, top = fit(data)
    without, _, _ = fit(data, drop=("__vs_normal", "__recent_mean", "__recent_std", "__recent_trend"))
    # Seeded: 0.46 with the history, 0.05 without it, 0.04 for the baseline (pushes are 4 % of cycles).
    assert top[0] == f"{PRESSURE}__vs_normal", top
    assert with_history >= 0.4 and with_history > 3 * max(without, baseline), (
        with_history,
        without,
        baseline,
    )


def test_wear_since_the_last_service_is_found_by_the_maintenance_clock(workspace: Settings) -> None:
    config = ClientConfig(id="wearing-press", name="마모공장", models=["defect_prediction"])
    write_plant(workspace, config.id, *wearing_machine())
    data = build_training_set(workspace, config, "defect_prediction")
    since = data.features["cycles_since_maintenance"]
    assert since.isna().sum() == 400 and since.max() == 399  # unknown before the first service
    model, baseline, top = fit(data)
    assert set(top[:2]) & {"cycles_since_maintenance", "seconds_since_maintenance"}, top
    assert model > baseline + 0.05, (model, baseline)


def test_history_and_clock_never_look_ahead_and_a_planted_look_ahead_is_caught(workspace: Settings) -> None:
    config = ClientConfig(id="history-leak-check", name="누설점검", models=["defect_prediction"])
    cycles, maintenance = wearing_machine(n=3_000)
    cycles[PRESSURE] += np.linspace(0, 10, len(cycles))  # a trend for the trend feature to follow
    cut = pd.Timestamp(maintenance["repair_started_at"].iloc[3]) + pd.Timedelta(hours=1)
    # At the cut one order is open: started, not ended. It must not count until it ends (else the cycles
    # made during the repair would read a fresh clock, and read the old one once the order closed).
    open_order = maintenance["repair_started_at"].le(cut) & maintenance["repair_ended_at"].gt(cut)
    assert not open_order.any()
    maintenance.loc[maintenance.index[3], "repair_ended_at"] += pd.Timedelta(hours=30)  # ends after the cut
    later = build_training_set_after(workspace, config, cycles, maintenance)
    at_cut = maintenance[maintenance["repair_started_at"] <= cut].copy()
    at_cut.loc[at_cut["repair_ended_at"] > cut, "repair_ended_at"] = pd.NaT
    assert at_cut["repair_ended_at"].isna().sum() == 1
    write_plant(workspace, config.id, cycles[cycles["started_at"] <= cut], at_cut)
    earlier = build_training_set(workspace, config, "defect_prediction")
    assert len(earlier.label) < len(later.label)
    assert look_ahead_columns(earlier, later, cut) == []

    def with_look_ahead(data: TrainingSet) -> TrainingSet:
        # The next cycle's force: known only once that cycle has run.
        following = data.features[PRESSURE].shift(-1)
        return TrainingSet(**{**data.__dict__, "features": data.features.assign(next_force=following)})

    assert look_ahead_columns(with_look_ahead(earlier), with_look_ahead(later), cut) == ["next_force"]


def build_training_set_after(
    workspace: Settings, config: ClientConfig, cycles: pd.DataFrame, maintenance: pd.DataFrame
) -> TrainingSet:
    write_plant(workspace, config.id, cycles, maintenance)
    return build_training_set(workspace, config, "defect_prediction")


def test_feature_selection_keeps_training_bounded_and_keeps_the_cause() -> None:
    rng = np.random.default_rng(SEED)
    n = 6_000
    noise = pd.DataFrame(rng.normal(0, 1, (n, 120)), columns=[f"noise_{i:03d}" for i in range(120)])
    cause = rng.normal(0, 1, n)
    features = noise.assign(cause=cause)
    label = (rng.random(n) < 1 / (1 + np.exp(-(3 * cause - 4)))).astype(int)
    time = pd.Series(pd.date_range(START, periods=n, freq="60s"))
    train = np.arange(n) < int(n * 0.7)

    event = learner.fit_event_model(features, label, time, train, progress=lambda _: None)
    kept = list(event.model.feature_names_in_)
    assert len(kept) <= learner.MAX_FEATURES and "cause" in kept
    # Scoring takes the whole frame: the family hands the model the columns it kept.
    assert EVENTS.predict(event.model, features[~train]).shape == ((~train).sum(),)

    few = features[["cause", "noise_000"]]
    assert learner.selected_features(learner._classifier, few, label, train, lambda _: None) is few


@pytest.mark.parametrize("columns", [5, learner.MAX_FEATURES])
def test_no_selection_at_or_below_the_bound(columns: int) -> None:
    rng = np.random.default_rng(SEED)
    features = pd.DataFrame(rng.normal(0, 1, (500, columns)), columns=[f"x{i}" for i in range(columns)])
    label = (features["x0"] > 1).astype(int).to_numpy()
    chosen = learner.selected_features(learner._classifier, features, label, np.ones(500, bool), print)
    assert list(chosen.columns) == list(features.columns)


def test_history_features_read_plainly_on_charts() -> None:
    from forgeline.standard_models.features import readable

    assert readable("금형온도__vs_normal") == "금형온도, vs machine's normal"
    assert readable("spindle_torque__recent_trend") == "spindle_torque, recent trend"
    assert readable("power_kw__torque__speed") == "power from torque x speed (kW)"
    assert readable("cycles_since_maintenance") == "cycles_since_maintenance"


def test_the_failure_model_reads_the_maintenance_clock(workspace: Settings) -> None:
    """Two machines whose sensors are noise and which fail 6 to 7 days after each service or repair: only
    the hours since the last maintenance order tell the next failure."""
    rng = np.random.default_rng(SEED)
    end = pd.Timestamp(START) + pd.Timedelta(days=90)
    readings, events = [], []
    for machine in ("M1", "M2"):
        read_at = pd.date_range(START, end, freq="10min")
        for tag in ("vibration", "oil_temp"):
            readings.append(
                pd.DataFrame(
                    {
                        "machine_id": machine,
                        "tag": tag,
                        "read_at": read_at,
                        "value": rng.normal(0, 1, len(read_at)),
                    }
                )
            )
        clock = pd.Timestamp(START) + pd.Timedelta(hours=float(rng.uniform(0, 48)))
        while clock < end:
            failed = clock + pd.Timedelta(hours=float(rng.uniform(144, 168)))
            events.append((machine, "failure", failed, failed, failed + pd.Timedelta(hours=3)))
            clock = failed + pd.Timedelta(hours=3)
    frame = pd.concat(readings, ignore_index=True)
    maintenance = pd.DataFrame(
        events, columns=["machine_id", "event_type", "reported_at", "repair_started_at", "repair_ended_at"]
    )
    config = ClientConfig(id="clocked-rigs", name="정비공장", models=["failure_prediction"])
    workspace.warehouse_dir.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(workspace.warehouse_path(config.id)))
    try:
        con.execute("create schema if not exists core")
        con.register("readings", frame)
        con.register("maintenance", maintenance)
        con.execute("create table core.fct_sensor_readings as select * from readings")
        con.execute("create table core.fct_maintenance_events as select * from maintenance")
    finally:
        con.close()
    data = build_training_set(workspace, config, "failure_prediction")
    assert {"hours_since_maintenance", "hours_since_failure", "vibration__vs_normal"} <= set(
        data.features.columns
    )
    model, baseline, top = fit(data)
    assert set(top[:2]) & {"hours_since_maintenance", "hours_since_failure"}, top
    assert model >= baseline - 0.05, (model, baseline)


def test_models_score_columns_whose_names_lightgbm_rewrites() -> None:
    """A tag mapped with a space in its name: LightGBM's own feature names say "clamp_force"; the model
    keeps the real ones, so it scores the frame it was given, on every learner path."""
    rng = np.random.default_rng(SEED)
    n = 400
    features = pd.DataFrame({"clamp force": rng.normal(0, 1, n), "cooling time": rng.normal(0, 1, n)})
    time = pd.Series(pd.date_range(START, periods=n, freq="60s"))
    train = np.arange(n) < 300
    few = np.zeros(n, dtype=int)
    few[[10, 50, 90, 250, 260]] = 1  # two positives in the validation fold: the fallback, a bare LightGBM
    event = learner.fit_event_model(features, few, time, train, progress=lambda _: None)
    assert event.note and learner.columns_of(event.model) == ["clamp force", "cooling time"]
    assert EVENTS.predict(event.model, features).shape == (n,)
    fitted = learner.fit_expected_model(features, features["clamp force"].to_numpy() * 2, time, train)
    assert learner.inputs(fitted.model, features.assign(extra=1.0)).columns.tolist() == list(features.columns)


def test_a_failure_inside_an_hour_labels_the_hours_before_it_not_the_hour_itself() -> None:
    from forgeline.standard_models.failure_prediction import _failures_within_horizon

    hours = pd.DataFrame({"machine_id": "M1", "hour": pd.date_range(START, periods=30, freq="h")})
    failures = pd.DataFrame(
        {"machine_id": ["M1"], "reported_at": [hours["hour"][26] + pd.Timedelta(minutes=30)]}
    )
    label = _failures_within_horizon(hours, failures)
    # Hour 26 reads readings after the failure: not labelled. Hours 2-25 end within 24 h before it.
    assert label.tolist() == [0, 0] + [1] * 24 + [0] * 4

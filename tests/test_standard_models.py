"""Standard models on seeded synthetic cycles with a planted cause: the model must find what was planted,
beat its baseline, and be made champion only then. Real DuckDB, scikit-learn and MLflow (SQLite store)."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient

from forgeline.clients import ClientConfig
from forgeline.quality import GateResult
from forgeline.settings import Settings, get_settings
from forgeline.standard_models import (
    TrainingBlocked,
    build_training_set,
    prepare_client_store,
    promote_champions,
    train_client_models,
)
from forgeline.standard_models.base import ModelResult, NotEnoughData, time_ordered_split
from forgeline.standard_models.store import store_path

pytestmark = pytest.mark.models

SEED = 7
PLANTED_CAUSE = "melt_temp_c"
PLANTED_LIMIT_C = 228.0


def synthetic_cycles(kind: str, n: int = 3_000) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Cycles every 60 s with three parameters and a known cause of defects.

    ``planted``: a cycle whose melt temperature exceeds 228 °C is a defect 90 % of the time (about 5 %
    of cycles), other cycles 0.5 %. ``bursts``: parameters are pure noise; defects come in runs of 15
    consecutive cycles, which only the recent-defect-rate baseline can anticipate.
    """
    rng = np.random.default_rng(SEED)
    started = pd.date_range(datetime(2026, 10, 1, tzinfo=UTC), periods=n, freq="60s")
    params = {
        PLANTED_CAUSE: rng.normal(220, 5, n),
        "hold_pressure_mpa": rng.normal(80, 4, n),
        "cooling_time_s": rng.normal(12, 1, n),
    }
    if kind == "planted":
        hot = params[PLANTED_CAUSE] > PLANTED_LIMIT_C
        defect = np.where(hot, rng.random(n) < 0.9, rng.random(n) < 0.005)
    else:
        defect = np.zeros(n, dtype=bool)
        for start in rng.choice(np.arange(0, n - 15), size=12, replace=False):
            defect[start : start + 15] = True
    cycles = pd.DataFrame(
        {
            "client_id": "synthetic-plant",
            "cycle_id": [f"C{i:05d}" for i in range(n)],
            "machine_id": "M1",
            "product_id": "P1",
            "started_at": started,
            "is_pass": ~defect,
        }
    )
    long = pd.DataFrame(params).assign(cycle_id=cycles["cycle_id"])
    long = long.melt(id_vars="cycle_id", var_name="parameter_name", value_name="parameter_value")
    return cycles, long


def write_core(settings: Settings, client_id: str, cycles: pd.DataFrame, parameters: pd.DataFrame) -> None:
    settings.warehouse_dir.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(settings.warehouse_path(client_id)))
    try:
        con.execute("CREATE SCHEMA IF NOT EXISTS core")
        con.execute(
            "CREATE OR REPLACE TABLE core.fct_cycles AS "
            "SELECT client_id, cycle_id, machine_id, product_id, started_at FROM cycles"
        )
        con.execute(
            "CREATE OR REPLACE TABLE core.fct_quality_results AS SELECT cycle_id, is_pass FROM cycles"
        )
        con.execute("CREATE OR REPLACE TABLE core.fct_cycle_parameters AS SELECT * FROM parameters")
    finally:
        con.close()


def make_client(settings: Settings, kind: str) -> ClientConfig:
    config = ClientConfig(
        id=f"{kind}-plant",
        name="합성공장",
        models=["defect_prediction"],
    )
    write_core(settings, config.id, *synthetic_cycles(kind))
    return config


def passed_gate(client_id: str) -> GateResult:
    return GateResult(client_id=client_id, passed=True, checked_at=datetime.now(UTC).isoformat())


def test_split_is_time_ordered_with_the_embargo(workspace: Settings) -> None:
    config = make_client(workspace, "planted")
    data = build_training_set(workspace, config, "defect_prediction")
    assert data.time.is_monotonic_increasing
    split = time_ordered_split(data)
    assert data.time[split.train].max() < data.time[split.test].min()
    assert abs(split.test.mean() - 0.3) < 0.01


def test_training_takes_the_latest_rows_before_the_holdout_up_to_its_cap(workspace: Settings) -> None:
    config = make_client(workspace, "planted")
    data = build_training_set(workspace, config, "defect_prediction")
    whole = time_ordered_split(data)
    capped = time_ordered_split(data, max_training_rows=500)
    assert capped.train.sum() == 500 and whole.train.sum() > 500
    assert (capped.test == whole.test).all()  # the holdout is never cut
    assert not (capped.train & ~whole.train).any()
    # The latest 500 of the training part: none of the rows left out is later than a row kept.
    assert data.time[whole.train & ~capped.train].max() <= data.time[capped.train].min()


def test_power_from_torque_and_speed_is_derived_from_the_units_and_found(workspace: Settings) -> None:
    """AI4I-like truth: speed and torque move against each other (a motor under load slows), each in its
    usual range, and a cycle fails when the power they make leaves 3.5–9 kW, which neither shows alone."""
    rng = np.random.default_rng(SEED)
    n = 4_000
    speed = rng.normal(1_540, 180, n)
    torque = np.clip(40 - (speed - 1_540) * 0.05 + rng.normal(0, 8, n), 3, None)
    power_kw = torque * speed * 2 * np.pi / 60 / 1000
    defect = ((power_kw < 3.5) | (power_kw > 9.0)) & (rng.random(n) < 0.95)
    cycles = pd.DataFrame(
        {
            "client_id": "power-plant",
            "cycle_id": [f"C{i:05d}" for i in range(n)],
            "machine_id": "M1",
            "product_id": "P1",
            "started_at": pd.date_range(datetime(2026, 10, 1, tzinfo=UTC), periods=n, freq="60s"),
            "is_pass": ~defect,
        }
    )
    params = {"torque_nm": torque, "speed_rpm": speed, "air_temp_c": rng.normal(25, 2, n)}
    long = pd.DataFrame(params).assign(cycle_id=cycles["cycle_id"])
    long = long.melt(id_vars="cycle_id", var_name="parameter_name", value_name="parameter_value")
    config = ClientConfig(id="power-plant", name="동력공장", models=["defect_prediction"])
    write_core(workspace, config.id, cycles, long)
    con = duckdb.connect(str(workspace.warehouse_path(config.id)))
    try:
        con.execute(
            "CREATE TABLE core.dim_sensor_tags AS SELECT * FROM (VALUES "
            "('torque_nm', 'process_parameter', 'torque'), ('speed_rpm', 'process_parameter', "
            "'rotational_speed'), ('air_temp_c', 'process_parameter', 'temperature')) "
            "AS t(tag, tag_type, quantity_kind)"
        )
    finally:
        con.close()
    data = build_training_set(workspace, config, "defect_prediction")
    derived = "power_kw__torque_nm__speed_rpm"
    assert derived in data.features and "power from torque_nm x speed_rpm (kW)" in data.description["derived"]
    assert np.allclose(data.features[derived], power_kw)
    assert derived not in data.settings  # derived, not a setting a plant turns: no operating window
    [result] = train_client_models(workspace, config, passed_gate(config.id))
    assert result.top_features[0]["feature"] == derived


def test_combinations_come_from_quantity_kinds_never_from_names() -> None:
    from forgeline.standard_models.features import MAX_TEMPERATURES, combinations_of

    kinds = {"M": "torque", "n": "rotational_speed", "process": "temperature", "air": "temperature"}
    names = [c.name for c in combinations_of(kinds, ["n", "M", "air", "process", "torque_like_name"])]
    assert names == ["power_kw__M__n", "difference__air__process"]
    many = {f"zone{i}": "temperature" for i in range(MAX_TEMPERATURES + 1)}
    assert combinations_of(many, list(many)) == []  # which pairs matter cannot be told from kinds
    assert combinations_of(kinds, ["M", "air"]) == []  # only tags that are columns of the rows


def test_the_model_finds_the_planted_cause_and_becomes_champion(workspace: Settings) -> None:
    config = make_client(workspace, "planted")
    [result] = train_client_models(workspace, config, passed_gate(config.id))
    assert result.beats_baseline and result.is_champion
    assert result.model_metric > 0.5 > result.baseline_metric
    assert result.top_features[0]["feature"] == PLANTED_CAUSE

    client = MlflowClient(
        tracking_uri=workspace.mlflow_tracking_uri, registry_uri=workspace.mlflow_tracking_uri
    )
    registered = client.get_registered_model("planted-plant__defect_prediction")
    # Registered, but champion only once the snapshot showing it is published.
    assert "champion" not in registered.aliases
    assert promote_champions(workspace, [result]) == [result.registered_model]
    registered = client.get_registered_model("planted-plant__defect_prediction")
    assert str(registered.aliases["champion"]) == result.model_version
    assert promote_champions(workspace, [result]) == []  # idempotent
    run = client.get_run(result.mlflow_run_id)
    assert run.data.tags["gate_passed"] == "true"
    assert run.data.params["training_data_fingerprint"] == run.data.tags["training_data_fingerprint"]
    assert run.data.metrics["holdout_pr_auc"] == pytest.approx(result.model_metric)
    # The alert threshold was chosen on the validation fold and is scored on the holdout.
    assert 0 < result.threshold < 1 and run.data.metrics["threshold"] == pytest.approx(result.threshold)
    assert result.holdout_f1 > 0.5 and result.holdout_precision > 0 and result.holdout_recall > 0
    artifacts = {a.path for a in client.list_artifacts(result.mlflow_run_id)}
    assert {"model_card.md", "hyperparameter_search.json", "holdout_predictions.parquet"} <= artifacts
    holdout = pd.read_parquet(client.download_artifacts(result.mlflow_run_id, "holdout_predictions.parquet"))
    assert len(holdout) == result.n_test and int(holdout["outcome"].sum()) == result.n_test_positives
    assert (holdout["alert"] == (holdout["probability"] >= result.threshold)).all()
    import mlflow

    info = mlflow.models.get_model_info(f"runs:/{result.mlflow_run_id}/model")
    assert PLANTED_CAUSE in info.signature.inputs.input_names()

    # Unchanged data: the earlier run and version are kept, not trained and registered again.
    [again] = train_client_models(workspace, config, passed_gate(config.id))
    assert again.reused and again.model_version == result.model_version
    assert len(client.search_model_versions("name = 'planted-plant__defect_prediction'")) == 1


def test_a_model_is_retrained_only_when_its_training_data_changed_materially(workspace: Settings) -> None:
    """A few rows appended keep the version; a tenth more data, or an earlier row corrected, retrain."""
    config = ClientConfig(id="growing-plant", name="growing", models=["defect_prediction"])
    cycles, parameters = synthetic_cycles("planted", n=3_300)

    def deliver(n: int, corrected: str | None = None) -> None:
        kept = cycles.iloc[:n]
        params = parameters[parameters["cycle_id"].isin(kept["cycle_id"])].copy()
        if corrected:
            params.loc[params["cycle_id"] == corrected, "parameter_value"] += 1.0
        write_core(workspace, config.id, kept, params)

    deliver(3_000)
    [first] = train_client_models(workspace, config, passed_gate(config.id))
    assert not first.reused

    deliver(3_100)  # +3.3 % of rows, earlier rows untouched: not material
    [kept] = train_client_models(workspace, config, passed_gate(config.id))
    assert kept.reused and kept.model_version == first.model_version
    assert kept.mlflow_run_id == first.mlflow_run_id

    deliver(3_300)  # +10 % of rows since the last training: retrain
    [grown] = train_client_models(workspace, config, passed_gate(config.id))
    assert not grown.reused and grown.model_version != first.model_version

    deliver(3_300, corrected="C00010")  # an earlier row changed: retrain, whatever the size
    [later] = train_client_models(workspace, config, passed_gate(config.id))
    assert not later.reused and later.model_version != grown.model_version

    deliver(3_300, corrected="C00010")  # the same data again: the exact run is reused
    [same] = train_client_models(workspace, config, passed_gate(config.id))
    assert same.reused and same.mlflow_run_id == later.mlflow_run_id


def test_a_model_that_does_not_beat_its_baseline_is_not_champion(workspace: Settings) -> None:
    config = make_client(workspace, "bursts")
    [result] = train_client_models(workspace, config, passed_gate(config.id))
    assert not result.beats_baseline and not result.is_champion
    assert promote_champions(workspace, [result]) == []
    registered = MlflowClient(
        tracking_uri=workspace.mlflow_tracking_uri, registry_uri=workspace.mlflow_tracking_uri
    ).get_registered_model(result.registered_model)
    assert "champion" not in registered.aliases  # registered for the record, never served


def test_training_is_blocked_when_the_gate_failed(workspace: Settings) -> None:
    config = make_client(workspace, "planted")
    failed = GateResult(client_id=config.id, passed=False)
    with pytest.raises(TrainingBlocked, match="quality gate"):
        train_client_models(workspace, config, failed)


# -- determinism -------------------------------------------------------------------------------------
def write_sensor_core(settings: Settings, client_id: str) -> None:
    """Readings whose hourly means are exactly 0 in real numbers (each value comes with its negative).

    Over 300,000 rows DuckDB aggregates in parallel over several row groups: a float average then comes out
    as a tiny positive or negative number depending on which thread added what, which used to round to
    0.0 or -0.0 and change the fingerprint (about 1 build in 10 on this data).
    """
    rng = np.random.default_rng(SEED)
    hours, per_hour = 24 * 14, 160
    start = pd.Timestamp(datetime(2026, 9, 1, tzinfo=UTC))
    frames = []
    for machine in ("M1", "M2"):
        for tag in ("vibration", "oil_temp", "balance"):
            half = rng.normal(0, 1, (hours, per_hour // 2))
            values = rng.permuted(np.concatenate([half, -half], axis=1), axis=1)
            offsets = rng.integers(0, 3600, (hours, per_hour))
            read_at = start + pd.to_timedelta((np.arange(hours)[:, None] * 3600 + offsets).ravel(), unit="s")
            frames.append(
                pd.DataFrame({"machine_id": machine, "tag": tag, "read_at": read_at, "value": values.ravel()})
            )
    readings = pd.concat(frames).sample(frac=1, random_state=SEED).reset_index(drop=True)
    failures = pd.DataFrame(
        {
            "machine_id": ["M1", "M2", "M1", "M2", "M1"],
            "event_type": "failure",
            "reported_at": [start + pd.Timedelta(days=d) for d in (2, 4, 7, 11, 12)],
        }
    )
    failures["repair_started_at"] = failures["reported_at"]
    failures["repair_ended_at"] = failures["reported_at"] + pd.Timedelta(hours=3)
    settings.warehouse_dir.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(settings.warehouse_path(client_id)))
    try:
        con.execute("CREATE SCHEMA IF NOT EXISTS core")
        con.register("readings_frame", readings)
        con.register("failures_frame", failures)
        con.execute("CREATE OR REPLACE TABLE core.fct_sensor_readings AS SELECT * FROM readings_frame")
        con.execute("CREATE OR REPLACE TABLE core.fct_maintenance_events AS SELECT * FROM failures_frame")
    finally:
        con.close()


def test_the_same_data_gives_the_same_fingerprint_and_no_new_version(workspace: Settings) -> None:
    config = ClientConfig(id="sensor-plant", name="센서공장", models=["failure_prediction"])
    write_sensor_core(workspace, config.id)
    fingerprints = {
        build_training_set(workspace, config, "failure_prediction").fingerprint() for _ in range(20)
    }
    assert len(fingerprints) == 1, fingerprints

    [first] = train_client_models(workspace, config, passed_gate(config.id))
    [again] = train_client_models(workspace, config, passed_gate(config.id))
    assert again.reused and again.model_version == first.model_version
    client = MlflowClient(
        tracking_uri=workspace.mlflow_tracking_uri, registry_uri=workspace.mlflow_tracking_uri
    )
    assert len(client.search_model_versions(f"name = '{first.registered_model}'")) == 1


# -- the MLflow store ----------------------------------------------------------------------------------
def _kill_when(command: str, home: Path, ready: Callable[[], bool], timeout_s: float = 120) -> bool:
    """Run ``command`` (Python) on ``home`` and SIGKILL it as soon as ``ready()``; False if it ended first."""
    env = {**os.environ, "FORGELINE_HOME": str(home)}
    process = subprocess.Popen([sys.executable, "-c", command], env=env, start_new_session=True)
    deadline = time.monotonic() + timeout_s
    try:
        while process.poll() is None and time.monotonic() < deadline:
            if ready():
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=30)
                return True
            time.sleep(0.02)
        return False
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)


def _half_migrated(path: Path) -> bool:
    """The SQLite file exists and MLflow's migrations have begun but not finished."""
    if not path.exists():
        return False
    try:
        con = sqlite3.connect(path, timeout=0.2)
        try:
            version = con.execute("SELECT version_num FROM alembic_version").fetchone()
        finally:
            con.close()
    except sqlite3.Error:
        return False
    from mlflow.store.db.utils import _get_latest_schema_revision

    return version is not None and version[0] != _get_latest_schema_revision()


def test_a_store_creation_killed_half_way_leaves_nothing_half_built(workspace: Settings) -> None:
    db = store_path(workspace)
    assert db is not None
    killed = _kill_when(
        "from forgeline.settings import get_settings\n"
        "from forgeline.standard_models.store import ensure_mlflow_store\n"
        "ensure_mlflow_store(get_settings())",
        workspace.home,
        lambda: any(_half_migrated(p) for p in db.parent.glob(".mlflow.db.*.partial")),
    )
    assert killed, "the creation finished before it could be killed"
    assert not db.exists()  # only ever a whole store, or none
    config = make_client(workspace, "planted")
    [result] = train_client_models(workspace, config, passed_gate(config.id))
    assert result.model_version == "1"
    assert list(db.parent.glob(".mlflow.db.*.partial")) == []


def test_a_store_left_half_migrated_by_a_killed_process_is_repaired(workspace: Settings) -> None:
    """What MLflow on its own leaves when killed during its first migration (the bug this replaces): the
    migration is finished on a copy, or, where it cannot be, the file is set aside and a store built anew."""
    db = store_path(workspace)
    assert db is not None
    db.parent.mkdir(parents=True)
    killed = _kill_when(
        "from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore\n"
        f"SqlAlchemyStore('sqlite:///{db}', '{workspace.mlflow_artifact_root.as_uri()}')",
        workspace.home,
        lambda: _half_migrated(db),
    )
    assert killed, "the migration finished before it could be killed"
    config = make_client(workspace, "planted")
    [result] = train_client_models(workspace, config, passed_gate(config.id))
    assert result.model_version == "1"
    assert not _half_migrated(db)
    for aside in db.parent.glob("mlflow.db.broken-*"):  # kept aside, never deleted
        assert _half_migrated(aside)


def test_a_store_that_cannot_be_migrated_is_kept_aside_if_empty_and_refused_if_not(
    workspace: Settings,
) -> None:
    from alembic.script import ScriptDirectory
    from mlflow.store.db.utils import _get_alembic_config

    from forgeline.standard_models.store import MlflowStoreError, ensure_mlflow_store

    db = store_path(workspace)
    assert db is not None
    ensure_mlflow_store(workspace)
    # A schema that claims to be at MLflow's first revision: every migration would run again and fail.
    first = ScriptDirectory.from_config(_get_alembic_config("")).get_base()
    con = sqlite3.connect(db)
    con.execute("UPDATE alembic_version SET version_num = ?", [first])
    con.commit()
    con.close()
    damaged = db.read_bytes()
    _forget_checked_stores()
    ensure_mlflow_store(workspace)  # nothing in it: kept aside, built anew
    [aside] = db.parent.glob("mlflow.db.broken-*")
    assert aside.read_bytes() == damaged and not _half_migrated(db)

    config = make_client(workspace, "planted")
    train_client_models(workspace, config, passed_gate(config.id))
    con = sqlite3.connect(db)
    con.execute("UPDATE alembic_version SET version_num = ?", [first])
    con.commit()
    con.close()
    _forget_checked_stores()
    with pytest.raises(MlflowStoreError, match="could not be upgraded"):
        ensure_mlflow_store(workspace)  # it holds runs and models: never set aside without a person
    assert db.exists()


def _forget_checked_stores() -> None:
    from forgeline.standard_models import store

    store._ENSURED.clear()


def test_an_interrupted_run_is_marked_failed_and_never_reused(workspace: Settings) -> None:
    import mlflow
    from mlflow.entities import LoggedModelStatus

    config = make_client(workspace, "planted")
    fingerprint = build_training_set(workspace, config, "defect_prediction").fingerprint()
    [result] = train_client_models(workspace, config, passed_gate(config.id))
    client = MlflowClient(
        tracking_uri=workspace.mlflow_tracking_uri, registry_uri=workspace.mlflow_tracking_uri
    )
    experiment = client.get_experiment_by_name(f"forgeline/{config.id}")
    # What a process killed in the middle of training on the same data leaves: a RUNNING run with the
    # same fingerprint, a model half logged, and (as earlier code registered inside the run) a version.
    mlflow.set_tracking_uri(workspace.mlflow_tracking_uri)
    orphan = client.create_run(
        experiment.experiment_id,
        tags={"model_name": "defect_prediction", "training_data_fingerprint": fingerprint},
    )
    client.create_model_version(
        result.registered_model, source=f"{orphan.info.artifact_uri}/model", run_id=orphan.info.run_id
    )
    half_logged = client.create_logged_model(
        experiment.experiment_id, name="model", source_run_id=orphan.info.run_id
    )
    assert len(client.search_model_versions(f"name = '{result.registered_model}'")) == 2

    assert prepare_client_store(workspace, config.id) == [orphan.info.run_id]
    assert client.get_run(orphan.info.run_id).info.status == "FAILED"
    assert client.get_logged_model(half_logged.model_id).status == LoggedModelStatus.FAILED
    [version] = client.search_model_versions(f"name = '{result.registered_model}'")
    assert str(version.version) == result.model_version
    [again] = train_client_models(workspace, config, passed_gate(config.id))
    assert again.reused and again.mlflow_run_id == result.mlflow_run_id
    assert prepare_client_store(workspace, config.id) == []


def test_a_copied_workspace_is_self_contained(workspace: Settings, tmp_path: Path) -> None:
    config = make_client(workspace, "planted")
    [first] = train_client_models(workspace, config, passed_gate(config.id))
    promote_champions(workspace, [first])

    copy = get_settings(tmp_path / "copied")
    shutil.copytree(workspace.home, copy.home)
    shutil.rmtree(workspace.home)  # nothing may still read from, or write into, the original
    write_core(copy, config.id, *synthetic_cycles("planted", n=2_500))  # new data: a new version

    [second] = train_client_models(copy, config, passed_gate(config.id))
    assert not second.reused and second.model_version == "2"
    promote_champions(copy, [second])
    assert not workspace.home.exists()

    con = sqlite3.connect(copy.mlflow_dir / "mlflow.db")
    try:
        locations = [
            value
            for sql in (
                "SELECT artifact_location FROM experiments",
                "SELECT artifact_uri FROM runs",
                "SELECT artifact_location FROM logged_models",
                "SELECT storage_location FROM model_versions",
            )
            for (value,) in con.execute(sql).fetchall()
        ]
    finally:
        con.close()
    assert locations and all(str(copy.home) in v for v in locations), locations
    assert not any(str(workspace.home) in v for v in locations)
    # The first version's model still loads, from the copy.
    import mlflow

    mlflow.set_tracking_uri(copy.mlflow_tracking_uri)
    model = mlflow.sklearn.load_model(f"models:/{first.registered_model}/1")
    assert hasattr(model, "predict_proba")


def test_permutation_importance_reads_a_bounded_seeded_sample_of_a_long_holdout() -> None:
    from forgeline.standard_models.families import IMPORTANCE_ROWS
    from forgeline.standard_models.families import importance_sample as _importance_sample

    short = np.array([0, 1] * 100)
    assert (_importance_sample(short) == np.arange(200)).all()
    label = (np.arange(5 * IMPORTANCE_ROWS) % 37 == 0).astype(int)
    sample = _importance_sample(label)
    assert len(sample) == IMPORTANCE_ROWS and (np.diff(sample) > 0).all() and label[sample].any()
    assert (sample == _importance_sample(label)).all()  # the same rows every time: the same ranking
    assert (_importance_sample(np.zeros(5 * IMPORTANCE_ROWS)) == np.arange(5 * IMPORTANCE_ROWS)).all()


def test_process_parameters_named_like_the_models_own_columns() -> None:
    """Parameter names are the client's: one like an internal column is kept apart from it, and one like a
    feature the model computes is named as the reason it cannot train (never silently swapped)."""
    from forgeline.standard_models import defect_prediction

    con = duckdb.connect()
    con.execute(
        """
        CREATE SCHEMA core;
        CREATE TABLE core.fct_cycles AS SELECT 'c' || i AS cycle_id, 'M1' AS machine_id, 'P' AS product_id,
            TIMESTAMPTZ '2026-01-01 00:00:00+00' + to_minutes(i) AS started_at FROM range(10) t(i);
        CREATE TABLE core.fct_quality_results AS SELECT 'c' || i AS cycle_id, i % 3 > 0 AS is_pass
            FROM range(10) t(i);
        CREATE TABLE core.fct_cycle_parameters AS SELECT 'c' || i AS cycle_id, name AS parameter_name,
            (i * 10)::DOUBLE AS parameter_value FROM range(10) t(i), (VALUES ('_label'), ('temp')) v(name);
        """
    )
    config = ClientConfig(id="named-plant", name="named")
    data = defect_prediction.build_training_set(con, config)
    assert list(data.features.columns[:2]) == ["_label", "temp"]
    assert data.features["_label"].tolist() == [i * 10.0 for i in range(10)]
    assert data.label.tolist() == [1 if i % 3 == 0 else 0 for i in range(10)]

    con.execute("INSERT INTO core.fct_cycle_parameters VALUES ('c1', 'seconds_since_previous_cycle', 1.0)")
    with pytest.raises(NotEnoughData, match="seconds_since_previous_cycle"):
        defect_prediction.build_training_set(con, config)


def test_the_planted_cause_gets_an_operating_window_that_holds_on_later_cycles(workspace: Settings) -> None:
    config = make_client(workspace, "planted")
    [result] = train_client_models(workspace, config, passed_gate(config.id))
    [window] = [w for w in result.operating_windows if w["parameter"] == PLANTED_CAUSE]
    assert window["high"] <= PLANTED_LIMIT_C + 0.5 and window["confident"] and window["holds_later"]
    assert window["inside_rate"] < window["outside_rate"] and window["n_inside"] > 0
    assert window["sentence"].startswith(f"keep {PLANTED_CAUSE} under ")
    # A reused run shows the same windows (read back from its MLflow run).
    [again] = train_client_models(workspace, config, passed_gate(config.id))
    assert again.reused and again.operating_windows == result.operating_windows


def test_a_challenger_must_beat_the_champion_and_a_rollback_stays(workspace: Settings) -> None:
    """Version 2, as good as version 1 on the same holdout, is not promoted; a consultant's rollback is not
    undone by the next run that keeps the same version."""
    from forgeline.standard_models import champion

    config = ClientConfig(id="challenged-plant", name="challenged", models=["defect_prediction"])
    cycles, parameters = synthetic_cycles("planted")
    write_core(workspace, config.id, cycles, parameters)
    [first] = train_client_models(workspace, config, passed_gate(config.id))
    assert first.is_champion and "becomes champion" in first.champion_decision
    promote_champions(workspace, [first])

    corrected = parameters.copy()
    corrected.loc[corrected["cycle_id"] == "C00010", "parameter_value"] += 1.0  # material: retrain
    write_core(workspace, config.id, cycles, corrected)
    [second] = train_client_models(workspace, config, passed_gate(config.id))
    assert not second.reused and not second.is_champion
    assert f"version {first.model_version}" in second.champion_decision
    assert promote_champions(workspace, [second]) == []
    client = MlflowClient(
        tracking_uri=workspace.mlflow_tracking_uri, registry_uri=workspace.mlflow_tracking_uri
    )
    registered = second.registered_model
    assert champion.current_champion(client, registered) == first.model_version

    # A consultant promotes version 2, then rolls back: the next run keeps version 2 but not as champion.
    champion.set_champion(client, registered, second.model_version, "try it", by="kim")
    champion.set_champion(client, registered, first.model_version, "back", by="kim", action="rollback")
    [kept] = train_client_models(workspace, config, passed_gate(config.id))
    assert kept.reused and kept.model_version == second.model_version and not kept.is_champion
    assert promote_champions(workspace, [kept]) == []
    assert champion.current_champion(client, registered) == first.model_version
    assert [e["version"] for e in champion.champion_history(client, registered)] == ["1", "2", "1"]


def test_the_champion_history_wins_over_stops_and_a_consultant_is_not_overruled(workspace: Settings) -> None:
    """Stops inside the champion's bookkeeping converge on the next run to what the history intends; a
    promotion left pending by a stopped run does not undo a consultant's later choice."""
    import json

    from forgeline.standard_models import _is_champion, champion

    config = ClientConfig(id="stopped-plant", name="stopped", models=["defect_prediction"])
    cycles, parameters = synthetic_cycles("planted")
    write_core(workspace, config.id, cycles, parameters)
    [first] = train_client_models(workspace, config, passed_gate(config.id))
    promote_champions(workspace, [first])
    corrected = parameters.copy()
    corrected.loc[corrected["cycle_id"] == "C00010", "parameter_value"] += 1.0
    write_core(workspace, config.id, cycles, corrected)
    [second] = train_client_models(workspace, config, passed_gate(config.id))
    assert not second.is_champion
    client = MlflowClient(
        tracking_uri=workspace.mlflow_tracking_uri, registry_uri=workspace.mlflow_tracking_uri
    )
    registered = second.registered_model

    def history() -> list[dict]:
        return champion.champion_history(client, registered)

    def write_history(events: list[dict]) -> None:
        client.set_registered_model_tag(registered, champion.HISTORY_TAG, json.dumps(events))

    def run_again() -> ModelResult:
        [kept] = train_client_models(workspace, config, passed_gate(config.id))
        assert kept.reused and kept.model_version == "2"
        promote_champions(workspace, [kept])
        return kept

    # A consultant's promotion of version 2 stopped after its history event, before the alias moved.
    write_history([*history(), {"at": "2099-01-01T00:00:00+00:00", "version": "2", "previous": "1"}])
    assert run_again().is_champion and champion.current_champion(client, registered) == "2"
    assert [e["version"] for e in history()] == ["1", "2"]  # completed, not recorded twice

    # A rollback to version 1 stopped the same way: the run completes it instead of undoing it.
    write_history([*history(), {"at": "2099-01-02T00:00:00+00:00", "version": "1", "action": "rollback"}])
    assert not run_again().is_champion and champion.current_champion(client, registered) == "1"
    assert [e["version"] for e in history()] == ["1", "2", "1"]

    # A stop between the decision's tags: no verdict means the rule is applied again.
    client.delete_model_version_tag(registered, "2", champion.PROMOTE_TAG)
    run_again()
    assert client.get_model_version(registered, "2").tags[champion.PROMOTE_TAG] == "false"

    # A promotion left pending (verdict "true", never in the history) counts only if nothing was decided
    # about the champion since the version was registered.
    write_history([{"at": "2000-01-01T00:00:00+00:00", "version": "1"}])
    client.set_model_version_tag(registered, "2", champion.PROMOTE_TAG, "true")
    assert _is_champion(client, registered, "2")
    write_history([{"at": "2099-01-03T00:00:00+00:00", "version": "1", "by": "kim"}])
    assert not _is_champion(client, registered, "2")


def test_rows_whose_label_looks_past_the_data_are_not_held_out() -> None:
    """A failure-within-24-h label of the data's last day is not known yet: it is neither trained on nor
    scored as a negative in the holdout."""
    from datetime import timedelta

    from forgeline.standard_models.base import TrainingSet, time_ordered_split

    times = pd.Series(pd.date_range("2026-01-01", periods=100, freq="h", tz="UTC"))
    data = TrainingSet(
        features=pd.DataFrame({"x": np.arange(100.0)}),
        label=pd.Series((np.arange(100) % 3 == 0).astype(int)),
        time=times,
        baseline_score=pd.Series(np.zeros(100)),
        baseline_name="none",
        embargo=timedelta(hours=24),
    )
    split = time_ordered_split(data)
    assert not split.test[-24:].any() and not split.train[-24:].any()
    assert split.test[-25] and split.test.sum() > 0

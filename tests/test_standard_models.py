"""Standard models on seeded synthetic cycles with a planted cause: the model must find what was planted,
beat its baseline, and be made champion only then. Real DuckDB, scikit-learn and MLflow (SQLite store)."""

from __future__ import annotations

from datetime import UTC, datetime

import duckdb
import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient

from forgeline.clients import ClientConfig
from forgeline.quality import GateResult
from forgeline.settings import Settings
from forgeline.standard_models import TrainingBlocked, build_training_set, train_client_models
from forgeline.standard_models.base import time_ordered_split

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


def test_the_model_finds_the_planted_cause_and_becomes_champion(workspace: Settings) -> None:
    config = make_client(workspace, "planted")
    [result] = train_client_models(workspace, config, passed_gate(config.id))
    assert result.beats_baseline and result.is_champion
    assert result.model_metric > 0.5 > result.baseline_metric
    assert result.top_features[0]["feature"] == PLANTED_CAUSE

    client = MlflowClient(tracking_uri=workspace.mlflow_tracking_uri)
    registered = client.get_registered_model("planted-plant__defect_prediction")
    assert str(registered.aliases["champion"]) == result.model_version
    run = client.get_run(result.mlflow_run_id)
    assert run.data.tags["gate_passed"] == "true"
    assert run.data.params["training_data_fingerprint"] == run.data.tags["training_data_fingerprint"]
    assert run.data.metrics["holdout_pr_auc"] == pytest.approx(result.model_metric)

    # Unchanged data: the earlier run and version are kept, not trained and registered again.
    [again] = train_client_models(workspace, config, passed_gate(config.id))
    assert again.reused and again.model_version == result.model_version
    assert len(client.search_model_versions("name = 'planted-plant__defect_prediction'")) == 1


def test_a_model_that_does_not_beat_its_baseline_is_not_champion(workspace: Settings) -> None:
    config = make_client(workspace, "bursts")
    [result] = train_client_models(workspace, config, passed_gate(config.id))
    assert not result.beats_baseline and not result.is_champion
    registered = MlflowClient(tracking_uri=workspace.mlflow_tracking_uri).get_registered_model(
        result.registered_model
    )
    assert "champion" not in registered.aliases  # registered for the record, never served


def test_training_is_blocked_when_the_gate_failed(workspace: Settings) -> None:
    config = make_client(workspace, "planted")
    failed = GateResult(client_id=config.id, passed=False)
    with pytest.raises(TrainingBlocked, match="quality gate"):
        train_client_models(workspace, config, failed)

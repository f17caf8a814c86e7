"""A milling machine's export like the AI4I 2020 predictive-maintenance data (Matzka 2020), onboarded by its
mapping file only: Kelvin, rpm and N·m in the headers, no timestamps, a failure flag per process. Seeded,
with the published failure rules as the truth: heat dissipation (air-to-process temperature difference
under 8.6 K at under 1,380 rpm), power (torque x speed outside 3.5–9 kW), overstrain (tool wear x torque
over a limit per product quality), tool wear (replaced or failed at 200–240 min) and 0.1 % random.

The features that explain them are combinations the units imply (features.py): the model must get them from
the mapping's units, not from the column names. Real ingest, mapping, dbt, LightGBM and MLflow."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest

from forgeline.clients import get_client
from forgeline.quality import GateResult
from forgeline.settings import Settings
from forgeline.standard_models import build_training_set, train_client_models

pytestmark = [pytest.mark.models, pytest.mark.dbt]

SEED = 2020
CLIENT = "physics-mill"
ROWS = 10_000
OVERSTRAIN = {"L": 11_000, "M": 12_000, "H": 13_000}  # tool wear (min) x torque (N·m)
WEAR_STEP = {"L": 2, "M": 3, "H": 5}  # minutes of tool wear each process adds

MAPPING = f"""\
id: {CLIENT}
name: 물리가공 (Physics Mill)
timezone: Asia/Seoul
models: [defect_prediction]
sources:
  - name: mill
    files: "mill_*.csv"
    format: csv
    feeds:
      cycles:
        fields:
          cycle_id: UDI
          machine_id: {{value: MILL-1}}
          product_id: Type
          started_at: {{from_order: {{order: UDI, cadence: 1 min, start: "2026-01-05 08:00:00"}}}}
        tags:
          "Air temperature [K]": {{tag: air_temperature, unit: K}}
          "Process temperature [K]": {{tag: process_temperature, unit: K}}
          "Rotational speed [rpm]": {{tag: rotational_speed, unit: rpm}}
          "Torque [Nm]": {{tag: torque, unit: Nm}}
          "Tool wear [min]": {{tag: tool_wear, unit: min}}
      quality_results:
        fields:
          inspection_id: UDI
          cycle_id: UDI
          is_pass: {{column: Machine failure, map: {{"0": true, "1": false}}}}
"""


def mill_export() -> str:
    """The export, in AI4I's columns, with the failure rules of its paper as the truth."""
    rng = np.random.default_rng(SEED)
    quality = rng.choice(["L", "M", "H"], size=ROWS, p=[0.5, 0.3, 0.2])
    air = 300 + np.cumsum(rng.normal(0, 0.05, ROWS))
    process = air + 10 + np.cumsum(rng.normal(0, 0.04, ROWS)) * 0.5
    # A motor under load slows: speed falls as torque rises, so power mostly stays inside its window.
    torque = np.clip(rng.normal(40, 10, ROWS), 3, None)
    speed = 1_540 - 12 * (torque - 40) + rng.normal(0, 100, ROWS)
    wear = np.zeros(ROWS)
    failed = np.zeros(ROWS, dtype=bool)
    tool, replace_at = 0.0, rng.uniform(200, 240)
    for i in range(ROWS):
        tool += WEAR_STEP[quality[i]]
        wear[i] = tool
        power_w = torque[i] * speed[i] * 2 * np.pi / 60
        failed[i] = (
            (process[i] - air[i] < 8.6 and speed[i] < 1_380)
            or not 3_500 <= power_w <= 9_000
            or wear[i] * torque[i] > OVERSTRAIN[quality[i]]
            or (tool >= replace_at and rng.random() < 0.3)
            or rng.random() < 0.001
        )
        if tool >= replace_at or failed[i]:
            tool, replace_at = 0.0, rng.uniform(200, 240)
    frame = pd.DataFrame(
        {
            "UDI": np.arange(1, ROWS + 1),
            "Type": quality,
            "Air temperature [K]": air.round(1),
            "Process temperature [K]": process.round(1),
            "Rotational speed [rpm]": speed.round(0).astype(int),
            "Torque [Nm]": torque.round(1),
            "Tool wear [min]": wear.astype(int),
            "Machine failure": failed.astype(int),
        }
    )
    return frame.to_csv(index=False)


@pytest.fixture(scope="module")
def mill(tmp_path_factory: pytest.TempPathFactory, onboard: Callable[..., Settings]) -> Settings:
    from forgeline.settings import get_settings

    settings = get_settings(tmp_path_factory.mktemp("mill"))
    return onboard(settings, CLIENT, MAPPING, {"mill_2026.csv": mill_export().encode("utf-8")})


def test_units_turn_kelvin_torque_and_rpm_into_power_and_a_temperature_difference(mill: Settings) -> None:
    data = build_training_set(mill, get_client(mill, CLIENT), "defect_prediction")
    power, difference = (
        "power_kw__torque__rotational_speed",
        "difference__air_temperature__process_temperature",
    )
    assert {power, difference} <= set(data.features.columns)
    assert data.settings["torque"] == "N·m" and data.settings["air_temperature"] == "°C"
    export = pd.read_csv(mill.landing_dir(CLIENT) / "mill_2026.csv")
    expected_kw = export["Torque [Nm]"] * export["Rotational speed [rpm]"] * 2 * np.pi / 60 / 1000
    assert np.allclose(np.sort(data.features[power]), np.sort(expected_kw), atol=1e-6)
    gap = export["Air temperature [K]"] - export["Process temperature [K]"]
    assert np.allclose(np.sort(data.features[difference]), np.sort(gap), atol=1e-6)  # a difference: no offset


def test_the_failure_model_reads_the_physics(mill: Settings) -> None:
    gate = GateResult(client_id=CLIENT, passed=True, checked_at=datetime.now(UTC).isoformat())
    [result] = train_client_models(mill, get_client(mill, CLIENT), gate)
    top = [f["feature"] for f in result.top_features[:3]]
    assert "power_kw__torque__rotational_speed" in top, top
    assert result.model_metric > 0.5 and result.model_metric > 3 * result.baseline_metric

"""Incremental dbt builds equal full rebuilds, to the last digit, whatever the sequence of deliveries.

A seeded client (PLC minutes with sensor tags, states and counts; shots with parameters and quality; energy
readings) receives a sequence of deliveries: new days, a corrected re-delivery under a new name, a
withdrawal, a mapping change, a new machine. After each, the real standardize step runs (incremental where
``plan_build`` allows it), and every core, intermediate and mart table is compared with a from-scratch
full-refresh build of the same raw data in another warehouse (order-insensitive, exact values).
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from forgeline.clients import ClientConfig, get_client
from forgeline.ingest import ingest_client, withdraw
from forgeline.locking import open_warehouse
from forgeline.settings import Settings, get_settings
from forgeline.standardize import RECORD_TABLE, apply_mapping, plan_build, run_dbt

pytestmark = pytest.mark.dbt

CLIENT = "incr-plant"
SCHEMAS = ("core", "intermediate", "marts")
FIRST_DAY = date(2026, 3, 1)
MAPPING = """id: incr-plant
name: Incremental plant
industry: metal stamping
timezone: Asia/Seoul
country: KR
masters:
  sites:
    - {site_id: S1, site_name: Plant}
  equipment:
    - {machine_id: P-01, line_id: PRESS-1, site_id: S1}
    - {machine_id: P-02, line_id: PRESS-1, site_id: S1}
    - {machine_id: M01, line_id: MOLD-1, site_id: S1}
  products:
    - {product_id: BRKT, ideal_cycle_time_s: 2.5}
    - {product_id: HOUSING-A, ideal_cycle_time_s: 42}
  shifts:
    - {shift: day, starts: "06:00", ends: "22:00", weekdays: all}
  energy_meters:
    - {meter_id: EM-01, site_id: S1}
sources:
  - name: plc
    files: "plc_*.csv"
    format: csv
    feeds:
      sensor_readings:
        fields: {machine_id: press_id, read_at: timestamp}
        tags:
          oil_temp_F: {tag: oil_temp, unit: °F}
          vibration_mm_s: {tag: vibration, unit: mm/s}
      machine_states:
        fields:
          machine_id: press_id
          state: {column: status, map: {RUN: running, IDLE: idle, DOWN: down}}
          started_at: timestamp
        sample_period: 10 min
      production_counts:
        fields:
          machine_id: press_id
          product_id: {value: BRKT}
          counted_at: timestamp
          total_count: strokes
  - name: shots
    files: "shots_*.csv"
    format: csv
    feeds:
      cycles:
        fields:
          cycle_id: shot_id
          machine_id: EQUIP_CD
          product_id: PART_NAME
          started_at: TimeStamp
          cycle_time_s: {column: Cycle_Time, unit: s}
        tags:
          Injection_Time: s
          Mold_Temperature: °C
      quality_results:
        fields:
          inspection_id: shot_id
          cycle_id: shot_id
          is_pass: {column: PassOrFail, map: {"0": true, "1": false}}
  - name: energy
    files: "energy_*.csv"
    format: csv
    feeds:
      energy_readings:
        fields:
          meter_id: meter
          interval_end: interval_end
          interval_s: {value: 1, unit: h}
          energy_kwh: {column: kwh, unit: kWh}
"""


def _day_files(day: date, rng: np.random.Generator, presses: tuple[str, ...] = ("P-01", "P-02")) -> dict:
    """One day of every export (local times), seeded: PLC every 10 minutes, shots, hourly energy."""
    stamps = pd.date_range(str(day), periods=144, freq="10min")
    plc = []
    for press in presses:
        status = rng.choice(["RUN", "RUN", "RUN", "IDLE", "DOWN"], len(stamps))
        plc.append(
            pd.DataFrame(
                {
                    "timestamp": stamps.strftime("%Y-%m-%d %H:%M:%S"),
                    "press_id": press,
                    "status": status,
                    "strokes": np.where(status == "RUN", rng.poisson(200, len(stamps)), 0),
                    "oil_temp_F": np.round(rng.normal(115, 2, len(stamps)), 1),
                    "vibration_mm_s": np.round(rng.normal(2.4, 0.3, len(stamps)), 2),
                }
            )
        )
    shots_at = pd.Timestamp(str(day)) + pd.to_timedelta(np.sort(rng.uniform(0, 86_000, 60)), unit="s")
    shots = pd.DataFrame(
        {
            "shot_id": [f"{day:%Y%m%d}-{i:04d}" for i in range(60)],
            "TimeStamp": shots_at.strftime("%Y-%m-%d %H:%M:%S"),
            "EQUIP_CD": "M01",
            "PART_NAME": "HOUSING-A",
            "Cycle_Time": np.round(rng.normal(44, 2, 60), 2),
            "Injection_Time": np.round(rng.normal(9.6, 0.3, 60), 2),
            "Mold_Temperature": np.round(rng.normal(215, 3, 60), 1),
            "PassOrFail": np.where(rng.random(60) < 0.05, "1", "0"),
        }
    )
    hours = pd.date_range(str(day), periods=24, freq="h") + pd.Timedelta(hours=1)
    energy = pd.DataFrame(
        {
            "interval_end": hours.strftime("%Y-%m-%d %H:%M"),
            "meter": "EM-01",
            "kwh": np.round(rng.normal(50, 5, 24), 3),
        }
    )
    return {
        f"plc_{day:%Y%m%d}.csv": pd.concat(plc),
        f"shots_{day:%Y%m%d}.csv": shots,
        f"energy_{day:%Y%m%d}.csv": energy,
    }


def _deliver(settings: Settings, files: dict[str, pd.DataFrame]) -> None:
    landing = settings.landing_dir(CLIENT)
    landing.mkdir(parents=True, exist_ok=True)
    for name, frame in files.items():
        frame.to_csv(landing / name, index=False, lineterminator="\n")


def _standardize(settings: Settings, full_refresh: bool = False) -> tuple[str, str]:
    """The real standardize step (as the engagement runs it): ingest, mapped views, dbt build."""
    config = get_client(settings, CLIENT)
    ingest_client(settings, config)
    apply_mapping(settings, config)
    result = run_dbt(settings, config, "build", full_refresh=full_refresh)
    return result.mode, result.mode_reason


def _reference(settings: Settings, where: Path) -> Path:
    """A from-scratch full build of the same raw data in another workspace; returns its warehouse."""
    shutil.rmtree(where, ignore_errors=True)
    reference = get_settings(where)
    reference.warehouse_dir.mkdir(parents=True)
    shutil.copytree(settings.client_dir(CLIENT), reference.client_dir(CLIENT))
    shutil.copy2(settings.warehouse_path(CLIENT), reference.warehouse_path(CLIENT))
    con = open_warehouse(reference, CLIENT)
    try:  # only raw (and its load records) is kept: everything dbt or the plan wrote goes
        for schema in ("staging", *SCHEMAS, "reference", "mapped", "_forgeline"):
            con.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    finally:
        con.close()
    config = get_client(reference, CLIENT)
    apply_mapping(reference, config)
    assert run_dbt(reference, config, "build").mode == "full refresh"
    return reference.warehouse_path(CLIENT)


def _differences(built: Path, reference: Path) -> list[str]:
    """Every table of core, intermediate and marts, compared as multisets of exact rows."""
    con = duckdb.connect()
    try:
        con.execute(f"ATTACH '{built}' AS built (READ_ONLY)")
        con.execute(f"ATTACH '{reference}' AS ref (READ_ONLY)")
        tables = {
            (schema, table)
            for catalog in ("built", "ref")
            for schema, table in con.execute(
                "SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = ? "
                f"AND schema_name IN {SCHEMAS}",
                [catalog],
            ).fetchall()
        }
        problems = []
        for schema, table in sorted(tables):
            try:
                a, b = f"built.{schema}.{table}", f"ref.{schema}.{table}"
                extra, missing = con.execute(
                    f"SELECT (SELECT count(*) FROM (FROM {a} EXCEPT ALL FROM {b})), "
                    f"(SELECT count(*) FROM (FROM {b} EXCEPT ALL FROM {a}))"
                ).fetchone()
            except duckdb.Error as exc:
                problems.append(f"{schema}.{table}: {exc}")
                continue
            if extra or missing:
                problems.append(f"{schema}.{table}: {extra} row(s) not in the full build, {missing} missing")
        assert len(tables) > 25, tables  # every model was compared, not an empty set
        return problems
    finally:
        con.close()


def _core_rows(settings: Settings, table: str) -> int:
    con = open_warehouse(settings, CLIENT, read_only=True)
    try:
        return con.execute(f"SELECT count(*) FROM core.{table}").fetchone()[0]
    finally:
        con.close()


@pytest.fixture
def plant(workspace: Settings) -> Settings:
    folder = workspace.client_dir(CLIENT)
    folder.mkdir(parents=True)
    (folder / "mapping.yml").write_text(MAPPING, encoding="utf-8")
    return workspace


def test_incremental_builds_equal_full_rebuilds_through_a_sequence_of_deliveries(
    plant: Settings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = plant
    rng = np.random.default_rng(20261124)
    caplog.set_level(logging.INFO, logger="forgeline.standardize")
    day = iter(FIRST_DAY + timedelta(days=i) for i in range(30))
    first = next(day)
    _deliver(settings, _day_files(first, rng) | _day_files(next(day), rng))
    steps: list[tuple[str, str, str]] = []

    def check(step: str, expected: str) -> None:
        mode, reason = _standardize(settings)
        steps.append((step, mode, reason))
        assert mode == expected, (step, mode, reason)
        problems = _differences(settings.warehouse_path(CLIENT), _reference(settings, tmp_path / "reference"))
        assert not problems, (step, mode, reason, problems)

    check("first delivery", "full refresh")
    readings = _core_rows(settings, "fct_sensor_readings")

    _deliver(settings, _day_files(next(day), rng))
    check("one new day", "incremental")
    assert _core_rows(settings, "fct_sensor_readings") > readings  # the new day's rows came in

    # Corrected rows of the first day under a new file name: same keys, later load wins.
    corrected = _day_files(first, np.random.default_rng(7))
    _deliver(
        settings, {name.replace(".csv", "_fixed.csv"): frame.head(40) for name, frame in corrected.items()}
    )
    check("corrected re-delivery", "full refresh")

    _deliver(settings, _day_files(next(day), rng) | _day_files(next(day), rng))
    check("two new days", "incremental")

    config: ClientConfig = get_client(settings, CLIENT)
    withdraw(settings, config, f"plc_{first:%Y%m%d}.csv")
    check("withdrawal", "full refresh")

    mapping = settings.client_config_path(CLIENT)
    mapping.write_text(
        mapping.read_text().replace("sample_period: 10 min", "sample_period: 20 min"), encoding="utf-8"
    )
    check("mapping change", "full refresh")

    _deliver(settings, _day_files(next(day), rng, presses=("P-01", "P-02", "P-03")))
    check("a new machine appears", "full refresh")

    _deliver(settings, _day_files(next(day), rng, presses=("P-01", "P-02", "P-03")))
    check("one more new day", "incremental")

    check("nothing new", "incremental")

    reasons = dict((step, reason) for step, _, reason in steps)
    assert "replace earlier rows" in reasons["corrected re-delivery"]
    assert "withdrawn or superseded" in reasons["withdrawal"]
    assert "mapping changed" in reasons["mapping change"]
    assert "P-03" in reasons["a new machine appears"]
    assert reasons["one new day"].startswith("3 new batches")  # one file per export
    logged = [r.getMessage() for r in caplog.records if r.name == "forgeline.standardize"]
    assert any(f"dbt build of {CLIENT}: incremental: " in m for m in logged), logged
    assert any(f"dbt build of {CLIENT}: full refresh: " in m for m in logged), logged


KILLED_BUILD = """
import logging, sys
from forgeline.settings import get_settings
from forgeline.clients import get_client
from forgeline.ingest import ingest_client
from forgeline.standardize import apply_mapping, run_dbt
logging.basicConfig(level=logging.INFO, stream=sys.stdout, format="%(message)s")
settings = get_settings(sys.argv[1])
config = get_client(settings, sys.argv[2])
ingest_client(settings, config)
apply_mapping(settings, config)
print("MODE", run_dbt(settings, config).mode, flush=True)
"""


def test_a_killed_build_or_a_lost_record_means_a_full_refresh_next(plant: Settings, tmp_path: Path) -> None:
    settings = plant
    rng = np.random.default_rng(11)
    _deliver(settings, _day_files(FIRST_DAY, rng))
    assert _standardize(settings)[0] == "full refresh"
    config = get_client(settings, CLIENT)

    _deliver(settings, _day_files(FIRST_DAY + timedelta(days=1), rng))
    ingest_client(settings, config)
    apply_mapping(settings, config)
    assert plan_build(settings, config).mode == "incremental"

    con = open_warehouse(settings, CLIENT)
    con.execute(f'UPDATE {RECORD_TABLE} SET record = \'{{"version": 1, "batches": \'')  # cut short
    con.close()
    assert plan_build(settings, config).reason == "the record of the last build is unreadable"
    con = open_warehouse(settings, CLIENT)
    con.execute(f"DROP TABLE {RECORD_TABLE}")
    con.close()
    assert plan_build(settings, config).reason == "no record of a complete earlier build"

    # A complete build again, then an incremental one killed once a fact has appended the new rows.
    assert _standardize(settings)[0] == "full refresh"
    _deliver(settings, _day_files(FIRST_DAY + timedelta(days=2), rng))
    child = subprocess.Popen(
        [sys.executable, "-c", KILLED_BUILD, str(settings.home), CLIENT],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
        env={**os.environ, "FORGELINE_HOME": str(settings.home)},
    )
    assert child.stdout is not None
    seen = []
    for line in child.stdout:
        seen.append(line)
        if "OK created" in line and "fct_sensor_readings" in line:
            os.killpg(child.pid, signal.SIGKILL)
            break
    child.wait(timeout=60)
    assert any("incremental: 3 new batches" in line for line in seen), "".join(seen)
    assert child.returncode == -signal.SIGKILL, "".join(seen)

    mode, reason = _standardize(settings)
    assert (mode, reason) == ("full refresh", "no record of a complete earlier build")
    assert not _differences(settings.warehouse_path(CLIENT), _reference(settings, tmp_path / "reference"))

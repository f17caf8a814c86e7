"""dbt on the small demo program: real ingest, `dbt build` with its data tests, the unit tests once."""

from __future__ import annotations

import csv
import io
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pytest
import yaml

from forgeline.clients import ClientConfig, get_client, list_clients, save_client_config
from forgeline.ingest import ingest_client
from forgeline.settings import DBT_PROJECT_DIR, Settings, get_settings
from forgeline.standardize import (
    DbtRunResult,
    StandardizeError,
    _forget_parse_of_another_project,
    apply_mapping,
    failure_advice,
    generate_docs,
    run_dbt,
)

pytestmark = pytest.mark.dbt

CORE_TABLES = [
    "dim_sites",
    "dim_equipment",
    "dim_products",
    "dim_sensor_tags",
    "dim_shifts",
    "dim_energy_meters",
    "dim_run_units",
    "fct_work_orders",
    "fct_cycles",
    "fct_cycle_parameters",
    "fct_quality_results",
    "fct_production_counts",
    "fct_machine_states",
    "fct_sensor_readings",
    "fct_downtime_events",
    "fct_maintenance_events",
    "fct_energy_readings",
]
CYCLE_CLIENT = {
    "dim_sites",
    "dim_equipment",
    "dim_products",
    "dim_sensor_tags",
    "dim_shifts",
    "fct_cycles",
    "fct_cycle_parameters",
    "fct_quality_results",
}
# What each demo client's mapping fills (masters included).
FILLED: dict[str, set[str]] = {
    "daehan-molding": CYCLE_CLIENT,
    "sejin-diecast": CYCLE_CLIENT,
    "gwangyang-steel": {"dim_sites", "dim_energy_meters", "fct_energy_readings"},
    "hanbit-press": {
        "dim_sites",
        "dim_equipment",
        "dim_products",
        "dim_sensor_tags",
        "dim_shifts",
        "fct_sensor_readings",
        "fct_production_counts",
        "fct_machine_states",
        "fct_downtime_events",
        "fct_maintenance_events",
    },
    "miraero-parts": {
        "dim_sites",
        "dim_equipment",
        "dim_products",
        "dim_shifts",
        "fct_production_counts",
        "fct_quality_results",
        "fct_downtime_events",
    },
    "hanul-cnc": {
        "dim_sites",
        "dim_equipment",
        "dim_sensor_tags",
        "fct_cycles",
        "fct_cycle_parameters",
        "fct_quality_results",
        "fct_sensor_readings",
    },
    "dongbang-rig": {
        "dim_sites",
        "dim_equipment",
        "dim_sensor_tags",
        "dim_run_units",
        "fct_cycles",
        "fct_cycle_parameters",
    },
    "daesung-melting": {
        "dim_sites",
        "dim_equipment",
        "dim_sensor_tags",
        "dim_shifts",
        "fct_quality_results",
        "fct_sensor_readings",
    },
}
SEOUL = ZoneInfo("Asia/Seoul")


@contextmanager
def warehouse(settings: Settings, client_id: str) -> Iterator[duckdb.DuckDBPyConnection]:
    con = duckdb.connect(str(settings.warehouse_path(client_id)), read_only=True)
    try:
        yield con
    finally:
        con.close()


@pytest.fixture(scope="module")
def built(small_program: Settings) -> dict[str, DbtRunResult]:
    """Every small demo client ingested and built once (about 7 s of dbt per client)."""
    results = {}
    for config in list_clients(small_program):
        ingest_client(small_program, config)
        assert apply_mapping(small_program, config) == [], config.id  # every demo cell maps cleanly
        results[config.id] = run_dbt(small_program, config, "build")
    return results


def test_build_runs_models_and_data_tests(built: dict[str, DbtRunResult]) -> None:
    assert set(built) == set(FILLED)
    for client_id, result in built.items():
        assert result.failures == [], client_id
        assert result.counts.get("success", 0) > 20, (client_id, result.counts)  # models and seeds
        assert result.counts.get("pass", 0) > 50, (client_id, result.counts)  # data tests


def test_unit_tests_pass_once_not_in_every_client_build(
    small_program: Settings, built: dict[str, DbtRunResult]
) -> None:
    """The project's unit tests (OEE, shifts) run here, on one built warehouse, not in each client's build."""
    declared = sum(
        len(yaml.safe_load(path.read_text(encoding="utf-8")).get("unit_tests") or [])
        for path in (DBT_PROJECT_DIR / "models").rglob("*.yml")
    )
    assert declared >= 4
    config = next(c for c in list_clients(small_program) if c.id == "hanbit-press")
    result = run_dbt(small_program, config, "unit")
    assert result.failures == []
    assert result.counts == {"pass": declared}, result.counts


@pytest.mark.parametrize("client_id", sorted(FILLED))
def test_core_tables_hold_rows_with_lineage(
    small_program: Settings, built: dict[str, DbtRunResult], client_id: str
) -> None:
    with warehouse(small_program, client_id) as con:
        counts = {t: con.execute(f"SELECT count(*) FROM core.{t}").fetchone()[0] for t in CORE_TABLES}
        batches = {r[0] for r in con.execute("SELECT batch_id FROM raw._load_batches").fetchall()}
        for table in CORE_TABLES:
            missing = con.execute(
                f"SELECT count(*) FROM core.{table} "
                "WHERE client_id IS NULL OR source_file IS NULL OR load_batch_id IS NULL"
            ).fetchone()[0]
            assert missing == 0, f"core.{table}: {missing} rows without lineage"
            assert con.execute(
                f"SELECT count(*) FROM core.{table} WHERE client_id <> ?", [client_id]
            ).fetchone() == (0,)
            if table.startswith("fct_"):  # facts trace back to a loaded file (dims to mapping.yml)
                traced = {
                    r[0] for r in con.execute(f"SELECT DISTINCT load_batch_id FROM core.{table}").fetchall()
                }
                assert traced <= batches, table
    assert {t for t, n in counts.items() if n > 0} == FILLED[client_id], counts


def test_press_units_and_local_time_are_converted(
    small_program: Settings, built: dict[str, DbtRunResult]
) -> None:
    with warehouse(small_program, "hanbit-press") as con:
        [raw] = con.execute(
            'SELECT "timestamp", press_id, oil_temp_F, hydraulic_pressure_bar, vibration_mm_s '
            "FROM raw.plc_minutes WHERE _source_row = '1000'"
        ).fetchall()
        local_text, press, oil_f, pressure_bar, vibration = raw
        instant = datetime.strptime(local_text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=SEOUL)
        readings = {
            tag: (value, unit, epoch)
            for tag, value, unit, epoch in con.execute(
                "SELECT tag, value, unit, epoch(read_at) FROM core.fct_sensor_readings "
                "WHERE machine_id = ? AND epoch(read_at) = ?",
                [press, instant.timestamp()],
            ).fetchall()
        }
        read_at_type = con.execute(
            "SELECT data_type FROM information_schema.columns WHERE table_schema = 'core' "
            "AND table_name = 'fct_sensor_readings' AND column_name = 'read_at'"
        ).fetchone()[0]
    assert read_at_type == "TIMESTAMP WITH TIME ZONE"
    assert readings["oil_temp"][:2] == (pytest.approx((float(oil_f) - 32) * 5 / 9), "°C")
    assert readings["hydraulic_pressure"][:2] == (pytest.approx(float(pressure_bar) / 10), "MPa")
    assert readings["vibration"][:2] == (pytest.approx(float(vibration)), "mm/s")
    # Seoul is UTC+9 all year: the instant is nine hours before the wall-clock reading.
    assert instant.utcoffset().total_seconds() == 9 * 3600
    assert readings["oil_temp"][2] == instant.timestamp()


def test_the_hour_exported_twice_is_counted_once(
    small_program: Settings, built: dict[str, DbtRunResult]
) -> None:
    with warehouse(small_program, "hanbit-press") as con:
        rows, minutes = con.execute(
            "SELECT count(*), count(DISTINCT (press_id, timestamp)) FROM raw.plc_minutes"
        ).fetchone()
        readings, distinct = con.execute(
            "SELECT count(*), count(DISTINCT (machine_id, tag, read_at)) FROM core.fct_sensor_readings"
        ).fetchone()
    assert rows - minutes == 60 * 3  # one hour, three presses: planted by the synthetic export
    assert readings == distinct == minutes * 4  # four tags per press and minute, each once


def test_the_excel_row_typed_twice_is_counted_once(
    small_program: Settings, built: dict[str, DbtRunResult]
) -> None:
    with warehouse(small_program, "miraero-parts") as con:
        raw_rows, raw_keys = con.execute(
            'SELECT count(*), count(DISTINCT ("일자", "근무조", "라인", "품번")) FROM raw.production'
        ).fetchone()
        core_rows, core_keys, core_total = con.execute(
            "SELECT count(*), count(DISTINCT (production_date, shift, machine_id, product_id)), "
            "sum(total_count) FROM core.fct_production_counts"
        ).fetchone()
        raw_total = con.execute(
            'SELECT sum(n) FROM (SELECT DISTINCT "일자", "근무조", "라인", "품번", '
            'cast("생산수량" AS INTEGER) AS n FROM raw.production)'
        ).fetchone()[0]
    assert raw_rows == raw_keys + 1
    assert core_rows == core_keys == raw_keys
    assert core_total == raw_total


@pytest.mark.parametrize("client_id", ["daehan-molding", "sejin-diecast", "hanbit-press", "miraero-parts"])
def test_oee_ratios_are_between_0_and_1(
    small_program: Settings, built: dict[str, DbtRunResult], client_id: str
) -> None:
    with warehouse(small_program, client_id) as con:
        days, out_of_range, missing = con.execute(
            "SELECT count(*), "
            "count(*) FILTER (WHERE NOT (availability BETWEEN 0 AND 1 AND performance BETWEEN 0 AND 1 "
            "AND quality BETWEEN 0 AND 1 AND oee BETWEEN 0 AND 1)), "
            "count(*) FILTER (WHERE oee IS NULL) FROM marts.oee_daily"
        ).fetchone()
        worst = con.execute(
            "SELECT abs(oee - availability * performance * quality) FROM marts.oee_daily"
        ).fetchall()
    assert days > 0
    assert (out_of_range, missing) == (0, 0)
    assert max(w[0] for w in worst) < 5e-6  # the mart rounds each ratio and oee to 6 decimals


def test_generate_docs_writes_the_docs_site(small_program: Settings, built: dict[str, DbtRunResult]) -> None:
    index = generate_docs(small_program, get_client(small_program, "gwangyang-steel"))

    assert index.name == "index.html" and index.exists()
    assert (index.parent / "catalog.json").exists()


def test_a_failing_dbt_test_names_the_test_and_model(small_program: Settings, tmp_path: Path) -> None:
    """A work order repaired before it started: the build fails and says which test caught it."""
    settings = get_settings(tmp_path / "bad_home")
    config: ClientConfig = get_client(small_program, "hanbit-press")
    save_client_config(settings, config)
    landing = settings.landing_dir(config.id)
    landing.mkdir(parents=True)
    for path in small_program.landing_dir(config.id).iterdir():
        if path.name != "maintenance_log.csv":
            shutil.copyfile(path, landing / path.name)
    log = list(
        csv.reader(io.StringIO((small_program.landing_dir(config.id) / "maintenance_log.csv").read_text()))
    )
    start, end = log[0].index("repair_start"), log[0].index("repair_end")
    log[2][start], log[2][end] = log[2][end], log[2][start]
    assert log[2][end] < log[2][start]
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(log)
    (landing / "maintenance_log.csv").write_text(buffer.getvalue(), encoding="utf-8")
    ingest_client(settings, config)
    apply_mapping(settings, config)

    with pytest.raises(StandardizeError) as caught:
        run_dbt(settings, config, "build")

    message = str(caught.value)
    assert "hanbit-press" in message
    assert "expression_is_true_fct_maintenance_events_repair_ended_at" in message
    assert "Got 1 result" in message
    assert str(settings.dbt_log_dir(config.id) / "dbt.log") in message


def test_out_of_memory_is_told_as_a_setting_not_as_bad_data(workspace: Settings) -> None:
    """The L program's builds failed in DuckDB's memory share; the message blamed the client's export."""
    failure = (
        "unique_combination_fct_cycle_parameters_cycle_id_parameter_name: Runtime Error in test "
        "unique_combination_fct_cycle_parameters_cycle_id_parameter_name (models/core/_core__models.yml) "
        "Out of Memory Error: could not allocate block of size 256.0 KiB (732.3 MiB/732.4 MiB used)"
    )
    advice = failure_advice(workspace, failure)
    assert "FORGELINE_MEMORY_BUDGET" in advice and workspace.client_duckdb_memory_limit in advice
    assert "bad rows" not in advice
    assert "bad rows" in failure_advice(workspace, "expression_is_true_fct_maintenance_events: Got 1 result")


def test_a_parse_saved_by_another_checkout_is_not_reused(tmp_path: Path) -> None:
    """dbt's saved parse holds absolute paths: a workspace built from another checkout loaded its seeds
    from there (the L-program's seeds failed once that checkout was removed)."""
    target = tmp_path / "target"
    target.mkdir()
    saved = target / "partial_parse.msgpack"
    saved.write_bytes(b"parse of /elsewhere/dbt_project")
    (target / "project_dir.txt").write_text("/elsewhere/dbt_project", encoding="utf-8")
    _forget_parse_of_another_project(target)
    assert not saved.exists()
    assert (target / "project_dir.txt").read_text(encoding="utf-8") == str(DBT_PROJECT_DIR)

    saved.write_bytes(b"parse of this checkout")
    _forget_parse_of_another_project(target)
    assert saved.exists()

"""The Great Expectations gate on real core tables: passes on good data, fails precisely on bad data."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import duckdb
import pytest

from forgeline import quality
from forgeline.clients import ClientConfig, get_client, save_client_config
from forgeline.ingest import ingest_client
from forgeline.quality import GateError, GateResult, run_gate
from forgeline.settings import Settings, get_settings
from forgeline.standardize import apply_mapping, run_dbt

pytestmark = pytest.mark.gate

CLIENT = "daehan-molding"


@pytest.fixture(scope="module")
def built_warehouse(small_program: Settings) -> Path:
    """daehan-molding's DuckDB file after ingest and dbt build (reused if test_dbt already built it)."""
    config = get_client(small_program, CLIENT)
    path = small_program.warehouse_path(CLIENT)
    if not _has_core(path):
        ingest_client(small_program, config)
        apply_mapping(small_program, config)
        run_dbt(small_program, config, "build")
    return path


def _has_core(path: Path) -> bool:
    if not path.exists():
        return False
    con = duckdb.connect(str(path), read_only=True)
    try:
        return bool(
            con.execute(
                "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'core' "
                "AND table_name = 'fct_cycles'"
            ).fetchone()[0]
        )
    finally:
        con.close()


def gate_workspace(home: Path, warehouse: Path, source: Settings) -> tuple[Settings, ClientConfig]:
    """A workspace of its own holding a copy of the built warehouse, so tests may change its data."""
    settings = get_settings(home)
    config = get_client(source, CLIENT)
    save_client_config(settings, config)
    settings.warehouse_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(warehouse, settings.warehouse_path(CLIENT))
    return settings, config


def outcomes(gate: GateResult, success: bool) -> set[tuple[str, str | None, str]]:
    return {(r.table_name, r.column_name, r.expectation_type) for r in gate.results if r.success is success}


@pytest.fixture(scope="module")
def good(
    built_warehouse: Path, small_program: Settings, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Settings, ClientConfig, GateResult]:
    settings, config = gate_workspace(tmp_path_factory.mktemp("gate_good"), built_warehouse, small_program)
    return settings, config, run_gate(settings, config)


def test_the_gate_passes_on_a_good_client(good: tuple[Settings, ClientConfig, GateResult]) -> None:
    settings, config, gate = good

    assert gate.passed, gate.summary()["failed"]
    assert gate.failed() == []
    # What the client delivers is checked; what it does not deliver (energy, sensors...) is not.
    assert set(gate.tables_checked) == {
        "dim_equipment",
        "dim_products",
        "fct_cycles",
        "fct_cycle_parameters",
        "fct_quality_results",
        "mapping_quarantine",  # what the mapping left out, always judged
    }
    # defect_prediction needs these tables filled: their row counts are part of the gate.
    rows_checked = {
        r.table_name for r in gate.results if r.expectation_type == "expect_table_row_count_to_be_between"
    }
    assert rows_checked == {"fct_cycles", "fct_cycle_parameters", "fct_quality_results"}
    assert ("fct_cycles", "cycle_id", "expect_column_values_to_be_unique") in outcomes(gate, True)


def test_the_gate_writes_data_docs_and_its_verdict(good: tuple[Settings, ClientConfig, GateResult]) -> None:
    settings, config, gate = good
    project = settings.quality_dir(CLIENT)

    assert gate.data_docs_index == str(settings.data_docs_site(CLIENT) / "index.html")
    assert Path(gate.data_docs_index).exists()
    verdict = json.loads((project / "gate.json").read_text(encoding="utf-8"))
    assert verdict["client_id"] == CLIENT
    assert verdict["passed"] is True
    assert verdict["expectations"] == len(gate.results)
    assert verdict["data_docs_index"] == gate.data_docs_index
    frame = gate.to_frame()
    assert len(frame) == len(gate.results) and frame["success"].all()


def test_gx_progress_bars_are_off(
    good: tuple[Settings, ClientConfig, GateResult], capfd: pytest.CaptureFixture[str]
) -> None:
    settings, config, _ = good

    run_gate(settings, config)

    captured = capfd.readouterr()
    assert "Calculating Metrics" not in captured.out + captured.err
    config_text = (settings.quality_dir(CLIENT) / "gx" / "great_expectations.yml").read_text()
    assert "progress_bars:" in config_text and "globally: false" in config_text


def test_rerunning_the_gate_is_idempotent_and_keeps_history_bounded(
    good: tuple[Settings, ClientConfig, GateResult], monkeypatch: pytest.MonkeyPatch
) -> None:
    settings, config, first = good
    monkeypatch.setattr(quality, "KEEP_GATE_RUNS", 1)
    results_dir = settings.quality_dir(CLIENT) / "gx" / "uncommitted" / "validations"

    again = run_gate(settings, config)
    once_more = run_gate(settings, config)

    for gate in (again, once_more):
        assert gate.passed
        assert gate.to_frame().equals(first.to_frame())
    kept = sorted(p.relative_to(results_dir).parts[0] for p in results_dir.rglob("*.json"))
    assert kept == sorted(first.tables_checked)  # one result per table: the last run only
    docs = settings.data_docs_site(CLIENT) / "validations"
    assert len(list(docs.rglob("*.html"))) == len(first.tables_checked)


def plant_bad_rows(settings: Settings, empty_parameters: bool = True) -> tuple[int, int]:
    """A duplicate cycle, 3 unjudged and 1 negative inspection, no cycle parameters (or 28 without a
    value, spread over the table): (cycles, inspections)."""
    con = duckdb.connect(str(settings.warehouse_path(CLIENT)))
    try:
        con.execute("INSERT INTO core.fct_cycles SELECT * FROM core.fct_cycles ORDER BY cycle_id LIMIT 1")
        con.execute(
            "UPDATE core.fct_quality_results SET is_pass = NULL WHERE inspection_id IN "
            "(SELECT inspection_id FROM core.fct_quality_results ORDER BY inspection_id LIMIT 3)"
        )
        con.execute(
            "UPDATE core.fct_quality_results SET defect_count = -1 WHERE inspection_id = "
            "(SELECT max(inspection_id) FROM core.fct_quality_results)"
        )
        if empty_parameters:
            con.execute("DELETE FROM core.fct_cycle_parameters")  # a table defect_prediction needs
        else:
            con.execute("UPDATE core.fct_cycle_parameters SET parameter_value = NULL WHERE rowid % 5000 = 17")
        cycles, inspections = con.execute(
            "SELECT (SELECT count(*) FROM core.fct_cycles), (SELECT count(*) FROM core.fct_quality_results)"
        ).fetchone()
    finally:
        con.close()
    return cycles, inspections


def test_the_gate_fails_on_bad_rows_and_names_exactly_what_failed(
    built_warehouse: Path, small_program: Settings, tmp_path: Path
) -> None:
    settings, config = gate_workspace(tmp_path / "home", built_warehouse, small_program)
    cycles, inspections = plant_bad_rows(settings)

    gate = run_gate(settings, config)

    assert gate.passed is False
    assert outcomes(gate, False) == {
        ("fct_cycles", "cycle_id", "expect_column_values_to_be_unique"),
        ("fct_quality_results", "is_pass", "expect_column_values_to_not_be_null"),
        ("fct_quality_results", "defect_count", "expect_column_values_to_be_between"),
        ("fct_cycle_parameters", None, "expect_table_row_count_to_be_between"),
    }
    # Everything else still holds: a gate that fails everything (GX's SQL path on DuckDB) would not pass this.
    passing = outcomes(gate, True)
    assert len(passing) == len(gate.results) - 4
    assert ("fct_cycles", "started_at", "expect_column_values_to_not_be_null") in passing
    assert ("fct_quality_results", "inspection_id", "expect_column_values_to_be_unique") in passing
    assert ("fct_cycle_parameters", "cycle_id", "expect_column_values_to_not_be_null") in passing
    observed = {(r.table_name, r.column_name): r.observed for r in gate.failed()}
    assert observed[("fct_cycles", "cycle_id")] == f"2 of {cycles:,} rows unexpected"
    assert observed[("fct_quality_results", "is_pass")] == f"3 of {inspections:,} rows unexpected"
    assert observed[("fct_quality_results", "defect_count")] == f"1 of {inspections:,} rows unexpected"
    assert observed[("fct_cycle_parameters", None)] == "0"
    verdict = json.loads((settings.quality_dir(CLIENT) / "gate.json").read_text(encoding="utf-8"))
    assert verdict["passed"] is False
    assert "fct_cycles.cycle_id: expect_column_values_to_be_unique" in verdict["failed"]
    assert Path(gate.data_docs_index or "").exists()


def _stored_runs(settings: Settings) -> dict[str, dict[str, Any]]:
    """Each kept gate run's results as GX stores them for Data Docs, without what differs between runs."""
    runs: dict[str, dict[str, Any]] = {}
    for path in (settings.quality_dir(CLIENT) / "gx" / "uncommitted" / "validations").rglob("*.json"):
        result = json.loads(path.read_text(encoding="utf-8"))
        for evr in result["results"]:
            evr["expectation_config"].pop("id", None)  # suites are rebuilt from code at every run
        run = runs.setdefault(result["meta"]["run_id"]["run_name"], {})
        run[result["suite_name"]] = (result["success"], result["statistics"], result["results"])
    return runs


def test_the_gate_in_small_chunks_gives_exactly_the_whole_table_results(
    built_warehouse: Path, small_program: Settings, tmp_path: Path
) -> None:
    """Chunks of 1,000 rows split cycles and inspections in 6 and the cycle parameters in 137."""
    settings, config = gate_workspace(tmp_path / "home", built_warehouse, small_program)
    plant_bad_rows(settings, empty_parameters=False)

    whole = run_gate(settings, config, chunk_rows=10**9)
    # Without the first gate's tallies: every row goes through GX again, this time in chunks.
    (settings.quality_dir(CLIENT) / "gate_state.json").unlink()
    chunked = run_gate(settings, config, chunk_rows=1_000)

    assert chunked.to_frame().equals(whole.to_frame())
    assert {(r.table_name, r.column_name) for r in chunked.failed()} == {
        ("fct_cycles", "cycle_id"),
        ("fct_quality_results", "is_pass"),
        ("fct_quality_results", "defect_count"),
        ("fct_cycle_parameters", "parameter_value"),
    }
    first, second = _stored_runs(settings).values()  # what Data Docs show
    assert first == second


def test_after_new_rows_the_gate_validates_only_them_and_gives_the_whole_table_verdicts(
    built_warehouse: Path, small_program: Settings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """dbt's incremental build appends a new batch's rows: the gate resumes from its last tallies."""
    settings, config = gate_workspace(tmp_path / "home", built_warehouse, small_program)
    assert run_gate(settings, config).passed
    con = duckdb.connect(str(settings.warehouse_path(CLIENT)))
    try:
        # A new batch: 30 cycles again under new ids, one of them twice and two without a start.
        con.execute(
            "INSERT INTO core.fct_cycles SELECT * EXCLUDE (n) REPLACE (cycle_id || '-new' AS cycle_id, "
            "CASE WHEN rowid % 10 = 3 THEN NULL ELSE started_at END AS started_at) "
            "FROM core.fct_cycles, range(2) AS copies(n) WHERE rowid < 30 AND (n = 0 OR rowid = 0) "
            "ORDER BY rowid, n"
        )
    finally:
        con.close()

    with caplog.at_level("INFO", logger="forgeline.quality"):
        resumed = run_gate(settings, config)
    cycles = duckdb.connect(str(settings.warehouse_path(CLIENT)), read_only=True)
    try:
        earlier = cycles.execute("SELECT count(*) - 31 FROM core.fct_cycles").fetchone()[0]
    finally:
        cycles.close()
    assert f"fct_cycles: 31 new row(s) validated; the {earlier:,} before" in caplog.text
    # The same verdicts, observed values and examples as a gate that validates every row.
    (settings.quality_dir(CLIENT) / "gate_state.json").unlink()
    whole = run_gate(settings, config)
    assert resumed.to_frame().equals(whole.to_frame())
    assert {(r.table_name, r.column_name) for r in resumed.failed()} == {
        ("fct_cycles", "cycle_id"),
        ("fct_cycles", "started_at"),
    }


def test_the_gate_blocks_training_when_a_rule_quarantines_more_than_its_threshold(
    built_warehouse: Path, small_program: Settings, tmp_path: Path
) -> None:
    from expectations import QUARANTINE_THRESHOLDS

    settings, config = gate_workspace(tmp_path, built_warehouse, small_program)
    con = duckdb.connect(str(settings.warehouse_path(CLIENT)))
    # A few quarantined rows are tolerated (a handful never blocks, whatever the share); a third of the
    # cycles out of range is a misread export.
    con.execute(
        "INSERT INTO mapped._quarantine_summary VALUES ('cycles', 'row', '', 'range', 300, 900, 300 / 900), "
        "('quality_results', 'row', '', 'code', 1, 900, 1 / 900), "
        "('equipment', 'row', '', 'cast', 2, 4, 2 / 4)"
    )
    con.close()

    gate = run_gate(settings, config)

    assert not gate.passed
    failed = [(r.table_name, r.column_name) for r in gate.failed()]
    assert failed == [("mapping_quarantine", "share_range")]
    details = gate.failed()[0].details
    assert "cycles 33.3%" in details and f"{QUARANTINE_THRESHOLDS['range']:.0%}" in details
    assert "Data quality page" in details


def test_a_model_without_the_data_it_needs_fails_the_gate(
    good: tuple[Settings, ClientConfig, GateResult],
) -> None:
    """A molding plant configured for failure prediction delivers no sensor or maintenance data."""
    settings, config, _ = good
    wrong = config.model_copy(update={"models": ["failure_prediction"]})

    gate = run_gate(settings, wrong)

    assert gate.passed is False
    assert outcomes(gate, False) == {
        ("fct_sensor_readings", None, "expect_table_row_count_to_be_between"),
        ("fct_maintenance_events", None, "expect_table_row_count_to_be_between"),
    }
    assert {r.observed for r in gate.failed()} == {"0"}
    assert "fct_sensor_readings.*: expect_table_row_count_to_be_between" in gate.summary()["failed"]
    # The molding tables are no longer required, so no row-count rule for them; their own rules still hold.
    assert ("fct_cycles", None, "expect_table_row_count_to_be_between") not in outcomes(gate, True)
    assert ("fct_cycles", "cycle_id", "expect_column_values_to_be_unique") in outcomes(gate, True)


def test_the_gate_says_what_to_run_first_without_core_tables(tmp_path: Path, small_program: Settings) -> None:
    settings = get_settings(tmp_path / "empty_home")
    config = get_client(small_program, CLIENT)

    with pytest.raises(GateError, match=r"no warehouse for daehan-molding.*run dbt build first"):
        run_gate(settings, config)

    settings.warehouse_dir.mkdir(parents=True)
    duckdb.connect(str(settings.warehouse_path(CLIENT))).close()
    with pytest.raises(GateError, match=r"core table\(s\) \['dim_equipment'.*Run dbt build"):
        run_gate(settings, config)

"""Fast tier: publishing snapshots is atomic, client-scoped, and never blocked by a reading app."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import duckdb
import pandas as pd
import pytest

from forgeline.clients import ClientConfig
from forgeline.outcomes import new_run_id
from forgeline.publish import RunInfo, current_run_info, current_snapshot, publish_client
from forgeline.settings import Settings


def make_config(client_id: str = "test-plant") -> ClientConfig:
    return ClientConfig(
        id=client_id,
        name="테스트공장",
    )


def make_warehouse(settings: Settings, client_id: str, oee: float) -> None:
    settings.warehouse_dir.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(settings.warehouse_path(client_id)))
    con.execute("CREATE SCHEMA IF NOT EXISTS marts; CREATE SCHEMA IF NOT EXISTS raw")
    con.execute("CREATE OR REPLACE TABLE marts.oee_daily (client_id VARCHAR, machine_id VARCHAR, oee DOUBLE)")
    con.execute(
        "INSERT INTO marts.oee_daily VALUES (?, 'M1', ?), ('someone-else', 'X', 0.1)", [client_id, oee]
    )
    con.execute("CREATE OR REPLACE TABLE raw._load_batches (batch_id VARCHAR, file VARCHAR, rows BIGINT)")
    con.execute("INSERT INTO raw._load_batches VALUES ('abc', 'shots.csv', 10)")
    con.close()


def publish(settings: Settings, config: ClientConfig, n: int) -> str:
    run = RunInfo(
        run_id=f"{new_run_id()}-{n}", started_at=datetime.now(UTC), status="published", gate_passed=True
    )
    gate = pd.DataFrame([{"suite_name": "s", "table_name": "t", "expectation_type": "e", "success": True}])
    return publish_client(settings, config, run, gate, []).name


def test_publish_copies_only_this_clients_rows_and_run_info(workspace: Settings) -> None:
    config = make_config()
    make_warehouse(workspace, config.id, oee=0.61)
    publish(workspace, config, 1)
    snapshot = current_snapshot(workspace, config.id)
    assert snapshot is not None
    con = duckdb.connect(str(snapshot), read_only=True)
    assert con.execute("SELECT DISTINCT client_id FROM marts.oee_daily").fetchall() == [(config.id,)]
    assert con.execute("SELECT count(*) FROM meta.load_batches").fetchall()[0][0] == 1
    assert con.execute(
        "SELECT row_count FROM meta.table_profile WHERE table_name = 'oee_daily'"
    ).fetchall() == [(2,)]
    con.close()
    info = current_run_info(workspace, config.id)
    assert info is not None and info["status"] == "published" and info["client_name"] == "테스트공장"


def test_a_reader_never_blocks_a_new_publish_and_keeps_its_snapshot(workspace: Settings) -> None:
    config = make_config()
    make_warehouse(workspace, config.id, oee=0.50)
    publish(workspace, config, 1)
    reader = duckdb.connect(str(current_snapshot(workspace, config.id)), read_only=True)

    make_warehouse(workspace, config.id, oee=0.75)
    publish(workspace, config, 2)

    # The open reader still sees its complete old run; new readers see the new one.
    assert reader.execute("SELECT oee FROM marts.oee_daily").fetchall()[0][0] == 0.50
    reader.close()
    fresh = duckdb.connect(str(current_snapshot(workspace, config.id)), read_only=True)
    assert fresh.execute("SELECT oee FROM marts.oee_daily").fetchall()[0][0] == 0.75
    fresh.close()


def test_old_snapshots_are_pruned_and_no_partial_files_remain(workspace: Settings) -> None:
    config = make_config()
    make_warehouse(workspace, config.id, oee=0.5)
    names = [publish(workspace, config, n) for n in range(5)]
    remaining = sorted(p.name for p in workspace.published_dir(config.id).iterdir())
    assert remaining == sorted([*names[-3:], "CURRENT"])
    assert (workspace.published_dir(config.id) / "CURRENT").read_text() == names[-1]


def publish_run(
    settings: Settings, config: ClientConfig, run_id: str, passed: bool, reason: str | None = None
) -> str:
    run = RunInfo(
        run_id=run_id,
        started_at=datetime.now(UTC),
        status="published" if passed else "gate_failed",
        gate_passed=passed,
        reason=reason,
    )
    gate = pd.DataFrame(
        [{"suite_name": "s", "table_name": "fct_cycles", "expectation_type": "e", "success": passed}]
    )
    return publish_client(settings, config, run, gate, []).name


def snapshot_state(settings: Settings, client_id: str) -> tuple[dict, list, list]:
    con = duckdb.connect(str(current_snapshot(settings, client_id)), read_only=True)
    try:
        run = con.execute("SELECT * FROM meta.run").df().iloc[0].to_dict()
        marts = con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'marts' ORDER BY table_name"
        ).fetchall()
        oee = con.execute("SELECT oee FROM marts.oee_daily").fetchall() if marts else []
        gate = con.execute("SELECT success FROM meta.gate_results").fetchall()
    finally:
        con.close()
    return run, oee, gate


def test_a_failed_gate_publishes_its_results_beside_the_last_good_marts(workspace: Settings) -> None:
    config = make_config()
    make_warehouse(workspace, config.id, oee=0.61)
    publish_run(workspace, config, "20260101T000000000000Z", passed=True)

    make_warehouse(workspace, config.id, oee=0.01)  # the bad delivery's marts: never published
    publish_run(workspace, config, "20260102T000000000000Z", passed=False, reason="core.fct_cycles failed e")
    run, oee, gate = snapshot_state(workspace, config.id)
    assert oee == [(0.61,)]
    assert gate == [(False,)]  # its own gate results: what the client must fix
    assert (run["status"], run["gate_passed"]) == ("gate_failed", False)
    assert run["run_id"] == "20260102T000000000000Z" and run["data_run_id"] == "20260101T000000000000Z"
    assert run["reason"] == "core.fct_cycles failed e" and run["data_finished_at"] < run["finished_at"]

    # Failing again: still the last good run's figures, not the failed run's copy of a copy.
    make_warehouse(workspace, config.id, oee=0.02)
    publish_run(workspace, config, "20260103T000000000000Z", passed=False, reason="again")
    run, oee, _ = snapshot_state(workspace, config.id)
    assert oee == [(0.61,)] and run["data_run_id"] == "20260101T000000000000Z"

    make_warehouse(workspace, config.id, oee=0.70)
    publish_run(workspace, config, "20260104T000000000000Z", passed=True)
    run, oee, _ = snapshot_state(workspace, config.id)
    assert oee == [(0.70,)] and run["data_run_id"] == run["run_id"] and run["reason"] is None


def test_the_gate_reason_is_published_in_english_and_read_in_the_consultants_language(
    workspace: Settings,
) -> None:
    """meta.run.reason stays English (what the CLI and older apps read); beside it the same sentence as a
    message, worded in Korean for a Korean consultant (tables, columns and checks named as they are). A
    snapshot without it shows its English."""
    from apps import data
    from flows.engagement import gate_reason, gate_wording
    from forgeline import i18n
    from forgeline.auth import User
    from forgeline.quality import ExpectationOutcome, GateResult
    from forgeline.reports import words

    def failure(table: str, column: str | None, check: str, observed: str) -> ExpectationOutcome:
        return ExpectationOutcome("s", table, check, column, False, observed, "")

    gate = GateResult(
        client_id="c",
        passed=False,
        results=[
            failure("fct_cycles", "cycle_time_s", "expect_column_values_to_not_be_null", "12 unexpected"),
            failure("mapping_quarantine", None, "expect_table_row_count_to_be_between", ""),
            failure("fct_cycles", "good_count", "expect_column_values_to_be_between", ""),
            failure("dim_equipment", "machine_id", "expect_column_values_to_be_unique", ""),
        ],
    )
    english = gate_reason(gate)
    assert english == (
        "core.fct_cycles.cycle_time_s failed expect_column_values_to_not_be_null (observed 12 unexpected); "
        "the mapping's quarantine failed expect_table_row_count_to_be_between; core.fct_cycles.good_count "
        "failed expect_column_values_to_be_between; and 1 more"
    )
    assert gate_reason(GateResult(client_id="c", passed=False)) == "the quality gate failed"

    config = make_config()
    make_warehouse(workspace, config.id, oee=0.61)
    publish_run(workspace, config, "20260101T000000000000Z", passed=True)
    run = RunInfo(
        run_id="20260102T000000000000Z",
        started_at=datetime.now(UTC),
        status="gate_failed",
        gate_passed=False,
        reason=english,
        reason_wording=gate_wording(gate),
    )
    gate_frame = pd.DataFrame(
        [{"suite_name": "s", "table_name": "fct_cycles", "expectation_type": "e", "success": False}]
    )
    publish_client(workspace, config, run, gate_frame, [])
    [published] = data.clients(User(username="c", display_name="C", role="consultant"))
    assert published.reason == english
    with i18n.use_language("ko"):
        korean = words.stored_part(published, "reason")
    assert korean == (
        "core.fct_cycles.cycle_time_s: expect_column_values_to_not_be_null 검사 실패 (관측값 12 unexpected); "
        "매핑 격리 목록: expect_table_row_count_to_be_between 검사 실패; core.fct_cycles.good_count: "
        "expect_column_values_to_be_between 검사 실패 외 1건"
    )
    with i18n.use_language("ko"):  # published before the wording: its English
        assert words.stored_part(dataclasses.replace(published, wording=""), "reason") == english


def test_a_failed_gate_with_no_good_run_before_publishes_no_marts(workspace: Settings) -> None:
    config = make_config()
    make_warehouse(workspace, config.id, oee=0.01)
    publish_run(workspace, config, "20260102T000000000000Z", passed=False, reason="nothing passed")
    run, oee, gate = snapshot_state(workspace, config.id)
    assert oee == [] and gate == [(False,)]
    assert run["data_run_id"] is None and run["status"] == "gate_failed"


def test_what_a_killed_publish_left_is_removed_at_the_next_publish(workspace: Settings) -> None:
    config = make_config()
    make_warehouse(workspace, config.id, oee=0.5)
    folder = workspace.published_dir(config.id)
    folder.mkdir(parents=True)
    leftovers = [
        folder / ".20260101T000000000000Z.duckdb.partial",
        folder / ".20260101T000000000000Z.duckdb.partial.wal",
        folder / ".CURRENT.tmp",
    ]
    for leftover in leftovers:
        leftover.write_bytes(b"half")
    name = publish(workspace, config, 1)
    assert sorted(p.name for p in folder.iterdir()) == sorted([name, "CURRENT"])


def make_oee_warehouse(settings: Settings, client_id: str, oee: float) -> None:
    """A warehouse whose oee_daily has the mart's columns (the KPI page reads them all), its parts consistent
    with ``oee``: the page rolls OEE up from run time, performance and counts, not from the stored column."""
    make_warehouse(settings, client_id, oee)
    availability = oee / (0.9 * 0.99)
    con = duckdb.connect(str(settings.warehouse_path(client_id)))
    con.execute(
        "CREATE OR REPLACE TABLE marts.oee_daily AS SELECT ? AS client_id, 'M1' AS machine_id, "
        "'Press 1' AS machine_name, DATE '2026-01-01' AS production_date, 28800.0 AS planned_time_s, "
        "28800.0 * ? AS run_time_s, 1000 AS total_count, 990 AS good_count, ? AS availability, "
        "0.9 AS performance, 0.99 AS quality, ? AS oee",
        [client_id, availability, availability, oee],
    )
    con.close()


@pytest.mark.app
def test_the_client_pages_say_the_figures_are_from_the_last_good_run(
    workspace: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from streamlit.testing.v1 import AppTest

    from apps import data
    from forgeline.auth import User, set_login
    from forgeline.settings import REPO_ROOT

    config = make_config()
    make_oee_warehouse(workspace, config.id, oee=0.61)
    publish_run(workspace, config, "20260101T000000000000Z", passed=True)
    make_oee_warehouse(workspace, config.id, oee=0.01)
    publish_run(workspace, config, "20260102T000000000000Z", passed=False, reason="core.fct_cycles failed e")

    consultant = User(username="c", display_name="C", role="consultant")
    [published] = data.clients(consultant)
    assert published.figures_held_back and published.reason == "core.fct_cycles failed e"
    assert (published.run_id, published.data_run_id) == ("20260102T000000000000Z", "20260101T000000000000Z")

    set_login(workspace, "consultant", "a-long-password", "consultant", "C")
    at = AppTest.from_file(str(REPO_ROOT / "apps" / "forgeline_app.py"), default_timeout=60).run()
    at.text_input(key="username").input("consultant")
    at.text_input(key="password").input("a-long-password")
    at = at.button[0].click().run()
    for page in ("app_pages/client/models.py", "app_pages/client/kpis.py"):
        at = at.switch_page(page).run()
        assert not at.exception, [e.value for e in at.exception]
        shown = " ".join(str(w.value) for w in at.warning)
        assert "A newer delivery (run 20260102T000000000000Z, " in shown, (page, shown)
        assert "failed the quality gate: core.fct_cycles failed e." in shown
        assert "The figures below are from run 20260101T000000000000Z" in shown
    assert "61.0%" in " ".join(str(m.value) for m in at.metric)  # the good run's OEE, not the failed 1 %

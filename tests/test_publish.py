"""Fast tier: publishing snapshots is atomic, client-scoped, and never blocked by a reading app."""

from __future__ import annotations

from datetime import UTC, datetime

import duckdb
import pandas as pd

from forgeline.clients import ClientConfig
from forgeline.publish import RunInfo, current_run_info, current_snapshot, new_run_id, publish_client
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

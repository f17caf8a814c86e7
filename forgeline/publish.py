"""Publish one client's deliverable: a new read-only DuckDB snapshot, then an atomic switch.

Apps only ever open the snapshot that ``CURRENT`` names, read-only. A snapshot is written under a
temporary name, closed, renamed, and only then does ``CURRENT`` move to it (``os.replace`` is atomic),
so a client always sees one complete run and no app holds a lock on a file a flow is writing.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from forgeline.clients import ClientConfig
from forgeline.quality import GATE_COLUMNS
from forgeline.settings import Settings

log = logging.getLogger("forgeline.publish")

CURRENT_POINTER = "CURRENT"
SNAPSHOTS_KEPT = 3

MODEL_COLUMNS = [
    "model_name",
    "registered_model",
    "task",
    "metric_name",
    "model_metric",
    "baseline_name",
    "baseline_metric",
    "beats_baseline",
    "model_version",
    "is_champion",
    "mlflow_run_id",
    "n_train",
    "n_test",
    "n_test_positives",
    "trained_at",
]
FEATURE_COLUMNS = ["model_name", "feature", "importance", "rank"]


@dataclasses.dataclass(frozen=True)
class RunInfo:
    """What the apps show about the run that produced a snapshot."""

    run_id: str
    started_at: datetime
    status: str  # published | gate_failed
    gate_passed: bool | None


def new_run_id(now: datetime | None = None) -> str:
    now = now or datetime.now(UTC)
    return now.strftime("%Y%m%dT%H%M%S%fZ")


def _as_record(item: Any) -> dict[str, Any]:
    if dataclasses.is_dataclass(item) and not isinstance(item, type):
        return dataclasses.asdict(item)
    if hasattr(item, "model_dump"):
        return item.model_dump()
    return dict(item)


def _frame(records: Iterable[Any], columns: Sequence[str]) -> pd.DataFrame:
    rows = [_as_record(r) for r in records]
    frame = pd.DataFrame(rows, columns=list(columns)) if rows else pd.DataFrame(columns=list(columns))
    return frame[list(columns)]


def current_snapshot(settings: Settings, client_id: str) -> Path | None:
    """The snapshot file the apps should read for ``client_id``, or None before the first publish."""
    pointer = settings.published_dir(client_id) / CURRENT_POINTER
    if not pointer.exists():
        return None
    snapshot = settings.published_dir(client_id) / pointer.read_text(encoding="utf-8").strip()
    return snapshot if snapshot.exists() else None


def current_run_info(settings: Settings, client_id: str) -> dict[str, Any] | None:
    """The ``meta.run`` row of the client's current snapshot (None before the first publish)."""
    snapshot = current_snapshot(settings, client_id)
    if snapshot is None:
        return None
    con = duckdb.connect(str(snapshot), read_only=True)
    try:
        frame = con.execute("SELECT * FROM meta.run").df()
    finally:
        con.close()
    return frame.iloc[0].to_dict() if len(frame) else None


def publish_client(
    settings: Settings,
    config: ClientConfig,
    run: RunInfo,
    gate_results: pd.DataFrame | None,
    model_results: Sequence[Any],
) -> Path:
    """Copy the client's marts and this run's results into a new snapshot and make it current."""
    folder = settings.published_dir(config.id)
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / f"{run.run_id}.duckdb"
    partial = folder / f".{run.run_id}.duckdb.partial"
    partial.unlink(missing_ok=True)

    gate_frame = gate_results if gate_results is not None else pd.DataFrame(columns=GATE_COLUMNS)
    gate_frame = gate_frame.reindex(columns=GATE_COLUMNS)
    models_frame = _frame(model_results, MODEL_COLUMNS)
    features_frame = _frame(
        (
            {"model_name": record["model_name"], **feature}
            for record in map(_as_record, model_results)
            for feature in record.get("top_features") or []
        ),
        FEATURE_COLUMNS,
    )
    run_frame = pd.DataFrame(
        [
            {
                "run_id": run.run_id,
                "client_id": config.id,
                "client_name": config.name,
                "industry": config.industry,
                "timezone": config.timezone,
                "models": ", ".join(config.models),
                "started_at": run.started_at,
                "finished_at": datetime.now(UTC),
                "status": run.status,
                "gate_passed": run.gate_passed,
            }
        ]
    )

    con = duckdb.connect(str(partial))
    try:
        con.execute("ATTACH ? AS warehouse (READ_ONLY)", [str(settings.warehouse_path(config.id))])
        con.execute("CREATE SCHEMA marts")
        con.execute("CREATE SCHEMA meta")
        marts = [
            row[0]
            for row in con.execute(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_catalog = 'warehouse' AND table_schema = 'marts' ORDER BY table_name"
            ).fetchall()
        ]
        for table in marts:
            # Only this client's rows, even if a mart were ever built wider than one client.
            con.execute(
                f'CREATE TABLE marts."{table}" AS '
                f'SELECT * FROM warehouse.marts."{table}" WHERE client_id = ?',
                [config.id],
            )
        profile = _table_profile(con)
        registries = {
            row[0]
            for row in con.execute(
                "SELECT table_schema || '.' || table_name FROM information_schema.tables "
                "WHERE table_catalog = 'warehouse' AND (table_schema = 'raw' AND table_name IN "
                "('_load_batches', '_rejected_files') "
                "OR table_schema = 'mapped' AND table_name = '_problems')"
            ).fetchall()
        }
        for name, frame in {
            "run": run_frame,
            "gate_results": gate_frame,
            "model_results": models_frame,
            "model_features": features_frame,
            "table_profile": profile,
        }.items():
            con.register("frame_to_copy", frame)
            con.execute(f"CREATE TABLE meta.{name} AS SELECT * FROM frame_to_copy")
            con.unregister("frame_to_copy")
        # What was loaded and what was refused: the data-quality page shows both to the client.
        for registry in sorted(registries):
            schema, name = registry.split(".")
            target = "mapping_problems" if schema == "mapped" else name.lstrip("_")
            con.execute(f'CREATE TABLE meta.{target} AS SELECT * FROM warehouse.{schema}."{name}"')
        con.execute("DETACH warehouse")
    finally:
        con.close()

    os.replace(partial, final)
    pointer_tmp = folder / f".{CURRENT_POINTER}.tmp"
    pointer_tmp.write_text(final.name, encoding="utf-8")
    os.replace(pointer_tmp, folder / CURRENT_POINTER)
    log.info("Published %s for %s (%d marts).", final.name, config.id, len(marts))
    _prune(folder, keep=final.name)
    return final


def _table_profile(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Exact row counts of the warehouse's raw, core and marts tables (the data-quality page shows them)."""
    tables = con.execute(
        "SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = 'warehouse' "
        "AND schema_name IN ('raw', 'core', 'marts') ORDER BY schema_name, table_name"
    ).fetchall()
    rows = [
        (schema, table, con.execute(f'SELECT count(*) FROM warehouse."{schema}"."{table}"').fetchall()[0][0])
        for schema, table in tables
    ]
    return pd.DataFrame(rows, columns=["schema_name", "table_name", "row_count"])


def _prune(folder: Path, keep: str) -> None:
    """Keep the newest snapshots; an app still reading an older one keeps its open file handle."""
    snapshots = sorted(folder.glob("*.duckdb"), key=lambda p: p.name, reverse=True)
    for old in snapshots[SNAPSHOTS_KEPT:]:
        if old.name != keep:
            old.unlink(missing_ok=True)

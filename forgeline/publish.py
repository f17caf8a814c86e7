"""Publish one client's deliverable: a new read-only DuckDB snapshot, then an atomic switch.

Apps only ever open the snapshot that ``CURRENT`` names, read-only. A snapshot is written under a
temporary name, closed, renamed, and only then does ``CURRENT`` move to it (``os.replace`` is atomic),
so a client always sees one complete run and no app holds a lock on a file a flow is writing. What a
killed publish left behind (``.partial`` files) is removed at the client's next publish.

Nothing wrong is published: the snapshot of a run whose quality gate failed carries that run's gate
results, load records and mapping problems (what the client must fix), but the marts and model results
of the last run that passed (``meta.run.data_run_id`` names it; none if no run ever passed), so the apps
keep showing good figures and say that a newer delivery failed, and why (``meta.run.reason``).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import shutil
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from forgeline.clients import ClientConfig
from forgeline.program import cohort, levels, recommendations
from forgeline.quality import GATE_COLUMNS
from forgeline.settings import Settings

log = logging.getLogger("forgeline.publish")

CURRENT_POINTER = "CURRENT"
SNAPSHOTS_KEPT = 3
PUBLISHED = "published"
GATE_FAILED = "gate_failed"

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
    "threshold",
    "holdout_f1",
    "holdout_precision",
    "holdout_recall",
    "champion_decision",
    "learner_note",
    "family",
    "unit",
    # champion_decision and baseline_name as their messages and values (JSON {column: message}), worded in
    # the reader's language by forgeline/reports/words.py; "" (or absent, in older snapshots): English only.
    "wording",
    "holdout_cv_rmse",
    "holdout_nmbe",
    "anomalies",
    "anomaly_excess",
    "anomaly_co2_kg",
    "holdout_phm_score",
    "baseline_phm_score",
    "holdout_units",
    "holdout_rmse_at_random_cycle",
    "baseline_rmse_at_random_cycle",
    "holdout_incidents",
    "holdout_incidents_warned",
    "baseline_incidents_warned",
    "holdout_warning_h",
    "holdout_alarm_rate",
    "holdout_incidents_warned_by_chance",
    "baseline_incidents_warned_by_chance",
    "baseline_alarm_precision",
    "holdout_smape",
    "baseline_smape",
    "holdout_mase_day_ahead",
    "baseline_mase_day_ahead",
    "holdout_smape_day_ahead",
    "baseline_smape_day_ahead",
    "holdout_mase_7_days_ahead",
    "baseline_mase_7_days_ahead",
    "holdout_products",
]
# Each family's own figures (the columns from holdout_cv_rmse on): doubles, NULL where a family has none.
FAMILY_FIGURES = MODEL_COLUMNS[MODEL_COLUMNS.index("holdout_cv_rmse") :]
FEATURE_COLUMNS = ["model_name", "feature", "importance", "rank"]
# Per model and local holdout day: measured and predicted totals, the baseline's, rows flagged.
DAILY_COLUMNS = ["model_name", "day", "actual", "expected", "baseline", "flagged"]
# The champion in operation (forgeline/standard_models/operation.py): its weeks, and its latest scores.
OPERATION_COLUMNS = [
    "model_name",
    "week",
    "model_version",
    "rows",
    "live_rows",
    "actual",
    "predicted",
    "metric",
    "drift",
    "sentence",
    "wording",  # the sentence as its message and values (JSON), worded by forgeline/reports/words.py
]
SCORE_COLUMNS = ["model_name", "model_version", "time", "score", "outcome", "key"]
# Per anomaly detector, the holdout's strongest alarms for review (families.Anomalies.strongest).
ALARM_COLUMNS = ["model_name", "machine_id", "time", "score", "moved"]
# Per anomaly detector, the holdout's incidents (families.Anomalies.judged).
INCIDENT_COLUMNS = [
    "model_name",
    "machine_id",
    "reported_at",
    "kind",
    "warned",
    "warning_h",
    "baseline_warned",
    "baseline_warning_h",
]


def window_columns() -> list[str]:
    """Recommended operating windows (forgeline/standard_models/windows.py), one row per model and
    parameter. Imported here, not at the top: the apps import this module and need no model code."""
    from forgeline.standard_models.windows import OperatingWindow

    return ["model_name", *(f.name for f in dataclasses.fields(OperatingWindow))]


@dataclasses.dataclass(frozen=True)
class RunInfo:
    """What the apps show about the run that produced a snapshot."""

    run_id: str
    started_at: datetime
    status: str  # published | gate_failed
    gate_passed: bool | None
    reason: str | None = None  # why the run's data is not published (the gate's top failures), in English
    reason_wording: str | None = None  # the same as its message and values (JSON; forgeline/i18n.py)


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


def _per_model(model_results: Sequence[Any], field: str, columns: Sequence[str]) -> pd.DataFrame:
    """One row per entry of each result's list ``field`` (top features, windows, days, weeks, scores),
    with the model's name first."""
    return _frame(
        (
            {"model_name": record["model_name"], **entry}
            for record in map(_as_record, model_results)
            for entry in record.get(field) or []
        ),
        columns,
    )


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
    return _run_row(snapshot) if snapshot is not None else None


def current_level(settings: Settings, client_id: str) -> tuple[dict[str, Any], pd.DataFrame] | None:
    """The client's published smart-factory level (``meta.level``'s row) and its evidence, one row per
    rule (``meta.level_evidence``); None before the first publish, or when no data has passed the gate."""
    found = current_meta(settings, client_id, "level", "level_evidence")
    if found is None or found["level"].empty:
        return None  # never published, unreadable, published before levels were assessed, or no good data
    evidence = found["level_evidence"].sort_values("level", kind="stable").reset_index(drop=True)
    return found["level"].iloc[0].to_dict(), evidence


def current_meta(settings: Settings, client_id: str, *tables: str) -> dict[str, pd.DataFrame] | None:
    """``meta`` tables of the client's current snapshot, all read from that one file; None before the first
    publish, when the file cannot be read, or when it predates one of the tables."""
    snapshot = current_snapshot(settings, client_id)
    if snapshot is None:
        return None
    try:
        con = duckdb.connect(str(snapshot), read_only=True)
    except duckdb.Error:
        return None
    try:
        catalog = con.execute("SELECT current_database()").fetchone()
        if catalog is None or not set(tables) <= _meta_tables(con, catalog[0]):
            return None
        return {table: con.execute(f'SELECT * FROM meta."{table}"').df() for table in tables}
    except duckdb.Error:
        return None
    finally:
        con.close()


def _run_row(snapshot: Path) -> dict[str, Any] | None:
    """A snapshot's ``meta.run`` row; None if the file cannot be read as one."""
    try:
        con = duckdb.connect(str(snapshot), read_only=True)
    except duckdb.Error:
        return None
    try:
        frame = con.execute("SELECT * FROM meta.run").df()
    except duckdb.Error:
        return None
    finally:
        con.close()
    return frame.iloc[0].to_dict() if len(frame) else None


@dataclasses.dataclass(frozen=True)
class GoodData:
    """Where the last marts that passed the gate are: a snapshot, and the run that produced them."""

    snapshot: Path
    run_id: str
    finished_at: Any


def last_good_data(settings: Settings, client_id: str) -> GoodData | None:
    """The newest published snapshot holding marts of a run that passed its gate (None: there never was one).

    The current snapshot first: it holds good marts if its run passed, or if it already carries the marts
    of an earlier run that did (``data_run_id``); then the other kept snapshots, newest first.
    """
    folder = settings.published_dir(client_id)
    current = current_snapshot(settings, client_id)
    others = sorted((p for p in folder.glob("*.duckdb") if p != current), key=lambda p: p.name, reverse=True)
    for snapshot in [*([current] if current else []), *others]:
        row = _run_row(snapshot)
        if row is None:
            continue
        if row.get("status") == PUBLISHED:  # its own marts, and its gate passed
            return GoodData(snapshot, str(row["run_id"]), row.get("finished_at"))
        data_run_id = row.get("data_run_id")
        if isinstance(data_run_id, str) and data_run_id:
            return GoodData(snapshot, data_run_id, row.get("data_finished_at"))
    return None


def _remove_leftovers(folder: Path) -> None:
    """Files a killed publish left: a snapshot never renamed (and its WAL), a pointer never switched."""
    for leftover in [*folder.glob(".*.duckdb.partial*"), folder / f".{CURRENT_POINTER}.tmp"]:
        if leftover.exists():
            log.info("Removing %s, left by an interrupted publish.", leftover.name)
            leftover.unlink(missing_ok=True)


def _fsync(path: Path) -> None:
    with open(path, "rb+") as handle:
        os.fsync(handle.fileno())


def publish_client(
    settings: Settings,
    config: ClientConfig,
    run: RunInfo,
    gate_results: pd.DataFrame | None,
    model_results: Sequence[Any],
) -> Path:
    """Copy the client's marts and this run's results into a new snapshot and make it current.

    For a run whose gate failed, the marts and model results come from the last good snapshot instead
    (see the module's docstring); ``run.reason`` says what failed.
    """
    folder = settings.published_dir(config.id)
    folder.mkdir(parents=True, exist_ok=True)
    _remove_leftovers(folder)
    final = folder / f"{run.run_id}.duckdb"
    partial = folder / f".{run.run_id}.duckdb.partial"
    held_back = run.status == GATE_FAILED or run.gate_passed is False
    good = last_good_data(settings, config.id) if held_back else None
    earlier = current_meta(settings, config.id, "level_history")
    earlier_levels = earlier["level_history"] if earlier else None  # None: the history starts with this run
    finished_at = datetime.now(UTC)

    gate_frame = gate_results if gate_results is not None else pd.DataFrame(columns=GATE_COLUMNS)
    gate_frame = gate_frame.reindex(columns=GATE_COLUMNS)
    model_frames: dict[str, pd.DataFrame] = {
        "model_results": _frame(model_results, MODEL_COLUMNS),
        "model_features": _per_model(model_results, "top_features", FEATURE_COLUMNS),
        "operating_windows": _per_model(model_results, "operating_windows", window_columns()).astype(
            {"sentence": "string", "wording": "string"}
        ),
        "model_holdout_daily": _per_model(model_results, "holdout_daily", DAILY_COLUMNS).astype(
            {"day": "string", "actual": "float64", "expected": "float64", "baseline": "float64"}
        ),
        "model_operation_weekly": _per_model(model_results, "operation_weekly", OPERATION_COLUMNS).astype(
            {
                "week": "string",
                "model_version": "string",
                "rows": "Int64",
                "live_rows": "Int64",
                "actual": "float64",
                "predicted": "float64",
                "metric": "float64",
                "drift": "boolean",
                "sentence": "string",
                "wording": "string",
            }
        ),
        "model_incidents": _per_model(model_results, "incidents", INCIDENT_COLUMNS).astype(
            {
                "machine_id": "string",
                "kind": "string",
                "warned": "boolean",
                "warning_h": "float64",
                "baseline_warned": "boolean",
                "baseline_warning_h": "float64",
            }
        ),
        "model_alarms": _per_model(model_results, "alarms", ALARM_COLUMNS).astype(
            {"machine_id": "string", "score": "float64", "moved": "string"}
        ),
        "model_scores": _per_model(model_results, "scores", SCORE_COLUMNS).astype(
            {"model_version": "string", "score": "float64", "outcome": "float64", "key": "string"}
        ),
    }
    scores = model_frames["model_scores"]
    scores["time"] = pd.to_datetime(scores["time"], utc=True)
    incidents = model_frames["model_incidents"]
    incidents["reported_at"] = pd.to_datetime(incidents["reported_at"], utc=True)
    alarms = model_frames["model_alarms"]
    alarms["time"] = pd.to_datetime(alarms["time"], utc=True)
    run_frame = pd.DataFrame(
        [
            {
                "run_id": run.run_id,
                "client_id": config.id,
                "client_name": config.name,
                "industry": config.industry,
                "region": config.region,
                "process": config.process,
                "timezone": config.timezone,
                "models": ", ".join(config.models),
                "started_at": run.started_at,
                "finished_at": finished_at,
                "status": run.status,
                "gate_passed": run.gate_passed,
                # The run whose marts (and model results) this snapshot holds, and when it finished.
                "data_run_id": (good.run_id if good else None) if held_back else run.run_id,
                "data_finished_at": (good.finished_at if good else None) if held_back else finished_at,
                "reason": run.reason,
                # The reason as its message and values, worded in the reader's language (reports/words.py).
                "wording": run.reason_wording,
            }
        ]
    ).astype({"data_run_id": "string", "reason": "string", "wording": "string"})
    run_frame["data_finished_at"] = pd.to_datetime(run_frame["data_finished_at"], utc=True)

    log.info("Writing snapshot %s for %s…", final.name, config.id)
    con = duckdb.connect(str(partial))
    try:
        con.execute("ATTACH ? AS warehouse (READ_ONLY)", [str(settings.warehouse_path(config.id))])
        con.execute("CREATE SCHEMA marts")
        con.execute("CREATE SCHEMA meta")
        # The marts to publish: this run's, or for a failed gate the last good snapshot's (or none).
        source = "warehouse"
        if held_back and good is not None:
            con.execute("ATTACH ? AS previous (READ_ONLY)", [str(good.snapshot)])
            source = "previous"
            model_frames = _previous_models(con, model_frames)
        model_frames["model_results"] = _typed_model_results(model_frames["model_results"])
        marts = (
            []
            if held_back and good is None
            else [
                row[0]
                for row in con.execute(
                    "SELECT table_name FROM information_schema.tables "
                    "WHERE table_catalog = ? AND table_schema = 'marts' ORDER BY table_name",
                    [source],
                ).fetchall()
            ]
        )
        for table in marts:
            # Only this client's rows, even if a mart were ever built wider than one client.
            con.execute(
                f'CREATE TABLE marts."{table}" AS SELECT * FROM {source}.marts."{table}" WHERE client_id = ?',
                [config.id],
            )
        profile = _table_profile(con)
        # No data passed the gate yet: no level to show either.
        unverified = held_back and good is None
        level, evidence = _level_frames(settings, config, con, None if unverified else source, model_frames)
        recommended = _recommendations(
            config, con, None if unverified else source, level, evidence, model_frames
        )
        level_history = cohort.history_with(
            earlier_levels,
            run.run_id,
            finished_at,
            int(level["level"].iloc[0]) if len(level) else None,
            str(level["rules_version"].iloc[0]) if len(level) else None,
            carried=held_back,
        )
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
            **model_frames,
            "table_profile": profile,
            "level": level,
            "level_evidence": evidence,
            "level_history": level_history,
            "recommendations": recommended,
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
        if source == "previous":
            con.execute("DETACH previous")
    finally:
        con.close()

    _make_current(folder, partial, final)
    if held_back:
        log.warning(
            "Published %s for %s: its quality gate failed, so it shows the marts of run %s.",
            final.name,
            config.id,
            good.run_id if good else "(none: no run has passed yet)",
        )
    else:
        log.info("Published %s for %s (%d marts).", final.name, config.id, len(marts))
    _prune(folder, keep=final.name)
    return final


def _level_frames(
    settings: Settings,
    config: ClientConfig,
    con: duckdb.DuckDBPyConnection,
    source: str | None,
    model_frames: dict[str, pd.DataFrame],
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The client's smart-factory level and its evidence (forgeline/program/levels.py), from this run's
    data; for a run whose gate failed, the last good snapshot's (none if it has none)."""
    if source != "warehouse":
        carried = _carried(con, source, "level", "level_evidence")
        return (carried[0], carried[1]) if carried else levels.empty_frames()
    rules, digest = levels.load_rules(levels.rules_path(settings))
    sources = levels.Sources(
        con=con,
        catalog="warehouse",
        timezone=config.timezone,
        operating_windows=model_frames["operating_windows"],
        operation_weekly=model_frames["model_operation_weekly"],
        made_up_times=levels.made_up_times(config),
    )
    assessment = levels.assess(sources, rules, digest)
    log.info(
        "%s: smart-factory level %d (%s), rules %s",
        config.id,
        assessment.level,
        assessment.level_name,
        rules.version,
    )
    return assessment.frames()


def _recommendations(
    config: ClientConfig,
    con: duckdb.DuckDBPyConnection,
    source: str | None,
    level: pd.DataFrame,
    evidence: pd.DataFrame,
    model_frames: dict[str, pd.DataFrame],
) -> pd.DataFrame:
    """What to run or do next (forgeline/program/recommendations.py), from this run's warehouse; for a run
    whose gate failed, the last good snapshot's (none if it has none), as for the level."""
    if source != "warehouse" or level.empty:
        carried = _carried(con, source, "recommendations")
        return carried[0] if carried else recommendations.empty()
    next_level = level["next_level"].iloc[0]
    return recommendations.recommend(
        recommendations.facts(con, "warehouse"),
        evidence,
        None if pd.isna(next_level) else int(next_level),
        model_frames["model_results"],
        list(config.models),
    )


def _carried(con: duckdb.DuckDBPyConnection, source: str | None, *tables: str) -> list[pd.DataFrame] | None:
    """For a run whose gate failed, these meta tables of the last good snapshot (attached as ``previous``);
    None when there is none, or it predates one of them."""
    if source != "previous" or not set(tables) <= _meta_tables(con, "previous"):
        return None
    return [con.execute(f'SELECT * FROM previous.meta."{table}"').df() for table in tables]


def _meta_tables(con: duckdb.DuckDBPyConnection, catalog: str) -> set[str]:
    return {
        row[0]
        for row in con.execute(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_catalog = ? AND table_schema = 'meta'",
            [catalog],
        ).fetchall()
    }


def _make_current(folder: Path, partial: Path, final: Path) -> None:
    """Rename a complete snapshot into place, then switch ``CURRENT`` to it (each step atomic)."""
    _fsync(partial)
    os.replace(partial, final)
    pointer_tmp = folder / f".{CURRENT_POINTER}.tmp"
    pointer_tmp.write_text(final.name, encoding="utf-8")
    _fsync(pointer_tmp)
    log.info("Switching %s of %s to %s…", CURRENT_POINTER, folder.name, final.name)
    os.replace(pointer_tmp, folder / CURRENT_POINTER)


def publish_champion(
    settings: Settings, client_id: str, registered_model: str, version: str, decision: str = ""
) -> Path | None:
    """After a consultant chose the champion by hand (`forgeline models promote/rollback`): a new snapshot,
    the current one with ``is_champion`` of ``registered_model`` saying ``version``, made current.

    Snapshots are never changed in place: the current one is copied (it is closed and immutable), its flags
    updated, and the copy switched in like any publish, under a new id (``meta.run`` still names the run
    whose data it holds). None when the current snapshot needs no change: none yet, no results of that
    model, or already showing ``version`` as champion. ``decision`` (who chose, and why) replaces the
    policy's sentence shown beside the model, which no longer says what is champion. Call it with the
    client's lock held.
    """
    current = current_snapshot(settings, client_id)
    if current is None:
        return None
    con = duckdb.connect(str(current), read_only=True)
    try:
        flags = con.execute(
            "SELECT CAST(model_version AS VARCHAR), is_champion FROM meta.model_results "
            "WHERE registered_model = ?",
            [registered_model],
        ).fetchall()
    except duckdb.Error:  # a snapshot without model results
        flags = []
    finally:
        con.close()
    if all(bool(flag) == (shown == str(version)) for shown, flag in flags):
        return None
    folder = settings.published_dir(client_id)
    _remove_leftovers(folder)
    from forgeline.outcomes import new_run_id  # the same sortable ids as runs: the newest name is current

    final = folder / f"{new_run_id()}.duckdb"
    partial = folder / f".{final.name}.partial"
    shutil.copyfile(current, partial)
    con = duckdb.connect(str(partial))
    try:
        # A snapshot published before decisions were kept has no such column yet.
        con.execute("ALTER TABLE meta.model_results ADD COLUMN IF NOT EXISTS champion_decision VARCHAR")
        con.execute(
            "UPDATE meta.model_results SET is_champion = (CAST(model_version AS VARCHAR) = ?), "
            "champion_decision = coalesce(nullif(?, ''), champion_decision) WHERE registered_model = ?",
            [str(version), decision, registered_model],
        )
        if decision:  # the policy's stored sentence no longer says what is champion: its wording goes too
            _forget_wording(con, registered_model, "champion_decision")
    finally:
        con.close()
    _make_current(folder, partial, final)
    log.info(
        "Published %s for %s: version %s of %s is champion.", final.name, client_id, version, registered_model
    )
    _prune(folder, keep=final.name)
    return final


def _forget_wording(con: duckdb.DuckDBPyConnection, registered_model: str, part: str) -> None:
    """Drop ``part`` from the stored wording of ``registered_model``'s rows (none in an older snapshot)."""
    try:
        rows = con.execute(
            "SELECT DISTINCT wording FROM meta.model_results WHERE registered_model = ? AND wording <> ''",
            [registered_model],
        ).fetchall()
    except duckdb.BinderException:  # published before results kept their wording
        return
    for (text,) in rows:
        try:
            stored = json.loads(text)
        except ValueError:
            stored = None
        kept = {k: v for k, v in stored.items() if k != part} if isinstance(stored, dict) else {}
        con.execute(
            "UPDATE meta.model_results SET wording = ? WHERE registered_model = ? AND wording = ?",
            [json.dumps(kept, ensure_ascii=False) if kept else "", registered_model, text],
        )


def _typed_model_results(models: pd.DataFrame) -> pd.DataFrame:
    """Text columns as text and each family's figures as doubles (NULL where absent), also for a previous
    snapshot's results that predate a column: never an untyped or all-NULL DOUBLE text column."""
    models = models.copy()
    for column in ("champion_decision", "learner_note", "family", "unit", "wording"):
        models[column] = models[column].fillna("").astype(str)
    models["family"] = models["family"].replace("", "event")  # results from before families were recorded
    models[FAMILY_FIGURES] = models[FAMILY_FIGURES].apply(pd.to_numeric, errors="coerce").astype("float64")
    return models


def _previous_models(
    con: duckdb.DuckDBPyConnection, frames: dict[str, pd.DataFrame]
) -> dict[str, pd.DataFrame]:
    """The last good snapshot's model tables (a failed gate trains nothing; the champion stays), in this
    version's columns (a table older snapshots lack stays as given: empty)."""
    found = {
        row[0]
        for row in con.execute(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_catalog = 'previous' AND table_schema = 'meta'"
        ).fetchall()
    }
    return {
        name: (
            con.execute(f"SELECT * FROM previous.meta.{name}").df().reindex(columns=frame.columns)
            if name in found
            else frame
        )
        for name, frame in frames.items()
    }


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

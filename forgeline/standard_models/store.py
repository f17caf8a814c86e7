"""The program's MLflow store (SQLite tracking + registry): created once, atomically, and the workspace's own.

Three rules keep it sound whatever happens to a process or a workspace:

- **Created and migrated once, atomically** (:func:`ensure_mlflow_store`). MLflow creates its tables by
  running every schema migration in turn, which takes tens of seconds; a process killed half way used to
  leave a half-migrated file that every later run failed on (``table evaluation_datasets already
  exists``). Here the store is built (or upgraded) in a temporary file under a file lock and renamed into
  place only when complete: the store is either absent, or whole and current.
- **Always the current workspace's own.** MLflow records absolute artifact locations (experiments, runs,
  logged models, model versions), resolved when each is created: a copied or moved workspace would
  read, and write new runs into, the original one's folder. The store remembers the artifact root it was
  written for (table ``forgeline_workspace``); when that is not the current workspace's root, every
  location under it is rebased in one transaction before anything reads or trains.
- **A killed run never counts** (:func:`recover_interrupted`). A run a killed process left RUNNING is
  closed as FAILED at the next start for its client, the models it began logging are marked FAILED, and
  registered versions whose run did not finish (and that no alias names) are deleted: the reuse logic only
  ever picks a FINISHED run, and the registry only ever shows versions of finished runs.
"""

from __future__ import annotations

import logging
import os
import shutil
import sqlite3
import time
import uuid
from pathlib import Path
from typing import Any

from filelock import FileLock

from forgeline.settings import Settings

log = logging.getLogger("forgeline.standard_models")

SQLITE_PREFIX = "sqlite:///"
WORKSPACE_TABLE = "forgeline_workspace"
EXPERIMENT_PREFIX = "forgeline/"

_ENSURED: set[tuple[str, str]] = set()  # (store, artifact root) already checked by this process


class MlflowStoreError(RuntimeError):
    """The MLflow store cannot be created, upgraded or rebased; the message says what to do."""


def store_path(settings: Settings) -> Path | None:
    """The SQLite file of the program's MLflow store; None for a tracking server or another database."""
    uri = settings.mlflow_tracking_uri
    return Path(uri.removeprefix(SQLITE_PREFIX)) if uri.startswith(SQLITE_PREFIX) else None


def artifact_root_uri(settings: Settings) -> str:
    return settings.mlflow_artifact_root.as_uri()


def experiment_name(client_id: str) -> str:
    return f"{EXPERIMENT_PREFIX}{client_id}"


def ensure_mlflow_store(settings: Settings) -> None:
    """Make sure the store exists, has MLflow's current schema and belongs to this workspace.

    Call it once before anything trains (the program and each engagement do). Cheap when the store is
    already in order; the first call in a workspace creates it (all of MLflow's migrations: 3-5 s here).
    """
    path = store_path(settings)
    if path is None:  # a tracking server or another database: its operator creates and migrates it
        return
    root = artifact_root_uri(settings)
    if (str(path), root) in _ENSURED and path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    settings.mlflow_artifact_root.mkdir(parents=True, exist_ok=True)
    with FileLock(path.with_name(f".{path.name}.lock"), thread_local=False):
        for stale in path.parent.glob(f".{path.name}.*.partial*"):  # a creation killed half way
            stale.unlink(missing_ok=True)
        if not path.exists() or not _schema_is_current(path):
            _build(path, settings)
        _rebase(path, root)
    _ENSURED.add((str(path), root))


def _latest_revision() -> str:
    from mlflow.store.db.utils import _get_latest_schema_revision

    return _get_latest_schema_revision()


def _schema_is_current(path: Path) -> bool:
    con = sqlite3.connect(path, timeout=60)
    try:
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if "alembic_version" not in tables:
            return False
        row = con.execute("SELECT version_num FROM alembic_version").fetchone()
    finally:
        con.close()
    return row is not None and row[0] == _latest_revision()


def _holds_data(path: Path) -> bool:
    """Whether a store that cannot be upgraded holds anything worth keeping (runs or registered models)."""
    con = sqlite3.connect(path, timeout=60)
    try:
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        return any(
            con.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]
            for table in ("runs", "registered_models")
            if table in tables
        )
    finally:
        con.close()


def _migrate(uri: str, upgrading: bool, artifact_root: str) -> None:
    """Bring the SQLite file at ``uri`` to MLflow's current schema (all of it, for a new file)."""
    import sqlalchemy
    from mlflow.store.db.utils import _all_tables_exist, _upgrade_db
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    try:
        if upgrading:
            engine = sqlalchemy.create_engine(uri)
            try:
                if _all_tables_exist(engine):
                    _upgrade_db(engine)
            finally:
                engine.dispose()
        # A fresh file gets every table and migration; the store also creates the default experiment,
        # with an artifact location inside this workspace (never the process's working directory).
        SqlAlchemyStore(uri, artifact_root)
    finally:
        # MLflow caches one engine per URI: never leave one open on the temporary file.
        cached = SqlAlchemyStore._engine_map.pop(uri, None)
        if cached is not None:
            cached.dispose()


def _build(path: Path, settings: Settings) -> None:
    """Create (or upgrade a copy of) the store in a temporary file, then rename it into place."""
    partial = path.with_name(f".{path.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.partial")
    upgrading = path.exists()
    if upgrading:
        shutil.copyfile(path, partial)
        log.info("Upgrading the MLflow store %s to MLflow's current schema…", path)
    else:
        log.info("Creating the MLflow store %s (once per workspace; MLflow migrates its schema)…", path)
    uri = f"{SQLITE_PREFIX}{partial}"
    try:
        _migrate(uri, upgrading, artifact_root_uri(settings))
    except Exception as exc:
        partial.unlink(missing_ok=True)
        if upgrading and not _holds_data(path):
            # A store left half-migrated by a killed process (before stores were built aside): it holds
            # no run and no model; keep it aside and build a fresh one.
            aside = path.with_name(f"{path.name}.broken-{int(time.time())}")
            os.replace(path, aside)
            log.warning(
                "The MLflow store %s could not be migrated (%s); kept as %s, built anew.", path, exc, aside
            )
            _build(path, settings)
            return
        raise MlflowStoreError(
            f"The MLflow store {path} could not be {'upgraded' if upgrading else 'created'}: {exc}. "
            "Keep a copy of the file and see docs/architecture.md (MLflow) before retrying."
        ) from exc
    with open(partial, "rb+") as handle:
        os.fsync(handle.fileno())
    os.replace(partial, path)
    log.info("MLflow store ready: %s", path)


def _text_columns(con: sqlite3.Connection) -> list[tuple[str, str]]:
    found = []
    tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    for table in tables:
        if table.startswith("sqlite_") or table in (WORKSPACE_TABLE, "alembic_version"):
            continue
        for _, column, kind, *_ in con.execute(f'PRAGMA table_info("{table}")'):
            if any(word in (kind or "").upper() for word in ("CHAR", "TEXT", "CLOB")):
                found.append((table, column))
    return found


def _recorded_root(con: sqlite3.Connection) -> str | None:
    """The artifact root the store's locations were written for (stores from before the marker: derived)."""
    row = con.execute(f"SELECT value FROM {WORKSPACE_TABLE} WHERE key = 'artifact_root'").fetchone()
    if row:
        return row[0]
    for name, location in con.execute(
        "SELECT name, artifact_location FROM experiments WHERE name LIKE ? ORDER BY experiment_id",
        [f"{EXPERIMENT_PREFIX}%"],
    ):
        suffix = "/" + name.removeprefix(EXPERIMENT_PREFIX)
        if location and location.endswith(suffix):
            return location.removesuffix(suffix)
    return None


def _rebase(path: Path, root: str) -> None:
    """Point every location the store recorded under an earlier workspace's artifact root at this one's."""
    from urllib.parse import unquote, urlparse

    con = sqlite3.connect(path, timeout=60, isolation_level=None)
    try:
        con.execute("BEGIN IMMEDIATE")
        con.execute(
            f"CREATE TABLE IF NOT EXISTS {WORKSPACE_TABLE} (key TEXT PRIMARY KEY, value TEXT NOT NULL)"
        )
        old = _recorded_root(con)
        changed = 0
        if old and old != root:
            # The same root as a URI and as a plain path: MLflow records both forms in places.
            pairs = [(old, root), (unquote(urlparse(old).path), unquote(urlparse(root).path))]
            for table, column in _text_columns(con):
                for before, after in pairs:
                    changed += con.execute(
                        f'UPDATE "{table}" SET "{column}" = ? || substr("{column}", ?) '
                        f'WHERE "{column}" = ? OR substr("{column}", 1, ?) = ?',
                        [after, len(before) + 1, before, len(before) + 1, before + "/"],
                    ).rowcount
        con.execute(
            f"INSERT INTO {WORKSPACE_TABLE} VALUES ('artifact_root', ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            [root],
        )
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    finally:
        con.close()
    if changed:
        log.warning(
            "The MLflow store %s was written in another workspace (%s): %d location(s) now point into this "
            "workspace (%s).",
            path,
            old,
            changed,
            root,
        )


def tracking_client(settings: Settings) -> Any:
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=settings.mlflow_tracking_uri, registry_uri=settings.mlflow_tracking_uri)


def recover_interrupted(settings: Settings, client_id: str) -> list[str]:
    """Close what a killed run of ``client_id`` left open; returns the run ids marked FAILED.

    Call it with the client's run lock held (one writer per client): any run of the client's experiment
    still RUNNING then belongs to a process that no longer exists.
    """
    from mlflow.entities import ViewType

    client = tracking_client(settings)
    experiment = client.get_experiment_by_name(experiment_name(client_id))
    if experiment is None:
        return []
    ids = [experiment.experiment_id]
    interrupted = client.search_runs(
        ids, filter_string="attributes.status = 'RUNNING'", run_view_type=ViewType.ALL
    )
    for run in interrupted:
        client.set_tag(run.info.run_id, "forgeline.interrupted", "true")
        client.set_terminated(run.info.run_id, status="FAILED")
        log.warning(
            "%s: MLflow run %s (%s) was left running by a stopped process; marked FAILED.",
            client_id,
            run.info.run_id,
            run.data.tags.get("model_name", "?"),
        )
    for model in _pending_models(client, ids):  # models a killed run began logging
        client.finalize_logged_model(model.model_id, "FAILED")
    _drop_unfinished_versions(client, client_id)
    return [run.info.run_id for run in interrupted]


def _pending_models(client: Any, experiment_ids: list[str]) -> list[Any]:
    from mlflow.entities import LoggedModelStatus

    found, token = [], None
    while True:
        page = client.search_logged_models(experiment_ids, page_token=token)
        found += [m for m in page if m.status == LoggedModelStatus.PENDING]
        token = page.token
        if not token:
            return found


def _drop_unfinished_versions(client: Any, client_id: str) -> None:
    """Registered versions whose run did not finish, and that no alias names, are deleted."""
    prefix = f"{client_id}__"
    for registered in client.search_registered_models():
        if not registered.name.startswith(prefix):
            continue
        aliased = {str(v) for v in (registered.aliases or {}).values()}
        for version in client.search_model_versions(f"name = '{registered.name}'"):
            if str(version.version) in aliased or not version.run_id:
                continue
            try:
                status = client.get_run(version.run_id).info.status
            except Exception:  # the run is gone: the version has nothing behind it
                status = "MISSING"
            if status != "FINISHED":
                client.delete_model_version(registered.name, version.version)
                log.warning(
                    "%s: version %s of %s came from run %s, which did not finish (%s); deleted.",
                    client_id,
                    version.version,
                    registered.name,
                    version.run_id,
                    status,
                )

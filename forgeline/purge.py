"""Purge a client at the end of its engagement: every trace of it in the workspace, then a certificate.

``forgeline purge CLIENT`` (forgeline/cli.py) is a thin front to this module. What a client leaves, store
by store (every path from :mod:`forgeline.settings`; docs/architecture.md says who writes each):

- files: its folder (mapping, history, client models, samples, filed reports), landing and withdrawn
  files, the warehouse file and DuckDB's companions, dbt's target and logs, the quality gate's project and
  Data Docs, published snapshots, its last-run record, its MLflow artifacts, and at the very end its lock
  file;
- records shared with other clients, rewritten without it: program run records (``runs/<run_id>.json``),
  the consultants' findings on it with every version and event (``program/workbench.duckdb``, written anew),
  logins (``auth/users.yml``, through :func:`forgeline.auth.remove_logins_for`), log files of the
  distributed set-up (lines naming the client);
- MLflow: the client's registered models (with their versions, tags, aliases), its experiment with every
  run and logged model, deleted permanently with MLflow's own ``mlflow gc``, then its artifact folder; the
  SQLite store is VACUUMed so no freed page keeps a byte of it;
- Prefect: the client's engagement flow runs (with their task runs, states and logs) and the program's
  ``engagement <client>`` task runs are deleted through Prefect's client API, so this works against the
  ephemeral API and a server alike, and the client's concurrency limit with them. Prefect has no API that
  deletes events, nor single log lines of a run shared with other clients (the program's progress lines),
  so those are deleted with SQL in Prefect's database (``_sweep_database``), and what the API leaves to a
  background task (the deleted runs' logs) is deleted there too; a shared record that names the client
  (the program run's parameters or state message) has the id replaced. The ephemeral SQLite database is
  VACUUMed afterwards. On a server whose database Forgeline does not know, this step cannot run: the
  certificate says so.

The purge holds the client's run lock throughout (a run cannot write meanwhile), and every step can be
run again: a purge stopped half way is finished by running it again, and a client with nothing left is
reported as such, with nothing written. The certificate (``Settings.purge_certificates_dir``) says what
was removed (kinds and counts), when and by whom, and identifies the client only by a salted hash, so it
holds no data of the client: :func:`verify_certificate` tells whether it was written for a given id.
After the purge the whole workspace is searched for the client's id, in file names and contents (binary
files too), and anything found is named in the certificate (with the id blanked out) and in the output.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
import secrets
import shutil
import sqlite3
import subprocess
import sys
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from forgeline import tools
from forgeline.atomic import write_atomically
from forgeline.locking import client_lock, open_warehouse
from forgeline.program import benchmarks, findings
from forgeline.settings import CLIENT_ID_PATTERN, Settings, check_client_id

Progress = Callable[[str], None]

CERTIFICATE_VERSION = 1
PURGED_MARK = "[purged client]"  # replaces the id in a shared record that must stay (another client's)
_CHUNK = 8 * 1024 * 1024
_CHILD_RESULT = "FORGELINE-PURGE-RESULT "

# Program stores computed across clients, recomputed without a purged client once its own data is gone:
# ``(name, forget(settings, client_id))``; the certificate lists the names.
PROGRAM_STORES_TO_REBUILD: list[tuple[str, Callable[[Settings, str], None]]] = [
    ("pooled benchmarks", benchmarks.forget),
    ("the tools' docs site", tools.forget),
    ("consultants' findings", findings.forget),
]

# Rows of Prefect's tables that are the client's alone once they name it: deleted. A row of any other table
# that names it (a program run's parameters or state message, shared with other clients) keeps its place
# with the id replaced by PURGED_MARK.
_PREFECT_DELETABLE = ("log", "events", "event_resources", "task_run_state_cache", "automation_event_follower")


class PurgeError(RuntimeError):
    """A step of the purge could not be done; the message says which and what to do (then run it again)."""


class Trace:
    """Finds the client's id in bytes or text, never inside another client's longer id: purging ``acme``
    must not touch ``acme-press``'s files, log lines or records (their names hold ``acme`` too)."""

    def __init__(self, client_id: str, others: list[str]) -> None:
        self.client_id = client_id
        # Another id holding this one wins where both match (tried first, longest first); group 1 is ours.
        longer = sorted((o for o in others if client_id in o and o != client_id), key=len, reverse=True)
        alternatives = [re.escape(o) for o in longer] + [f"({re.escape(client_id)})"]
        self._text = re.compile("|".join(alternatives))
        self._bytes = re.compile("|".join(alternatives).encode("utf-8"))
        self.needle = client_id.encode("utf-8")
        self.margin = max(len(o) for o in [client_id, *longer])  # the longest match, in bytes (ASCII ids)

    def in_text(self, text: str) -> bool:
        return self.client_id in text and any(m.group(1) for m in self._text.finditer(text))

    def in_bytes(self, data: bytes, first: bool = True, final: bool = True) -> bool:
        """Whether ``data`` holds the id; in a window of a longer file, only a match whose surroundings are
        all inside the window is judged (``first``/``final``: the window starts/ends the file)."""
        if self.needle not in data:
            return False
        for match in self._bytes.finditer(data):
            if match.group(1) is None:
                continue
            whole_before = first or match.start() >= self.margin
            whole_after = final or match.end() <= len(data) - self.margin
            if whole_before and whole_after:
                return True
        return False

    def blank(self, text: str) -> str:
        """``text`` with the id replaced by PURGED_MARK (other clients' ids left as they are)."""
        return self._text.sub(lambda m: PURGED_MARK if m.group(1) else m.group(0), text)

    def in_file(self, path: Path) -> bool:
        """Whether the file's bytes hold the id (read in blocks; each window overlaps the last)."""
        carry, first = b"", True
        try:
            with path.open("rb") as handle:
                while True:
                    block = handle.read(_CHUNK)
                    window = carry + block
                    if self.in_bytes(window, first=first, final=not block):
                        return True
                    if not block:
                        return False
                    # Three margins: every match not judged in this window is judged whole in the next
                    # (which still starts the file when the carry is all of this one).
                    keep = 3 * self.margin
                    carry, first = window[-keep:], first and len(window) <= keep
        except OSError:
            return False


def known_client_ids(settings: Settings) -> list[str]:
    """Every client id the workspace knows of: folders of clients, deliveries, snapshots, warehouses."""
    folders = [settings.clients_dir, settings.published_root, settings.warehouse_dir]
    probe = "a" * 2  # any valid id: only the parent folders of these per-client paths are wanted
    folders += [p(probe).parent for p in (settings.landing_dir, settings.quality_dir, settings.dbt_dir)]
    folders.append(settings.consent_dir)
    names = {p.name.split(".")[0] for folder in folders if folder.is_dir() for p in folder.iterdir()}
    return sorted(n for n in names if CLIENT_ID_PATTERN.match(n))


@dataclass
class Item:
    """One kind of trace: how many (files, tables, runs…) and, for files, how many bytes."""

    kind: str
    count: int
    unit: str
    bytes: int = 0

    def describe(self) -> str:
        size = f" ({_size(self.bytes)})" if self.bytes else ""
        return f"{self.kind}: {self.count:,} {self.unit}{size}"


@dataclass
class Inventory:
    """What is left of a client in the workspace (what a purge would remove)."""

    items: list[Item] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what is only known while purging (Prefect on a server)

    @property
    def empty(self) -> bool:
        return not any(item.count for item in self.items)

    def lines(self) -> list[str]:
        return [item.describe() for item in self.items if item.count] + self.notes


@dataclass
class Certificate:
    path: Path
    removed: list[Item]
    remaining: list[str]  # traces the final search still found (the id blanked out)


# -- the client's stores -----------------------------------------------------------------------------------
def _file_stores(settings: Settings, client_id: str) -> list[tuple[str, list[Path]]]:
    """Every file or folder that is the client's alone, by kind (the lock file is removed last, apart)."""
    return [
        ("published snapshots", [settings.published_dir(client_id)]),
        ("MLflow artifacts", [settings.mlflow_artifact_dir(client_id)]),
        ("quality results and Data Docs", [settings.quality_dir(client_id)]),
        ("warehouse", settings.warehouse_files(client_id)),
        ("dbt target and logs", [settings.dbt_dir(client_id)]),
        ("landing files", [settings.landing_dir(client_id)]),
        ("withdrawn files", [settings.withdrawn_dir(client_id)]),
        ("last-run record", [settings.last_run_path(client_id)]),
        ("consent record", [settings.consent_path(client_id)]),
        ("client folder (mapping, history, client models, filed reports)", [settings.client_dir(client_id)]),
    ]


def _tree(paths: list[Path]) -> tuple[int, int]:
    """Files and bytes under ``paths`` (links counted, never followed)."""
    files = size = 0
    for path in paths:
        if path.is_symlink() or path.is_file():
            files, size = files + 1, size + path.lstat().st_size
        elif path.is_dir():
            for root, _, names in os.walk(path):
                for name in names:
                    files, size = files + 1, size + (Path(root) / name).lstat().st_size
    return files, size


def _remove(paths: list[Path]) -> None:
    for path in paths:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)


def _warehouse_tables(settings: Settings, client_id: str) -> int:
    """Tables and views in the client's warehouse (raises WarehouseInUse if another program holds it)."""
    import duckdb

    if not settings.warehouse_path(client_id).exists():
        return 0
    try:
        con = open_warehouse(settings, client_id, read_only=True)
    except duckdb.Error:  # damaged (a killed first ingest): it goes all the same, its tables uncounted
        return 0
    try:
        tables = con.execute("SELECT count(*) FROM duckdb_tables()").fetchone()[0]
        views = con.execute("SELECT count(*) FROM duckdb_views() WHERE NOT internal").fetchone()[0]
        return int(tables + views)
    finally:
        con.close()


def _program_records(settings: Settings, client_id: str) -> list[Path]:
    """Program run records listing the client among the clients of that run."""
    found = []
    for path in settings.program_run_paths():
        with suppress(OSError, ValueError):
            record = json.loads(path.read_text(encoding="utf-8"))
            if any(c.get("client_id") == client_id for c in record.get("clients") or []):
                found.append(path)
    return found


def _rewrite_program_records(settings: Settings, client_id: str) -> tuple[int, int]:
    """Each program run record without the client (atomically); a record of this client alone goes."""
    rewritten = deleted = 0
    for path in _program_records(settings, client_id):
        record = json.loads(path.read_text(encoding="utf-8"))
        record["clients"] = [c for c in record.get("clients") or [] if c.get("client_id") != client_id]
        if not record["clients"]:
            path.unlink()
            deleted += 1
            continue
        write_atomically(path, json.dumps(record, indent=2, ensure_ascii=False, default=str))
        rewritten += 1
    return rewritten, deleted


def _findings_items(settings: Settings, client_id: str) -> list[Item]:
    """The consultants' findings on the client and their versions (forgeline/program/findings.py)."""
    written, versions = findings.count(settings, client_id)
    return [
        Item("consultants' findings", written, "findings"),
        Item("findings' versions", versions, "versions"),
    ]


def _log_files(settings: Settings) -> list[Path]:
    """Log files Forgeline's processes write outside a client's folders: the distributed set-up's servers
    and workers (forgeline/deploy.py) and the stack's tools (forgeline/tools.py: the MLflow UI logs the
    requests it answers, which name clients' experiments and models). dbt's logs are per client, removed
    with its dbt folder."""
    roots = [root for root in (settings.deploy_root, settings.tools_dir) if root.exists()]
    return sorted(p for root in roots for p in root.rglob("*.log") if p.is_file())


def _scrub_log_lines(path: Path, trace: Trace) -> int:
    """Rewrite a log file without its lines naming the client; returns the lines removed."""
    data = path.read_bytes()
    if not trace.in_bytes(data):
        return 0
    lines = data.splitlines(keepends=True)
    kept = [line for line in lines if not trace.in_bytes(line)]
    write_atomically(path, b"".join(kept))
    return len(lines) - len(kept)


# -- MLflow --------------------------------------------------------------------------------------------------
@dataclass
class _MlflowFound:
    experiment_id: str | None = None
    experiment_active: bool = False
    runs: list[str] = field(default_factory=list)
    active_runs: list[str] = field(default_factory=list)
    logged_models: list[str] = field(default_factory=list)
    registered: dict[str, int] = field(default_factory=dict)  # name -> versions

    @property
    def items(self) -> list[Item]:
        return [
            Item("MLflow registered models", len(self.registered), "models"),
            Item("MLflow model versions", sum(self.registered.values()), "versions"),
            Item("MLflow experiment", int(self.experiment_id is not None), "experiment"),
            Item("MLflow runs", len(self.runs), "runs"),
            Item("MLflow logged models", len(self.logged_models), "models"),
        ]


def _mlflow_client(settings: Settings) -> Any | None:
    """The program's MLflow client, or None when nothing was ever tracked in this workspace."""
    from forgeline.standard_models.store import ensure_mlflow_store, store_path, tracking_client

    path = store_path(settings)
    if path is not None and not path.exists():
        return None
    ensure_mlflow_store(settings)  # a copied workspace's store is rebased first, as before any run
    return tracking_client(settings)


def _mlflow_found(client: Any, client_id: str) -> _MlflowFound:
    from mlflow.entities import ViewType

    from forgeline.standard_models import registered_model_name
    from forgeline.standard_models.store import experiment_name

    found = _MlflowFound()
    prefix = registered_model_name(client_id, "")
    for model in client.search_registered_models():
        if model.name.startswith(prefix):
            found.registered[model.name] = len(client.search_model_versions(f"name = '{model.name}'"))
    experiment = client.get_experiment_by_name(experiment_name(client_id))  # deleted ones too
    if experiment is None:
        return found
    found.experiment_id = experiment.experiment_id
    found.experiment_active = experiment.lifecycle_stage == "active"
    token = None
    while True:
        page = client.search_runs(
            [experiment.experiment_id], run_view_type=ViewType.ALL, max_results=1000, page_token=token
        )
        found.runs += [r.info.run_id for r in page]
        found.active_runs += [r.info.run_id for r in page if r.info.lifecycle_stage == "active"]
        token = page.token
        if not token:
            break
    token = None
    while True:
        models = client.search_logged_models([experiment.experiment_id], page_token=token)
        found.logged_models += [m.model_id for m in models]
        token = models.token
        if not token:
            break
    return found


def _purge_mlflow(settings: Settings, trace: Trace, progress: Progress) -> list[Item]:
    from forgeline.standard_models.store import store_path

    client = _mlflow_client(settings)
    if client is None:
        return []
    found = _mlflow_found(client, trace.client_id)
    for name in found.registered:
        progress(f"  MLflow: deleting registered model {name} and its versions…")
        client.delete_registered_model(name)  # a hard delete in MLflow's SQL registry
    if found.experiment_id is not None:
        progress(
            f"  MLflow: deleting {len(found.runs)} run(s) and {len(found.logged_models)} logged model(s) "
            "permanently…"
        )
        # MLflow only soft-deletes (runs, logged models, the experiment); `mlflow gc` then removes what is
        # deleted, artifacts included, for good.
        for model_id in found.logged_models:
            client.delete_logged_model(model_id)
        for run_id in found.active_runs:
            client.delete_run(run_id)
        if found.experiment_active:
            client.delete_experiment(found.experiment_id)
        _mlflow_gc(settings, found)
    path = store_path(settings)
    if path is None and found.experiment_id is not None:
        # What a tracking server kept of the experiment in the workspace, if gc left anything.
        _remove([settings.mlflow_server_artifacts_dir / found.experiment_id])
    if path is not None and path.exists() and trace.in_file(path):
        progress("  MLflow: compacting the store so no freed page keeps the client (VACUUM)…")
        _vacuum_sqlite(path)
    return found.items


def _mlflow_gc(settings: Settings, found: _MlflowFound) -> None:
    """``mlflow gc`` of the client's experiment, runs and logged models (MLflow's permanent deletion)."""
    from forgeline.standard_models.store import store_path

    uri = settings.mlflow_tracking_uri
    command = [sys.executable, "-m", "mlflow", "gc", "--experiment-ids", str(found.experiment_id)]
    # Named explicitly: without them gc would take every deleted run (or model) of the store, anyone's.
    if found.runs:
        command += ["--run-ids", ",".join(found.runs)]
    if found.logged_models:
        command += ["--logged-model-ids", ",".join(found.logged_models)]
    if store_path(settings) is not None:
        command += ["--backend-store-uri", uri]
    else:
        database = _mlflow_server_database(settings)
        if database is None:
            raise PurgeError(
                f"the client's MLflow runs on the tracking server {uri} are deleted but not yet for good: "
                "MLflow deletes permanently only from its database (`mlflow gc --backend-store-uri "
                "<the server's database>`), which this machine does not know. Run that on the server, then "
                "`forgeline purge` again."
            )
        command += ["--backend-store-uri", database, "--tracking-uri", uri]
        command += ["--artifacts-destination", str(settings.mlflow_server_artifacts_dir)]
    # gc resolves artifact locations through the tracking URI, even for a local store.
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri}
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise PurgeError(
            "MLflow could not delete the client's experiment permanently (`mlflow gc` failed: "
            f"{(done.stderr or done.stdout).strip().splitlines()[-1:]}); nothing else was lost: run "
            "`forgeline purge` again."
        )


def _mlflow_server_database(settings: Settings) -> str | None:
    """The database of the tracking server `make scheduler` runs (docs/deploy.md), if it is the one used."""
    from forgeline.deploy import Stack

    stack = Stack.from_environment(settings)
    return stack.database_url("mlflow") if settings.mlflow_tracking_uri == stack.mlflow_url else None


# -- Prefect -------------------------------------------------------------------------------------------------
def _prefect_home(settings: Settings) -> Path:
    """Where Prefect keeps its state in this process (the CLI points it at the workspace's own)."""
    return Path(os.environ.get("PREFECT_HOME") or settings.prefect_home)


def _prefect_database(settings: Settings) -> str | None:
    """A synchronous SQLAlchemy URL of the Prefect database that holds the workspace's runs, if known."""
    api = os.environ.get("PREFECT_API_URL")
    if api:
        from forgeline.deploy import Stack

        stack = Stack.from_environment(settings)
        return stack.database_url("prefect") if api.rstrip("/") == stack.api_url else None
    chosen = os.environ.get("PREFECT_API_DATABASE_CONNECTION_URL") or os.environ.get(
        "PREFECT_SERVER_DATABASE_CONNECTION_URL"
    )
    if chosen:
        return chosen.replace("+aiosqlite", "").replace("+asyncpg", "")
    return f"sqlite:///{_prefect_home(settings) / 'prefect.db'}"


def _sqlite_file(url: str | None) -> Path | None:
    return Path(url.removeprefix("sqlite:///")) if url and url.startswith("sqlite:///") else None


def _prefect_present(settings: Settings) -> bool:
    """Whether Prefect may hold anything of this workspace: a server, or the ephemeral API's database."""
    if os.environ.get("PREFECT_API_URL"):
        return True
    database = _sqlite_file(_prefect_database(settings))
    return database is None or database.exists()


def _prefect_child(mode: str, client_id: str) -> dict[str, Any]:
    """Run Prefect's client API in a child process: the ephemeral API it starts stops when the child
    exits, so the database is closed before it is swept and compacted (and this process stays light)."""
    code = f"from forgeline.purge import _prefect_child_main; _prefect_child_main({mode!r}, {client_id!r})"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=os.environ.copy())
    for line in reversed(done.stdout.splitlines()):
        if line.startswith(_CHILD_RESULT):
            return json.loads(line.removeprefix(_CHILD_RESULT))
    lines = [line.strip() for line in (done.stderr or done.stdout).splitlines() if line.strip()]
    last = lines[-1] if lines else "no output"
    raise PurgeError(
        f"Prefect's API did not answer ({last}): check PREFECT_API_URL (or the workspace's Prefect folder)."
    )


def _prefect_child_main(mode: str, client_id: str) -> None:
    from forgeline.settings import apply_tool_environment

    apply_tool_environment()
    result = asyncio.run(_prefect_api(check_client_id(client_id), remove=mode == "remove"))
    print(_CHILD_RESULT + json.dumps(result), flush=True)


async def _prefect_api(client_id: str, remove: bool) -> dict[str, Any]:
    """Count (or delete) the client's flow runs, the program's task runs for it, their logs, and its
    concurrency limit, through Prefect's client API (the ephemeral API or a server)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        FlowRunFilter,
        FlowRunFilterId,
        FlowRunFilterName,
        LogFilter,
        LogFilterFlowRunId,
        LogFilterTaskRunId,
        TaskRunFilter,
        TaskRunFilterName,
    )
    from prefect.exceptions import ObjectNotFound
    from prefect.settings import get_current_settings

    from flows.engagement import ENGAGEMENT_RUN_NAME, slot_name
    from flows.program import ENGAGEMENT_TASK_RUN_NAME

    page = 200

    async def every(read: Callable[..., Any], **kwargs: Any) -> list[Any]:
        found: list[Any] = []
        while True:
            batch = await read(**kwargs, limit=page, offset=len(found))
            found += batch
            if len(batch) < page:
                return found

    async with get_client() as client:
        flows = await every(
            client.read_flow_runs,
            flow_run_filter=FlowRunFilter(
                name=FlowRunFilterName(any_=[ENGAGEMENT_RUN_NAME.format(client_id=client_id)])
            ),
        )
        flow_ids = [run.id for run in flows]
        program_tasks = await every(
            client.read_task_runs,
            task_run_filter=TaskRunFilter(
                name=TaskRunFilterName(any_=[ENGAGEMENT_TASK_RUN_NAME.format(client_id=client_id)])
            ),
        )
        task_ids = [run.id for run in program_tasks]
        inner_tasks = (
            await every(
                client.read_task_runs, flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=flow_ids))
            )
            if flow_ids
            else []
        )

        async def logs() -> int:
            count = 0
            for chosen in (
                LogFilter(flow_run_id=LogFilterFlowRunId(any_=flow_ids)) if flow_ids else None,
                LogFilter(task_run_id=LogFilterTaskRunId(any_=task_ids)) if task_ids else None,
            ):
                if chosen is not None:
                    count += len(await every(client.read_logs, log_filter=chosen))
            return count

        log_lines = await logs()
        try:
            await client.read_global_concurrency_limit_by_name(slot_name(client_id))
            limits = 1
        except ObjectNotFound:
            limits = 0
        if remove:
            for run_id in task_ids:
                with suppress(ObjectNotFound):
                    await client.delete_task_run(run_id)
            for run_id in flow_ids:
                with suppress(ObjectNotFound):  # the runs' task runs, states and inputs go with them
                    await client.delete_flow_run(run_id)
            if limits:
                with suppress(ObjectNotFound):
                    await client.delete_global_concurrency_limit_by_name(slot_name(client_id))
            # The API deletes a deleted run's logs in a background task: give it a moment (what it has not
            # done by then, the database sweep does).
            for _ in range(20):
                if not await logs():
                    break
                await asyncio.sleep(0.5)
        settings = get_current_settings()
        return {
            "flow_runs": len(flow_ids),
            "task_runs": len(task_ids) + len(inner_tasks),
            "log_lines": log_lines,
            "concurrency_limits": limits,
            "run_ids": [str(i) for i in [*flow_ids, *task_ids, *(t.id for t in inner_tasks)]],
            "storage": str(settings.results.local_storage_path),
        }


def _is_text(column: Any) -> bool:
    import sqlalchemy as sa

    kind = column.type
    if "UUID" in type(kind).__name__.upper() or (isinstance(kind, sa.CHAR) and kind.length == 36):
        return False  # ids: a client id could be a run of hex digits inside one
    return isinstance(kind, sa.String | sa.Text | sa.JSON) or "JSON" in type(kind).__name__.upper()


def _sweep_database(url: str, trace: Trace, run_ids: list[str], dry_run: bool) -> dict[str, int]:
    """Rows of a Prefect database naming the client (or one of its deleted runs): deleted from the tables
    that are per run or per event (logs, events), the id replaced elsewhere. Counts per table.

    This is SQL, the one place Forgeline writes Prefect's tables, because Prefect 3.8 has no API for it:
    events leave only by its retention (the server's db_vacuum service, ``server.events.retention_period``),
    and logs are deleted only with their whole run, never line by line from a run that must stay (the
    program's, which other clients share)."""
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    sqlite = engine.dialect.name == "sqlite"
    counts: dict[str, int] = {}
    try:
        meta = sa.MetaData()
        with warnings.catch_warnings():  # Prefect's expression indexes and cyclic keys: nothing we use
            warnings.simplefilter("ignore", sa.exc.SAWarning)
            meta.reflect(engine)
        position = sa.func.instr if sqlite else sa.func.strpos
        resources = [f"prefect.flow-run.{i}" for i in run_ids] + [f"prefect.task-run.{i}" for i in run_ids]
        with engine.begin() as con:
            for table in meta.tables.values():
                keys = list(table.primary_key.columns)
                columns = [c for c in table.columns if _is_text(c)]
                if not keys or not columns:
                    continue
                # SQL finds the candidates; Trace decides (another client's longer id is not this one).
                texts = [sa.cast(c, sa.Text).label(c.name) for c in columns]
                candidates = con.execute(
                    sa.select(*keys, *texts).where(
                        sa.or_(*(position(sa.cast(c, sa.Text), trace.client_id) > 0 for c in columns))
                    )
                ).all()
                named = [r for r in candidates if any(trace.in_text(v) for v in r[len(keys) :] if v)]
                if table.name in _PREFECT_DELETABLE:
                    gone = {tuple(r[: len(keys)]) for r in named}
                    by_run = []
                    for key in ("flow_run_id", "task_run_id"):
                        if key in table.c and run_ids:
                            by_run.append(sa.cast(table.c[key], sa.Text).in_(run_ids))
                    if "resource_id" in table.c and resources:
                        by_run.append(table.c.resource_id.in_(resources))
                    if by_run:
                        gone |= {tuple(r) for r in con.execute(sa.select(*keys).where(sa.or_(*by_run)))}
                    if gone and not dry_run:
                        _delete_rows(con, table, keys, sorted(gone, key=str))
                        if table.name == "events" and "event_resources" in meta.tables:
                            # Each event's resources are rows of their own: they go with the event.
                            resources_table = meta.tables["event_resources"]
                            ids = [row[0] for row in gone]
                            for start in range(0, len(ids), 500):
                                con.execute(
                                    resources_table.delete().where(
                                        resources_table.c.event_id.in_(ids[start : start + 500])
                                    )
                                )
                    n = len(gone)
                else:
                    n = len(named)
                    for row in [] if dry_run else named:
                        values = {}
                        for c, text in zip(columns, row[len(keys) :], strict=True):
                            if text and trace.in_text(text):
                                blanked = sa.literal(trace.blank(text), sa.Text())
                                # SQLite keeps JSON as text (a CAST to JSON would make it a number).
                                plain = sqlite or isinstance(c.type, sa.String | sa.Text)
                                values[c.name] = blanked if plain else sa.cast(blanked, c.type)
                        match = sa.and_(*(k == v for k, v in zip(keys, row[: len(keys)], strict=True)))
                        con.execute(table.update().where(match).values(values))
                if n:
                    counts[table.name] = counts.get(table.name, 0) + n
    finally:
        engine.dispose()
    return counts


def _delete_rows(con: Any, table: Any, keys: list[Any], rows: list[tuple[Any, ...]]) -> None:
    import sqlalchemy as sa

    for start in range(0, len(rows), 500):
        chunk = rows[start : start + 500]
        if len(keys) == 1:
            con.execute(table.delete().where(keys[0].in_([r[0] for r in chunk])))
        else:
            con.execute(table.delete().where(sa.tuple_(*keys).in_(chunk)))


def _purge_prefect(settings: Settings, trace: Trace, progress: Progress) -> tuple[list[Item], list[str]]:
    client_id = trace.client_id
    if not _prefect_present(settings):
        return [], []
    where = os.environ.get("PREFECT_API_URL") or "the workspace's Prefect API"
    progress(
        f"  Prefect: deleting the client's flow runs, task runs and logs through {where} (may take a minute)…"
    )
    found = _prefect_child("remove", client_id)
    items = [
        Item("Prefect flow runs", found["flow_runs"], "runs"),
        Item("Prefect task runs", found["task_runs"], "runs"),
        Item("Prefect log lines of those runs", found["log_lines"], "lines"),
        Item("Prefect concurrency limits", found["concurrency_limits"], "limits"),
    ]
    remaining: list[str] = []
    database = _prefect_database(settings)
    if database is None:
        remaining.append(
            f"Prefect server {os.environ.get('PREFECT_API_URL')}: events and log lines of shared runs that "
            "name the client stay (no API deletes them, and its database is not known here)"
        )
    else:
        progress("  Prefect: deleting events and shared log lines that name the client (SQL; no API does)…")
        swept = _sweep_database(database, trace, found["run_ids"], dry_run=False)
        items += [
            Item("Prefect events", swept.get("events", 0) + swept.get("event_resources", 0), "rows"),
            Item("Prefect log lines naming the client", swept.get("log", 0), "lines"),
            Item(
                "Prefect shared records with the id blanked",
                sum(n for t, n in swept.items() if t not in _PREFECT_DELETABLE),
                "rows",
            ),
        ]
        sqlite_file = _sqlite_file(database)
        if sqlite_file is not None and sqlite_file.exists():
            _vacuum_sqlite(sqlite_file)
    # Results Prefect kept on disk (an engagement's outcome names its client): the files holding it go.
    result_files = [
        p
        for folder in {settings.prefect_results_dir, Path(found["storage"])}
        if folder.is_dir()
        for p in folder.rglob("*")
        if p.is_file() and trace.in_file(p)
    ]
    files, size = _tree(result_files)
    _remove(result_files)
    items.append(Item("Prefect results on disk", files, "files", size))
    return items, remaining


def _prefect_inventory(settings: Settings, trace: Trace) -> tuple[list[Item], list[str]]:
    """What Prefect holds of the client: read from the ephemeral API's database when it is here (starting
    the API takes half a minute), else asked of the server."""
    if not _prefect_present(settings):
        return [], []
    database = _prefect_database(settings)
    sqlite_file = _sqlite_file(database)
    if sqlite_file is not None and not os.environ.get("PREFECT_API_URL"):
        swept = _sweep_database(database, trace, [], dry_run=True)
        return [Item("Prefect records naming the client", sum(swept.values()), "rows")], []
    found = _prefect_child("count", trace.client_id)
    items = [
        Item("Prefect flow runs", found["flow_runs"], "runs"),
        Item("Prefect task runs", found["task_runs"], "runs"),
        Item("Prefect log lines of those runs", found["log_lines"], "lines"),
        Item("Prefect concurrency limits", found["concurrency_limits"], "limits"),
    ]
    notes = [] if database else ["Prefect events naming the client: on the server, not deletable from here"]
    return items, notes


# -- files on disk: search, compaction, atomic writes --------------------------------------------------------
def _vacuum_sqlite(path: Path) -> None:
    """Rebuild a SQLite file without free pages (deleted rows stay in them otherwise), and empty its WAL."""
    con = sqlite3.connect(path, timeout=120, isolation_level=None)
    try:
        con.execute("VACUUM")
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        con.close()


def search_workspace(settings: Settings, trace: Trace, skip: frozenset[Path] = frozenset()) -> list[Path]:
    """Every file or folder under the workspace whose name or bytes hold the client's id."""
    found: list[Path] = []
    for root, dirs, names in os.walk(settings.home):
        found += [Path(root) / name for name in dirs if trace.in_text(name)]
        for name in names:
            path = Path(root) / name
            if path in skip or path.is_symlink():
                continue
            if trace.in_text(name) or trace.in_file(path):
                found.append(path)
    return found


def _blank(settings: Settings, path: Path, trace: Trace) -> str:
    return trace.blank(str(path.relative_to(settings.home)))


# -- the purge -----------------------------------------------------------------------------------------------
class Purge:
    """A client's purge, under its run lock (see :func:`purging`)."""

    def __init__(self, settings: Settings, client_id: str) -> None:
        self.settings = settings
        self.client_id = client_id
        # Other clients' ids that hold this one: known before anything of this client goes.
        self.trace = Trace(client_id, known_client_ids(settings))

    def inventory(self) -> Inventory:
        """What is left of the client, store by store (nothing is changed)."""
        from forgeline.auth import remove_logins_for

        s, cid = self.settings, self.client_id
        inventory = Inventory()
        for kind, paths in _file_stores(s, cid):
            files, size = _tree(paths)
            inventory.items.append(Item(kind, files, "files", size))
        inventory.items.append(Item("warehouse tables and views", _warehouse_tables(s, cid), "tables"))
        snapshots = len(list(s.published_dir(cid).glob("*.duckdb"))) if s.published_dir(cid).exists() else 0
        inventory.items.append(Item("published snapshot files", snapshots, "snapshots"))
        inventory.items.append(Item("logins", len(remove_logins_for(s, cid, dry_run=True)), "logins"))
        inventory.items += _findings_items(s, cid)
        inventory.items.append(
            Item("program run records listing it", len(_program_records(s, cid)), "records")
        )
        lines = sum(
            sum(1 for line in p.read_bytes().splitlines() if self.trace.in_bytes(line)) for p in _log_files(s)
        )
        inventory.items.append(Item("log lines naming it", lines, "lines"))
        client = _mlflow_client(s)
        if client is not None:
            inventory.items += _mlflow_found(client, cid).items
        prefect_items, notes = _prefect_inventory(s, self.trace)
        inventory.items += prefect_items
        inventory.notes += notes
        # Deleted rows linger in a SQLite file's free pages until it is compacted: a purge stopped before
        # that left them, and running it again must finish the job.
        for path in self._shared_databases():
            if inventory.empty and path.exists() and self.trace.in_file(path):
                inventory.items.append(Item(f"freed pages of {path.name}", 1, "file"))
        return inventory

    def _shared_databases(self) -> list[Path]:
        from forgeline.standard_models.store import store_path

        found = [store_path(self.settings), _sqlite_file(_prefect_database(self.settings))]
        return [p for p in found if p is not None]

    def run(self, by: str, progress: Progress = lambda _: None) -> Certificate:
        """Remove every trace of the client, then write and return the certificate."""
        from forgeline.auth import remove_logins_for

        s, cid = self.settings, self.client_id
        purged_at = datetime.now(UTC)
        removed: list[Item] = []
        progress(f"Purging {cid} from {s.home}…")
        tables = _warehouse_tables(s, cid)
        written = _findings_items(s, cid)  # counted before the store forgets them (at the end)
        # Sizes before anything goes (MLflow's gc removes the artifacts before their folder is removed).
        stores = [(kind, paths, *_tree(paths)) for kind, paths in _file_stores(s, cid)]
        snapshots = len(list(s.published_dir(cid).glob("*.duckdb"))) if s.published_dir(cid).exists() else 0

        # Logins first: from now on nobody logs in to see the client.
        logins = remove_logins_for(s, cid)
        removed.append(Item("logins", len(logins), "logins"))
        progress(f"  logins removed: {len(logins)}")
        # Model tracking and orchestration before the files: a purge stopped in them leaves the files, so
        # the client is still seen as there and running the purge again finishes it.
        progress("  MLflow: looking for the client's experiment and registered models…")
        removed += _purge_mlflow(s, self.trace, progress)
        prefect_items, remaining_notes = _purge_prefect(s, self.trace, progress)
        removed += prefect_items
        for kind, paths, files, size in stores:
            if files or any(p.exists() for p in paths):
                progress(f"  {kind}: {files:,} files, {_size(size)}")
            _remove(paths)
            removed.append(Item(kind, files, "files", size))
        removed.append(Item("warehouse tables and views", tables, "tables"))
        removed.append(Item("published snapshot files", snapshots, "snapshots"))
        rewritten, deleted = _rewrite_program_records(s, cid)
        removed.append(Item("program run records rewritten without it", rewritten, "records"))
        removed.append(Item("program run records of it alone", deleted, "records"))
        lines = sum(_scrub_log_lines(p, self.trace) for p in _log_files(s))
        removed.append(Item("log lines naming it", lines, "lines"))
        if rewritten or deleted or lines:
            progress(f"  run records rewritten: {rewritten}, removed: {deleted}; log lines removed: {lines}")
        removed += written
        rebuilt = []
        for name, rebuild in PROGRAM_STORES_TO_REBUILD:
            progress(f"  recomputing {name} without the client…")
            rebuild(s, cid)
            rebuilt.append(name)

        progress("Searching the whole workspace for anything left of the client…")
        lock = s.run_lock_path(cid)
        left = search_workspace(s, self.trace, skip=frozenset({lock}))
        remaining = [f"{_blank(s, p, self.trace)}: holds the client's id" for p in left] + remaining_notes
        path = self._write_certificate(purged_at, by, removed, rebuilt, remaining)
        progress(f"Certificate written: {path}")
        return Certificate(path=path, removed=removed, remaining=remaining)

    def _write_certificate(
        self, purged_at: datetime, by: str, removed: list[Item], rebuilt: list[str], remaining: list[str]
    ) -> Path:
        while True:  # a new salt in the rare case an id made only of hex digits shows in the digest
            salt = secrets.token_hex(16)
            digest = client_hash(salt, self.client_id)
            certificate = {
                "certificate": "forgeline purge",
                "version": CERTIFICATE_VERSION,
                "client": {
                    "sha256": digest,
                    "salt": salt,
                    "how": "sha256 of the salt's text followed by the client id's text (UTF-8), in hex",
                },
                "purged_at": purged_at.isoformat().replace("+00:00", "Z"),
                "finished_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
                # A consultant might type the id as a name: the certificate never carries it.
                "by": by.replace(self.client_id, "<client>"),
                "removed": [
                    {
                        "kind": i.kind,
                        "count": i.count,
                        "unit": i.unit,
                        **({"bytes": i.bytes} if i.bytes else {}),
                    }
                    for i in removed
                ],
                "program_stores_recomputed": rebuilt,
                "remaining": remaining,
            }
            text = json.dumps(certificate, indent=2, ensure_ascii=False)
            if self.client_id not in text:
                break
        folder = self.settings.purge_certificates_dir
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{purged_at.strftime('%Y%m%dT%H%M%S%fZ')}-{digest[:12]}.json"
        write_atomically(path, text + "\n")
        return path


@contextmanager
def purging(settings: Settings, client_id: str) -> Iterator[Purge]:
    """The client's purge, holding its run lock throughout (raises ClientBusy if a run holds it). The lock
    file, whose name is the client's id, is removed at the end unless the client is still there."""
    client_id = check_client_id(client_id)
    lock = settings.run_lock_path(client_id)
    existed = lock.exists()
    with client_lock(settings, client_id):
        try:
            yield Purge(settings, client_id)
        finally:
            # Removed while still held: a run starting now is refused by the lock until this block ends,
            # and the next one creates the file anew.
            if not existed or not settings.client_config_path(client_id).exists():
                lock.unlink(missing_ok=True)


def client_hash(salt: str, client_id: str) -> str:
    return hashlib.sha256((salt + client_id).encode("utf-8")).hexdigest()


def verify_certificate(path: Path, client_id: str) -> bool:
    """Whether the certificate at ``path`` was written for ``client_id``."""
    client = json.loads(Path(path).read_text(encoding="utf-8"))["client"]
    return secrets.compare_digest(client_hash(client["salt"], client_id), client["sha256"])


def _size(n: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:,} {unit}" if unit == "bytes" else f"{n:,.1f} {unit}"
        n /= 1000
    return f"{n:,.1f} TB"

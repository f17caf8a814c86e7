"""The kill harness's machinery: run the real CLI, kill its whole process group at a logged point, and
compare the workspace it leaves (after a re-run) with a clean reference, table by table.

What is compared, and what is left out (and why):

- **warehouse** ``raw``, ``core`` and ``marts``: every table, as an order-independent checksum (each row
  hashed, the sorted hashes hashed again) plus its row count. Left out: ``_loaded_at`` on every raw table
  and ``raw._load_batches.loaded_at`` (the wall-clock time of the load), ``raw._rejected_files.rejected_at``
  (the same for refusals) and ``raw._landing_files``' ``mtime_ns``, ``ctime_ns`` and ``inode`` (the file
  system's stamps and identity of each landing file: properties of the copy, not of the data). Lineage
  that identifies data (file, row, batch = the file's hash) is compared.
- **published snapshot** (the one ``CURRENT`` names): every mart and every meta table, with the same
  load-time columns left out (``meta.load_batches.loaded_at``, ``meta.rejected_files.rejected_at``), and
  ``meta.model_results`` without ``mlflow_run_id`` and ``trained_at`` (a run id and a time differ between
  two runs that trained the same model); of ``meta.run`` its status, gate verdict and whether its marts are
  its own (its run id and times differ by nature), and of ``meta.level_history`` its latest row's level,
  rules and whether it was carried (a log of runs: a killed run that had published adds a row, and run
  ids and times differ by nature). No ``.partial`` file may remain.
- **MLflow**: registered models, their live versions per model, which version holds ``champion`` and the
  training-data fingerprint of its run, the number of FINISHED runs per model and their metrics; no run may
  be RUNNING. FAILED runs (the killed ones, closed at the next start) are allowed and not compared.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from forgeline.settings import REPO_ROOT

RUN_TIMEOUT_S = 900

# Columns that legitimately differ between two runs on the same data (see the module docstring).
EXCLUDED_COLUMNS = {
    ("raw", "*", "_loaded_at"),
    ("raw", "_load_batches", "loaded_at"),
    ("raw", "_rejected_files", "rejected_at"),
    ("raw", "_landing_files", "mtime_ns"),
    ("raw", "_landing_files", "ctime_ns"),
    ("raw", "_landing_files", "inode"),
    ("meta", "model_results", "mlflow_run_id"),
    ("meta", "model_results", "trained_at"),
    ("meta", "load_batches", "loaded_at"),
    ("meta", "rejected_files", "rejected_at"),
}


def _excluded(schema: str, table: str, column: str) -> bool:
    return (schema, table, column) in EXCLUDED_COLUMNS or (schema, "*", column) in EXCLUDED_COLUMNS


# -- running the CLI -----------------------------------------------------------------------------------
def run_env(home: Path) -> dict[str, str]:
    """The subprocess's own workspace and Prefect home (never the caller's, never a shared server)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("FORGELINE_", "PREFECT_", "MLFLOW_")) and k != "PYTEST_CURRENT_TEST"
    }
    env.update(
        {
            "FORGELINE_HOME": str(home),
            "PREFECT_HOME": str(home / "prefect"),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
            "PYTHONUNBUFFERED": "1",  # lines arrive as they are logged: kills land where they are meant to
            "COLUMNS": "200",
        }
    )
    return env


@dataclass
class Run:
    """One `forgeline run <client>` subprocess, its output lines and when each marker was first seen."""

    home: Path
    client_id: str
    log_path: Path
    markers: dict[str, re.Pattern[str]]
    lines: list[str] = field(default_factory=list)
    seen: dict[str, float] = field(default_factory=dict)  # marker -> seconds since start
    killed_at: float | None = None
    returncode: int | None = None
    seconds: float = 0.0

    def start(self) -> None:
        self.started = time.monotonic()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "forgeline.cli", "run", self.client_id],
            cwd=REPO_ROOT,
            env=run_env(self.home),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            encoding="utf-8",
            errors="replace",
            start_new_session=True,  # its own process group: dbt and Prefect's server die with it
        )
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        with self.log_path.open("a", encoding="utf-8") as log:
            for line in self.process.stdout:
                now = time.monotonic() - self.started
                log.write(line)
                self.lines.append(line)
                for name, pattern in self.markers.items():
                    if name not in self.seen and pattern.search(line):
                        self.seen[name] = now

    def kill_at(self, marker: str, delay_s: float) -> bool:
        """SIGKILL the whole process group ``delay_s`` after ``marker`` is logged; False if it ended first."""
        deadline = time.monotonic() + RUN_TIMEOUT_S
        while marker not in self.seen:
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.wait()
                return False
            time.sleep(0.005)
        target = self.started + self.seen[marker] + delay_s
        while time.monotonic() < target:
            if self.process.poll() is not None:
                self.wait()
                return False
            time.sleep(0.002)
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            self.wait()
            return False
        self.killed_at = time.monotonic() - self.started
        self.wait()
        _wait_group_gone(self.process.pid)
        return True

    def wait(self) -> int:
        try:
            self.returncode = self.process.wait(timeout=RUN_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.returncode = self.process.wait(timeout=60)
        self.reader.join(timeout=30)
        self.seconds = time.monotonic() - self.started
        return self.returncode

    def tail(self, n: int = 40) -> str:
        """The run's errors and its last lines (without the interpreter's exit noise from native modules)."""
        useful = [line for line in self.lines if not _NOISE.search(line)]
        errors = [line for line in useful if _ERROR.search(line)]
        return "".join([*errors[-20:], "…\n", *useful[-n:]])


_NOISE = re.compile(r"nanobind|leaked (instance|type|function)|^ - |skipped remainder|refleaks")
_ERROR = re.compile(r"Error|Traceback|ERROR|failed|FAILED|refused")


def _wait_group_gone(pgid: int, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    raise AssertionError(f"processes of group {pgid} survived SIGKILL")


def run_cli(home: Path, client_id: str, log_path: Path, markers: dict[str, re.Pattern[str]]) -> Run:
    run = Run(home, client_id, log_path, markers)
    run.start()
    run.wait()
    return run


def copy_workspace(source: Path, target: Path, prefect_home: Path | None = None) -> Path:
    shutil.copytree(source, target, symlinks=True)
    if prefect_home is not None:
        shutil.rmtree(target / "prefect", ignore_errors=True)
        shutil.copytree(prefect_home, target / "prefect")
    return target


# -- what a workspace holds ------------------------------------------------------------------------------
def _table_digest(con: duckdb.DuckDBPyConnection, catalog: str, schema: str, table: str) -> str:
    columns = [
        c
        for (c,) in con.execute(
            "SELECT column_name FROM duckdb_columns() WHERE database_name = ? AND schema_name = ? "
            "AND table_name = ? ORDER BY column_index",
            [catalog, schema, table],
        ).fetchall()
        if not _excluded(schema, table, c)
    ]
    quoted = ", ".join('"' + c.replace('"', '""') + '"' for c in columns)
    rows, digest = con.execute(
        f"SELECT count(*), md5(coalesce(string_agg(h, '' ORDER BY h), '')) FROM "
        f'(SELECT md5(CAST(row({quoted}) AS VARCHAR)) AS h FROM "{catalog}"."{schema}"."{table}")'
    ).fetchone()
    return f"{rows} rows {digest} ({len(columns)} columns)"


def _schema_digests(path: Path, schemas: tuple[str, ...], prefix: str) -> dict[str, str]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        catalog = con.execute("SELECT current_database()").fetchone()[0]
        tables = con.execute(
            "SELECT schema_name, table_name FROM duckdb_tables() WHERE schema_name IN "
            f"({', '.join('?' for _ in schemas)}) ORDER BY ALL",
            list(schemas),
        ).fetchall()
        found = {
            f"{prefix}{s}.{t}": _table_digest(con, catalog, s, t)
            for s, t in tables
            if (s, t) not in (("meta", "run"), ("meta", "level_history"))
        }
        if prefix == "published:":  # meta.run: what the run was, not its id and times
            status, gate_passed, own = con.execute(
                "SELECT status, gate_passed, data_run_id = run_id FROM meta.run"
            ).fetchone()
            found["published:meta.run"] = f"{status} gate_passed={gate_passed} own_marts={own}"
            if ("meta", "level_history") in tables:  # a log of runs: a killed run that published adds one
                latest = con.execute(
                    "SELECT level, rules_version, carried FROM meta.level_history "
                    "ORDER BY assessed_at DESC LIMIT 1"
                ).fetchone()
                found["published:meta.level_history"] = f"latest {latest}"
        return found
    finally:
        con.close()


def _mlflow_digest(db: Path, client_id: str) -> dict[str, str]:
    if not db.exists():
        return {"mlflow": "no store"}
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        q = con.execute
        found: dict[str, str] = {}
        for (name,) in q("SELECT name FROM registered_models ORDER BY name").fetchall():
            live = q(
                "SELECT version FROM model_versions WHERE name = ? AND current_stage != 'Deleted_Internal' "
                "ORDER BY version",
                [name],
            ).fetchall()
            champion = q(
                "SELECT a.version, t.value FROM registered_model_aliases a "
                "JOIN model_versions v ON v.name = a.name AND v.version = a.version "
                "LEFT JOIN tags t ON t.run_uuid = v.run_id AND t.key = 'training_data_fingerprint' "
                "WHERE a.name = ? AND a.alias = 'champion'",
                [name],
            ).fetchall()
            found[f"mlflow:{name}"] = f"versions {[v for (v,) in live]} champion {champion}"
        runs = q(
            "SELECT r.status, t.value, r.run_uuid FROM runs r JOIN experiments e USING (experiment_id) "
            "LEFT JOIN tags t ON t.run_uuid = r.run_uuid AND t.key = 'model_name' "
            "WHERE e.name = ? ORDER BY t.value, r.start_time",
            [f"forgeline/{client_id}"],
        ).fetchall()
        found["mlflow:running runs"] = str(sum(1 for status, *_ in runs if status == "RUNNING"))
        for status, model, run_uuid in runs:
            if status != "FINISHED":
                continue
            metrics = q(
                "SELECT key, value FROM latest_metrics WHERE run_uuid = ? ORDER BY key", [run_uuid]
            ).fetchall()
            fingerprint = q(
                "SELECT value FROM tags WHERE run_uuid = ? AND key = 'training_data_fingerprint'", [run_uuid]
            ).fetchone()
            key = f"mlflow:finished runs of {model}"
            found[key] = (
                found.get(key, "") + f"[{fingerprint} {hashlib.md5(str(metrics).encode()).hexdigest()}]"
            )
        return found
    finally:
        con.close()


def workspace_state(home: Path, client_id: str) -> dict[str, str]:
    """Checksums of everything a run leaves in ``home`` for ``client_id`` (see the module docstring)."""
    state = _schema_digests(
        home / "warehouse" / f"{client_id}.duckdb", ("raw", "core", "marts"), "warehouse:"
    )
    published = home / "published" / client_id
    pointer = published / "CURRENT"
    if pointer.exists():
        state.update(
            _schema_digests(published / pointer.read_text().strip(), ("marts", "meta"), "published:")
        )
    else:
        state["published"] = "nothing published"
    leftovers = sorted(p.name for p in published.glob(".*")) if published.exists() else []
    state["published:leftovers"] = str(leftovers)
    state.update(_mlflow_digest(home / "mlflow" / "mlflow.db", client_id))
    return state


def differences(reference: dict[str, str], state: dict[str, str]) -> list[str]:
    return [
        f"{key}: reference {reference.get(key, '(absent)')} | after the kill {state.get(key, '(absent)')}"
        for key in sorted(set(reference) | set(state))
        if reference.get(key) != state.get(key)
    ]

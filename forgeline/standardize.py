"""Standardize one client's raw tables: its mapping compiled into ``mapped`` views, then dbt
(staging → core → marts) in the client's own DuckDB file.

``apply_mapping`` (re)creates the ``mapped.<entity>`` views from the client's mapping.yml and the rows they
leave out (``mapped._quarantine``: file, row, column, value, rule, reason; ``mapped._problems`` groups
them per column for people). dbt
runs as a subprocess per client with its own target and log folders, so two clients can build side by
side, and the DuckDB file is released as soon as dbt exits.

``plan_build`` decides whether ``dbt build`` may be incremental (only the new load batches' rows appended
to the big facts) or must be a full refresh; it is the one owner of that rule. Incremental only when it is
provably the same as a full rebuild, else full refresh (see ``plan_build``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import subprocess
import sys
from collections import deque
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, Literal

import duckdb

from forgeline.clients import ClientConfig
from forgeline.locking import open_warehouse
from forgeline.mapping.compile import (
    QUARANTINE_COLUMNS,
    SEEN_IDS,
    TAG_ENTITIES,
    CompiledMapping,
    CompileError,
    compile_mapping,
)
from forgeline.mapping.entities import ENTITIES
from forgeline.settings import DBT_PROJECT_DIR, TOOL_ENVIRONMENT, Settings

log = logging.getLogger("forgeline.standardize")

OUTPUT_TAIL_LINES = 60  # what an error message quotes of dbt's output when run_results names nothing


class StandardizeError(RuntimeError):
    """dbt failed for a client; the message names the failing models or tests and where to look."""


@dataclass
class DbtRunResult:
    client_id: str
    command: str
    counts: dict[str, int] = field(default_factory=dict)
    failures: list[tuple[str, str]] = field(default_factory=list)
    elapsed_s: float = 0.0
    mode: Literal["full refresh", "incremental", ""] = ""  # a build's mode (plan_build); "" for test, docs
    mode_reason: str = ""

    def summary(self) -> str:
        parts = ", ".join(f"{k} {v}" for k, v in sorted(self.counts.items()))
        return f"{parts} in {self.elapsed_s:.1f} s"


def _dbt_executable() -> str:
    candidate = Path(sys.executable).with_name("dbt")
    return str(candidate) if candidate.exists() else "dbt"


def _environment(settings: Settings, config: ClientConfig) -> dict[str, str]:
    return {
        **os.environ,
        **TOOL_ENVIRONMENT,
        "FORGELINE_DUCKDB_PATH": str(settings.warehouse_path(config.id)),
        "FORGELINE_DUCKDB_MEMORY_LIMIT": settings.client_duckdb_memory_limit,
        "FORGELINE_DUCKDB_THREADS": str(settings.client_threads),
    }


def _dbt_vars(config: ClientConfig) -> dict[str, Any]:
    return {"client_id": config.id, "client_timezone": config.timezone}


RAW_LINEAGE = {"_client_id", "_source_file", "_source_row", "_load_batch_id", "_loaded_at"}
PROBLEM_EXAMPLES = 5


@dataclass
class MappingProblem:
    """Rows quarantined for one rule on one column: the mapping could not use them."""

    source_name: str
    entity: str
    field: str
    column_name: str
    problem: str
    cells: int  # rows quarantined (one cell each) for this rule and column
    examples: list[tuple[str, int, str]]  # (file, row, value)
    rule: str = "cast"

    def describe(self) -> str:
        shown = "; ".join(f"{file} row {row}: {value!r}" for file, row, value in self.examples)
        return (
            f"source {self.source_name}, column {self.column_name!r} → {self.entity}.{self.field}: "
            f"{self.cells:,} row(s) quarantined ({self.rule}: {self.problem}), e.g. {shown}"
        )


def raw_columns(con: duckdb.DuckDBPyConnection) -> dict[str, list[str]]:
    """Each raw table (one per delivered source) and its columns as delivered."""
    columns: dict[str, list[str]] = {}
    for table, column in con.execute(
        "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'raw' "
        "AND table_name NOT LIKE '\\_%' ESCAPE '\\' ORDER BY table_name, ordinal_position"
    ).fetchall():
        if column not in RAW_LINEAGE:
            columns.setdefault(table, []).append(column)
    return columns


def mapping_problems(
    con: duckdb.DuckDBPyConnection, limit_per_column: int = PROBLEM_EXAMPLES
) -> list[MappingProblem]:
    """The quarantined rows, grouped per source column, rule and reason, with a few examples each."""
    rows = con.execute(
        "SELECT source_name, entity, field, column_name, reason, count(*) AS cells, "
        "min_by([source_file, CAST(source_row AS VARCHAR), value], (source_file, source_row), "
        f"{limit_per_column}), rule FROM mapped._quarantine GROUP BY ALL "
        "ORDER BY source_name, entity, field, rule, reason"
    ).fetchall()
    return [
        MappingProblem(
            source,
            entity,
            field_name,
            column,
            reason,
            int(cells),
            [(e[0], int(e[1]), e[2]) for e in examples],
            rule,
        )
        for source, entity, field_name, column, reason, cells, examples, rule in rows
    ]


def client_models(settings: Settings, client_id: str) -> dict[str, str]:
    """The client's escape-hatch SQL models, ``<home>/clients/<id>/models/<entity>.sql`` (rare; reviewed)."""
    folder = settings.client_models_dir(client_id)
    return (
        {p.stem: p.read_text(encoding="utf-8") for p in sorted(folder.glob("*.sql"))}
        if folder.exists()
        else {}
    )


def create_mapped_views(con: duckdb.DuckDBPyConnection, compiled: CompiledMapping) -> list[MappingProblem]:
    """(Re)create the ``mapped`` views from a compiled mapping, and their quarantine; return it grouped.

    ``mapped._quarantine`` holds every row (or tag reading) a mapping rule left out, with file, row,
    column, value, rule and reason; a row a later delivery corrected (same key, now in the view) is no
    longer in it. ``mapped._quarantine_summary`` holds the share of the delivered rows per entity and rule
    (of the readings per tag), which the quality gate judges. A mapping whose SQL fails on the data (a bad
    expression or client model) raises CompileError with DuckDB's reason, never a traceback. Runs
    ``forgeline run`` and ``forgeline check`` alike.
    """
    con.execute("DROP SCHEMA IF EXISTS mapped CASCADE")
    con.execute("CREATE SCHEMA mapped")
    try:
        for name, sql in compiled.views.items():
            con.execute(f'CREATE VIEW mapped."{name}" AS {sql}')
        for name, sql in compiled.rows.items():
            con.execute(f'CREATE VIEW mapped."{name}__rows" AS {sql}')
        for name, sql in compiled.latest.items():
            con.execute(f'CREATE MACRO mapped."{name}__latest"(batches) AS TABLE {sql}')
        con.execute("CREATE TABLE mapped._dedup_by (view VARCHAR, columns VARCHAR[], row_key VARCHAR[])")
        con.executemany(
            "INSERT INTO mapped._dedup_by VALUES (?, ?, ?)",
            [(view, columns, compiled.row_key[view]) for view, columns in compiled.dedup_by.items()],
        )
        for name, sql in compiled.seen.items():
            con.execute(f'CREATE VIEW mapped."{name}" AS {sql}')
        columns = ", ".join(f"{name} {kind}" for name, kind in QUARANTINE_COLUMNS)
        con.execute(f"CREATE TABLE mapped._quarantine ({columns})")
        for sql in compiled.quarantine.values():
            con.execute(f"INSERT INTO mapped._quarantine BY NAME {sql}")
        _clear_corrected(con)
        _summarise_quarantine(con, compiled)
        return mapping_problems(con)
    except duckdb.Error as exc:
        raise CompileError(
            f"the mapping does not run on the delivered data ({str(exc).splitlines()[0]}); check the "
            "expressions and client models it uses"
        ) from exc


def _clear_corrected(con: duckdb.DuckDBPyConnection) -> None:
    """A quarantined row whose key a later delivery brought again, readable this time, is corrected."""
    entities = [
        r[0]
        for r in con.execute(
            "SELECT DISTINCT entity FROM mapped._quarantine WHERE level = 'row' AND dedup_key IS NOT NULL"
        ).fetchall()
    ]
    for entity in entities:
        if entity not in ENTITIES or entity == "sensor_readings":  # no entity view of its own
            continue
        con.execute(
            "DELETE FROM mapped._quarantine WHERE level = 'row' AND entity = ? AND EXISTS ("
            f'SELECT 1 FROM mapped."{entity}" AS v WHERE v.dedup_key = _quarantine.dedup_key '
            "AND v.loaded_at > _quarantine.loaded_at)",
            [entity],
        )


def _summarise_quarantine(con: duckdb.DuckDBPyConnection, compiled: CompiledMapping) -> None:
    """Per entity and rule: rows quarantined, rows delivered, and the share; per tag for readings.

    A row breaking two rules counts once under each. Delivered rows are counted only for what holds
    quarantined rows (one pass over those feeds)."""
    con.execute(
        "CREATE TABLE mapped._quarantine_summary (entity VARCHAR, level VARCHAR, tag VARCHAR, rule VARCHAR, "
        "quarantined_rows BIGINT, delivered_rows BIGINT, share DOUBLE)"
    )
    names = [r[0] for r in con.execute("SELECT DISTINCT entity FROM mapped._quarantine").fetchall()]
    delivered = [compiled.delivered[n] for n in sorted(names) if n in compiled.delivered]
    if not delivered:
        return
    counts = " UNION ALL BY NAME ".join(f"({sql})" for sql in delivered)
    con.execute(
        f"INSERT INTO mapped._quarantine_summary "
        f"WITH delivered AS (SELECT entity, level, tag, sum(delivered) AS delivered FROM ({counts}) "
        "GROUP BY ALL), "
        "broken AS (SELECT entity, level, CASE WHEN level = 'reading' THEN field ELSE '' END AS tag, rule, "
        "count(DISTINCT (source_name, source_file, source_row)) AS quarantined FROM mapped._quarantine "
        "GROUP BY ALL) "
        "SELECT b.entity, b.level, b.tag, b.rule, b.quarantined, d.delivered, "
        "b.quarantined / greatest(d.delivered, b.quarantined) FROM broken AS b "
        "JOIN delivered AS d USING (entity, level, tag) ORDER BY ALL"
    )


def apply_mapping(settings: Settings, config: ClientConfig) -> list[MappingProblem]:
    """Compile the client's mapping into the ``mapped`` views of its warehouse; return quarantined rows."""
    settings.warehouse_dir.mkdir(parents=True, exist_ok=True)
    con = open_warehouse(settings, config.id)
    try:
        # Mapped SQL reads this warehouse only: no file on disk, whatever a mapping or model says.
        con.execute("SET enable_external_access = false")
        con.execute("CREATE SCHEMA IF NOT EXISTS raw")
        compiled = compile_mapping(config, raw_columns(con), client_models(settings, config.id))
        con.execute("BEGIN TRANSACTION")
        try:
            problems = create_mapped_views(con, compiled)
        except CompileError as exc:
            con.execute("ROLLBACK")
            raise CompileError(
                f"{settings.client_config_path(config.id)}: {exc} (`forgeline check {config.id}` shows the "
                "same without loading anything)."
            ) from exc
        con.execute(
            "CREATE TABLE mapped._problems (source_name VARCHAR, entity VARCHAR, field VARCHAR, "
            "column_name VARCHAR, problem VARCHAR, cells BIGINT, examples VARCHAR, rule VARCHAR)"
        )
        for p in problems:
            con.execute(
                "INSERT INTO mapped._problems VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [p.source_name, p.entity, p.field, p.column_name, p.problem, p.cells, p.describe(), p.rule],
            )
        con.execute("COMMIT")
    finally:
        con.close()
    for problem in problems:
        log.warning("%s: %s", config.id, problem.describe())
    return problems


def run_dbt(
    settings: Settings,
    config: ClientConfig,
    command: Literal["build", "test", "docs", "unit"] = "build",
    full_refresh: bool = False,
) -> DbtRunResult:
    """Run dbt build (or test, or docs generate) for one client; raise StandardizeError on failure.

    A build is incremental or a full refresh as ``plan_build`` decides (``full_refresh`` forces one); the
    record of the last complete build is removed before dbt starts and written only after it succeeded.

    A client's build and test run its models and data tests, not the project's unit tests: those check
    the SQL's logic on fixed fixtures, the same for every client, so they run once in the test suite
    (``command="unit"``), as dbt advises for production builds, instead of once per client and run.
    """
    target = settings.dbt_target_dir(config.id)
    target.mkdir(parents=True, exist_ok=True)
    _forget_parse_of_another_project(target)
    args = {
        "docs": ["docs", "generate"],
        "unit": ["test", "--select", "resource_type:unit_test"],
        "build": ["build", "--exclude-resource-type", "unit_test"],
        "test": ["test", "--exclude-resource-type", "unit_test"],
    }[command]
    # dbt would only say "Could not set lock on file" deep in its log: name the program holding it first.
    open_warehouse(settings, config.id).close()
    plan = plan_build(settings, config, force_full=full_refresh) if command == "build" else None
    if plan is not None:
        log.info("dbt build of %s: %s: %s", config.id, plan.mode, plan.reason)
        if plan.mode == "full refresh":
            args.append("--full-refresh")
        # Before dbt changes anything: a build killed from here on leaves no record, so the next is full.
        forget_build(settings, config.id)
    cmd = [
        _dbt_executable(),
        "--no-use-colors",
        # Statuses, timings and errors only: the debug level wrote every statement of every node (12,000
        # lines for one small client) and cost about a tenth of the build. Compiled SQL stays in target/.
        "--log-level-file",
        "info",
        *args,
        "--project-dir",
        str(DBT_PROJECT_DIR),
        "--profiles-dir",
        str(DBT_PROJECT_DIR),
        "--target-path",
        str(target),
        "--log-path",
        str(settings.dbt_log_dir(config.id)),
        "--vars",
        json.dumps(_dbt_vars(config)),
        # Models one at a time when the client has one core: two at once share its DuckDB memory limit,
        # and the L-program's cycle parameters (27 M rows) ran out of it beside fct_quality_results.
        "--threads",
        str(settings.client_threads),
    ]
    shown = " ".join(a for a in args if a not in ("--exclude-resource-type", "unit_test", "--select"))
    environment = _environment(settings, config)
    # The new batches go in the environment, not in --vars: changed vars make dbt parse everything again.
    environment["FORGELINE_NEW_BATCHES"] = ",".join(plan.new_batches) if plan is not None else ""
    log.info("dbt %s for %s…", shown, config.id)
    # A failed start (bad project, no profile) writes no results: never read the last run's instead.
    (target / "run_results.json").unlink(missing_ok=True)
    output: deque[str] = deque(maxlen=OUTPUT_TAIL_LINES)
    with subprocess.Popen(
        cmd,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        encoding="utf-8",
        errors="replace",
    ) as process:
        assert process.stdout is not None
        for line in process.stdout:
            output.append(line)
            _log_progress(config.id, line)
    returncode = process.returncode
    result = _read_run_results(target / "run_results.json", config.id, command)
    if returncode != 0:
        if result.failures:
            named = "; ".join(f"{node}: {message}" for node, message in result.failures[:8])
        else:
            named = "".join(output).strip()[-3000:]
        raise StandardizeError(
            f"dbt {shown} failed for {config.id}: {named}. Full log: "
            f"{settings.dbt_log_dir(config.id) / 'dbt.log'}. {failure_advice(settings, named)}"
        )
    if plan is not None:
        if plan.state:
            record_build(settings, config.id, plan.state)
        result.mode, result.mode_reason = plan.mode, plan.reason
    log.info("dbt %s for %s: %s", shown, config.id, result.summary())
    return result


# -- incremental or full refresh -----------------------------------------------------------------------
RECORD_SCHEMA = "_forgeline"
RECORD_TABLE = f"{RECORD_SCHEMA}.last_build"
RECORD_VERSION = 1
# Entities that feed dims (master data): a new batch of one may change every fact row (the_only, joins).
MASTER_ENTITIES = frozenset({"sites", "equipment", "products", "shifts", "non_working_days", "energy_meters"})
# The dims that list the facts' ids (mapped._seen_<column>, see forgeline.mapping.compile.SEEN_IDS). Meters
# are checked on their own below: a reading without one falls back to the only meter, or 'main'.
SEEN_IN_DIM = {"machine_id": "dim_equipment", "product_id": "dim_products"}
_DBT_PROJECT_GLOBS = (
    "dbt_project.yml",
    "profiles.yml",
    "models/**/*",
    "macros/**/*",
    "seeds/**/*",
    "tests/**/*",
)


@dataclass
class BuildPlan:
    """How the next ``dbt build`` runs, why, and the state to record once it succeeded."""

    mode: Literal["full refresh", "incremental"]
    reason: str
    state: dict[str, Any]  # empty when the warehouse could not be read: then nothing is recorded
    new_batches: list[str] = field(default_factory=list)


def _forget_parse_of_another_project(target: Path) -> None:
    """dbt's saved parse (``partial_parse.msgpack``) keeps the project's absolute paths: a workspace built
    by another checkout of Forgeline would load seeds from that checkout's folder, or fail where it is
    gone. The parse is kept only for the project it was made from."""
    made_for = target / "project_dir.txt"
    if not made_for.exists() or made_for.read_text(encoding="utf-8") != str(DBT_PROJECT_DIR):
        (target / "partial_parse.msgpack").unlink(missing_ok=True)
        made_for.write_text(str(DBT_PROJECT_DIR), encoding="utf-8")


def dbt_project_fingerprint() -> str:
    """A digest of the dbt project and the versions that run it (a change means a full refresh)."""
    digest = hashlib.sha256()
    for package in ("dbt-core", "dbt-duckdb", "duckdb"):
        digest.update(f"{package}=={metadata.version(package)}\n".encode())
    paths = {p for pattern in _DBT_PROJECT_GLOBS for p in DBT_PROJECT_DIR.glob(pattern) if p.is_file()}
    for path in sorted(paths):
        digest.update(str(path.relative_to(DBT_PROJECT_DIR)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def build_state(con: duckdb.DuckDBPyConnection, config: ClientConfig) -> dict[str, Any]:
    """What a build's result depends on: dbt vars and project, the mapped views' SQL, the live batches."""
    views = con.execute(
        "SELECT view_name, sql FROM duckdb_views() WHERE schema_name = 'mapped' AND NOT internal "
        "ORDER BY view_name"
    ).fetchall()
    has_batches = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'raw' AND table_name = '_load_batches'"
    ).fetchone()
    batches = (
        con.execute(
            "SELECT DISTINCT batch_id, raw_table FROM raw._load_batches "
            "WHERE coalesce(status, 'loaded') = 'loaded' ORDER BY ALL"
        ).fetchall()
        if has_batches and has_batches[0]
        else []
    )
    return {
        "version": RECORD_VERSION,
        "vars": _dbt_vars(config),
        "dbt_project": dbt_project_fingerprint(),
        "mapped_sql": hashlib.sha256(json.dumps(views).encode()).hexdigest(),
        "batches": [[batch, table] for batch, table in batches],
    }


def _read_record(con: duckdb.DuckDBPyConnection) -> dict[str, Any] | None | str:
    """The last complete build's state; None when there is none, a reason when it cannot be read."""
    exists = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE schema_name = ? AND table_name = 'last_build'",
        [RECORD_SCHEMA],
    ).fetchone()
    if not exists or not exists[0]:
        return None
    rows = con.execute(f"SELECT record FROM {RECORD_TABLE}").fetchall()
    try:
        record = json.loads(rows[0][0]) if len(rows) == 1 else None
    except (TypeError, ValueError):
        record = None
    keys = {"version", "vars", "dbt_project", "mapped_sql", "batches"}
    if not isinstance(record, dict) or not keys <= record.keys() or record["version"] != RECORD_VERSION:
        return "the record of the last build is unreadable"
    return record


def _batches_named(con: duckdb.DuckDBPyConnection, batches: list[str], limit: int = 3) -> str:
    files = dict(
        con.execute(
            "SELECT batch_id, min(source_file) FROM raw._load_batches WHERE list_contains(?, batch_id) "
            "GROUP BY batch_id",
            [batches],
        ).fetchall()
    )
    named = ", ".join(f"{b} ({files[b]})" if b in files else b for b in sorted(batches)[:limit])
    return named + (f" and {len(batches) - limit} more" if len(batches) > limit else "")


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "es" if word.endswith("ch") else "s")


def _incremental_or_reason(
    con: duckdb.DuckDBPyConnection, config: ClientConfig, state: dict[str, Any], has_client_models: bool
) -> tuple[list[str] | None, str]:
    """The new batches when an incremental build equals a full one, else (None, why it would not)."""
    record = _read_record(con)
    if record is None:
        return None, "no record of a complete earlier build"
    if isinstance(record, str):
        return None, record
    if record["vars"] != state["vars"]:
        return None, "the dbt vars (client id or time zone) changed"
    if record["dbt_project"] != state["dbt_project"]:
        return None, "the dbt project (or dbt, DuckDB) changed"
    if record["mapped_sql"] != state["mapped_sql"]:
        return None, "the mapping changed (its compiled SQL differs)"
    if has_client_models:
        return None, "the client has its own SQL models, which may read any earlier rows"
    before = {tuple(pair) for pair in record["batches"]}
    live = {tuple(pair) for pair in state["batches"]}
    gone = sorted({batch for batch, _ in before - live})
    if gone:
        return None, f"{_plural(len(gone), 'batch')} withdrawn or superseded: {_batches_named(con, gone)}"
    added = live - before
    new = sorted({batch for batch, _ in added})
    if not new:
        return [], "no new batch"
    shared = sorted(set(new) & {batch for batch, _ in before})
    if shared:
        return None, f"batch {shared[0]} was already loaded into another raw table"
    sources = {source.name: source for source in config.sources}
    views: set[str] = set()
    for batch, table in sorted(added):
        source = sources.get(table)
        if source is None:
            return None, f"batch {batch} is in raw.{table}, which no source of the mapping reads"
        fed = set(source.feeds) | {TAG_ENTITIES[e] for e, feed in source.feeds.items() if feed.tags}
        masters = sorted(fed & MASTER_ENTITIES)
        if masters:
            return None, f"batch {_batches_named(con, [batch])} feeds master data ({', '.join(masters)})"
        views |= fed  # every entity and tag view is a mapped view
    batch_list = ", ".join(f"'{b}'" for b in new)
    dedup_by = {
        v: (c, r) for v, c, r in con.execute("SELECT view, columns, row_key FROM mapped._dedup_by").fetchall()
    }
    for view in sorted(views):
        # A key delivered before: the later load replaces an earlier row (a corrected re-delivery). Joined
        # on the key's columns as the dedup compares them, the new batches' few keys on the hash side. A
        # tag view's readings are compared by their rows (one for several readings): a row delivered again
        # replaces readings, or may.
        keys, row_key = dedup_by[view]
        rows = f'mapped."{view}__rows"' if row_key else f'mapped."{view}"'
        columns = [f'"{c}"' for c in row_key or keys]
        same = " AND ".join(f"n.{c} IS NOT DISTINCT FROM o.{c}" for c in columns)
        replaced = con.execute(
            f"SELECT count(*) FROM (SELECT DISTINCT {', '.join(f'n.{c}' for c in columns)} "
            f"FROM (SELECT DISTINCT {', '.join(columns)} FROM {rows} "
            f"WHERE load_batch_id IN ({batch_list})) AS n "
            f"JOIN (SELECT {', '.join(columns)} FROM {rows} "
            f"WHERE load_batch_id NOT IN ({batch_list})) AS o ON {same})"
        ).fetchone()
        if replaced and replaced[0]:
            return None, f"{replaced[0]:,} row key(s) of the new batches replace earlier rows in {view}"
    for column, dim in SEEN_IN_DIM.items():
        fed = [e for e in SEEN_IDS[column] if e in views]
        if not fed:
            continue
        union = " UNION ".join(
            f'SELECT {column} FROM mapped."{e}" WHERE load_batch_id IN ({batch_list}) '
            f"AND {column} IS NOT NULL"
            for e in fed
        )
        unseen = [
            r[0]
            for r in con.execute(
                f"SELECT DISTINCT {column} FROM ({union}) EXCEPT SELECT {column} FROM core.{dim} ORDER BY 1"
            ).fetchall()
        ]
        if unseen:
            return None, f"new {column.removesuffix('_id')}(s) {', '.join(map(str, unseen[:5]))} not in {dim}"
    if "energy_readings" in views:  # dim_energy_meters.sql names a reading without meter this way
        only = (
            "(SELECT CASE WHEN count(DISTINCT meter_id) = 1 THEN min(meter_id) END "
            "FROM staging.stg_mapped__energy_meters)"
        )
        unseen = con.execute(
            f"SELECT DISTINCT coalesce(meter_id, {only}, 'main') FROM mapped.energy_readings "
            f"WHERE load_batch_id IN ({batch_list}) EXCEPT SELECT meter_id FROM core.dim_energy_meters"
        ).fetchall()
        if unseen:
            return None, f"new meter(s) {', '.join(str(r[0]) for r in unseen[:5])} not in dim_energy_meters"
    return new, f"{_plural(len(new), 'new batch')}: {_batches_named(con, new)}"


def plan_build(settings: Settings, config: ClientConfig, force_full: bool = False) -> BuildPlan:
    """Incremental when provably equal to a full rebuild, else full refresh; and why (for the run log).

    Incremental only when, since the last complete build (its record is in the warehouse): the dbt vars,
    dbt project and the mapped views' SQL are the same, the client has no SQL models of its own, no batch
    was withdrawn or superseded, and the new batches feed no master data, bring no key delivered before
    (no corrected re-delivery) and name no machine, product or meter the dims lack. Then the facts gain
    exactly the new batches' rows and the dims stay as they are; everything else is rebuilt from them.
    A missing or unreadable record, or any error while checking, means a full refresh.
    """
    con = open_warehouse(settings, config.id, read_only=True)
    try:
        try:
            state = build_state(con, config)
        except duckdb.Error as exc:
            return BuildPlan("full refresh", f"the warehouse could not be read ({exc})", {})
        if force_full:
            return BuildPlan("full refresh", "asked for", state)
        try:
            new, reason = _incremental_or_reason(con, config, state, bool(client_models(settings, config.id)))
        except duckdb.Error as exc:
            return BuildPlan(
                "full refresh", f"the last build could not be checked ({str(exc).splitlines()[0]})", state
            )
    finally:
        con.close()
    if new is None:
        return BuildPlan("full refresh", reason, state)
    return BuildPlan("incremental", reason, state, new)


def forget_build(settings: Settings, client_id: str) -> None:
    """Remove the record of the last complete build (before dbt changes anything)."""
    con = open_warehouse(settings, client_id)
    try:
        con.execute(f"DROP TABLE IF EXISTS {RECORD_TABLE}")
    finally:
        con.close()


def record_build(settings: Settings, client_id: str, state: dict[str, Any]) -> None:
    """Record a complete build's state (after dbt succeeded): the next build compares against it."""
    con = open_warehouse(settings, client_id)
    try:
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {RECORD_SCHEMA}")
        con.execute(f"CREATE OR REPLACE TABLE {RECORD_TABLE} AS SELECT ? AS record", [json.dumps(state)])
    finally:
        con.close()


# dbt's console line for a finished node, e.g. "12 of 97 OK created sql table model core.fct_cycles ..."
_NODE_DONE = re.compile(
    r"(\d+) of (\d+) (OK created|ERROR creating|FAIL|WARN|ERROR|PASS|SKIP)\b(.*?)\s*\.{2,}"
)


def _log_progress(client_id: str, line: str) -> None:
    """Follow a long build: each model built, and each failing or warning test, as it happens."""
    match = _NODE_DONE.search(line)
    if not match:
        return
    done, total, status, what = match.groups()
    message = f"{client_id}: dbt {done}/{total} {status}{what}"
    if status in ("PASS", "SKIP"):
        log.debug(message)
    elif status == "OK created":
        log.info(message)
    else:
        log.warning(message)


def failure_advice(settings: Settings, failures: str) -> str:
    """What to do about a failed build: DuckDB out of memory is the program's settings, never the data's
    fault (the memory DuckDB gets per client comes from the budget, settings.py); else a test caught rows."""
    if "Out of Memory Error" in failures:
        limit, side_by_side = settings.client_duckdb_memory_limit, settings.parallel_clients
        return (
            f"DuckDB ran out of the memory one client's build may use ({limit}, with {side_by_side} "
            "client(s) side by side): the data is not at fault. Give the program more memory "
            "(FORGELINE_MEMORY_BUDGET, e.g. 8GB) or run fewer clients side by side "
            "(FORGELINE_PARALLEL_CLIENTS=1), then run again."
        )
    return (
        "A failing test usually means the client's export changed or holds bad rows: check the named model's "
        "source file."
    )


def _read_run_results(path: Path, client_id: str, command: str) -> DbtRunResult:
    result = DbtRunResult(client_id=client_id, command=command)
    if not path.exists():
        return result
    data = json.loads(path.read_text(encoding="utf-8"))
    result.elapsed_s = float(data.get("elapsed_time", 0.0))
    for item in data.get("results", []):
        status = str(item.get("status"))
        result.counts[status] = result.counts.get(status, 0) + 1
        if status in {"error", "fail"}:
            node = item.get("unique_id", "?").split(".", 2)[-1]
            lines = [line.strip() for line in (item.get("message") or "").splitlines() if line.strip()]
            result.failures.append((node, " ".join(lines[:3]) if lines else status))
    return result


def generate_docs(settings: Settings, config: ClientConfig) -> Path:
    """``dbt docs generate`` for the client; returns the path of the docs site's index.html."""
    run_dbt(settings, config, "docs")
    return settings.dbt_target_dir(config.id) / "index.html"

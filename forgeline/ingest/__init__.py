"""Landing → raw: load each client's delivered files into its own DuckDB file, safely and once.

- Every column is kept as text under its original header (Korean included); dbt staging casts.
- Lineage on every row: client, file, row number in the file, load batch (file hash), load time.
- One transaction per file and source: a bad file loads nothing and leaves earlier files intact.
- A file already loaded (same content hash, same raw table) is skipped: re-running is safe.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow as pa

from forgeline.ingest.readers import ReadError, read_source
from forgeline.mapping.spec import ClientConfig, SourceSpec
from forgeline.settings import Settings

log = logging.getLogger("forgeline.ingest")

LINEAGE_COLUMNS = ["_client_id", "_source_file", "_source_row", "_load_batch_id", "_loaded_at"]


class IngestError(ValueError):
    """A delivered file that cannot be loaded; names the file, the row or column, and what to do."""


@dataclass(frozen=True)
class FileLoad:
    file: str
    raw_table: str
    rows: int
    batch_id: str
    status: str  # loaded | skipped | rejected (this run) | rejected earlier
    encoding: str | None = None
    error: str | None = None  # for rejected files: where and what to do


@dataclass
class IngestReport:
    client_id: str
    files: list[FileLoad] = field(default_factory=list)
    unmatched: list[str] = field(default_factory=list)
    # Declared sources no delivered file matches yet: "name (files)".
    undelivered: list[str] = field(default_factory=list)

    @property
    def rows_loaded(self) -> int:
        return sum(f.rows for f in self.files if f.status == "loaded")

    @property
    def rejected(self) -> list[FileLoad]:
        """Files refused in this run (their errors say where and what to do)."""
        return [f for f in self.files if f.status == "rejected"]

    def raise_for_rejections(self) -> None:
        """Raise one IngestError naming every file refused in this run (other files stay loaded)."""
        if self.rejected:
            raise IngestError("\n".join(str(f.error) for f in self.rejected))


def file_batch_id(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()[:16]


def add_files(settings: Settings, client_id: str, paths: list[Path]) -> list[Path]:
    """Copy delivered files into the client's landing folder (atomic; never overwrites other content)."""
    landing = settings.landing_dir(client_id)
    landing.mkdir(parents=True, exist_ok=True)
    placed = []
    for source in paths:
        target = landing / source.name
        if target.exists():
            if file_batch_id(target) == file_batch_id(source):
                placed.append(target)
                continue
            raise IngestError(
                f"{source}: a different file named {source.name} was already delivered for {client_id}. "
                "Landing files are never overwritten: rename the new file (add its date) and ingest again."
            )
        partial = landing / f".{source.name}.partial"
        shutil.copyfile(source, partial)
        partial.replace(target)
        placed.append(target)
    return placed


def _landing_files(landing: Path) -> list[Path]:
    if not landing.exists():
        return []
    return sorted(p for p in landing.rglob("*") if p.is_file() and not p.name.startswith("."))


def _quote(name: str) -> str:
    """A header as a SQL identifier: exports have quotes, dots and Korean in their headers."""
    return '"' + name.replace('"', '""') + '"'


def _ensure_registry(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("CREATE SCHEMA IF NOT EXISTS raw")
    con.execute(
        "CREATE TABLE IF NOT EXISTS raw._load_batches (batch_id VARCHAR, client_id VARCHAR, "
        "source_file VARCHAR, raw_table VARCHAR, rows BIGINT, encoding VARCHAR, loaded_at TIMESTAMPTZ, "
        "PRIMARY KEY (batch_id, raw_table))"
    )
    # What each landing file was when it was last hashed: an unchanged file (same size and modification
    # time) is not read again to hash it on every run.
    con.execute(
        "CREATE TABLE IF NOT EXISTS raw._landing_files (source_file VARCHAR PRIMARY KEY, size BIGINT, "
        "mtime_ns BIGINT, batch_id VARCHAR)"
    )
    # Files refused, per content and the source settings that read them: the same file read the same way
    # is not retried (it would fail the same way); a corrected mapping.yml source retries it.
    con.execute(
        "CREATE TABLE IF NOT EXISTS raw._rejected_files (batch_id VARCHAR, client_id VARCHAR, "
        "source_file VARCHAR, raw_table VARCHAR, source_settings VARCHAR, error VARCHAR, "
        "rejected_at TIMESTAMPTZ, PRIMARY KEY (batch_id, raw_table, source_settings))"
    )


def _ensure_table(con: duckdb.DuckDBPyConnection, table: str, columns: list[str]) -> None:
    """Create the raw table, or add columns a later export brought (schema drift is kept, not lost)."""
    existing = [
        r[0]
        for r in con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema='raw' AND table_name=?"
            " ORDER BY ordinal_position",
            [table],
        ).fetchall()
    ]
    if not existing:
        body = ", ".join(f"{_quote(c)} VARCHAR" for c in [*columns, *LINEAGE_COLUMNS[:4]])
        con.execute(f'CREATE TABLE raw."{table}" ({body}, "_loaded_at" TIMESTAMPTZ)')
        return
    known = {c.casefold() for c in existing}  # DuckDB matches column names regardless of case
    for column in columns:
        if column.casefold() not in known:
            log.warning(
                "raw.%s: new column %r in this delivery; added (earlier rows have it empty).", table, column
            )
            con.execute(f'ALTER TABLE raw."{table}" ADD COLUMN {_quote(column)} VARCHAR')


def _load_one(
    con: duckdb.DuckDBPyConnection,
    config: ClientConfig,
    spec: SourceSpec,
    path: Path,
    relative: str,
    batch_id: str,
    limit: int | None = None,
) -> FileLoad:
    """Load one file into ``raw.<source>`` in one transaction (``limit``: its first rows only, a dry run)."""
    table = spec.name
    loaded_at = datetime.now(UTC)
    rows = 0
    known_header: list[str] | None = None
    con.execute("BEGIN TRANSACTION")
    try:
        encoding, batches = read_source(path, spec)
        for header, batch in batches:
            if header != known_header:  # the first batch, or JSON lines that brought a new key
                _check_header(spec, header)
                _ensure_table(con, table, header)
                known_header = header
            if limit is not None:
                batch = batch[: max(0, limit - rows)]
            columns = list(zip(*batch, strict=True)) if batch else [[] for _ in range(len(header) + 1)]
            arrays = {name: pa.array(columns[i], type=pa.string()) for i, name in enumerate(header)}
            arrays["_source_row"] = pa.array(columns[-1], type=pa.string())
            frame = pa.table(arrays)
            con.register("incoming_batch", frame)
            con.execute(
                f'INSERT INTO raw."{table}" BY NAME SELECT *, ? AS _client_id, ? AS _source_file, '
                "? AS _load_batch_id, ?::TIMESTAMPTZ AS _loaded_at FROM incoming_batch",
                [config.id, relative, batch_id, loaded_at],
            )
            con.unregister("incoming_batch")
            rows += len(batch)
            log.info("%s: %s rows read so far…", relative, f"{rows:,}")
            if limit is not None and rows >= limit:
                break
        if rows == 0:
            raise ReadError(
                "holds no rows. Was the export cut off? Ask the client for the complete export"
                if spec.format in ("parquet", "jsonl") or spec.header_row == 0
                else f"has a header (row {spec.header_row}) but no data rows. Was the export cut off? Ask "
                "the client for the complete export"
            )
        con.execute(
            "INSERT INTO raw._load_batches VALUES (?, ?, ?, ?, ?, ?, ?)",
            [batch_id, config.id, relative, table, rows, encoding, loaded_at],
        )
        con.execute("COMMIT")
    except ReadError as exc:
        con.execute("ROLLBACK")
        where = f" (sheet {spec.sheet})" if spec.sheet else ""
        reason = str(exc).rstrip(". ")
        raise IngestError(f"{relative}{where}: {reason}. Nothing from this file was loaded.") from exc
    except Exception:
        con.execute("ROLLBACK")
        raise
    return FileLoad(relative, table, rows, batch_id, "loaded", encoding)


def _check_header(spec: SourceSpec, header: list[str]) -> None:
    where = {"parquet": "the Parquet schema", "jsonl": "the JSON keys"}.get(
        spec.format, f"header row {spec.header_row}" if spec.header_row else "`columns:`"
    )
    missing = [c for c in spec.required_columns if c not in header]
    if missing:
        raise ReadError(
            f"{where} is missing required column(s) {missing}; its columns are {header}. Ask the client "
            "for the full export, or fix `required_columns`/`header_row` in mapping.yml"
        )
    reserved = [c for c in header if c.casefold() in {n.casefold() for n in LINEAGE_COLUMNS}]
    if reserved:
        raise ReadError(
            f"{where}: column(s) {reserved} clash with Forgeline's lineage columns; rename them in the export"
        )


def _undelivered(con: duckdb.DuckDBPyConnection, config: ClientConfig) -> list[str]:
    """Declared sources with no loaded file yet (their entities stay empty until the client sends one)."""
    existing = {
        row[0]
        for row in con.execute("SELECT table_name FROM duckdb_tables() WHERE schema_name = 'raw'").fetchall()
    }
    return [f"{spec.name} ({spec.files})" for spec in config.sources if spec.name not in existing]


def _batch_id(con: duckdb.DuckDBPyConnection, path: Path, relative: str) -> str:
    """The file's content hash, read from the landing index while its size and modification time hold."""
    stat = path.stat()
    known = con.execute(
        "SELECT batch_id FROM raw._landing_files WHERE source_file = ? AND size = ? AND mtime_ns = ?",
        [relative, stat.st_size, stat.st_mtime_ns],
    ).fetchone()
    if known:
        return str(known[0])
    batch_id = file_batch_id(path)
    con.execute(
        "INSERT OR REPLACE INTO raw._landing_files VALUES (?, ?, ?, ?)",
        [relative, stat.st_size, stat.st_mtime_ns, batch_id],
    )
    return batch_id


def _source_settings_key(spec: SourceSpec) -> str:
    return hashlib.sha256(spec.model_dump_json().encode()).hexdigest()[:16]


def ingest_client(
    settings: Settings, config: ClientConfig, raise_on_rejection: bool = True, retry: bool = False
) -> IngestReport:
    """Load every landing file of the client that is not loaded yet; return what happened to each.

    A file that cannot be loaded is rolled back and recorded in ``raw._rejected_files``; the other files
    still load. Then, unless ``raise_on_rejection`` is False, one IngestError names every file refused in
    this run. A file refused earlier (same content, same source settings) is not retried unless ``retry``.
    """
    report = IngestReport(client_id=config.id)
    landing = settings.landing_dir(config.id)
    files = _landing_files(landing)
    settings.warehouse_dir.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(
        str(settings.warehouse_path(config.id)), config={"memory_limit": settings.ingest_memory_limit}
    )
    try:
        _ensure_registry(con)
        if retry:
            con.execute("DELETE FROM raw._rejected_files")
        loaded = {
            (b, t) for b, t in con.execute("SELECT batch_id, raw_table FROM raw._load_batches").fetchall()
        }
        rejected_earlier = {
            (b, t, k): error
            for b, t, k, error in con.execute(
                "SELECT batch_id, raw_table, source_settings, error FROM raw._rejected_files"
            ).fetchall()
        }
        matched: set[Path] = set()
        for spec in config.sources:
            for path in files:
                relative = path.relative_to(landing).as_posix()
                if not spec.takes(relative):
                    continue
                matched.add(path)
                batch_id = _batch_id(con, path, relative)
                table = spec.name
                if (batch_id, table) in loaded:
                    report.files.append(FileLoad(relative, table, 0, batch_id, "skipped"))
                    continue
                key = (batch_id, table, _source_settings_key(spec))
                if key in rejected_earlier:
                    log.warning(
                        "%s was refused earlier and is not retried: %s Fix this source in mapping.yml "
                        "(it is then re-read), run `forgeline ingest --retry`, or withdraw the file "
                        "(`forgeline withdraw`).",
                        relative,
                        rejected_earlier[key],
                    )
                    report.files.append(
                        FileLoad(
                            relative, table, 0, batch_id, "rejected earlier", error=rejected_earlier[key]
                        )
                    )
                    continue
                started = time.perf_counter()
                log.info("Loading %s into raw.%s…", relative, table)
                try:
                    result = _load_one(con, config, spec, path, relative, batch_id)
                except IngestError as exc:
                    log.error("%s", exc)
                    con.execute(
                        "INSERT INTO raw._rejected_files VALUES (?, ?, ?, ?, ?, ?, ?)",
                        [batch_id, config.id, relative, table, key[2], str(exc), datetime.now(UTC)],
                    )
                    rejected_earlier[key] = str(exc)
                    report.files.append(FileLoad(relative, table, 0, batch_id, "rejected", error=str(exc)))
                    continue
                # The same content delivered twice under two names in one drop loads once.
                loaded.add((batch_id, table))
                log.info(
                    "Loaded %s: %s rows into raw.%s in %.1f s%s.",
                    relative,
                    f"{result.rows:,}",
                    table,
                    time.perf_counter() - started,
                    f" (encoding {result.encoding})" if result.encoding else "",
                )
                report.files.append(result)
        report.unmatched = [p.relative_to(landing).as_posix() for p in files if p not in matched]
        report.undelivered = _undelivered(con, config)
    finally:
        con.close()
    if raise_on_rejection:
        report.raise_for_rejections()
    return report


def withdraw_file(settings: Settings, config: ClientConfig, relative: str) -> int:
    """Take a delivered file back: its raw rows and records go, the file moves out of the landing folder.

    Returns the number of raw rows removed. The file is kept under ``<home>/withdrawn/<client>/`` so
    nothing the client sent is ever lost; ingesting it again later is a new delivery.
    """
    landing = settings.landing_dir(config.id)
    path = landing / relative
    if not path.resolve().is_relative_to(landing.resolve()) or not path.is_file():
        delivered = [p.relative_to(landing).as_posix() for p in _landing_files(landing)]
        raise IngestError(f"{relative}: no such file delivered for {config.id}; its files are {delivered}")
    con = duckdb.connect(str(settings.warehouse_path(config.id)))
    removed = 0
    try:
        _ensure_registry(con)
        con.execute("BEGIN TRANSACTION")
        batches = con.execute(
            "SELECT raw_table FROM raw._load_batches WHERE source_file = ?", [relative]
        ).fetchall()
        for (table,) in batches:
            removed += con.execute(
                f'DELETE FROM raw."{table}" WHERE _source_file = ?', [relative]
            ).fetchone()[0]
        for registry in ("_load_batches", "_rejected_files", "_landing_files"):
            con.execute(f"DELETE FROM raw.{registry} WHERE source_file = ?", [relative])
        target = settings.withdrawn_dir(config.id) / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():
            target = target.with_name(f"{target.stem}.{datetime.now(UTC):%Y%m%dT%H%M%S}{target.suffix}")
        shutil.move(str(path), str(target))
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    finally:
        con.close()
    log.info(
        "Withdrew %s from %s: %s raw rows removed; the file is kept in %s.",
        relative,
        config.id,
        removed,
        target,
    )
    return removed


__all__ = [
    "FileLoad",
    "IngestError",
    "IngestReport",
    "add_files",
    "file_batch_id",
    "ingest_client",
    "withdraw_file",
]

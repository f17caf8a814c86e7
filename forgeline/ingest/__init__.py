"""Landing → raw: load each client's delivered files into its own DuckDB file, safely and once.

- Every column is kept as text under its original header (Korean included); dbt staging casts.
- Lineage on every row: client, file, row number in the file, load batch (file hash), load time.
- One transaction per file and source: a bad file loads nothing and leaves earlier files intact; it is
  recorded in ``raw._rejected_files`` with what to do, and the client's other files still load.
- A file already loaded (same content hash, same raw table) is skipped: re-running is safe.

What the landing folder may hold (``landing.py``, ``readers.sniff_content``):
- Regular files only. A symbolic link, named pipe, socket or device, and a folder named so that a source
  takes it, is refused without being opened or followed (a pipe cannot hang a run; a link's target is
  never read or quoted), and recorded as refused like a bad file.
- A file that two sources' ``files:`` patterns take is refused, naming both (it would load twice), unless
  each of those sources reads its own sheet of one Excel workbook.
- Before a text file is decoded, what it really is is checked: empty, ZIP/Excel/PDF/image/compressed
  bytes, an HTML page, UTF-16, binary (NUL bytes), a line over ``readers.MAX_LINE_BYTES`` (1 MiB).
  Under ``encoding: auto``, CP949 that decodes into mostly rare syllables (Western text misread) is
  refused with the line and the ``encoding:`` to set.

A delivery's lifecycle (the rule: the latest delivery of a file name wins, and nothing is ever lost):
- Delivery: ``forgeline ingest CLIENT FILE...`` takes the client's lock, then copies the files into
  landing (``add_files``); the next ingest loads them.
- Re-delivery: a file of the same name (path in the landing folder) with other content supersedes the
  earlier one. ``add_files`` keeps the earlier file under ``<withdrawn>/<client>/superseded/`` as
  ``<name>.<UTC time>``. When the new content loads, the earlier batch's rows of that file name and raw
  table are deleted in the same transaction that inserts the new rows (a kill leaves the old rows or the
  new ones, never both or neither), and its ``raw._load_batches`` record stays, with ``status``
  'superseded', ``superseded_by`` (the new batch) and ``superseded_at``. A re-delivery that is refused
  leaves the earlier version loaded until it is fixed or withdrawn.
- A file changed in place in landing (same name; other size, modification time, change time or inode
  than when it was hashed) is a re-delivery too; its earlier content is gone from landing (only its record
  is kept): deliver through ``forgeline ingest`` to keep the files themselves. A file that changes while
  it is being loaded is rolled back and loaded on the next run.
- Withdrawal (``withdraw``: ``forgeline withdraw CLIENT X`` or ``forgeline ingest CLIENT --withdraw X``):
  X is a file name (every version of that name leaves: its rows, its load and refusal records) or a batch
  id or its prefix (that content leaves: its rows in every raw table, its records, every landing file
  holding it). The files move to ``<withdrawn>/<client>/``; superseded records stay as history. The next
  run rebuilds mapped views and dbt models from raw, so core and marts no longer hold it.
- Corrected rows under a new file name are a new delivery, not a re-delivery: staging keeps the later
  load of each natural key.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow as pa

from forgeline.ingest import csvload
from forgeline.ingest.errors import IngestError
from forgeline.ingest.landing import (
    FOLDER,
    Unusable,
    add_files,
    entry_kind,
    file_batch_id,
    move_aside,
    scan_landing,
    superseded_dir,
)
from forgeline.ingest.readers import Batch, CsvText, ReadError, prepare_text, read_csv, read_source
from forgeline.locking import open_warehouse
from forgeline.mapping.spec import ClientConfig, SourceSpec
from forgeline.settings import Settings

log = logging.getLogger("forgeline.ingest")

LINEAGE_COLUMNS = ["_client_id", "_source_file", "_source_row", "_load_batch_id", "_loaded_at"]


@dataclass(frozen=True)
class FileLoad:
    file: str
    raw_table: str
    rows: int
    batch_id: str
    status: str  # loaded | skipped | rejected (this run) | rejected earlier | changing (loaded next run)
    encoding: str | None = None
    error: str | None = None  # for rejected files: where and what to do
    superseded: tuple[str, ...] = ()  # earlier batches of this file name this load replaced


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
            raise IngestError("\n".join(self.errors))

    @property
    def errors(self) -> list[str]:
        """The refusals of this run, each once (a file two sources take is refused by both)."""
        return list(dict.fromkeys(str(f.error) for f in self.rejected))


class _ChangedWhileReading(Exception):
    """The file's size, times or inode changed during its load: rolled back, loaded next run."""


def _landing_files(landing: Path) -> list[Path]:
    """The landing folder's regular files (links and special files are never listed as files)."""
    return scan_landing(landing).files


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
    # A batch's rows are in raw while its status is 'loaded'; a re-delivery of its file name marks it
    # 'superseded' (by which batch, when) and its rows leave raw. Older tables gain the columns.
    for column in ("status VARCHAR DEFAULT 'loaded'", "superseded_by VARCHAR", "superseded_at TIMESTAMPTZ"):
        con.execute(f"ALTER TABLE raw._load_batches ADD COLUMN IF NOT EXISTS {column}")
    # What each landing file was when it was last hashed: an unchanged file (same size, modification and
    # change time, inode) is not read again to hash it on every run; any change makes it hashed again.
    con.execute(
        "CREATE TABLE IF NOT EXISTS raw._landing_files (source_file VARCHAR PRIMARY KEY, size BIGINT, "
        "mtime_ns BIGINT, batch_id VARCHAR)"
    )
    for column in ("ctime_ns BIGINT", "inode BIGINT"):
        con.execute(f"ALTER TABLE raw._landing_files ADD COLUMN IF NOT EXISTS {column}")
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


def _live_batches(con: duckdb.DuckDBPyConnection, table: str, relative: str) -> list[tuple[str, datetime]]:
    """The batches of this file name whose rows are in ``raw.<table>`` (one, unless from older versions)."""
    return [
        (str(b), at)
        for b, at in con.execute(
            "SELECT batch_id, loaded_at FROM raw._load_batches WHERE raw_table = ? AND source_file = ? "
            "AND status = 'loaded' ORDER BY loaded_at",
            [table, relative],
        ).fetchall()
    ]


def _supersede(
    con: duckdb.DuckDBPyConnection, table: str, relative: str, batch_id: str, at: datetime
) -> tuple[str, ...]:
    """Take the earlier batches of this file name out of ``raw.<table>``; keep their records as history.

    Runs inside the caller's transaction (the one that inserts the new batch's rows, when there are any).
    """
    earlier = [b for b, _ in _live_batches(con, table, relative) if b != batch_id]
    for old in earlier:
        con.execute(
            f'DELETE FROM raw."{table}" WHERE _load_batch_id = ? AND _source_file = ?', [old, relative]
        )
        con.execute(
            "UPDATE raw._load_batches SET status = 'superseded', superseded_by = ?, superseded_at = ? "
            "WHERE batch_id = ? AND raw_table = ?",
            [batch_id, at, old, table],
        )
        log.info("%s: batch %s in raw.%s is superseded by batch %s.", relative, old, table, batch_id)
    return tuple(earlier)


def _same_stat(a: os.stat_result, b: os.stat_result) -> bool:
    return (a.st_size, a.st_mtime_ns, a.st_ctime_ns, a.st_ino) == (
        b.st_size,
        b.st_mtime_ns,
        b.st_ctime_ns,
        b.st_ino,
    )


def _load_one(
    con: duckdb.DuckDBPyConnection,
    config: ClientConfig,
    spec: SourceSpec,
    path: Path,
    relative: str,
    batch_id: str,
    limit: int | None = None,
    *,
    unchanged_since: os.stat_result | None = None,
) -> FileLoad:
    """Load one file into ``raw.<source>`` in one transaction (``limit``: its first rows only, a dry run).

    A full load also supersedes the earlier batches of the same file name in that table, in the same
    transaction. With ``unchanged_since`` (the file's ``lstat`` when it was hashed) a file that changed
    meanwhile is rolled back (``_ChangedWhileReading``): its rows would not match its batch id.
    """
    table = spec.name
    loaded_at = datetime.now(UTC)
    superseded: tuple[str, ...] = ()
    con.execute("BEGIN TRANSACTION")
    try:
        encoding, source = read_source(path, spec, _workdir(con))
        if isinstance(source, CsvText):
            with source:
                rows = _load_csv(con, config, spec, source, relative, batch_id, loaded_at, limit)
        else:
            rows = _insert_batches(con, config, spec, source, relative, batch_id, loaded_at, limit)
        if rows == 0:
            raise ReadError(
                "holds no rows. Was the export cut off? Ask the client for the complete export"
                if spec.format in ("parquet", "jsonl") or spec.header_row == 0
                else f"has a header (row {spec.header_row}) but no data rows. Was the export cut off? Ask "
                "the client for the complete export"
            )
        if limit is None:
            superseded = _supersede(con, table, relative, batch_id, loaded_at)
            # A superseded record of this very content (the client went back to it) makes way for this one.
            con.execute(
                "DELETE FROM raw._load_batches WHERE batch_id = ? AND raw_table = ?", [batch_id, table]
            )
            con.execute(
                "DELETE FROM raw._rejected_files WHERE source_file = ? AND raw_table = ?", [relative, table]
            )
        con.execute(
            "INSERT INTO raw._load_batches (batch_id, client_id, source_file, raw_table, rows, encoding, "
            "loaded_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [batch_id, config.id, relative, table, rows, encoding, loaded_at],
        )
        if unchanged_since is not None and not _same_stat(unchanged_since, os.lstat(path)):
            raise _ChangedWhileReading(relative)
        con.execute("COMMIT")
    except ReadError as exc:
        con.execute("ROLLBACK")
        where = f" (sheet {spec.sheet})" if spec.sheet else ""
        reason = str(exc).rstrip(". ")
        raise IngestError(f"{relative}{where}: {reason}. Nothing from this file was loaded.") from exc
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return FileLoad(relative, table, rows, batch_id, "loaded", encoding, superseded=superseded)


def _workdir(con: duckdb.DuckDBPyConnection) -> Path | None:
    """Where transcoded copies go: beside the warehouse file (same disk; /tmp may be memory)."""
    [path] = con.execute(
        "SELECT path FROM duckdb_databases() WHERE database_name = current_database()"
    ).fetchone() or [None]
    return Path(path).parent if path else None


def _load_csv(
    con: duckdb.DuckDBPyConnection,
    config: ClientConfig,
    spec: SourceSpec,
    text: CsvText,
    relative: str,
    batch_id: str,
    loaded_at: datetime,
    limit: int | None,
) -> int:
    """A CSV/TSV file: DuckDB parses it (``csvload``); the Python reader only for a dry run's first rows
    and for files whose line numbers DuckDB's reader cannot give (``csvload.load`` says which)."""
    table = spec.name
    with ExitStack() as closing:
        while limit is None:
            try:
                try:
                    head = csvload.read_head(text, spec)
                    if head is None:
                        break
                    _check_header(spec, head.header)
                    _ensure_table(con, table, head.header)
                    lineage = (config.id, relative, batch_id, loaded_at)
                    rows = csvload.load(con, text, spec, head, table, lineage)
                except (KeyboardInterrupt, SystemExit, duckdb.InterruptException):
                    # Interrupted (Ctrl-C, a stop): the interrupt wins; the passes stop at their next block.
                    text.cancel()
                    raise
                except RuntimeError as exc:
                    if "interrupted" not in str(exc).lower():
                        text.wait()
                        raise
                    # DuckDB took the Ctrl-C itself ("Query interrupted"): it is still an interrupt.
                    text.cancel()
                    raise KeyboardInterrupt(f"{relative}: loading interrupted") from exc
                except BaseException:
                    # The passes over the file ran beside this: what they refuse it for comes first, as
                    # when they ran before it (a NUL byte, a bad CP949 byte, not the header or DuckDB).
                    text.wait()
                    raise
            except csvload.ParserGaveUp as exc:
                # Nothing else happened in this transaction yet: start it again.
                con.execute("ROLLBACK")
                con.execute("BEGIN TRANSACTION")
                if text.validated:
                    log.info("%s: DuckDB's CSV reader stopped (%s); reading it line by line.", relative, exc)
                    break
                # Not all UTF-8 after all: the full check refuses it in its words, or finds CP949 and
                # transcodes it; then DuckDB parses it again.
                text = closing.enter_context(
                    prepare_text(text.source, spec.encoding, _workdir(con), text.lines, validate=True)
                )
                continue
            if rows is not None:
                log.info("%s: %s rows read by DuckDB.", relative, f"{rows:,}")
                return rows
            break
        text.wait()
        if not text.validated:
            text = closing.enter_context(
                prepare_text(text.source, spec.encoding, _workdir(con), text.lines, validate=True)
            )
        batches = read_csv(text.path, spec, text.read_encoding)
        return _insert_batches(con, config, spec, batches, relative, batch_id, loaded_at, limit)


def _insert_batches(
    con: duckdb.DuckDBPyConnection,
    config: ClientConfig,
    spec: SourceSpec,
    batches: Iterator[Batch],
    relative: str,
    batch_id: str,
    loaded_at: datetime,
    limit: int | None,
) -> int:
    """Insert a reader's batches (Excel, Parquet, JSON lines; CSV in a dry run); the rows inserted."""
    table = spec.name
    rows = 0
    known_header: list[str] | None = None
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
    return rows


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


def _batch_id(
    con: duckdb.DuckDBPyConnection, path: Path, relative: str, stat: os.stat_result | None = None
) -> str:
    """The file's content hash, read from the landing index while its size, times and inode hold.

    The change time and inode catch a file rewritten in place with its size and modification time kept
    (``cp -p``, ``rsync -t``); any change means it is hashed again.
    """
    stat = stat or os.lstat(path)
    known = con.execute(
        "SELECT batch_id FROM raw._landing_files WHERE source_file = ? AND size = ? AND mtime_ns = ? "
        "AND ctime_ns = ? AND inode = ?",
        [relative, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino],
    ).fetchone()
    if known:
        return str(known[0])
    batch_id = file_batch_id(path)
    con.execute(
        "INSERT OR REPLACE INTO raw._landing_files (source_file, size, mtime_ns, batch_id, ctime_ns, inode) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        [relative, stat.st_size, stat.st_mtime_ns, batch_id, stat.st_ctime_ns, stat.st_ino],
    )
    return batch_id


def _source_settings_key(spec: SourceSpec) -> str:
    return hashlib.sha256(spec.model_dump_json().encode()).hexdigest()[:16]


def _one_source_each(takers: list[SourceSpec]) -> bool:
    """Whether the sources that take one file read it apart: one source, or each its own Excel sheet."""
    if len(takers) <= 1:
        return True
    sheets = [s.sheet for s in takers]
    return all(s.format == "excel" for s in takers) and len(set(sheets)) == len(sheets)


def _two_sources(relative: str, takers: list[SourceSpec]) -> str:
    named = ", ".join(f"{s.name} (files: {s.files!r})" for s in takers)
    return (
        f"{relative}: the `files:` patterns of {len(takers)} sources take this file: {named}. It would load "
        "twice. Narrow the patterns in mapping.yml so that one source takes it (one source can feed several "
        "entities; two sources may share an Excel workbook when each reads its own `sheet:`). Nothing from "
        "this file was loaded."
    )


def ingest_client(
    settings: Settings, config: ClientConfig, raise_on_rejection: bool = True, retry: bool = False
) -> IngestReport:
    """Load every landing file of the client that is not loaded yet; return what happened to each.

    A file that cannot be loaded is rolled back and recorded in ``raw._rejected_files``; the other files
    still load. Then, unless ``raise_on_rejection`` is False, one IngestError names every file refused in
    this run. A file refused earlier (same content, same source settings) is not retried unless ``retry``.
    The caller holds the client's lock (``forgeline.locking.client_lock``).
    """
    report = IngestReport(client_id=config.id)
    landing = settings.landing_dir(config.id)
    scan = scan_landing(landing)
    con = open_warehouse(settings, config.id, config={"memory_limit": settings.ingest_memory_limit})
    try:
        _ensure_registry(con)
        if retry:
            con.execute("DELETE FROM raw._rejected_files")
        loaded: dict[tuple[str, str], str] = {
            (b, t): f
            for b, t, f in con.execute(
                "SELECT batch_id, raw_table, source_file FROM raw._load_batches WHERE status = 'loaded'"
            ).fetchall()
        }
        rejected_earlier = {
            (b, t, k): error
            for b, t, k, error in con.execute(
                "SELECT batch_id, raw_table, source_settings, error FROM raw._rejected_files"
            ).fetchall()
        }

        def refuse(relative: str, table: str, batch_id: str, key: str, error: str) -> None:
            log.error("%s", error)
            con.execute(
                "INSERT OR REPLACE INTO raw._rejected_files VALUES (?, ?, ?, ?, ?, ?, ?)",
                [batch_id, config.id, relative, table, key, error, datetime.now(UTC)],
            )
            rejected_earlier[(batch_id, table, key)] = error
            report.files.append(FileLoad(relative, table, 0, batch_id, "rejected", error=error))

        def refused_before(relative: str, table: str, batch_id: str, key: str) -> bool:
            error = rejected_earlier.get((batch_id, table, key))
            if error is None:
                return False
            log.warning(
                "%s was refused earlier and is not retried: %s Fix this source in mapping.yml "
                "(it is then re-read), run `forgeline ingest --retry`, or withdraw the file "
                "(`forgeline withdraw`).",
                relative,
                error,
            )
            report.files.append(FileLoad(relative, table, 0, batch_id, "rejected earlier", error=error))
            return True

        # Links, special files, and folders a source's pattern takes: refused for each source that takes
        # the name; links and special files even when none does (they are never a delivery).
        for entry in scan.unusable:
            chosen = [s for s in config.sources if s.takes(entry.relative)]
            if entry.kind == FOLDER and not chosen:
                continue  # just a folder of deliveries
            for spec in chosen or [None]:
                table, key = (spec.name, _source_settings_key(spec)) if spec else ("", "")
                if not refused_before(entry.relative, table, entry.fingerprint, key):
                    refuse(entry.relative, table, entry.fingerprint, key, entry.message)
        takers = {
            path: [s for s in config.sources if s.takes(path.relative_to(landing).as_posix())]
            for path in scan.files
        }
        for spec in config.sources:
            for path in scan.files:
                if spec not in takers[path]:
                    continue
                relative = path.relative_to(landing).as_posix()
                table = spec.name
                stat = os.lstat(path)
                try:
                    batch_id = _batch_id(con, path, relative, stat)
                except IngestError as exc:  # replaced by a link or a pipe since the scan
                    refuse(relative, table, "", _source_settings_key(spec), str(exc))
                    continue
                if (batch_id, table) in loaded:
                    if loaded[(batch_id, table)] != relative:
                        # The same content is loaded under another name; this name's earlier content goes.
                        con.execute("BEGIN TRANSACTION")
                        gone = _supersede(con, table, relative, batch_id, datetime.now(UTC))
                        con.execute("COMMIT")
                        for old in gone:
                            loaded.pop((old, table), None)
                    report.files.append(FileLoad(relative, table, 0, batch_id, "skipped"))
                    continue
                key = _source_settings_key(spec)
                if refused_before(relative, table, batch_id, key):
                    continue
                if not _one_source_each(takers[path]):
                    refuse(relative, table, batch_id, key, _two_sources(relative, takers[path]))
                    continue
                started = time.perf_counter()
                log.info("Loading %s into raw.%s…", relative, table)
                try:
                    result = _load_one(con, config, spec, path, relative, batch_id, unchanged_since=stat)
                except _ChangedWhileReading:
                    log.warning(
                        "%s changed while it was loaded: rolled back; it loads on the next run.", relative
                    )
                    report.files.append(FileLoad(relative, table, 0, batch_id, "changing"))
                    continue
                except IngestError as exc:
                    error = str(exc)
                    earlier = _live_batches(con, table, relative)
                    if earlier:
                        old, at = earlier[-1]
                        error += (
                            f" The earlier delivery of {relative} (batch {old}, loaded "
                            f"{at.astimezone(UTC):%Y-%m-%d %H:%M} UTC) stays loaded until this one is fixed "
                            "or withdrawn."
                        )
                    refuse(relative, table, batch_id, key, error)
                    continue
                for old in result.superseded:
                    loaded.pop((old, table), None)
                # The same content delivered twice under two names in one drop loads once.
                loaded[(batch_id, table)] = relative
                log.info(
                    "Loaded %s: %s rows into raw.%s in %.1f s%s%s.",
                    relative,
                    f"{result.rows:,}",
                    table,
                    time.perf_counter() - started,
                    f" (encoding {result.encoding})" if result.encoding else "",
                    f", superseding batch {', '.join(result.superseded)}" if result.superseded else "",
                )
                report.files.append(result)
        # Refusals of entries no longer in the landing folder (removed by hand) are not news any more.
        present = [p.relative_to(landing).as_posix() for p in scan.files] + [
            u.relative for u in scan.unusable
        ]
        con.execute(
            "DELETE FROM raw._rejected_files WHERE NOT list_contains(?::VARCHAR[], source_file)", [present]
        )
        report.unmatched = [p.relative_to(landing).as_posix() for p in scan.files if not takers[p]]
        report.undelivered = _undelivered(con, config)
    finally:
        con.close()
    if raise_on_rejection:
        report.raise_for_rejections()
    return report


# -- withdrawal ------------------------------------------------------------------------------------------
@dataclass
class Withdrawal:
    """What ``withdraw`` took back: landing files (and where each is kept), batches, raw rows per table."""

    client_id: str
    asked: str
    by: str  # "file" | "batch"
    files: list[tuple[str, Path]] = field(default_factory=list)
    batches: list[str] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)  # raw table -> rows removed
    still_delivered: list[str] = field(default_factory=list)  # other landing files with the same content

    @property
    def rows_removed(self) -> int:
        return sum(self.rows.values())

    def describe(self) -> str:
        """What happened and what to do next, for the consultant (the CLI prints this)."""
        what = f"file {self.asked}" if self.by == "file" else f"batch {', '.join(self.batches) or self.asked}"
        lines = [f"Withdrew {what} from {self.client_id}: {self.rows_removed:,} raw rows removed"]
        if self.rows:
            lines[0] += " (" + ", ".join(f"raw.{t}: {n:,}" for t, n in sorted(self.rows.items())) + ")"
        lines[0] += "."
        lines += [f"  {name} is kept in {kept}" for name, kept in self.files]
        if self.still_delivered:
            batch = self.batches[0] if self.batches else "BATCH"
            lines.append(
                f"  {', '.join(self.still_delivered)} hold(s) the same content and stay(s) delivered: it "
                "loads in its place on the next run. To take the content back everywhere, withdraw the "
                f"batch (`forgeline ingest {self.client_id} --withdraw {batch}`)."
            )
        lines.append(
            f"Run `forgeline run {self.client_id}` so that core, marts and the published data drop it."
        )
        return "\n".join(lines)


_BATCH_ID = re.compile(r"[0-9a-f]{6,16}")


def withdraw(settings: Settings, config: ClientConfig, what: str) -> Withdrawal:
    """Take a delivery back: a file name (every version of it) or a batch id or prefix (that content).

    In one transaction: its raw rows leave every raw table, its load and refusal records and landing-index
    rows go, and its landing files move to ``settings.withdrawn_dir(client)`` (kept, never lost). Records
    of superseded batches stay as history. Hold the client's lock. Raises IngestError when nothing matches.
    """
    landing = settings.landing_dir(config.id)
    scan = scan_landing(landing)
    entries: dict[str, Path] = {p.relative_to(landing).as_posix(): p for p in scan.files}
    # Links and special files can be withdrawn; a folder only when a source takes its name (not a folder
    # of deliveries, whose rows would stay).
    entries.update(
        {
            u.relative: u.path
            for u in scan.unusable
            if u.kind != FOLDER or any(s.takes(u.relative) for s in config.sources)
        }
    )
    con = open_warehouse(settings, config.id)
    try:
        _ensure_registry(con)
        live = con.execute(
            "SELECT batch_id, raw_table, source_file FROM raw._load_batches WHERE status = 'loaded'"
        ).fetchall()
        refused = con.execute("SELECT batch_id, source_file FROM raw._rejected_files").fetchall()
        relative = _as_file(what, entries, {f for _, _, f in live} | {f for _, f in refused})
        if relative is not None:
            result = Withdrawal(config.id, relative, "file")
            doomed = [(b, t, f) for b, t, f in live if f == relative]
            moving = [relative] if relative in entries else []
            content = _content_of(con, entries, relative)
            result.still_delivered = [
                r for r in entries if r != relative and content and _content_of(con, entries, r) == content
            ]
            refusal_filter = ("source_file = ?", relative)
        else:
            batch = _as_batch(con, what, live, refused, scan.unusable, entries)
            result = Withdrawal(config.id, what, "batch")
            doomed = [(b, t, f) for b, t, f in live if b == batch]
            moving = [r for r in entries if _content_of(con, entries, r) == batch]
            moving += [
                u.relative for u in scan.unusable if u.fingerprint == batch and u.relative not in moving
            ]
            refusal_filter = ("batch_id = ?", batch)
        result.batches = sorted({b for b, _, _ in doomed} | ({content} if relative and content else set()))
        con.execute("BEGIN TRANSACTION")
        try:
            for batch_id, table, source_file in doomed:
                clause = (
                    "_source_file = ?" if result.by == "file" else "_load_batch_id = ? AND _source_file = ?"
                )
                params = [source_file] if result.by == "file" else [batch_id, source_file]
                removed = con.execute(f'DELETE FROM raw."{table}" WHERE {clause}', params).fetchone()[0]
                result.rows[table] = result.rows.get(table, 0) + int(removed)
                con.execute(
                    "DELETE FROM raw._load_batches WHERE batch_id = ? AND raw_table = ?", [batch_id, table]
                )
            con.execute(f"DELETE FROM raw._rejected_files WHERE {refusal_filter[0]}", [refusal_filter[1]])
            for name in moving:
                con.execute("DELETE FROM raw._landing_files WHERE source_file = ?", [name])
                kept = move_aside(entries[name], settings.withdrawn_dir(config.id) / name)
                result.files.append((name, kept))
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    finally:
        con.close()
    log.info("%s", result.describe())
    return result


def _content_of(con: duckdb.DuckDBPyConnection, entries: dict[str, Path], relative: str) -> str | None:
    """The batch id of a landing file (None for a link or special file: never read)."""
    path = entries.get(relative)
    if path is None or entry_kind(os.lstat(path).st_mode) is not None:
        return None
    return _batch_id(con, path, relative)


def _as_file(what: str, entries: dict[str, Path], recorded: set[str]) -> str | None:
    """``what`` as a delivered file: its path in the landing folder, or a file name only one file has."""
    what = what.strip().removeprefix("./")
    if what in entries or what in recorded:
        return what
    named = sorted({r for r in [*entries, *recorded] if r.rsplit("/", 1)[-1] == what})
    if len(named) > 1:
        raise IngestError(f"{what}: {len(named)} delivered files have that name ({named}); give its path.")
    return named[0] if named else None


def _as_batch(
    con: duckdb.DuckDBPyConnection,
    what: str,
    live: list[tuple[str, str, str]],
    refused: list[tuple[str, str]],
    unusable: list[Unusable],
    entries: dict[str, Path],
) -> str:
    """``what`` as a batch id (or a unique prefix of at least 6 hex digits) of something delivered."""
    known = {b for b, _, _ in live} | {b for b, _ in refused} | {u.fingerprint for u in unusable}
    if _BATCH_ID.fullmatch(what.lower()):
        landed = {_content_of(con, entries, r) for r in entries} - {None}
        found = sorted(b for b in known | landed if b and b.startswith(what.lower()))  # type: ignore[union-attr]
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            raise IngestError(f"{what}: several batches start with it ({found}); give more of the batch id.")
        superseded = con.execute(
            "SELECT batch_id, source_file, superseded_by, superseded_at FROM raw._load_batches "
            "WHERE status = 'superseded' AND starts_with(batch_id, ?)",
            [what.lower()],
        ).fetchone()
        if superseded:
            old, name, by, at = superseded
            raise IngestError(
                f"batch {old} of {name} was superseded by batch {by} on {at.astimezone(UTC):%Y-%m-%d %H:%M} "
                "UTC: its rows are no longer in raw (the earlier file is kept in the history folder). "
                f"Withdraw the batch that replaced it ({by}) or the file ({name}) instead."
            )
    delivered = ", ".join(sorted(entries)[:20]) + (", …" if len(entries) > 20 else "") or "(none)"
    batches = ", ".join(sorted({f"{b} ({f})" for b, _, f in live})[:10]) + (", …" if len(live) > 10 else "")
    raise IngestError(
        f"{what}: no delivered file or batch of that name. Files in landing: {delivered}; loaded batches: "
        f"{batches or '(none)'}."
    )


def withdraw_file(settings: Settings, config: ClientConfig, relative: str) -> int:
    """Take a delivered file (or batch) back; returns the number of raw rows removed (see ``withdraw``)."""
    return withdraw(settings, config, relative).rows_removed


__all__ = [
    "FileLoad",
    "IngestError",
    "IngestReport",
    "Withdrawal",
    "add_files",
    "file_batch_id",
    "ingest_client",
    "superseded_dir",
    "withdraw",
    "withdraw_file",
]

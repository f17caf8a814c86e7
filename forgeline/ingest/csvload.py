"""CSV/TSV into raw with DuckDB's own parser: the fast path of ingest.

Python decides what only it can (``readers.open_text``: what the file is, its line count, its encoding,
UTF-8 text when DuckDB cannot read that encoding; :func:`read_head`: the header and where the data starts,
exactly as the line-by-line reader decides them). DuckDB's ``read_csv`` then parses every data line, every
cell as text, into ``raw.<source>`` in one INSERT, trimming cells and numbering rows in SQL. Python's
passes over the whole file (sniff scan, encoding check, transcode) run in a thread beside that INSERT
(DuckDB releases the GIL); a transcoded file reaches DuckDB through a pipe. What they refuse a file for is
raised once the INSERT is over and wins over anything else, as when they ran first.
What it cannot parse is kept in its reject table (``store_rejects``) with a byte near the record; Python's
csv module reads that record again from the start of its line, so the message names its line and says what
to do in the words of the line-by-line reader, and a record that reader accepts (a quote after a value's
first character, extra empty fields…) is loaded as it would be.

Line numbers: a row's ``_source_row`` is the file line it starts on. DuckDB numbers nothing and skips
empty lines, so rows are numbered ``row_number() OVER ()`` after the lines before the data, then checked
against the file's line count: only when they do not add up are the empty lines looked for (the rows after
each move down), or, in a file with quotes, the rows numbered again adding the line breaks inside earlier
values (a window sum). Where a quoted value may span lines, an empty line or a rejected record cannot be
placed from DuckDB's report: :func:`load` then leaves the file to the line-by-line reader.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Any

import duckdb
import pyarrow as pa

from forgeline.ingest.readers import (
    CsvText,
    _breaks,
    _csv_error,
    _fit,
    _open_bytes,
    empty_lines,
    read_csv_header,
)
from forgeline.mapping.spec import SourceSpec

REJECTS = "_forgeline_csv_rejects"
SCANS = "_forgeline_csv_scans"


class ParserGaveUp(Exception):
    """DuckDB's reader stopped (e.g. line breaks of two kinds inside unquoted values) and aborted the
    transaction: the caller rolls back and reads the file with the Python reader, whose words it keeps."""


@dataclass(frozen=True)
class Head:
    header: list[str]
    skip: int  # lines before the first data line (the header, the rows skipped under it)


def read_head(text: CsvText, spec: SourceSpec) -> Head | None:
    """The header and the lines before the data, as the Python reader decides them.

    None when a record before the data spans lines (a quoted line break in the header): DuckDB's ``skip``
    counts lines, not records, so the Python reader reads that file.
    """
    with _open_bytes(text.path) as raw:  # a piped file's source, in its encoding, until it is copied
        reader = csv.reader(
            io.TextIOWrapper(raw, encoding=text.read_encoding, newline=""), delimiter=spec.field_delimiter
        )
        try:
            header, records = read_csv_header(reader, spec)
            for _ in range(spec.skip_rows):
                if next(reader, None) is None:
                    break
                records += 1
        except csv.Error as exc:
            raise _csv_error(exc, reader.line_num, reader.line_num) from exc
        except UnicodeDecodeError as exc:  # in a file not checked before: the full check words it
            raise ParserGaveUp("a byte that is not UTF-8") from exc
        if reader.line_num != records:
            return None
        return Head(header, reader.line_num)


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _line_breaks_sql(column: str) -> str:
    """Line breaks in a value as Python counts them: CRLF, CR or LF (counted only where there is one)."""
    crlf = f"(length({column}) - length(replace({column}, chr(13) || chr(10), ''))) // 2"
    cr = f"(length({column}) - length(replace({column}, chr(13), '')))"
    lf = f"(length({column}) - length(replace({column}, chr(10), '')))"
    found = f"contains({column}, chr(10)) OR contains({column}, chr(13))"
    return f"CASE WHEN {found} THEN {cr} + {lf} - {crlf} ELSE 0 END"


def _cell_sql(column: str, spaces: set[str]) -> str:
    """A cell as the Python reader keeps it: stripped as str.strip() does, empty as NULL.

    Only a cell that starts or ends with a space (or is empty) is trimmed: trim() copies every value it
    returns, a prefix or suffix test copies none. trim() with a set of characters is slower still, so it
    runs only on cells that hold one of the other ``spaces`` the file has (a tab, a no-break space, a line
    break in quotes…).
    """
    plain = (
        f"CASE WHEN {column} LIKE ' %' OR {column} LIKE '% ' OR {column} = '' "
        f"THEN nullif(trim({column}), '') ELSE {column} END"
    )
    if not spaces:
        return plain
    return f"CASE WHEN {_held_sql(column, spaces)} THEN {_trim_every_sql(column, spaces)} ELSE {plain} END"


def _held_sql(column: str, spaces: set[str]) -> str:
    return " OR ".join(f"contains({column}, {_literal(c)})" for c in sorted(spaces))


def _trim_every_sql(column: str, spaces: set[str]) -> str:
    return f"nullif(trim({column}, {_literal(' ' + ''.join(sorted(spaces)))}), '')"


def load(
    con: duckdb.DuckDBPyConnection,
    text: CsvText,
    spec: SourceSpec,
    head: Head,
    table: str,
    lineage: tuple[str, str, str, Any],
) -> int | None:
    """Insert the data lines into ``raw.<table>`` (in the caller's transaction); the rows loaded.

    ``lineage`` is (client id, source file, batch id, loaded at). Raises :class:`ReadError` for the first
    record the Python reader would refuse, naming its line; :class:`ParserGaveUp` when DuckDB's reader
    stops or finds a byte that is not UTF-8 in a file not checked before (the caller rolls back). None when
    this file needs the Python reader (a record DuckDB rejects, or an empty line, where a quoted value may
    span lines: the record's place would be ambiguous); then nothing of it stays inserted.
    """
    width = len(head.header)
    raw_columns = [f"c{i}" for i in range(width)]
    columns = "{" + ", ".join(f"'{c}': 'VARCHAR'" for c in raw_columns) + "}"
    options = (
        f"header = false, skip = {head.skip}, delim = {_literal(spec.field_delimiter)}, quote = '\"', "
        f"escape = '\"', columns = {columns}, auto_detect = false, encoding = 'utf-8', "
        f"store_rejects = true, rejects_table = '{REJECTS}', rejects_scan = '{SCANS}'"
    )

    # Cells are trimmed of spaces as they are read. The other whitespace the file holds is known once the
    # passes over it are done (they run beside the first read): its cells are trimmed afterwards (an
    # UPDATE of the rows holding any), or as they are read again; line breaks only where values hold them,
    # which is known once the rows are counted (a quoted value may start or end with one).
    def trimmed(count_breaks: bool) -> str:
        spaces = (set(text.lines.spaces) | {"\r", "\n"}) if count_breaks else set()
        return ", ".join(f"{_cell_sql(c, spaces)} AS t{i}" for i, c in enumerate(raw_columns))

    targets = ", ".join(_quote(h) for h in head.header)
    values = ", ".join(f"t{i}" for i in range(width))
    client_id, source_file, batch_id, loaded_at = lineage
    # Lineage as literals, not parameters: a parameter cast to TIMESTAMPTZ is cast again on every row.
    at = f"{_literal(str(loaded_at))}::TIMESTAMPTZ"
    constants = f"{_literal(client_id)}, {_literal(source_file)}, {_literal(batch_id)}, {at}"
    this_load = f"_load_batch_id = {_literal(batch_id)} AND _source_file = {_literal(source_file)}"
    this_load += f" AND _loaded_at = {at}"

    def insert(count_breaks: bool) -> int:
        # The first read is of text.reads (the file, or the pipe it is transcoded into), a second one of
        # the file or its UTF-8 copy.
        source = f"read_csv({_literal(str(text.path) if count_breaks else text.reads)}, {options})"
        number = f"row_number() OVER () + {head.skip}"
        if count_breaks:  # quoted values hold line breaks: later rows start further down
            breaks = " + ".join(_line_breaks_sql(c) for c in raw_columns)
            number += f" + coalesce(sum({breaks}) OVER (ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0)"
        con.execute(f"DROP TABLE IF EXISTS temp.{REJECTS}")
        con.execute(f"DROP TABLE IF EXISTS temp.{SCANS}")
        try:
            [(inserted,)] = con.execute(
                f'INSERT INTO raw."{table}" ({targets}, _source_row, _client_id, _source_file, '
                f"_load_batch_id, _loaded_at) SELECT {values}, r::VARCHAR, {constants} FROM ("
                f"SELECT {trimmed(count_breaks)}, {number} AS r FROM {source})"
            ).fetchall()
        except duckdb.InvalidInputException as exc:
            raise ParserGaveUp(str(exc).strip().splitlines()[0]) from exc
        finally:
            text.done_reading()
        return int(inserted)

    rows = insert(count_breaks=False)
    text.wait()  # the passes over the file: what they refuse it for comes first; its line index
    if text.piped and not text.transcoded:  # not transcoded after all: DuckDB read nothing of it
        raise ParserGaveUp("the file was not transcoded")
    if not text.validated:
        [(bad,)] = con.execute(
            f"SELECT count(*) FROM temp.{REJECTS} WHERE error_type = 'INVALID ENCODING'"
        ).fetchall()
        if bad:
            raise ParserGaveUp("a byte that is not UTF-8")
    # line_byte_position is near the record, not always at it: a byte into it, or at the line breaks (an
    # empty line) before it, which csv_line then starts with. The record starts where its line starts:
    # that holds while records are lines. Where a quote may make a record span lines, DuckDB may reject a
    # record at a byte inside it (or a sound one it misread): the Python reader reads that file.
    rejected = con.execute(f"SELECT DISTINCT line_byte_position, csv_line FROM temp.{REJECTS}").fetchall()
    if rejected and text.lines.has_quote:
        con.execute(f'DELETE FROM raw."{table}" WHERE {this_load}')
        return None
    if rejected:
        text.materialize()  # DuckDB's byte positions are of the UTF-8 text
    starts = sorted(
        {
            _line_start(text, int(pos) + len(line or "") - len((line or "").lstrip("\r\n")))
            for pos, line in rejected
        }
    )
    gaps: list[tuple[int, int]] = []
    repaired: list[tuple[list[str | None], int]] = []
    for offset, line in zip(starts, _lines_at(text, starts), strict=True):
        values_read, span = _record_at(text, spec, offset, line)
        fitted = _fit(values_read, width, line, is_csv=True)  # the Python reader's verdict and words
        gaps.append((line, span))
        if fitted is not None:
            repaired.append((fitted, line))
    # Rows were numbered as if the file had no empty line and no line break inside a value. If so, the last
    # row and the rejected records fill the file to its last line. If not, find the empty lines (a pass
    # over the file), or number again adding each row's line breaks (a window sum); a file with both
    # quotes and empty lines goes to the line-by-line reader (DuckDB's rows cannot be placed).
    [(last,)] = con.execute(
        f'SELECT max(_source_row::BIGINT) FROM raw."{table}" WHERE {this_load}'
    ).fetchall()
    reread = False
    if last is not None and last + sum(size for _, size in gaps) != text.lines.lines:
        text.materialize()
        blanks = [line for line in empty_lines(text.path) if line > head.skip]
        if blanks and text.lines.has_quote:
            con.execute(f'DELETE FROM raw."{table}" WHERE {this_load}')
            return None
        if blanks:
            gaps += [(line, 1) for line in blanks]
        elif text.lines.has_quote:
            con.execute(f'DELETE FROM raw."{table}" WHERE {this_load}')
            rows = insert(count_breaks=True)
            reread = True
    if text.lines.spaces and not reread:
        spaces = set(text.lines.spaces)
        cells = [_quote(h) for h in head.header]
        updates = ", ".join(
            f"{c} = CASE WHEN {_held_sql(c, spaces)} THEN {_trim_every_sql(c, spaces)} ELSE {c} END"
            for c in cells
        )
        held = " OR ".join(_held_sql(c, spaces) for c in cells)
        con.execute(f'UPDATE raw."{table}" SET {updates} WHERE {this_load} AND ({held})')
    # Rows whose cells are all empty are not rows (the line-by-line reader skips them). Deleted now, not
    # filtered in the INSERT: DuckDB would compute every cell twice, for the filter and for the insert.
    columns_in_table = ", ".join(_quote(h) for h in head.header)
    [(empty,)] = con.execute(
        f'DELETE FROM raw."{table}" WHERE {this_load} AND coalesce({columns_in_table}) IS NULL'
    ).fetchall()
    rows -= int(empty)
    if gaps:
        _renumber(con, table, lineage, sorted(gaps))
    if repaired:
        frame = pa.table(
            {
                **{f"t{i}": pa.array([r[i] for r, _ in repaired], pa.string()) for i in range(width)},
                "r": pa.array([str(line) for _, line in repaired], pa.string()),
            }
        )
        con.register("repaired_rows", frame)
        con.execute(
            f'INSERT INTO raw."{table}" ({targets}, _source_row, _client_id, _source_file, _load_batch_id, '
            f"_loaded_at) SELECT {values}, r, {constants} FROM repaired_rows"
        )
        con.unregister("repaired_rows")
        rows += len(repaired)
    return rows


def _renumber(
    con: duckdb.DuckDBPyConnection,
    table: str,
    lineage: tuple[str, str, str, Any],
    gaps: list[tuple[int, int]],
) -> None:
    """Move rows past the empty lines and rejected records before them (``gaps``: line, lines it spans).

    The rows were numbered as if there were no gaps; a gap at line g with s lines before it in earlier
    gaps is at position q = g - s in that numbering, and every row at or after q moves down by its size.
    """
    before = 0
    shifts = []
    for line, size in gaps:
        shifts.append((line - before, before + size))
        before += size
    con.register("line_gaps", pa.table({"q": [q for q, _ in shifts], "shift": [s for _, s in shifts]}))
    client_id, source_file, batch_id, loaded_at = lineage
    con.execute(
        f'UPDATE raw."{table}" AS t SET _source_row = (t._source_row::BIGINT + (SELECT max(g.shift) FROM '
        "line_gaps AS g WHERE g.q <= t._source_row::BIGINT))::VARCHAR WHERE _load_batch_id = ? AND "
        "_source_file = ? AND _loaded_at = ?::TIMESTAMPTZ AND _source_row::BIGINT >= ?",
        [batch_id, source_file, loaded_at, shifts[0][0]],
    )
    con.unregister("line_gaps")


def _lines_at(text: CsvText, offsets: list[int]) -> list[int]:
    """The line each byte offset (ascending) is on, counting line breaks as Python does (one pass)."""
    found: list[int] = []
    breaks = 0
    position = 0
    last = b""
    with _open_bytes(text.path) as handle:
        while len(found) < len(offsets) and (block := handle.read(1 << 22)):
            split = last == b"\r" and block[:1] == b"\n"  # a CRLF across two blocks is one break
            while len(found) < len(offsets) and offsets[len(found)] <= position + len(block):
                cut = offsets[len(found)] - position
                found.append(breaks + _breaks(block, 0, cut) - (1 if split and cut > 0 else 0) + 1)
            breaks += _breaks(block, 0, len(block)) - (1 if split else 0)
            position += len(block)
            last = block[-1:]
    return found + [breaks + 1] * (len(offsets) - len(found))


def _line_start(text: CsvText, offset: int) -> int:
    """Where the line holding the byte before ``offset`` ends, i.e. the start of the record at ``offset``."""
    with _open_bytes(text.path) as handle:
        end = offset
        while end > 0:
            start = max(0, end - (1 << 16))
            handle.seek(start)
            block = handle.read(end - start)
            found = max(block.rfind(b"\n"), block.rfind(b"\r"))
            if found != -1:
                return start + found + 1
            end = start
    return 0


def _record_at(text: CsvText, spec: SourceSpec, offset: int, line: int) -> tuple[list[str], int]:
    """The record starting at byte ``offset`` (on ``line``), read by Python's csv module; its line count."""
    with _open_bytes(text.path) as raw:
        raw.seek(offset)
        encoding = "utf-8-sig" if offset == 0 else "utf-8"  # a byte-order mark is not part of a value
        reader = csv.reader(
            io.TextIOWrapper(raw, encoding=encoding, newline=""), delimiter=spec.field_delimiter
        )
        try:
            values = next(reader, [])
        except csv.Error as exc:
            raise _csv_error(exc, line, line + reader.line_num - 1) from exc
        return values, max(reader.line_num, 1)

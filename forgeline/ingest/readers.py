"""Readers: turn one delivered file into batches of text columns, with each row's place in the file.

Every reader yields ``(columns, rows)`` batches where ``rows`` are lists of strings or None and the last
element of each row is its row number in the file (CSV line or Excel row), so errors and lineage can
point at it. Memory stays bounded by ``BATCH_ROWS`` whatever the file size.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import gzip
import io
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from forgeline.mapping.spec import SourceSpec

BATCH_ROWS = 20_000
AUTO_ENCODINGS = ("utf-8-sig", "cp949")
CHUNK = 1 << 20

Batch = tuple[list[str], list[list[str | None]]]


class ReadError(ValueError):
    """A file that cannot be read as configured; the message says where and what to change."""


def _open_bytes(path: Path) -> IO[bytes]:
    return gzip.open(path, "rb") if path.suffix == ".gz" else path.open("rb")


def _check_encoding(path: Path, encoding: str) -> None:
    """Decode the whole file once, streaming, so a bad byte is found before anything is loaded."""
    decoder = codecs.getincrementaldecoder(encoding)()
    offset = 0
    newlines = 0
    with _open_bytes(path) as handle:
        while chunk := handle.read(CHUNK):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                bad = offset + exc.start
                line = newlines + chunk[: exc.start].count(b"\n") + 1
                raise ReadError(
                    f"byte {bad:,} (line {line:,}) is not valid {encoding}: "
                    f"{chunk[exc.start : exc.start + 4]!r}"
                ) from exc
            offset += len(chunk)
            newlines += chunk.count(b"\n")
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError as exc:
            raise ReadError(
                f"ends inside a multi-byte {encoding} character (line {newlines + 1:,}): the file was cut "
                "off during the export or the copy"
            ) from exc


def detect_encoding(path: Path, configured: str) -> str:
    """The configured encoding, checked; or with 'auto', UTF-8 (with or without BOM), else CP949."""
    if configured != "auto":
        try:
            codecs.lookup(configured)
        except LookupError as exc:
            raise ReadError(
                f"unknown encoding {configured!r} in mapping.yml; use e.g. utf-8, cp949 or auto"
            ) from exc
        try:
            _check_encoding(path, configured)
        except ReadError as exc:
            raise ReadError(
                f"{exc}. Ask the client which encoding the export uses and set `encoding:` for this source "
                "in mapping.yml (or `auto` for UTF-8/CP949), or ask for a clean re-export"
            ) from exc
        return configured
    problems = []
    for encoding in AUTO_ENCODINGS:
        try:
            _check_encoding(path, encoding)
            return encoding
        except ReadError as exc:
            problems.append(f"{encoding}: {exc}")
    raise ReadError(
        "is neither UTF-8 nor CP949 (" + "; ".join(problems) + "). Ask the client which encoding the export "
        "uses and set `encoding:` for this source in mapping.yml."
    )


def _header(raw: list, row_number: int, where: str | None = None) -> list[str]:
    where = where or f"row {row_number}"
    # A BOM left by a UTF-8 export read as plain utf-8 would otherwise glue itself to the first name.
    names = ["" if v is None else str(v).replace("\ufeff", "").strip() for v in raw]
    while names and names[-1] == "":
        names.pop()  # trailing empty cells are not columns
    if not names:
        raise ReadError(f"{where} should hold the column names but is empty; check `header_row`")
    empty = [i + 1 for i, n in enumerate(names) if not n]
    if empty:
        raise ReadError(f"{where}: column(s) {empty} have no header name; name them in the export")
    # DuckDB column names ignore case, so 'Date' and 'date' would collide in the raw table.
    seen: set[str] = set()
    duplicates = sorted({n for n in names if n.casefold() in seen or seen.add(n.casefold())})
    if duplicates:
        raise ReadError(
            f"{where}: header(s) {duplicates} appear more than once (case is ignored); rename them"
        )
    return names


def _fit(values: list, width: int, row_number: int, is_csv: bool = False) -> list[str | None] | None:
    """Row values padded/trimmed to the header width; None for a blank row; error for a ragged one.

    Spreadsheet rows legitimately end early (trailing empty cells are not stored); a CSV writer writes
    every delimiter, so a short CSV row means a broken line (e.g. a line break inside an unquoted field).
    """
    if is_csv and len(values) == width:
        # The common case, kept lean (it runs once per row of files with millions of rows): CSV cells
        # are always text; blank means missing.
        stripped = [v.strip() or None for v in values]
        return stripped if any(stripped) else None
    cells = [None if v is None or (isinstance(v, str) and v.strip() == "") else v for v in values]
    if all(c is None for c in cells):
        return None
    unit = "line" if is_csv else "row"  # a CSV record is found by its line, a spreadsheet row by number
    if len(cells) < width and is_csv:
        raise ReadError(
            f"{unit} {row_number} has {len(cells)} field(s) but the header has {width} (it starts "
            f"{values[:3]!r}). The line is broken (a line break or delimiter inside an unquoted value?): "
            "ask the client for a clean export, or fix the line"
        )
    if len(cells) > width:
        extra = [c for c in cells[width:] if c is not None]
        if extra:
            raise ReadError(
                f"{unit} {row_number} has {len(cells)} fields but the header has {width}: {extra[:3]!r} "
                "beyond the last column. Fix the delimiter (`delimiter:` in mapping.yml) or the row"
            )
        cells = cells[:width]
    return [_text(c) for c in cells] + [None] * (width - len(cells))


def _text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value).strip()


def _batches(header: list[str], rows: Iterator[tuple[int, list]], is_csv: bool = False) -> Iterator[Batch]:
    batch: list[list[str | None]] = []
    for row_number, values in rows:
        fitted = _fit(values, len(header), row_number, is_csv)
        if fitted is None:
            continue
        batch.append([*fitted, str(row_number)])
        if len(batch) >= BATCH_ROWS:
            yield header, batch
            batch = []
    if batch:
        yield header, batch


def _csv_records(reader: Any) -> Iterator[tuple[int, list[str]]]:
    """Each record with the line it starts on (a quoted value may span lines; line_num is the last)."""
    start = reader.line_num + 1
    for values in reader:
        yield start, values
        start = reader.line_num + 1


def _skipping(rows: Iterator[tuple[int, list]], count: int) -> Iterator[tuple[int, list]]:
    """Rows after the header, less the first ``count`` (e.g. a units row under the header)."""
    for _ in range(count):
        if next(rows, None) is None:
            break
    return rows


def read_csv(path: Path, spec: SourceSpec, encoding: str) -> Iterator[Batch]:
    with _open_bytes(path) as raw:
        text = io.TextIOWrapper(raw, encoding=encoding, newline="")
        reader = csv.reader(text, delimiter=spec.field_delimiter)
        header: list[str] | None = None
        try:
            if spec.header_row == 0:
                header = _header(list(spec.columns or []), 0, where="`columns:` in mapping.yml")
            else:
                for values in reader:
                    if reader.line_num == spec.header_row or (
                        header is None and reader.line_num > spec.header_row
                    ):
                        header = _header(values, reader.line_num)
                        break
            if header is None:
                raise ReadError(f"is empty: no header row found (expected on line {spec.header_row})")
            yield from _batches(header, _skipping(_csv_records(reader), spec.skip_rows), is_csv=True)
        except csv.Error as exc:
            raise ReadError(f"line {reader.line_num}: {exc}; check quoting and `delimiter:`") from exc


def read_jsonl(path: Path, encoding: str) -> Iterator[Batch]:
    """JSON lines: one object per line; the columns are the keys (a later key adds a column)."""
    import json

    with _open_bytes(path) as raw:
        text = io.TextIOWrapper(raw, encoding=encoding, newline="")
        header: list[str] = []
        batch: list[dict] = []
        numbers: list[int] = []

        def flush() -> Batch:
            rows = [
                [_cell(record.get(name)) for name in header] + [str(n)]
                for record, n in zip(batch, numbers, strict=True)
            ]
            return list(header), rows

        for number, line in enumerate(text, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ReadError(f"line {number:,} is not valid JSON ({exc.msg}); fix the line") from exc
            if not isinstance(record, dict):
                raise ReadError(
                    f"line {number:,} is not a JSON object ({{...}}); each line must be one record"
                )
            for key in record:
                if key not in header:
                    header.append(str(key))
            batch.append(record)
            numbers.append(number)
            if len(batch) >= BATCH_ROWS:
                _header(header, 0, where="the JSON keys")
                yield flush()
                batch, numbers = [], []
        if batch:
            _header(header, 0, where="the JSON keys")
            yield flush()


def _cell(value: object) -> str | None:
    """A JSON value as text; nested lists and objects stay JSON text."""
    import json

    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, bool):
        return "true" if value else "false"
    text = _text(value)
    return text or None


def read_excel(path: Path, spec: SourceSpec) -> Iterator[Batch]:
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises several types for a damaged or non-xlsx file
        raise ReadError(f"cannot be opened as an Excel workbook ({exc}); re-save it as .xlsx") from exc
    try:
        if spec.sheet and spec.sheet not in workbook.sheetnames:
            raise ReadError(
                f"has no sheet {spec.sheet!r}; its sheets are {workbook.sheetnames}. Fix `sheet:`"
            )
        sheet = workbook[spec.sheet] if spec.sheet else workbook.worksheets[0]
        rows = enumerate(sheet.iter_rows(values_only=True), start=1)
        header = _header(list(spec.columns or []), 0, where="`columns:`") if spec.header_row == 0 else None
        for number, values in rows if header is None else ():
            if number == spec.header_row:
                header = _header(list(values), number)
                break
        if header is None:
            raise ReadError(
                f"sheet {sheet.title!r} has fewer than {spec.header_row} rows; check `header_row`"
            )
        yield from _batches(header, _skipping(((n, list(v)) for n, v in rows), spec.skip_rows))
    finally:
        workbook.close()


def read_parquet(path: Path) -> Iterator[Batch]:
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
    except Exception as exc:
        raise ReadError(f"is not a readable Parquet file ({exc})") from exc
    header = _header(list(parquet.schema_arrow.names), 0, where="the Parquet schema")
    offset = 0
    for record_batch in parquet.iter_batches(batch_size=BATCH_ROWS):
        columns = [record_batch.column(i).to_pylist() for i in range(record_batch.num_columns)]
        rows = []
        for i in range(record_batch.num_rows):
            # An empty string is a missing value, as an empty CSV or Excel cell is.
            rows.append([_text(col[i]) or None for col in columns] + [str(offset + i + 1)])
        offset += record_batch.num_rows
        yield header, rows


def read_source(path: Path, spec: SourceSpec) -> tuple[str | None, Iterator[Batch]]:
    """The encoding used (text formats only) and the batches of one file, read as ``spec`` says."""
    if spec.format in ("csv", "tsv"):
        encoding = detect_encoding(path, spec.encoding)
        return encoding, read_csv(path, spec, encoding)
    if spec.format == "jsonl":
        encoding = detect_encoding(path, spec.encoding)
        return encoding, read_jsonl(path, encoding)
    if spec.format == "excel":
        return None, read_excel(path, spec)
    return None, read_parquet(path)

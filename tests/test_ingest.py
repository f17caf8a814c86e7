"""Landing → raw on real files and a real DuckDB file: encodings, Excel, Parquet, lineage, safety."""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import re
import tracemalloc
import zipfile
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from openpyxl import Workbook

from forgeline.clients import ClientConfig
from forgeline.ingest import IngestError, add_files, file_batch_id, ingest_client, readers
from forgeline.settings import Settings

CLIENT = "test-factory"
KOREAN_HEADER = ["일자", "설비", "품번", "생산수량", "불량유형"]
KOREAN_ROWS = [
    ["2026-10-01", "S14", "CN7 W/S SIDE MLD'G RH", "120", "가스"],
    ["2026-10-01", "S14", "RG3 MOLD'G W/SHLD, LH", "98", "미성형"],
    ["2026-10-02", "S12", "CN7 W/S SIDE MLD'G LH", "101", ""],
]


def client(*sources: dict[str, Any]) -> ClientConfig:
    return ClientConfig.model_validate(
        {"id": CLIENT, "name": "테스트공장", "sources": [as_source(s) for s in sources]}
    )


def csv_source(entity: str = "shots", pattern: str = "shots_*.csv", **extra: Any) -> dict[str, Any]:
    return {"entity": entity, "pattern": pattern, "format": "csv", **extra}


def as_source(spec: dict[str, Any]) -> dict[str, Any]:
    """A source in the mapping's terms (ingest only reads files: one token feed keeps the mapping valid)."""
    spec = dict(spec)
    name, files = spec.pop("entity"), spec.pop("pattern")
    return {
        "name": f"test_mes__{name}",
        "files": files,
        **spec,
        "feeds": {"cycles": {"fields": {"started_at": "t"}}},
    }


def deliver(settings: Settings, name: str, data: bytes) -> Path:
    """Put a file into the client's landing folder as a delivery would."""
    path = settings.landing_dir(CLIENT) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def csv_bytes(header: list[str], rows: list[list[str]], encoding: str = "utf-8") -> bytes:
    """A CSV as Excel or an MES writes it (CRLF, quotes where a value holds a comma)."""
    buffer = io.StringIO()
    csv.writer(buffer).writerows([header, *rows])
    return buffer.getvalue().encode(encoding)


def query(settings: Settings, sql: str, params: list[Any] | None = None) -> list[tuple]:
    con = duckdb.connect(str(settings.warehouse_path(CLIENT)), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def raw_columns(settings: Settings, table: str) -> list[str]:
    return [
        r[0]
        for r in query(
            settings,
            "SELECT column_name FROM information_schema.columns WHERE table_schema = 'raw' "
            "AND table_name = ? ORDER BY ordinal_position",
            [table],
        )
    ]


def test_cp949_csv_with_korean_headers_is_detected_and_read_right(workspace: Settings) -> None:
    data = csv_bytes(KOREAN_HEADER, KOREAN_ROWS, encoding="cp949")
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")  # the test must really exercise the fallback
    deliver(workspace, "shots_2026-10.csv", data)

    report = ingest_client(workspace, client(csv_source(encoding="auto")))

    [load] = report.files
    assert (load.status, load.rows, load.encoding) == ("loaded", 3, "cp949")
    assert raw_columns(workspace, "test_mes__shots")[:5] == KOREAN_HEADER
    rows = query(
        workspace,
        'SELECT "일자", "설비", "품번", "생산수량", "불량유형" FROM raw.test_mes__shots ORDER BY _source_row',
    )
    expected = [tuple(None if v == "" else v for v in r) for r in KOREAN_ROWS]
    assert rows == expected


@pytest.mark.parametrize("configured", ["auto", "utf-8"])
def test_utf8_bom_csv_keeps_its_first_header_clean(workspace: Settings, configured: str) -> None:
    deliver(workspace, "shots_bom.csv", csv_bytes(KOREAN_HEADER, KOREAN_ROWS, encoding="utf-8-sig"))

    config = client(csv_source(encoding=configured, required_columns=["일자", "불량유형"]))
    [load] = ingest_client(workspace, config).files

    assert load.rows == 3
    assert raw_columns(workspace, "test_mes__shots")[0] == "일자"  # no BOM glued to it
    assert query(workspace, "SELECT \"불량유형\" FROM raw.test_mes__shots WHERE _source_row = '2'") == [
        ("가스",)
    ]


def test_excel_with_a_title_row_header_on_row_3_and_a_blank_row(workspace: Settings) -> None:
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "생산실적"
    sheet.append(["2026년 10월 생산일보"])  # row 1: title
    sheet.append([])  # row 2: blank
    sheet.append(["일자", "라인", "생산수량", "비고"])  # row 3: header
    sheet.append([dt.datetime(2026, 10, 1), "L1", 2304, None])  # row 4
    sheet.append([dt.datetime(2026, 10, 1), "L2", 1440.0, "  금형 교체 "])  # row 5
    sheet.append([])  # row 6: blank separator
    sheet.append([dt.date(2026, 10, 2), "L1", 2250.5, None])  # row 7
    workbook.create_sheet("비가동").append(["other sheet"])
    path = workspace.landing_dir(CLIENT) / "생산일보_2026-10.xlsx"
    path.parent.mkdir(parents=True)
    workbook.save(path)

    source = {"entity": "production", "pattern": "생산일보_*.xlsx", "format": "excel", "sheet": "생산실적"}
    [load] = ingest_client(workspace, client({**source, "header_row": 3})).files

    assert load.rows == 3
    rows = query(
        workspace,
        'SELECT _source_row, "일자", "라인", "생산수량", "비고" FROM raw.test_mes__production ORDER BY 1',
    )
    assert rows == [
        ("4", "2026-10-01 00:00:00", "L1", "2304", None),
        ("5", "2026-10-01 00:00:00", "L2", "1440", "금형 교체"),
        ("7", "2026-10-02 00:00:00", "L1", "2250.5", None),
    ]


def test_parquet_columns_arrive_as_text_with_row_numbers(workspace: Settings) -> None:
    table = pa.table(
        {
            "id": pa.array([1, 2, 3], pa.int64()),
            "molten_temp": pa.array([731.5, None, 720.0], pa.float64()),
            "working": pa.array(["가동", "정지", None]),
            "time": pa.array([dt.datetime(2019, 1, 2, 8, 0, 5)] * 3, pa.timestamp("s")),
        }
    )
    path = workspace.landing_dir(CLIENT) / "casting_2019Q1.parquet"
    path.parent.mkdir(parents=True)
    pq.write_table(table, path)

    source = {"entity": "casts", "pattern": "casting_*.parquet", "format": "parquet"}
    [load] = ingest_client(workspace, client({**source, "required_columns": ["id", "working"]})).files

    assert load.rows == 3
    types = query(
        workspace,
        "SELECT DISTINCT data_type FROM information_schema.columns WHERE table_schema = 'raw' "
        "AND table_name = 'test_mes__casts' AND column_name IN ('id', 'molten_temp', 'working', 'time')",
    )
    assert types == [("VARCHAR",)]
    rows = query(
        workspace, "SELECT _source_row, id, molten_temp, working, time FROM raw.test_mes__casts ORDER BY id"
    )
    assert rows == [
        ("1", "1", "731.5", "가동", "2019-01-02 08:00:05"),
        ("2", "2", None, "정지", "2019-01-02 08:00:05"),
        ("3", "3", "720", None, "2019-01-02 08:00:05"),
    ]


def test_every_row_carries_lineage_with_its_line_number(workspace: Settings) -> None:
    # Line 1 header; line 2 a row; lines 3-4 one row with a quoted line break; line 5 blank; line 6 a row.
    text = 'machine,note,count\nS14,ok,1\nS14,"two\nlines",2\n\nS12,ok,3\n'
    path = deliver(workspace, "2026/shots_a.csv", text.encode("utf-8"))

    report = ingest_client(workspace, client(csv_source()))

    assert [(f.file, f.rows) for f in report.files] == [("2026/shots_a.csv", 3)]
    batch = file_batch_id(path)
    assert re.fullmatch(r"[0-9a-f]{16}", batch)
    rows = query(
        workspace,
        "SELECT count, _client_id, _source_file, _source_row, _load_batch_id, _loaded_at IS NOT NULL "
        "FROM raw.test_mes__shots ORDER BY count",
    )
    assert rows == [
        ("1", CLIENT, "2026/shots_a.csv", "2", batch, True),
        ("2", CLIENT, "2026/shots_a.csv", "3", batch, True),
        ("3", CLIENT, "2026/shots_a.csv", "6", batch, True),
    ]
    assert query(workspace, "SELECT note FROM raw.test_mes__shots WHERE count = '2'") == [("two\nlines",)]
    registry = query(
        workspace, "SELECT batch_id, client_id, source_file, raw_table, rows, encoding FROM raw._load_batches"
    )
    assert registry == [(batch, CLIENT, "2026/shots_a.csv", "test_mes__shots", 3, "utf-8-sig")]


def test_reingesting_skips_loaded_files_and_duplicate_deliveries(workspace: Settings) -> None:
    data = csv_bytes(KOREAN_HEADER, KOREAN_ROWS)
    deliver(workspace, "shots_2026-10.csv", data)
    deliver(workspace, "shots_2026-10 (copy).csv", data)  # the same export delivered twice, renamed
    config = client(csv_source())

    first = ingest_client(workspace, config)
    second = ingest_client(workspace, config)

    assert sorted(f.status for f in first.files) == ["loaded", "skipped"]
    assert first.rows_loaded == 3
    assert [f.status for f in second.files] == ["skipped", "skipped"]
    assert second.rows_loaded == 0
    assert query(workspace, "SELECT count(*) FROM raw.test_mes__shots") == [(3,)]
    assert query(workspace, "SELECT count(*) FROM raw._load_batches") == [(1,)]


def _xlsx_bytes() -> bytes:
    workbook = Workbook()
    workbook.active.append(["machine", "count"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _zip_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("shots.csv", "machine,count\nS14,1\n")
        archive.writestr("readme.txt", "export of 2026-10")
    return buffer.getvalue()


BAD_FILES: dict[str, tuple[dict[str, Any], bytes, list[str]]] = {
    # case: (source options, file bytes, what the message must say besides the file name)
    "ragged row (extra field)": (
        {},
        b"machine,count\nS14,1\nS14,2\nS14,3,surprise\nS14,4\n",
        ["line 4", "delimiter"],
    ),
    "ragged row (missing field)": ({}, b"machine,count\nS14,1\nS14\nS14,3\n", ["line 3", "clean export"]),
    "byte invalid for the configured encoding": (
        {"encoding": "utf-8"},
        "machine,count\nS14,1\n설비,2\n".encode("cp949"),
        ["line 3", "not valid utf-8", "`encoding:`"],
    ),
    "neither UTF-8 nor CP949": (
        {"encoding": "auto"},
        b"machine,count\nS14,1\nS14,\xff\xff\n",
        ["line 3", "`encoding:`"],
    ),
    "missing required column": (
        {"required_columns": ["machine", "count"]},
        b"machine,cnt\nS14,1\n",
        ["header row 1", "'count'", "required_columns"],
    ),
    "header only": ({}, b"machine,count\n", ["header (row 1)", "no data rows", "complete export"]),
    # What a delivery really is, found before decoding (readers.sniff_content): never "fix the delimiter".
    "empty file": ({}, b"", ["empty (0 bytes)", "send it again"]),
    "binary data (NUL bytes)": (
        {},
        b"machine,count\nS14,1\nS14,\x00\x01\x02\x03\n",
        ["binary data", "NUL byte", "line 3", "export it again"],
    ),
    "an Excel workbook named .csv": ({}, _xlsx_bytes(), ["an Excel workbook (.xlsx)", "save it as CSV"]),
    "a ZIP archive named .csv": ({}, _zip_bytes(), ["a ZIP archive of 2 file(s)", "'shots.csv'", "unpack"]),
    "a PDF named .csv": ({}, b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n", ["a PDF document", "export itself"]),
    "gzip bytes without .gz": (
        {},
        gzip.compress(b"machine,count\nS14,1\n"),
        ["gzip-compressed", "rename it to end in .gz"],
    ),
    "an HTML error page saved as .csv": (
        {},
        b"<!DOCTYPE html>\n<html><head><title>Session expired - login</title></head>\n"
        b"<body>...</body></html>\n",
        ["an HTML web page", "'Session expired - login'", "download the export again"],
    ),
    "UTF-16 text (Excel 'Unicode text')": (
        {},
        "machine,count\nS14,1\n".encode("utf-16"),
        ["UTF-16", "`encoding: utf-16`"],
    ),
    "an empty header name": (
        {},
        b"machine,,count\nS14,x,1\n",
        ["row 1", "column(s) [2]", "after column 'machine'", "no header name", "name them"],
    ),
    "duplicate headers": (
        {},
        b"machine,count,Count\nS14,1,2\n",
        ["'count'", "more than once", "rename"],
    ),
    "cut inside a multi-byte character (UTF-8)": (
        {"encoding": "utf-8"},
        "machine,count\nS14,1\n설비,2\n설".encode()[:-1],
        ["line 4", "ends inside a multi-byte utf-8 character", "cut off"],
    ),
    "cut inside a multi-byte character (CP949)": (
        {"encoding": "cp949"},
        "machine,count\nS14,1\n설비,2\n설".encode("cp949")[:-1],
        ["line 4", "ends inside a multi-byte cp949 character", "cut off"],
    ),
    "a line longer than the limit": (
        {},
        b"machine,count\nS14,1\nS14," + b"9" * (readers.MAX_LINE_BYTES + 1) + b"\nS14,3\n",
        ["line 3", "longer than 1,048,576 bytes", "clean export"],
    ),
    "values separated by semicolons": (
        {},
        b"machine;count\nS14;1\n",
        ["header row 1 is one column", "separated by ';'", "`delimiter: ';'`"],
    ),
    "blank lines only": ({}, b"\n\r\n\n", ["row 1", "is empty", "`header_row`", "send the export again"]),
    "a quote never closed": (
        {},
        b'machine,count\nS14,1\nS14,"2\n' + b"S14,3\n" * 30_000,
        ["line 3", "more than 131,072 characters", "quote that is never closed", "fix the quoting"],
    ),
}
# Advice a case must not give (the advice that was given before the content was sniffed).
WRONG_ADVICE = ["delimiter", "neither UTF-8 nor CP949"]


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_a_bad_file_names_where_and_what_to_do_and_loads_nothing(
    workspace: Settings, monkeypatch: pytest.MonkeyPatch, case: str
) -> None:
    options, data, must_say = BAD_FILES[case]
    config = client(csv_source(**options))
    deliver(workspace, "shots_01_good.csv", b"machine,count\nS01,10\nS01,11\n")
    ingest_client(workspace, config)
    before_rows = query(workspace, "SELECT * EXCLUDE (_loaded_at) FROM raw.test_mes__shots ORDER BY ALL")
    before_registry = query(workspace, "SELECT * FROM raw._load_batches ORDER BY ALL")
    before_columns = raw_columns(workspace, "test_mes__shots")
    # Small batches: the good rows before the bad line are written before the error is found.
    monkeypatch.setattr(readers, "BATCH_ROWS", 1)

    deliver(workspace, "shots_02_bad.csv", data)
    with pytest.raises(IngestError) as caught:
        ingest_client(workspace, config)

    message = str(caught.value)
    assert message.startswith("shots_02_bad.csv")
    for words in must_say:
        assert words.lower() in message.lower(), f"{words!r} not in: {message}"
    assert "Nothing from this file was loaded" in message
    if case not in (
        "ragged row (extra field)",
        "ragged row (missing field)",
        "neither UTF-8 nor CP949",
        "values separated by semicolons",
    ):
        for advice in WRONG_ADVICE:
            assert advice not in message, f"wrong advice {advice!r} in: {message}"
    assert (
        query(workspace, "SELECT * EXCLUDE (_loaded_at) FROM raw.test_mes__shots ORDER BY ALL") == before_rows
    )
    assert query(workspace, "SELECT * FROM raw._load_batches ORDER BY ALL") == before_registry
    assert raw_columns(workspace, "test_mes__shots") == before_columns


def test_a_bad_first_file_leaves_no_raw_table_behind(workspace: Settings) -> None:
    deliver(workspace, "shots_bad.csv", b"machine,count,new_column\nS14,1,x\nS14,2,y,z\n")

    with pytest.raises(IngestError, match=r"shots_bad\.csv: line 3 has 4 fields"):
        ingest_client(workspace, client(csv_source()))

    assert raw_columns(workspace, "test_mes__shots") == []
    assert query(workspace, "SELECT count(*) FROM raw._load_batches") == [(0,)]


def test_a_new_column_in_a_later_delivery_is_added_not_lost(workspace: Settings) -> None:
    config = client(csv_source())
    deliver(workspace, "shots_1.csv", b"machine,count\nS14,1\n")
    ingest_client(workspace, config)
    deliver(workspace, "shots_2.csv", b"machine,COUNT,operator\nS14,2,Kim\n")  # same column, other case

    ingest_client(workspace, config)

    assert raw_columns(workspace, "test_mes__shots")[:2] == ["machine", "count"]
    assert "operator" in raw_columns(workspace, "test_mes__shots")
    rows = query(workspace, "SELECT _source_file, count, operator FROM raw.test_mes__shots ORDER BY 1")
    assert rows == [("shots_1.csv", "1", None), ("shots_2.csv", "2", "Kim")]


def test_headers_that_would_collide_in_duckdb_are_refused(workspace: Settings) -> None:
    deliver(workspace, "shots_x.csv", b"Date,date,count\n2026-10-01,2026-10-01,1\n")

    with pytest.raises(
        IngestError, match=r"shots_x\.csv: row 1: header\(s\) \['date'\] appear more than once"
    ):
        ingest_client(workspace, client(csv_source()))


def test_a_missing_excel_sheet_is_named(workspace: Settings) -> None:
    workbook = Workbook()
    workbook.active.title = "Sheet1"
    path = workspace.landing_dir(CLIENT) / "diary.xlsx"
    path.parent.mkdir(parents=True)
    workbook.save(path)
    source = {"entity": "production", "pattern": "*.xlsx", "format": "excel", "sheet": "생산실적"}

    with pytest.raises(
        IngestError, match=r"diary\.xlsx \(sheet 생산실적\): has no sheet '생산실적'.*Fix `sheet:`"
    ):
        ingest_client(workspace, client(source))


@pytest.mark.parametrize("configured", ["utf-16", "UTF16", "utf_16"])
def test_utf16_text_loads_when_its_encoding_is_set(workspace: Settings, configured: str) -> None:
    deliver(workspace, "shots_u16.csv", csv_bytes(KOREAN_HEADER, KOREAN_ROWS, encoding="utf-16"))

    [load] = ingest_client(workspace, client(csv_source(encoding=configured))).files

    assert (load.status, load.rows) == ("loaded", 3)
    assert raw_columns(workspace, "test_mes__shots")[:5] == KOREAN_HEADER


def test_an_excel_title_row_read_as_the_header_points_at_header_row(workspace: Settings) -> None:
    workbook = Workbook()
    workbook.active.append(["2026년 10월 생산실적"])  # a title where the header was expected
    workbook.active.append([])
    workbook.active.append(["일자", "라인", "생산수량"])
    workbook.active.append(["2026-10-01", "L1", 2304])
    path = workspace.landing_dir(CLIENT) / "생산_10.xlsx"
    path.parent.mkdir(parents=True)
    workbook.save(path)

    with pytest.raises(IngestError) as caught:
        ingest_client(
            workspace, client({"entity": "production", "pattern": "생산_*.xlsx", "format": "excel"})
        )

    message = str(caught.value)
    assert message.startswith("생산_10.xlsx: row 3 has 3 values but the header has 1")
    assert "fix `header_row`" in message and "delimiter" not in message


def test_a_json_array_delivered_as_json_lines_is_named(workspace: Settings) -> None:
    deliver(
        workspace, "stops.jsonl", b'[{"machine": "S14", "minutes": 5},\n {"machine": "S12", "minutes": 7}]\n'
    )
    deliver(workspace, "stops_2.jsonl", b'{"machine": "S14", "minutes": 5}\n["S12", 7]\n')
    source = {"entity": "stops", "pattern": "stops*.jsonl", "format": "jsonl"}

    report = ingest_client(workspace, client(source), raise_on_rejection=False)

    errors = [str(f.error) for f in report.rejected]
    assert errors[0].startswith("stops.jsonl: is one JSON array, not JSON lines (one object per line)")
    assert errors[1].startswith("stops_2.jsonl: line 2 is a JSON array, not an object")
    assert all("Ask the client" in e or "ask the client" in e for e in errors)


def test_undeclared_files_are_reported_as_unmatched(workspace: Settings) -> None:
    deliver(workspace, "shots_2026-10.csv", csv_bytes(KOREAN_HEADER, KOREAN_ROWS))
    deliver(workspace, "notes/회의록.txt", "나중에 확인".encode())

    report = ingest_client(workspace, client(csv_source()))

    assert [f.file for f in report.files] == ["shots_2026-10.csv"]
    assert report.unmatched == ["notes/회의록.txt"]


def test_add_files_keeps_an_earlier_delivery_of_the_same_name(workspace: Settings, tmp_path: Path) -> None:
    """The client re-sends a file with corrections: the new one takes its place, the earlier one is kept."""
    from forgeline.ingest import superseded_dir

    outbox = tmp_path / "outbox"
    outbox.mkdir()
    first = outbox / "shots_2026-10.csv"
    first.write_bytes(b"machine,count\nS14,1\n")
    [placed] = add_files(workspace, CLIENT, [first])
    assert placed == workspace.landing_dir(CLIENT) / "shots_2026-10.csv"
    assert add_files(workspace, CLIENT, [first]) == [placed]  # the same file again: fine, nothing changes
    assert not superseded_dir(workspace, CLIENT).exists()

    second = tmp_path / "later" / "shots_2026-10.csv"
    second.parent.mkdir()
    second.write_bytes(b"machine,count\nS14,999\n")
    assert add_files(workspace, CLIENT, [second]) == [placed]

    assert placed.read_bytes() == b"machine,count\nS14,999\n"
    assert sorted(p.name for p in placed.parent.iterdir()) == ["shots_2026-10.csv"]  # no partial left
    [kept] = superseded_dir(workspace, CLIENT).iterdir()
    assert re.fullmatch(r"shots_2026-10\.csv\.\d{8}T\d{12}Z", kept.name)
    assert kept.read_bytes() == b"machine,count\nS14,1\n"  # nothing the client sent is lost


def test_a_50_mb_line_is_refused_by_its_number_in_bounded_memory(workspace: Settings) -> None:
    config = client(csv_source())
    deliver(workspace, "shots_01.csv", b"machine,count\nS01,10\n")
    deliver(workspace, "shots_02.csv", b"machine,count\nS01,11\nS01," + b"7" * (50 << 20))  # no newline

    tracemalloc.start()
    try:
        report = ingest_client(workspace, config, raise_on_rejection=False)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert [(f.file, f.status) for f in report.files] == [
        ("shots_01.csv", "loaded"),
        ("shots_02.csv", "rejected"),
    ]
    assert "shots_02.csv: line 3 is longer than 1,048,576 bytes" in str(report.files[1].error)
    assert peak < 8 << 20, f"ingest held {peak / 2**20:.1f} MiB of Python memory for one long line"
    assert query(workspace, "SELECT count(*) FROM raw.test_mes__shots") == [(1,)]


def test_a_declared_source_not_delivered_yet_leaves_its_entity_empty(workspace: Settings) -> None:
    """The client sent its PLC export but not yet its maintenance log: ingest says so, and the mapped
    views still exist, typed and empty, so standardization can run and the gate can say what is missing."""
    from forgeline.clients import save_mapping_text
    from forgeline.demo import demo_clients, demo_mapping_text, synthetic
    from forgeline.standardize import apply_mapping

    [press] = [c for c in demo_clients() if c.id == "hanbit-press"]
    save_mapping_text(workspace, press.id, demo_mapping_text(press.id))
    landing = workspace.landing_dir(press.id)
    landing.mkdir(parents=True)
    (landing / "press_sensors_202609.csv").write_text(
        ",".join(synthetic.SENSOR_HEADER) + "\n2026-09-01 00:00:00,P-01,RUN,20,120.5,180.0,2.4,36.0\n",
        encoding="utf-8",
    )
    report = ingest_client(workspace, press)
    assert report.undelivered == ["maintenance (maintenance_log*.csv)"]
    assert apply_mapping(workspace, press) == []
    con = duckdb.connect(str(workspace.warehouse_path(press.id)), read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM mapped.maintenance_events").fetchall() == [(0,)]
        assert con.execute("SELECT count(*) FROM mapped.sensor_readings").fetchall() == [(4,)]
        [(value, unit)] = con.execute(
            "SELECT value, unit FROM mapped.sensor_readings WHERE tag = 'oil_temp'"
        ).fetchall()
    finally:
        con.close()
    assert (value, unit) == (pytest.approx((120.5 - 32) * 5 / 9), "°C")


# -- DuckDB parses CSV: the same rows, line numbers and words as the line-by-line Python reader ----------
TRICKY = {
    "empty-lines": (b"machine,count\r\nS1,1\r\n\r\nS2,2\r\n\r\n\r\nS3,3\r\n", {}),
    "quoted-line-breaks": (b'machine,note\nS1,"a\nb"\nS2,"\nedge\n"\nS3,c\n', {}),
    "quotes-and-trailing-empty-rows": (b'machine,note\nS1,"x, y"\nS2,z\n,\n,\n', {}),
    "quote-after-first-character": (b'machine,count\nS1,1\n"S2"x,2\nS3,3\n', {}),
    "extra-empty-fields-and-empty-short-row": (b"a,b,c\n1,2,3,,\n,\n4,5,6\n", {}),
    "other-whitespace": ("a,b\n\u00a0S1\u3000,\t2 \nS2,\u20033\n".encode(), {}),
    "cr-only-with-empty-lines": (b"a,b\r1,2\r\r3,4\r", {}),
    "cp949-empty-line-and-spaces": ("설비,수량\n 1호기 ,1\n\n2호기,2\n".encode("cp949"), {}),
    "title-above-header-units-below": (
        b"Report,,\nmachine,count,temp\n-,pcs,C\nS1,1,50\nS2,2,51\n",
        {"header_row": 2, "skip_rows": 1},
    ),
    "tab-separated": (b"machine\tcount\nS1\t1\n\nS2\t2\n", {"format": "tsv"}),
    "line-breaks-of-two-kinds-unquoted": (b"a,b,c\n1,2,3\r\nx\ry,2,3\n", {}),
}


@pytest.mark.parametrize("case", sorted(TRICKY))
def test_duckdb_loads_tricky_csv_as_the_python_reader_reads_it(workspace: Settings, case: str) -> None:
    data, settings = TRICKY[case]
    loads_as_the_python_reader_reads_it(workspace, data, settings, "auto")


@pytest.mark.parametrize("case", sorted(TRICKY))
def test_cp949_piped_to_duckdb_in_tiny_blocks_loads_as_the_python_reader_reads_it(
    workspace: Settings, monkeypatch: pytest.MonkeyPatch, case: str
) -> None:
    """Transcoded 5 bytes at a time into the pipe DuckDB reads: block boundaries fall inside two-byte
    characters, CRLFs and quoted values that span lines; rejected records and empty lines make the UTF-8
    copy be written after all."""
    data, settings = TRICKY[case]
    text = data.decode("cp949" if case.startswith("cp949") else "utf-8")
    # Korean names and values; whitespace CP949 has (U+3000) for what it has not (U+00A0, U+2003).
    text = text.replace("machine", "설비명").replace("S", "호기")
    text = text.replace("\u00a0", "\u3000").replace("\u2003", "\u3000")
    monkeypatch.setattr(readers, "TRANSCODE_BLOCK", 5)
    for configured in ("auto", "cp949"):
        loads_as_the_python_reader_reads_it(workspace, text.encode("cp949"), settings, configured)
        for name in ("raw.test_mes__shots", "raw._load_batches", "raw._landing_files", "raw._rejected_files"):
            with duckdb.connect(str(workspace.warehouse_path(CLIENT))) as con:
                con.execute(f"DROP TABLE IF EXISTS {name}")


def loads_as_the_python_reader_reads_it(
    workspace: Settings, data: bytes, settings: dict[str, Any], configured: str
) -> None:
    """Ingest loads ``data`` (or refuses it) exactly as the line-by-line Python reader reads it."""
    path = deliver(workspace, "shots_tricky.csv", data)
    config = client(csv_source(encoding=configured, **settings))
    spec = config.sources[0]
    encoding = readers.detect_encoding(path, configured)
    try:
        expected = [tuple(row) for _, batch in readers.read_csv(path, spec, encoding) for row in batch]
    except readers.ReadError as exc:
        expected_error: str | None = str(exc)
    else:
        expected_error = None

    report = ingest_client(workspace, config, raise_on_rejection=False)

    if expected_error is not None:
        [error] = report.errors
        assert expected_error in error
        return
    assert report.errors == []
    names = raw_columns(workspace, spec.name)[: len(expected[0]) - 1]
    columns = ", ".join(f'"{n}"' for n in names)
    rows = query(workspace, f"SELECT {columns}, _source_row FROM raw.{spec.name} ORDER BY _source_row::INT")
    assert rows == expected


def test_a_transcoded_copy_is_never_left_behind(workspace: Settings) -> None:
    deliver(workspace, "shots_ok.csv", csv_bytes(KOREAN_HEADER, KOREAN_ROWS, encoding="cp949"))
    deliver(workspace, "shots_bad.csv", "일자,설비\n2026-10-01,S14,99\n".encode("cp949"))

    report = ingest_client(workspace, client(csv_source(encoding="auto")), raise_on_rejection=False)

    assert sorted(f.status for f in report.files) == ["loaded", "rejected"]
    assert "line 2 has 3 fields" in report.errors[0]
    leftovers = [p.name for p in workspace.warehouse_path(CLIENT).parent.iterdir() if "forgeline-" in p.name]
    assert leftovers == []


# -- the passes over a file run beside DuckDB's parse: what they refuse a file for still comes first ------
LATE = 200_000  # rows of a good start, read by DuckDB before the passes find what is wrong further on


@pytest.mark.parametrize(
    ("name", "encoding", "tail"),
    [
        ("a NUL byte late in a UTF-8 file", "auto", b"S1,\x00\n"),
        ("a byte that is not CP949 late in a CP949 file", "auto", b"S1,\xff\n"),
        ("a byte that is not CP949, CP949 configured", "cp949", b"S1,\xff\n"),
        ("a line over 1 MiB late in a CP949 file", "cp949", b"S1," + b"x" * (2 << 20) + b"\n"),
        ("cp1252 text read as CP949", "auto", None),
    ],
)
def test_what_the_passes_refuse_a_file_for_wins_over_what_duckdb_read_meanwhile(
    workspace: Settings, monkeypatch: pytest.MonkeyPatch, name: str, encoding: str, tail: bytes | None
) -> None:
    korean = encoding == "cp949" or "CP949" in name
    header = "설비,수량\n".encode("cp949") if korean else b"machine,count\n"
    if tail is None:  # Western text: the rare-syllable verdict comes after the whole file is decoded
        data = b"machine,temp\n" + b"S1,230\xb0C\n" * LATE
    else:
        data = header + b"S1,1\n" * LATE + tail + b"S2,2\n" * 1000
    path = deliver(workspace, "shots_late.csv", data)
    try:  # the reference: the passes on their own, as they ran before DuckDB did
        readers.sniff_content(path, "csv", encoding)
        readers.detect_encoding(path, encoding)
    except readers.ReadError as exc:
        expected = str(exc)
    monkeypatch.setattr(readers, "TRANSCODE_BLOCK", 1 << 16)  # many blocks through the pipe

    report = ingest_client(workspace, client(csv_source(encoding=encoding)), raise_on_rejection=False)

    [error] = report.errors
    assert expected.rstrip(". ") in error, name
    assert query(workspace, "SELECT count(*) FROM raw._load_batches") == [(0,)]
    assert [p.name for p in workspace.warehouse_path(CLIENT).parent.iterdir() if "forgeline-" in p.name] == []


def test_a_bad_cp949_byte_wins_over_a_missing_required_column(workspace: Settings) -> None:
    """The header is read while the file is still being transcoded: the encoding's verdict still comes
    first, as when the whole file was decoded before its header was read."""
    deliver(workspace, "shots_both.csv", "설비,수량\n".encode("cp949") + b"S1,1\n" * 50_000 + b"\xff\n")

    config = client(csv_source(encoding="cp949", required_columns=["일자"]))
    report = ingest_client(workspace, config, raise_on_rejection=False)

    [error] = report.errors
    assert "is not valid cp949" in error and "required" not in error


def test_a_space_whose_bytes_straddle_two_read_blocks_is_still_trimmed(workspace: Settings) -> None:
    """The only U+00A0 of a UTF-8 file, its two bytes split by the scan's 1 MiB block boundary."""
    block = 1 << 20
    head, line = b"a,b\n", b"S,1\n"
    filler = line * ((block - 1 - len(head) - 3) // len(line))
    pad = b"x" * (block - 1 - len(head) - len(filler) - 1)
    data = head + filler + pad + b"," + "\u00a0".encode() + b"v\n" + b"S,2\n"
    assert data[block - 1 : block + 1] == "\u00a0".encode()
    deliver(workspace, "shots_nbsp.csv", data)

    ingest_client(workspace, client(csv_source(encoding="auto")))

    assert query(workspace, "SELECT b FROM raw.test_mes__shots WHERE b LIKE '%v'") == [("v",)]


@pytest.mark.parametrize(
    "interrupt",
    [KeyboardInterrupt(), RuntimeError("Query interrupted")],  # Ctrl-C in Python, or as DuckDB reports it
    ids=["python", "duckdb"],
)
def test_an_interrupt_while_duckdb_reads_a_piped_file_stops_the_load_at_once(
    workspace: Settings, monkeypatch: pytest.MonkeyPatch, interrupt: BaseException
) -> None:
    """Ctrl-C while DuckDB reads a CP949 file whose last byte the passes would refuse: the interrupt wins
    (not the refusal, and the next file is not loaded), the passes stop, nothing is left loaded or running.
    (A real SIGINT at a random moment is timing-dependent: DuckDB's own interrupt stands in for it here.)"""
    import threading
    import time

    from forgeline.ingest import csvload

    monkeypatch.setattr(readers, "TRANSCODE_BLOCK", 1 << 16)
    header = "설비,수량\n".encode("cp949")
    deliver(workspace, "shots_a.csv", header + "S1,가나다라마바사\n".encode("cp949") * 3_000_000 + b"\xff\n")
    deliver(workspace, "shots_b.csv", header + "S1,가\n".encode("cp949") * 10)

    def interrupted_read(*args: Any, **kwargs: Any) -> int:
        time.sleep(0.2)  # DuckDB has started reading the pipe, the passes are transcoding
        raise interrupt

    monkeypatch.setattr(csvload, "load", interrupted_read)
    started = time.monotonic()

    with pytest.raises(KeyboardInterrupt):
        ingest_client(workspace, client(csv_source(encoding="cp949")), raise_on_rejection=False)

    assert time.monotonic() - started < 20  # not after the passes read the whole 57 MB file
    assert not [t.name for t in threading.enumerate() if t.name.startswith("forgeline")]
    assert query(workspace, "SELECT count(*) FROM raw._load_batches") == [(0,)]
    assert query(workspace, "SELECT count(*) FROM raw._rejected_files") == [(0,)]


def test_cells_with_other_whitespace_are_trimmed_in_a_big_piped_file(
    workspace: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Other whitespace (a tab, an ideographic space) is found by the passes beside DuckDB's read; the
    cells holding it are trimmed afterwards, as str.strip() does, and a cell of it only is empty."""
    monkeypatch.setattr(readers, "TRANSCODE_BLOCK", 1 << 12)
    rows = ["\u3000가스\t,1", " 미성형 , 2 ", "\t\u3000,3", "정상,\u30004"] * 2_000
    deliver(workspace, "shots_spaces.csv", ("불량유형,수량\n" + "\n".join(rows) + "\n").encode("cp949"))

    [load] = ingest_client(workspace, client(csv_source(encoding="auto"))).files

    assert (load.rows, load.encoding) == (8_000, "cp949")
    got = query(
        workspace, 'SELECT "불량유형", "수량" FROM raw.test_mes__shots ORDER BY _source_row::INT LIMIT 4'
    )
    assert got == [("가스", "1"), ("미성형", "2"), (None, "3"), ("정상", "4")]

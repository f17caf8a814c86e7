"""A corpus of bad deliveries (issue 7): files a factory really sends, each with the outcome Forgeline owes.

``bad_delivery_cases(seed)`` returns the cases, generated deterministically from the seed. Each case is one
file (or a builder for what cannot be plain bytes: symlinks, FIFOs, folders, 50 MB lines, files changed in
place) put into the landing folder of the test client ``bd-plant``, for one of its four sources:

- ``shots``: CSV cycles/shots export (UTF-8, ``encoding: auto``): timestamp, machine, cycle time in s,
  pass/fail as a value map, temperature and pressure tags with units (one in °F with a declared range);
- ``plc``: the press PLC's minute log, CP949 with Korean headers (``encoding: auto``);
- ``counts``: an Excel (.xlsx) production counts export (sheet 생산실적, Korean headers);
- ``downtime``: JSON lines of stops.

and the outcome it must give (``Case.expect``, one or more accepted):

- ``refused``: recorded in ``raw._rejected_files``; the error names the file, says where (``words``) and
  what to do (a do-word), never quotes what ``never`` lists (a symlink target's content);
- ``quarantined``: the file loads; the rows in ``quarantine`` are in ``mapped._quarantine`` with their rule
  and are missing from their entity's view, the file's other rows are in it;
- ``loaded``: the file's ``rows`` are in raw and in the source's entity view, nothing quarantined, and the
  ``checks`` (SQL → expected rows) hold;
- ``skipped``: nothing loaded from the file and nothing refused (the same content was loaded already).

The test module (``tests/test_bad_deliveries.py``) runs each case on a copy of a baseline workspace.
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import json
import os
import random
import re
import unicodedata
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from openpyxl import Workbook

CLIENT = "bd-plant"
OTHER = "other-plant"
SEED = 20250304
UTC = dt.UTC

# ---------------------------------------------------------------------------------------------------
# The test clients' mappings
# ---------------------------------------------------------------------------------------------------
MAPPING = """\
# The bad-delivery corpus' client: four sources, one per kind of export (tests/bad_deliveries.py).
id: bd-plant
name: 불량납품 시험공장 (Bad Delivery Plant)
industry: injection molding
timezone: Asia/Seoul
country: KR
masters:
  equipment:
    - {machine_id: M-01, machine_name: 1호기 사출기}
    - {machine_id: M-02, machine_name: 2호기 사출기}
    - {machine_id: P-01, machine_name: 1호기 프레스}
    - {machine_id: P-02, machine_name: 2호기 프레스}
  products:
    - {product_id: BRKT-100, product_name: 브라켓, ideal_cycle_time_s: 30}
sources:
  - name: shots
    files: "*shots_*.csv"
    format: csv
    encoding: auto
    required_columns: [Timestamp, Machine, CycleTime_s, PassOrFail]
    feeds:
      cycles:
        fields:
          started_at: Timestamp
          machine_id: Machine
          cycle_time_s: {column: CycleTime_s, unit: s}
        tags:
          MoldTemp_C: {tag: mold_temp, unit: ℃}
          InjPressure_bar: {tag: injection_pressure, unit: bar}
          BarrelTemp_F: {tag: barrel_temp, unit: °F, range: [150, 350]}
        dedup: [machine_id, started_at]
      quality_results:
        fields:
          machine_id: Machine
          inspected_at: Timestamp
          is_pass: {column: PassOrFail, map: {OK: true, NG: false}}
        dedup: [machine_id, inspected_at]
  - name: plc
    files: "press_*.csv"
    format: csv
    encoding: auto
    required_columns: [일시, 설비번호, 상태]
    feeds:
      sensor_readings:
        fields:
          machine_id: {column: 설비번호, map: {1호기: P-01, 2호기: P-02}}
          read_at: {column: 일시, format: "%Y/%m/%d %H:%M:%S"}
        tags:
          유온(℃): {tag: oil_temp, unit: ℃}
          유압(bar): {tag: hydraulic_pressure, unit: bar, range: [0, 40]}
      machine_states:
        fields:
          machine_id: {column: 설비번호, map: {1호기: P-01, 2호기: P-02}}
          state: {column: 상태, map: {가동: running, 대기: idle, 정지: down}}
          state_text: 상태
          started_at: {column: 일시, format: "%Y/%m/%d %H:%M:%S"}
        sample_period: 1 min
  - name: counts
    files: "counts_*.xlsx"
    format: excel
    sheet: 생산실적
    required_columns: [일자, 근무조, 설비, 품번, 생산수량, 불량수량]
    feeds:
      production_counts:
        fields:
          production_date: 일자
          shift: {column: 근무조, map: {주간: day, 야간: night}}
          machine_id: 설비
          product_id: 품번
          total_count: 생산수량
          reject_count: 불량수량
        dedup: [machine_id, product_id, production_date, shift]
  - name: downtime
    files: "downtime_*.jsonl"
    format: jsonl
    required_columns: [machine, start, reason]
    feeds:
      downtime_events:
        fields:
          machine_id: machine
          started_at: start
          ended_at: end
          duration_s: {column: minutes, unit: min}
          reason_code:
            column: reason
            map: {설비고장: BREAKDOWN, 금형교체: CHANGEOVER, 자재대기: MATERIAL_WAIT}
          reason_text: reason
        dedup: [machine_id, started_at]
"""

OTHER_MAPPING = """\
id: other-plant
name: 타사공장 (Other Plant)
sources:
  - name: shots
    files: "shots_*.csv"
    required_columns: [Timestamp, Machine, CycleTime_s, PassOrFail]
    feeds:
      cycles:
        fields: {started_at: Timestamp, machine_id: Machine, cycle_time_s: CycleTime_s}
"""

_RANGE = re.compile(r",\s*range:\s*\[[^\]]*\]")


def without_ranges(mapping: str) -> str:
    """The mapping less its ``range:`` keys (for a tree whose mapping does not know them yet)."""
    return _RANGE.sub("", mapping)


SOURCE_ENTITY = {
    "shots": "cycles",
    "plc": "machine_states",
    "counts": "production_counts",
    "downtime": "downtime_events",
}
TAG_NAMES = {"mold_temp", "injection_pressure", "barrel_temp", "oil_temp", "hydraulic_pressure"}

SHOTS = [
    "Timestamp",
    "Machine",
    "CycleTime_s",
    "PassOrFail",
    "MoldTemp_C",
    "InjPressure_bar",
    "BarrelTemp_F",
    "Operator",
]
PLC = ["일시", "설비번호", "상태", "유온(℃)", "유압(bar)"]
COUNTS = ["일자", "근무조", "설비", "품번", "생산수량", "불량수량"]
OPERATORS = ["김민수", "이영희", "박철수", "최지우"]
OTHER_MARK = "타사직원-O77"  # only the other client's file holds it: it must never reach bd-plant

# ---------------------------------------------------------------------------------------------------
# File makers
# ---------------------------------------------------------------------------------------------------


def csv_bytes(
    header: list[str], rows: list[list[str]], encoding: str = "utf-8", delimiter: str = ","
) -> bytes:
    """A CSV as an MES writes it: CRLF, quotes only where needed."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
    writer.writerows([header, *rows])
    return buffer.getvalue().encode(encoding)


def csv_lines(header: list[str], rows: list[list[str]], delimiter: str = ",") -> list[str]:
    """The CSV's lines as text (the header first, each with its CRLF), to damage one of them."""
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n").writerows([header, *rows])
    return buffer.getvalue().splitlines(keepends=True)


def xlsx_bytes(
    rows: list[list[object]],
    header: list[str] | None = None,
    sheet: str = "생산실적",
    above: int = 0,
    memo: str | None = None,
) -> bytes:
    """A workbook with ``above`` title rows, the header and the rows (dates stay Excel dates); ``memo``
    adds a second sheet holding that text."""
    workbook = Workbook()
    ws = workbook.active
    ws.title = sheet
    for i in range(above):
        ws.append(["2025년 3월 생산실적" if i == 0 else None])
    ws.append(header or COUNTS)
    for row in rows:
        ws.append(row)
    if memo is not None:
        workbook.create_sheet("메모").append([memo])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def jsonl_bytes(records: list[dict | str]) -> bytes:
    lines = [r if isinstance(r, str) else json.dumps(r, ensure_ascii=False) for r in records]
    return ("\n".join(lines) + "\n").encode("utf-8")


def _stamp(t: dt.datetime) -> str:
    return t.strftime("%Y-%m-%d %H:%M:%S")


class Rows:
    """Seeded good rows of each source; cases then break one cell or line."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def shots(self, day: dt.date, n: int = 5, machine: str = "M-01", hour: int = 8) -> list[list[str]]:
        start = dt.datetime.combine(day, dt.time(hour))
        r = self.rng
        return [
            [
                _stamp(start + dt.timedelta(minutes=i)),
                machine,
                f"{r.uniform(29, 33):.2f}",
                "NG" if r.random() < 0.15 else "OK",
                f"{r.uniform(45, 55):.1f}",
                f"{r.uniform(900, 1100):.0f}",
                f"{r.uniform(430, 460):.0f}",
                r.choice(OPERATORS),
            ]
            for i in range(n)
        ]

    def plc(self, day: dt.date, n: int = 5, hour: int = 8) -> list[list[str]]:
        start = dt.datetime.combine(day, dt.time(hour))
        r = self.rng
        return [
            [
                (start + dt.timedelta(minutes=i)).strftime("%Y/%m/%d %H:%M:%S"),
                r.choice(["1호기", "2호기"]),
                r.choice(["가동", "가동", "대기", "정지"]),
                f"{r.uniform(38, 45):.1f}",
                f"{r.uniform(110, 130):.0f}",
            ]
            for i in range(n)
        ]

    def counts(self, day: dt.date, n: int = 4) -> list[list[object]]:
        r = self.rng
        rows: list[list[object]] = []
        for i in range(n):
            total = r.randint(800, 1200)
            rows.append(
                [
                    day + dt.timedelta(days=i // 2),
                    ["주간", "야간"][i % 2],
                    "M-01",
                    "BRKT-100",
                    total,
                    r.randint(0, 20),
                ]
            )
        return rows

    def downtime(self, day: dt.date, n: int = 3) -> list[dict]:
        r = self.rng
        records = []
        for i in range(n):
            start = dt.datetime.combine(day, dt.time(10 + i, 0))
            minutes = r.randint(5, 40)
            records.append(
                {
                    "machine": "M-01",
                    "start": _stamp(start),
                    "end": _stamp(start + dt.timedelta(minutes=minutes)),
                    "minutes": minutes,
                    "reason": r.choice(["설비고장", "금형교체", "자재대기"]),
                }
            )
        return records


def put(rows: list[list], index: int, column: str, value: object, header: list[str] = SHOTS) -> list[list]:
    """``rows`` with one cell replaced (``index``: the data row, 0-based)."""
    rows = [list(r) for r in rows]
    rows[index][header.index(column)] = value
    return rows


# -- the baseline deliveries and the good files around each case -------------------------------------
BASE_DAY = dt.date(2025, 3, 4)
BASE_SHOTS = "shots_2025-03-04.csv"
BASE_PLC = "press_20250304.csv"
BASE_COUNTS = "counts_2025-03.xlsx"
BASE_DOWNTIME = "downtime_2025-03-04.jsonl"
BASE_SHOTS_ROWS = [
    ["2025-03-04 08:00:00", "M-01", "31.20", "OK", "50.1", "1000", "440", "김민수"],
    ["2025-03-04 08:01:00", "M-01", "30.85", "OK", "50.4", "1010", "441", "김민수"],
    ["2025-03-04 08:02:00", "M-01", "31.05", "NG", "49.8", "990", "442", "김민수"],
    ["2025-03-04 08:03:00", "M-02", "32.40", "OK", "51.0", "1020", "445", "이영희"],
    ["2025-03-04 08:04:00", "M-02", "32.15", "OK", "51.2", "1015", "446", "이영희"],
    ["2025-03-04 08:05:00", "M-02", "32.60", "OK", "51.1", "1018", "444", "이영희"],
]


def baseline_rows(seed: int = SEED) -> dict[str, list]:
    """The rows of the baseline delivery of each source."""
    rows = Rows(seed + 1)
    return {
        "shots": BASE_SHOTS_ROWS,
        "plc": rows.plc(BASE_DAY, n=6),
        "counts": rows.counts(BASE_DAY),
        "downtime": rows.downtime(BASE_DAY),
    }


def baseline_deliveries(seed: int = SEED) -> dict[str, dict[str, bytes]]:
    """Client → {landing name: bytes}: one good delivery per source, and the other client's."""
    rows = baseline_rows(seed)
    return {
        CLIENT: {
            BASE_SHOTS: csv_bytes(SHOTS, rows["shots"]),
            BASE_PLC: csv_bytes(PLC, rows["plc"], encoding="cp949"),
            BASE_COUNTS: xlsx_bytes(rows["counts"]),
            BASE_DOWNTIME: jsonl_bytes(rows["downtime"]),
        },
        OTHER: {
            "shots_2025-03-04.csv": csv_bytes(
                SHOTS, [r[:1] + ["O-77"] + r[2:7] + [OTHER_MARK] for r in BASE_SHOTS_ROWS]
            ),
        },
    }


def good_file(source: str, tag: str, seed: int = SEED) -> tuple[str, bytes, int]:
    """A good file of ``source`` (name, bytes, data rows), delivered with a case (``tag``: after, later)."""
    day = dt.date(2025, 3, 28) if tag == "after" else dt.date(2025, 3, 29)
    rows = Rows(seed + (2 if tag == "after" else 3))
    if source == "shots":
        return f"shots_zz_{tag}.csv", csv_bytes(SHOTS, rows.shots(day, n=3)), 3
    if source == "plc":
        return f"press_zz_{tag}.csv", csv_bytes(PLC, rows.plc(day, n=3), encoding="cp949"), 3
    if source == "counts":
        return f"counts_zz_{tag}.xlsx", xlsx_bytes(rows.counts(day, n=2)), 2
    return f"downtime_zz_{tag}.jsonl", jsonl_bytes(rows.downtime(day, n=2)), 2


# ---------------------------------------------------------------------------------------------------
# Cases
# ---------------------------------------------------------------------------------------------------
Builder = Callable[
    [Path, Path], None
]  # (the client's landing folder, the workspace home) → the case in place
Words = tuple[str | tuple[str, ...], ...]


@dataclass(frozen=True)
class Q:
    """A row that must be quarantined: in ``mapped._quarantine`` under ``rule``, missing from ``entity``."""

    entity: str
    field: str  # the entity's field, or the tag's name for the tags views
    rule: str | tuple[str, ...]
    row: int  # source_row: the CSV/JSON line or Excel row
    column: str | None = None
    value: str | None = None

    @property
    def rules(self) -> tuple[str, ...]:
        return (self.rule,) if isinstance(self.rule, str) else self.rule


@dataclass(frozen=True)
class Check:
    """A query on the case's warehouse after ingest and mapping (``$file``: the case file) and its rows."""

    what: str
    sql: str
    expected: list[tuple]


@dataclass(frozen=True)
class Case:
    id: str
    cls: str
    source: str  # shots | plc | counts | downtime
    name: str  # the delivered file's path in the landing folder
    data: bytes | None = None
    build: Builder | None = None
    expect: tuple[str, ...] = ("refused",)  # accepted outcomes: refused | quarantined | loaded | skipped
    words: Words = ()  # refused: what the error must say besides the file name and a do-word
    never: tuple[str, ...] = ()  # text that must never appear in the error or the raw rows
    quarantine: tuple[Q, ...] = ()
    rows: int | None = None  # quarantined/loaded: raw rows the file must give
    checks: tuple[Check, ...] = ()
    supersedes: str | None = None  # a corrected re-delivery replacing this file's rows
    note: str = ""

    @property
    def entity(self) -> str:
        return SOURCE_ENTITY[self.source]


def _epoch(*parts: int, micro: int = 0) -> float:
    return dt.datetime(*parts, microsecond=micro, tzinfo=UTC).timestamp()


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def _at(name: str, make: Callable[[Path], None]) -> Builder:
    def build(landing: Path, home: Path) -> None:
        path = landing / name
        path.parent.mkdir(parents=True, exist_ok=True)
        make(path)

    return build


def _big(name: str, head: bytes, filler: bytes, size: int = 50 << 20) -> Builder:
    def make(path: Path) -> None:
        chunk = filler * ((1 << 20) // len(filler))
        with path.open("wb") as handle:
            handle.write(head)
            written = 0
            while written < size:
                handle.write(chunk)
                written += len(chunk)

    return _at(name, make)


def _symlink(name: str, target: Callable[[Path, Path], str | Path]) -> Builder:
    def build(landing: Path, home: Path) -> None:
        (landing / name).symlink_to(target(landing, home))

    return build


def _in_place(name: str, change: Callable[[bytes], bytes], keep_stat: bool = False) -> Builder:
    """The landing file ``name`` changed where it lies (``keep_stat``: same size, modification time kept)."""

    def build(landing: Path, home: Path) -> None:
        path = landing / name
        before = path.stat()
        data = change(path.read_bytes())
        if keep_stat:
            assert len(data) == before.st_size
            with path.open("r+b") as handle:
                handle.write(data)
            os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
        else:
            with path.open("wb") as handle:
                handle.write(data)

    return build


def _replaced(name: str, data: bytes) -> Builder:
    """A corrected re-delivery under the same name: the new file takes the old one's place (atomically)."""

    def build(landing: Path, home: Path) -> None:
        partial = landing / f".{name}.partial"
        partial.write_bytes(data)
        partial.replace(landing / name)

    return build


def _copies(first: str, second: str, data: bytes) -> Builder:
    def build(landing: Path, home: Path) -> None:
        _write(landing / first, data)
        _write(landing / second, data)

    return build


def _copy_of(existing: str, name: str) -> Builder:
    def build(landing: Path, home: Path) -> None:
        _write(landing / name, (landing / existing).read_bytes())

    return build


def _fifo(name: str) -> Builder:
    return lambda landing, home: os.mkfifo(landing / name)


def _folder(name: str, inside: dict[str, bytes]) -> Builder:
    def build(landing: Path, home: Path) -> None:
        (landing / name).mkdir()
        for child, data in inside.items():
            _write(landing / name / child, data)

    return build


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for member, data in members.items():
            archive.writestr(member, data)
    return buffer.getvalue()


def _pdf() -> bytes:
    stream = bytes(range(256)) * 8
    return (
        b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n"
        b"4 0 obj\n<< /Length "
        + str(len(stream)).encode()
        + b" /Filter /FlateDecode >>\nstream\n"
        + stream
        + b"\nendstream\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"
    )


def _html() -> bytes:
    return (
        b'<!DOCTYPE html>\n<html lang="ko">\n<head><title>502 Bad Gateway</title></head>\n<body>\n'
        b"<h1>502 Bad Gateway</h1>\n<p>The MES export service is unavailable, please retry later.</p>\n"
        b"<p>nginx/1.24.0, request id 7f3a, node mes-02</p>\n</body>\n</html>\n"
    )


def _q(
    entity: str,
    field: str,
    rule: str | tuple[str, ...],
    *rows: int,
    column: str | None = None,
    value: str | None = None,
) -> tuple[Q, ...]:
    return tuple(Q(entity, field, rule, row, column, value) for row in rows)


def bad_delivery_cases(seed: int = SEED) -> list[Case]:
    """Every case of the corpus, generated from ``seed`` (same seed, same files)."""
    g = Rows(seed)
    day = dt.date(2025, 3, 10)
    cases: list[Case] = []
    add = cases.append

    def shots(n: int = 5, **kw: object) -> list[list[str]]:
        return g.shots(day, n=n, **kw)  # type: ignore[arg-type]

    def shots_csv(rows: list[list[str]], encoding: str = "utf-8", header: list[str] = SHOTS) -> bytes:
        return csv_bytes(header, rows, encoding=encoding)

    def plc_csv(rows: list[list[str]]) -> bytes:
        return csv_bytes(PLC, rows, encoding="cp949")

    def shots_loaded(
        id_: str, cls: str, name: str, data: bytes, rows: int, *checks: Check, note: str = ""
    ) -> Case:
        return Case(id_, cls, "shots", name, data, expect=("loaded",), rows=rows, checks=checks, note=note)

    def quarantined(id_: str, source: str, name: str, data: bytes, rows: int, *q: Q, note: str = "") -> Case:
        cls = {"val": "values", "ts": "timestamp"}[id_.split("-")[0]]
        return Case(id_, cls, source, name, data, expect=("quarantined",), quarantine=q, rows=rows, note=note)

    # ------------------------------------------------------------------------------------------ encodings
    rows = g.plc(day, n=4)
    rows[3][2] = "정지"
    whole = plc_csv(rows)
    cut = whole.rindex("정".encode("cp949")) + 1
    add(
        Case(
            "enc-cp949-cut-inside-char",
            "encoding",
            "plc",
            "press_cut.csv",
            whole[:cut],
            words=("line 5", ("cut off", "truncated", "incomplete")),
            note="the copy stopped inside a Korean character of the last line (a CP949 lead byte alone)",
        )
    )
    rows = put(shots(), 4, "Operator", "김민수")
    utf8 = shots_csv(rows).rstrip(b"\r\n")
    add(
        Case(
            "enc-utf8-cut-inside-char",
            "encoding",
            "shots",
            "shots_cut.csv",
            utf8[:-1],
            words=("line 6", ("cut off", "truncated", "incomplete")),
        )
    )
    lines = csv_lines(SHOTS, put(shots(), 2, "Operator", "박철수"))
    damaged = lines[3].encode()
    at = damaged.index("박".encode())
    lines_bytes = [line.encode() for line in lines]
    lines_bytes[3] = damaged[: at + 1] + damaged[at + 2 :]
    add(
        Case(
            "enc-utf8-byte-lost-mid-file",
            "encoding",
            "shots",
            "shots_byte_lost.csv",
            b"".join(lines_bytes),
            words=("line 4",),
            note="one byte of a UTF-8 character lost in transfer, mid-file",
        )
    )
    rows = put(shots(), 1, "Operator", "Kim (230°C)")
    rows = [r[:7] + [r[7] if i == 1 else "Kim"] for i, r in enumerate(rows)]
    add(
        Case(
            "enc-cp1252-degree-under-auto",
            "encoding",
            "shots",
            "shots_cp1252.csv",
            shots_csv(rows, encoding="cp1252"),
            expect=("refused", "loaded"),
            rows=5,
            words=("line 3", "encoding"),
            checks=(
                Check(
                    "°C read as °C",
                    "SELECT \"Operator\" FROM raw.shots WHERE _source_file = $file AND _source_row = '3'",
                    [("Kim (230°C)",)],
                ),
            ),
            note="cp1252 0xB0 followed by 'C' is a valid CP949 pair: auto must not read it as Korean",
        )
    )
    header = [*SHOTS[:7], "Operator", "Temp(°C)"]
    rows = [[*r[:7], "Kim", "230"] for r in shots()]
    add(
        Case(
            "enc-cp1252-degree-in-header",
            "encoding",
            "shots",
            "shots_cp1252_header.csv",
            csv_bytes(header, rows, encoding="cp1252"),
            expect=("refused", "loaded"),
            rows=5,
            words=("line 1", "encoding"),
            checks=(
                Check(
                    "header read as written",
                    "SELECT count(*) FROM information_schema.columns "
                    "WHERE table_schema = 'raw' AND table_name = 'shots' AND column_name = 'Temp(°C)'",
                    [(1,)],
                ),
            ),
        )
    )
    rows = [[*r[:7], "José Müller" if i == 1 else "Kim"] for i, r in enumerate(shots())]
    add(
        Case(
            "enc-latin1-accents",
            "encoding",
            "shots",
            "shots_latin1.csv",
            shots_csv(rows, "latin-1"),
            expect=("refused", "loaded"),
            rows=5,
            words=("line 3", "encoding"),
            checks=(
                Check(
                    "accents kept",
                    "SELECT \"Operator\" FROM raw.shots WHERE _source_file = $file AND _source_row = '3'",
                    [("José Müller",)],
                ),
            ),
        )
    )
    header = [*SHOTS[:7], "Operator", "Ra(µm)"]
    rows = [[*r[:7], "Kim", "0.8"] for r in shots()]
    add(
        Case(
            "enc-latin1-micro-sign-header",
            "encoding",
            "shots",
            "shots_latin1_micro.csv",
            csv_bytes(header, rows, encoding="latin-1"),
            expect=("refused", "loaded"),
            rows=5,
            words=("line 1", "encoding"),
            checks=(
                Check(
                    "µ kept",
                    "SELECT count(*) FROM information_schema.columns WHERE table_schema = "
                    "'raw' AND table_name = 'shots' AND column_name = 'Ra(µm)'",
                    [(1,)],
                ),
            ),
            note="latin-1 0xB5 0x6D ('µm') is a valid CP949 pair",
        )
    )
    rows = shots()
    add(
        Case(
            "enc-utf16-with-bom",
            "encoding",
            "shots",
            "shots_utf16.csv",
            shots_csv(rows, "utf-16"),
            expect=("loaded", "refused"),
            rows=5,
            words=(("utf-16", "utf16"),),
            checks=(
                Check(
                    "UTF-16 read right",
                    'SELECT "Machine", "Operator" FROM raw.shots WHERE '
                    "_source_file = $file AND _source_row = '2'",
                    [(rows[0][1], rows[0][7])],
                ),
            ),
            note="Excel's 'Unicode text': the BOM says UTF-16; read it, or say to set `encoding: utf-16`",
        )
    )
    add(
        Case(
            "enc-utf16-no-bom",
            "encoding",
            "shots",
            "shots_utf16le.csv",
            shots_csv(shots(), "utf-16-le"),
            expect=("refused", "loaded"),
            rows=5,
            words=(("utf-16", "utf16"),),
        )
    )
    lines = csv_lines(SHOTS, put(shots(), 2, "Operator", "최지우"))
    mixed = b"".join(line.encode("cp949" if i == 3 else "utf-8") for i, line in enumerate(lines))
    add(
        Case(
            "enc-mixed-utf8-and-cp949",
            "encoding",
            "shots",
            "shots_mixed.csv",
            mixed,
            words=("line 4", "encoding"),
            note="a UTF-8 file with one CP949 line (line 4)",
        )
    )
    rows = g.plc(day, n=4)
    rows[1][2] = "정지"
    lines = csv_lines(PLC, rows)
    mixed = b"".join(line.encode("utf-8" if i == 2 else "cp949") for i, line in enumerate(lines))
    add(
        Case(
            "enc-mixed-cp949-and-utf8",
            "encoding",
            "plc",
            "press_mixed.csv",
            mixed,
            words=("line 3", "encoding"),
            note="a CP949 file with one UTF-8 line (line 3)",
        )
    )
    rows = shots()
    body = shots_csv(rows).decode()
    lines = body.split("\r\n")
    lines[3] = "\ufeff" + lines[3]
    add(
        Case(
            "enc-bom-in-the-middle",
            "encoding",
            "shots",
            "shots_bom_mid.csv",
            "\r\n".join(lines).encode("utf-8-sig"),
            expect=("refused", "quarantined"),
            rows=5,
            words=("line 4", ("bom", "byte order mark")),
            quarantine=_q("cycles", "started_at", "cast", 4),
        )
    )
    first, second = shots(3), g.shots(day, n=2, hour=9)
    glued = shots_csv(first, "utf-8-sig") + shots_csv(second, "utf-8-sig")
    add(
        Case(
            "enc-two-exports-concatenated",
            "encoding",
            "shots",
            "shots_glued.csv",
            glued,
            expect=("refused", "quarantined"),
            rows=6,
            words=("line 5", "header"),
            quarantine=_q("cycles", "started_at", "cast", 5) + _q("quality_results", "is_pass", "code", 5),
            note="`cat a.csv b.csv`: a BOM and a second header on line 5",
        )
    )

    # ------------------------------------------------------------------------------------------- binary
    lines = csv_lines(SHOTS, shots())
    lines[2] = lines[2].replace("M-0", "M-\x000\x00", 1)
    add(
        Case(
            "bin-nul-bytes-in-a-line",
            "binary",
            "shots",
            "shots_nul.csv",
            "".join(lines).encode(),
            words=("line 3", ("nul", "binary", "zero byte")),
        )
    )
    add(
        Case(
            "bin-nul-padding-at-end",
            "binary",
            "shots",
            "shots_nul_tail.csv",
            shots_csv(shots()) + b"\x00" * 4096,
            words=("line 7", ("nul", "binary", "zero byte")),
            note="a write cut by a crash: the file ends in 4 KB of zero bytes",
        )
    )
    add(
        Case(
            "bin-zip-named-csv",
            "binary",
            "shots",
            "shots_zip.csv",
            _zip({"shots_2025-03-10.csv": shots_csv(shots())}),
            words=(("zip", "archive", "compressed"),),
        )
    )
    add(
        Case(
            "bin-xlsx-named-csv",
            "binary",
            "shots",
            "shots_excel.csv",
            xlsx_bytes([r[:] for r in shots()], header=SHOTS, sheet="Sheet1"),
            words=(("excel", "xlsx"),),
        )
    )
    add(Case("bin-pdf-named-csv", "binary", "shots", "shots_report.csv", _pdf(), words=("pdf",)))
    rows = shots()
    add(
        Case(
            "bin-gzip-not-named-gz",
            "binary",
            "shots",
            "shots_gzipped.csv",
            gzip.compress(shots_csv(rows), mtime=0),
            expect=("refused", "loaded"),
            rows=5,
            words=(("gzip", "compressed"),),
            checks=(
                Check(
                    "rows read",
                    "SELECT \"Machine\" FROM raw.shots WHERE _source_file = $file AND _source_row = '2'",
                    [(rows[0][1],)],
                ),
            ),
        )
    )
    add(
        Case(
            "bin-html-error-page",
            "binary",
            "shots",
            "shots_export.csv",
            _html(),
            words=("html",),
            note="the MES web export returned its 502 page, saved as .csv",
        )
    )
    add(Case("bin-empty-file", "binary", "shots", "shots_empty.csv", b"", words=("empty",)))
    add(
        Case(
            "bin-blank-lines-only",
            "binary",
            "shots",
            "shots_blank.csv",
            b"\r\n  \r\n\r\n",
            words=(("empty", "blank", "no header"),),
        )
    )
    add(
        Case(
            "bin-header-only",
            "binary",
            "shots",
            "shots_header_only.csv",
            shots_csv([]),
            words=(("no data rows", "no rows"),),
        )
    )
    add(
        Case(
            "bin-xlsx-header-only",
            "binary",
            "counts",
            "counts_header_only.xlsx",
            xlsx_bytes([]),
            words=(("no data rows", "no rows"),),
        )
    )
    good_xlsx = xlsx_bytes(g.counts(day))
    add(
        Case(
            "bin-xlsx-truncated",
            "binary",
            "counts",
            "counts_cut.xlsx",
            good_xlsx[: len(good_xlsx) // 2],
            words=(
                ("excel", "xlsx", "workbook"),
                ("cut off", "incomplete", "truncated", "damaged", "corrupt"),
            ),
        )
    )
    add(
        Case(
            "bin-old-xls-named-xlsx",
            "binary",
            "counts",
            "counts_old.xlsx",
            b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504) + b"\x00" * 1024,
            words=(("xls", "excel 97"),),
            note="an Excel 97-2003 workbook renamed .xlsx",
        )
    )
    add(
        Case(
            "bin-csv-named-xlsx",
            "binary",
            "counts",
            "counts_text.xlsx",
            csv_bytes(COUNTS, [[str(c) for c in r] for r in g.counts(day)]),
            words=(("csv", "text"),),
        )
    )

    # ------------------------------------------------------------------------------- delimiters, headers
    add(
        Case(
            "hdr-semicolon-delimiter",
            "header",
            "shots",
            "shots_semicolon.csv",
            csv_bytes(SHOTS, shots(), delimiter=";"),
            words=(("line 1", "row 1"), "delimiter"),
        )
    )
    add(
        Case(
            "hdr-tab-delimiter",
            "header",
            "shots",
            "shots_tab.csv",
            csv_bytes(SHOTS, shots(), delimiter="\t"),
            words=(("line 1", "row 1"), "delimiter"),
        )
    )
    lines = csv_lines(SHOTS, shots())
    lines[3] = lines[3].replace("\r\n", ",extra\r\n")
    data = "".join(lines).encode()
    add(
        Case(
            "hdr-ragged-extra-field",
            "header",
            "shots",
            "shots_ragged_extra.csv",
            data,
            words=("line 4", "delimiter"),
        )
    )
    rows = shots()
    rows[1] = rows[1][:6]
    add(
        Case(
            "hdr-ragged-missing-fields",
            "header",
            "shots",
            "shots_ragged_short.csv",
            shots_csv(rows),
            words=("line 3",),
        )
    )
    header = list(SHOTS)
    header[4] = ""
    add(
        Case(
            "hdr-empty-header-name",
            "header",
            "shots",
            "shots_empty_name.csv",
            shots_csv(shots(), header=header),
            words=(("line 1", "row 1"), ("column 5", "[5]")),
        )
    )
    header = [*SHOTS, "Operator"]
    add(
        Case(
            "hdr-duplicate-header",
            "header",
            "shots",
            "shots_dup_header.csv",
            shots_csv([[*r, "x"] for r in shots()], header=header),
            words=(("line 1", "row 1"), "operator"),
        )
    )
    header = [*SHOTS, "machine"]
    add(
        Case(
            "hdr-headers-differ-only-in-case",
            "header",
            "shots",
            "shots_case_header.csv",
            shots_csv([[*r, "x"] for r in shots()], header=header),
            words=(("line 1", "row 1"), "machine"),
        )
    )
    header = [*SHOTS, "_source_row"]
    add(
        Case(
            "hdr-clashes-with-lineage",
            "header",
            "shots",
            "shots_lineage.csv",
            shots_csv([[*r, "7"] for r in shots()], header=header),
            words=("_source_row",),
        )
    )
    header = [*SHOTS, "_Load_Batch_ID"]
    add(
        Case(
            "hdr-clashes-with-lineage-other-case",
            "header",
            "shots",
            "shots_lineage_case.csv",
            shots_csv([[*r, "b"] for r in shots()], header=header),
            words=("_load_batch_id",),
        )
    )
    header = [c for c in SHOTS if c != "PassOrFail"]
    add(
        Case(
            "hdr-missing-required-column",
            "header",
            "shots",
            "shots_no_passfail.csv",
            shots_csv(
                [[v for c, v in zip(SHOTS, r, strict=True) if c != "PassOrFail"] for r in shots()],
                header=header,
            ),
            words=("passorfail", ("line 1", "row 1")),
        )
    )
    add(
        shots_loaded(
            "hdr-extra-unexpected-column",
            "header",
            "shots_extra_col.csv",
            shots_csv([[*r, "주간"] for r in shots()], header=[*SHOTS, "Shift"]),
            5,
            Check(
                "new column kept",
                "SELECT count(*) FROM raw.shots WHERE _source_file = $file AND \"Shift\" = '주간'",
                [(5,)],
            ),
        )
    )
    add(
        shots_loaded(
            "hdr-names-padded-with-spaces",
            "header",
            "shots_padded_header.csv",
            shots_csv(shots(), header=[f" {c} " for c in SHOTS]),
            5,
        )
    )
    data = shots_csv(shots())
    add(
        Case(
            "hdr-no-header-row",
            "header",
            "shots",
            "shots_no_header.csv",
            data[data.index(b"\r\n") + 2 :],
            words=("header", ("line 1", "row 1")),
        )
    )
    add(
        Case(
            "hdr-excel-header-on-row-3",
            "header",
            "counts",
            "counts_title_rows.xlsx",
            xlsx_bytes(g.counts(day), above=2),
            words=("header_row",),
        )
    )
    add(
        Case(
            "hdr-excel-sheet-missing",
            "header",
            "counts",
            "counts_wrong_sheet.xlsx",
            xlsx_bytes(g.counts(day), sheet="Sheet1"),
            words=("생산실적", "sheet"),
        )
    )

    # ---------------------------------------------------------------------------------------- long lines
    good_line = shots_csv(shots(1))
    add(
        Case(
            "long-50mb-line-no-newline",
            "long-line",
            "shots",
            "shots_long_line.csv",
            build=_big("shots_long_line.csv", good_line, b"x" * 1024),
            words=("line 3", ("too long", "mb", "line break", "newline", "field limit")),
        )
    )
    add(
        Case(
            "long-50mb-unterminated-quote",
            "long-line",
            "shots",
            "shots_open_quote.csv",
            build=_big("shots_open_quote.csv", good_line + b'2025-03-10 08:09:00,M-01,"31.0', b"y" * 1024),
            words=("line 3", "quote"),
        )
    )
    record = g.downtime(day, n=1)
    add(
        Case(
            "long-50mb-jsonl-line",
            "long-line",
            "downtime",
            "downtime_long_line.jsonl",
            build=_big(
                "downtime_long_line.jsonl",
                jsonl_bytes(record) + b'{"machine": "M-01", "note": "',
                b"z" * 1024,
            ),
            words=("line 2",),
        )
    )

    # -------------------------------------------------------------------------- values: types, units, ranges
    add(
        quarantined(
            "val-text-in-cycle-time",
            "shots",
            "shots_text_ct.csv",
            shots_csv(put(shots(), 1, "CycleTime_s", "abc")),
            5,
            *_q("cycles", "cycle_time_s", "cast", 3, column="CycleTime_s", value="abc"),
        )
    )
    add(
        quarantined(
            "val-negative-cycle-time",
            "shots",
            "shots_negative_ct.csv",
            shots_csv(put(shots(), 2, "CycleTime_s", "-12.5")),
            5,
            *_q("cycles", "cycle_time_s", "range", 4, column="CycleTime_s", value="-12.5"),
        )
    )
    add(
        quarantined(
            "val-negative-excel-count",
            "counts",
            "counts_negative.xlsx",
            xlsx_bytes(put(g.counts(day), 1, "생산수량", -5, COUNTS)),
            4,
            *_q("production_counts", "total_count", "range", 3, column="생산수량", value="-5"),
        )
    )
    add(
        quarantined(
            "val-negative-excel-rejects",
            "counts",
            "counts_negative_reject.xlsx",
            xlsx_bytes(put(g.counts(day), 2, "불량수량", -2, COUNTS)),
            4,
            *_q("production_counts", "reject_count", "range", 4, column="불량수량", value="-2"),
        )
    )
    add(
        quarantined(
            "val-passfail-y-not-in-map",
            "shots",
            "shots_passfail_y.csv",
            shots_csv(put(shots(), 1, "PassOrFail", "Y")),
            5,
            *_q("quality_results", "is_pass", "code", 3, column="PassOrFail", value="Y"),
        )
    )
    rows = g.plc(day)
    rows[1][1] = "9호기"
    add(
        quarantined(
            "val-unknown-machine-in-map",
            "plc",
            "press_unknown_machine.csv",
            plc_csv(rows),
            5,
            *_q("machine_states", "machine_id", "code", 3, column="설비번호", value="9호기"),
            *_q("sensor_readings", "machine_id", "code", 3, column="설비번호", value="9호기"),
        )
    )
    add(
        shots_loaded(
            "val-unknown-machine-no-map",
            "values",
            "shots_new_machine.csv",
            shots_csv(put(shots(), 1, "Machine", "M-99")),
            5,
            Check(
                "machine seen in data",
                "SELECT machine_id FROM mapped.cycles WHERE source_file = $file AND source_row = 3",
                [("M-99",)],
            ),
            note="machines are declared or seen in the data (dim_equipment): a new one is data",
        )
    )
    rows = put(put(shots(), 1, "BarrelTemp_F", "230"), 2, "BarrelTemp_F", "228")
    add(
        quarantined(
            "val-celsius-in-fahrenheit-column",
            "shots",
            "shots_celsius_in_f.csv",
            shots_csv(rows),
            5,
            *_q("cycle_parameters", "barrel_temp", "range", 3, 4, column="BarrelTemp_F"),
            note="the HMI was switched to °C mid-shift: 230 °F = 110 °C is below the range 150-350 °C",
        )
    )
    add(
        quarantined(
            "val-below-absolute-zero",
            "shots",
            "shots_below_zero_k.csv",
            shots_csv(put(shots(), 3, "MoldTemp_C", "-300")),
            5,
            *_q("cycle_parameters", "mold_temp", "unit", 5, column="MoldTemp_C", value="-300"),
        )
    )
    rows = g.plc(day)
    rows[1][3] = "-280"
    add(
        quarantined(
            "val-below-absolute-zero-plc",
            "plc",
            "press_below_zero_k.csv",
            plc_csv(rows),
            5,
            *_q("sensor_readings", "oil_temp", "unit", 3, column="유온(℃)", value="-280"),
        )
    )
    add(
        quarantined(
            "val-below-absolute-zero-fahrenheit",
            "shots",
            "shots_below_zero_f.csv",
            shots_csv(put(shots(), 1, "BarrelTemp_F", "-500")),
            5,
            *_q("cycle_parameters", "barrel_temp", "unit", 3, column="BarrelTemp_F", value="-500"),
        )
    )
    add(
        quarantined(
            "val-nan-text",
            "shots",
            "shots_nan.csv",
            shots_csv(put(shots(), 1, "CycleTime_s", "NaN")),
            5,
            *_q("cycles", "cycle_time_s", "cast", 3, column="CycleTime_s", value="NaN"),
        )
    )
    add(
        quarantined(
            "val-inf-text-in-tag",
            "shots",
            "shots_inf.csv",
            shots_csv(put(shots(), 2, "InjPressure_bar", "inf")),
            5,
            *_q("cycle_parameters", "injection_pressure", "cast", 4, column="InjPressure_bar", value="inf"),
        )
    )
    add(
        quarantined(
            "val-minus-infinity-cycle-time",
            "shots",
            "shots_minus_inf.csv",
            shots_csv(put(shots(), 3, "CycleTime_s", "-Infinity")),
            5,
            *_q("cycles", "cycle_time_s", ("cast", "range"), 5, column="CycleTime_s"),
        )
    )
    add(
        quarantined(
            "val-thousands-separator-csv",
            "shots",
            "shots_thousands.csv",
            shots_csv(put(shots(), 1, "InjPressure_bar", "1,012")),
            5,
            *_q("cycle_parameters", "injection_pressure", "cast", 3, column="InjPressure_bar", value="1,012"),
        )
    )
    add(
        quarantined(
            "val-thousands-separator-excel",
            "counts",
            "counts_thousands.xlsx",
            xlsx_bytes(put(g.counts(day), 0, "생산수량", "1,234", COUNTS)),
            4,
            *_q("production_counts", "total_count", "cast", 2, column="생산수량", value="1,234"),
        )
    )
    add(
        quarantined(
            "val-decimal-comma-csv",
            "shots",
            "shots_decimal_comma.csv",
            shots_csv(put(shots(), 2, "CycleTime_s", "31,5")),
            5,
            *_q("cycles", "cycle_time_s", "cast", 4, column="CycleTime_s", value="31,5"),
        )
    )
    add(
        quarantined(
            "val-text-in-excel-count",
            "counts",
            "counts_na.xlsx",
            xlsx_bytes(put(g.counts(day), 3, "생산수량", "N/A", COUNTS)),
            4,
            *_q("production_counts", "total_count", "cast", 5, column="생산수량", value="N/A"),
        )
    )
    rows = g.plc(day)
    rows[2][4] = "9999"
    add(
        quarantined(
            "val-pressure-sentinel-out-of-range",
            "plc",
            "press_sentinel.csv",
            plc_csv(rows),
            5,
            *_q("sensor_readings", "hydraulic_pressure", "range", 4, column="유압(bar)", value="9999"),
            note="9999 bar = 999.9 MPa, outside the declared range 0-40 MPa",
        )
    )
    rows = g.plc(day)
    rows[2][2] = "점검"
    add(
        quarantined(
            "val-unknown-state",
            "plc",
            "press_unknown_state.csv",
            plc_csv(rows),
            5,
            *_q("machine_states", "state", "code", 4, column="상태", value="점검"),
        )
    )
    records = g.downtime(day)
    records[0]["reason"] = "정전"
    add(
        quarantined(
            "val-unknown-stop-reason",
            "downtime",
            "downtime_unknown_reason.jsonl",
            jsonl_bytes(records),
            3,
            *_q("downtime_events", "reason_code", "code", 1, column="reason", value="정전"),
        )
    )
    records = g.downtime(day)
    records[1]["minutes"] = -15
    add(
        quarantined(
            "val-negative-downtime",
            "downtime",
            "downtime_negative.jsonl",
            jsonl_bytes(records),
            3,
            *_q("downtime_events", "duration_s", "range", 2, column="minutes", value="-15"),
        )
    )
    add(
        quarantined(
            "val-empty-required-timestamp",
            "shots",
            "shots_no_time.csv",
            shots_csv(put(shots(), 2, "Timestamp", "")),
            5,
            *_q("cycles", "started_at", "key", 4, column="Timestamp"),
        )
    )
    add(
        quarantined(
            "val-empty-required-machine-excel",
            "counts",
            "counts_no_machine.xlsx",
            xlsx_bytes(put(g.counts(day), 0, "설비", None, COUNTS)),
            4,
            *_q("production_counts", "machine_id", "key", 2, column="설비"),
        )
    )
    add(
        quarantined(
            "val-shift-not-in-map",
            "counts",
            "counts_unknown_shift.xlsx",
            xlsx_bytes(put(g.counts(day), 1, "근무조", "오후", COUNTS)),
            4,
            *_q("production_counts", "shift", "code", 3, column="근무조", value="오후"),
        )
    )
    records = g.downtime(day)
    records[0]["minutes"] = [12, 3]
    add(
        quarantined(
            "val-jsonl-list-in-number",
            "downtime",
            "downtime_list.jsonl",
            jsonl_bytes(records),
            3,
            *_q("downtime_events", "duration_s", "cast", 1, column="minutes"),
        )
    )
    records = g.downtime(day)
    records[2]["machine"] = {"id": "M-01", "line": "L1"}
    add(
        Case(
            "val-jsonl-object-in-text-field",
            "values",
            "downtime",
            "downtime_object.jsonl",
            jsonl_bytes(records),
            expect=("quarantined", "refused"),
            rows=3,
            words=("line 3",),
            quarantine=_q("downtime_events", "machine_id", ("cast", "key"), 3, column="machine"),
            note="an object where the machine id goes must not become the machine '{\"id\": ...}'",
        )
    )

    # ---------------------------------------------------------------------------------------- timestamps
    iso = [
        "2025-03-10T00:00:00Z",
        "2025-03-10T09:01:00+09:00",
        "2025-03-10T00:02:00.500Z",
        "2025-03-09T19:03:00-05:00",
        "2025-03-10T05:34:00+05:30",
    ]
    rows = shots()
    for i, t in enumerate(iso):
        rows[i][0] = t
    expected = [(i + 2, round(_epoch(2025, 3, 10, 0, i) + (0.5 if i == 2 else 0), 3)) for i in range(5)]
    add(
        shots_loaded(
            "ts-iso-with-z-and-offsets",
            "timestamp",
            "shots_iso_offsets.csv",
            shots_csv(rows),
            5,
            Check(
                "instants",
                "SELECT source_row, round(epoch(started_at), 3) FROM mapped.cycles "
                "WHERE source_file = $file ORDER BY 1",
                expected,
            ),
        )
    )
    rows = shots()
    for i in range(5):
        rows[i][0] = f"2025-03-10T{9 + i:02d}:00:00+09:00"
    add(
        shots_loaded(
            "ts-iso-plus-0900",
            "timestamp",
            "shots_iso_kst.csv",
            shots_csv(rows),
            5,
            Check(
                "instants",
                "SELECT source_row, round(epoch(inspected_at)) FROM mapped.quality_results "
                "WHERE source_file = $file ORDER BY 1",
                [(i + 2, _epoch(2025, 3, 10, i, 0)) for i in range(5)],
            ),
        )
    )
    rows = shots()
    for i in range(5):
        rows[i][0] = f"2025-03-10T0{i}:00:00Z"
    add(
        shots_loaded(
            "ts-iso-z-utc",
            "timestamp",
            "shots_iso_z.csv",
            shots_csv(rows),
            5,
            Check(
                "instants",
                "SELECT source_row, round(epoch(started_at)) FROM mapped.cycles "
                "WHERE source_file = $file ORDER BY 1",
                [(i + 2, _epoch(2025, 3, 10, i, 0)) for i in range(5)],
            ),
        )
    )
    records = g.downtime(day)
    records[0]["start"], records[0]["end"] = "2025-03-10T01:00:00Z", "2025-03-10T10:20:00+09:00"
    add(
        Case(
            "ts-iso-offsets-jsonl",
            "timestamp",
            "downtime",
            "downtime_iso.jsonl",
            jsonl_bytes(records),
            expect=("loaded",),
            rows=3,
            checks=(
                Check(
                    "instants",
                    "SELECT round(epoch(started_at)), round(epoch(ended_at)) FROM "
                    "mapped.downtime_events WHERE source_file = $file AND source_row = 1",
                    [(_epoch(2025, 3, 10, 1, 0), _epoch(2025, 3, 10, 1, 20))],
                ),
            ),
        )
    )
    rows = put(shots(), 2, "Timestamp", "03/10/2025 08:02")
    add(
        quarantined(
            "ts-another-format-mixed-in",
            "shots",
            "shots_mixed_time.csv",
            shots_csv(rows),
            5,
            *_q("cycles", "started_at", "cast", 4, column="Timestamp", value="03/10/2025 08:02"),
            *_q("quality_results", "inspected_at", "cast", 4, column="Timestamp"),
        )
    )
    rows = g.plc(day)
    rows[1][0] = "2025-03-10 08:01:00"
    add(
        quarantined(
            "ts-plc-iso-where-format-says-slashes",
            "plc",
            "press_iso_time.csv",
            plc_csv(rows),
            5,
            *_q("machine_states", "started_at", "cast", 3, column="일시"),
            *_q("sensor_readings", "read_at", "cast", 3, column="일시"),
        )
    )
    add(
        quarantined(
            "ts-future-2099",
            "shots",
            "shots_2099.csv",
            shots_csv(put(shots(), 1, "Timestamp", "2099-03-10 08:01:00")),
            5,
            *_q("cycles", "started_at", "time", 3),
            *_q("quality_results", "inspected_at", "time", 3),
        )
    )
    add(
        quarantined(
            "ts-year-1900",
            "shots",
            "shots_1900.csv",
            shots_csv(put(shots(), 2, "Timestamp", "1900-01-01 00:00:00")),
            5,
            *_q("cycles", "started_at", "time", 4),
            *_q("quality_results", "inspected_at", "time", 4),
        )
    )
    add(
        quarantined(
            "ts-excel-serial-in-csv",
            "shots",
            "shots_serial.csv",
            shots_csv(put(shots(), 1, "Timestamp", "45726.3333")),
            5,
            *_q("cycles", "started_at", "cast", 3, column="Timestamp", value="45726.3333"),
        )
    )
    add(
        Case(
            "ts-excel-serial-in-xlsx",
            "timestamp",
            "counts",
            "counts_serial.xlsx",
            xlsx_bytes(put(g.counts(day), 1, "일자", 45726, COUNTS)),
            expect=("quarantined", "loaded"),
            rows=4,
            quarantine=_q("production_counts", "production_date", "cast", 3, column="일자", value="45726"),
            checks=(
                Check(
                    "serial read as its date",
                    "SELECT production_date FROM mapped.production_counts "
                    "WHERE source_file = $file AND source_row = 3",
                    [(dt.date(2025, 3, 10),)],
                ),
            ),
            note="a date cell left in General format: 45726 is 2025-03-10; read it right or quarantine it",
        )
    )
    add(
        quarantined(
            "ts-excel-date-in-2099",
            "counts",
            "counts_2099.xlsx",
            xlsx_bytes(put(g.counts(day), 2, "일자", dt.datetime(2099, 3, 10), COUNTS)),
            4,
            *_q("production_counts", "production_date", "time", 4, column="일자"),
        )
    )
    records = g.downtime(day)
    records[0]["start"] = 1741568400
    add(
        quarantined(
            "ts-epoch-number-in-jsonl",
            "downtime",
            "downtime_epoch.jsonl",
            jsonl_bytes(records),
            3,
            *_q("downtime_events", "started_at", "cast", 1, column="start", value="1741568400"),
        )
    )

    # -------------------------------------------------------------------------- duplicates, re-deliveries
    corrected = put(BASE_SHOTS_ROWS, 2, "CycleTime_s", "33.33")
    two_files = f"source_file IN ('{BASE_SHOTS}', $file)"
    add(
        Case(
            "dup-same-file-second-name",
            "redelivery",
            "shots",
            "shots_2025-03-04 (1).csv",
            build=_copy_of(BASE_SHOTS, "shots_2025-03-04 (1).csv"),
            expect=("skipped",),
        )
    )
    drop = shots_csv(shots())
    add(
        Case(
            "dup-same-file-twice-in-one-drop",
            "redelivery",
            "shots",
            "shots_drop_copy.csv",
            build=_copies("shots_drop.csv", "shots_drop_copy.csv", drop),
            expect=("skipped", "loaded"),
            checks=(
                Check(
                    "loaded once",
                    "SELECT count(*) FROM raw.shots WHERE _source_file IN "
                    "('shots_drop.csv', 'shots_drop_copy.csv')",
                    [(5,)],
                ),
            ),
        )
    )
    add(
        Case(
            "redelivery-same-name-corrected",
            "redelivery",
            "shots",
            BASE_SHOTS,
            build=_replaced(BASE_SHOTS, csv_bytes(SHOTS, corrected)),
            expect=("loaded",),
            rows=6,
            supersedes=BASE_SHOTS,
            checks=(
                Check(
                    "the correction replaced the old rows",
                    'SELECT "CycleTime_s", count(*) FROM raw.shots '
                    "WHERE _source_file = $file AND _source_row = '4' GROUP BY 1",
                    [("33.33", 1)],
                ),
            ),
            note="the client re-sends the same file name with one value corrected",
        )
    )
    add(
        Case(
            "redelivery-corrected-rows-new-name",
            "redelivery",
            "shots",
            "shots_2025-03-04_corrected.csv",
            csv_bytes(SHOTS, corrected),
            expect=("loaded",),
            rows=6,
            checks=(
                Check(
                    "same cycles, same dedup keys",
                    f"SELECT count(DISTINCT dedup_key) FROM mapped.cycles WHERE {two_files}",
                    [(6,)],
                ),
            ),
        )
    )
    add(
        Case(
            "landing-file-appended-in-place",
            "redelivery",
            "shots",
            BASE_SHOTS,
            build=_in_place(
                BASE_SHOTS,
                lambda b: b + csv_bytes(SHOTS, g.shots(BASE_DAY, n=2, hour=9))[len(csv_bytes(SHOTS, [])) :],
            ),
            expect=("loaded", "refused"),
            rows=8,
            supersedes=BASE_SHOTS,
            words=(("changed", "modified"),),
            checks=(
                Check(
                    "each row once",
                    "SELECT count(*), count(DISTINCT _source_row) FROM raw.shots WHERE _source_file = $file",
                    [(8, 8)],
                ),
            ),
            note="the export was still being written when ingest first ran",
        )
    )
    add(
        Case(
            "landing-file-changed-same-size-same-mtime",
            "redelivery",
            "shots",
            BASE_SHOTS,
            build=_in_place(BASE_SHOTS, lambda b: b.replace(b"31.05", b"39.05", 1), keep_stat=True),
            expect=("loaded", "refused"),
            rows=6,
            supersedes=BASE_SHOTS,
            words=(("changed", "modified"),),
            checks=(
                Check(
                    "the change is seen",
                    "SELECT \"CycleTime_s\" FROM raw.shots WHERE _source_file = $file AND _source_row = '4'",
                    [("39.05",)],
                ),
            ),
            note="edited in landing, size and modification time unchanged",
        )
    )
    rows = shots()
    add(
        shots_loaded(
            "dup-row-twice-in-one-file",
            "redelivery",
            "shots_dup_row.csv",
            shots_csv([*rows, rows[1]]),
            6,
            Check(
                "one dedup key per cycle",
                "SELECT count(DISTINCT dedup_key) FROM mapped.cycles WHERE source_file = $file",
                [(5,)],
            ),
        )
    )
    add(
        Case(
            "dup-excel-resaved-new-name",
            "redelivery",
            "counts",
            "counts_2025-03_resaved.xlsx",
            xlsx_bytes(baseline_rows(seed)["counts"], memo="재저장 (re-saved)"),
            expect=("loaded",),
            rows=4,
            checks=(
                Check(
                    "same counts, same dedup keys",
                    "SELECT count(DISTINCT dedup_key) FROM "
                    f"mapped.production_counts WHERE source_file IN ('{BASE_COUNTS}', $file)",
                    [(4,)],
                ),
            ),
        )
    )

    # ----------------------------------------------------------------------------------------- file names
    named = [
        ("name-with-spaces", "2025 03 10 shots_final (2).csv"),
        ("name-korean", "3월_shots_생산실적_최종.csv"),
        ("name-with-dotdot", "shots_..csv"),
        ("name-with-backslash-traversal", "shots_..\\..\\windows.csv"),
        ("name-leading-dash", "-rf shots_x.csv"),
        ("name-very-long", "shots_" + "x" * 234 + ".csv"),
        ("name-very-long-korean", "shots_" + "가" * 80 + ".csv"),
        ("name-sql-quote", "shots_x'); DROP TABLE raw.shots; --.csv"),
        ("name-in-subfolders", "2025/03/shots_sub.csv"),
    ]
    for id_, name in named:
        add(
            shots_loaded(
                id_,
                "file-name",
                name,
                shots_csv(shots()),
                5,
                Check(
                    "name kept",
                    "SELECT DISTINCT _source_file FROM raw.shots WHERE _source_file = $file",
                    [(name,)],
                ),
            )
        )
    add(
        Case(
            "name-with-newline",
            "file-name",
            "shots",
            "shots_a\nb.csv",
            shots_csv(shots()),
            expect=("refused", "loaded"),
            rows=5,
            words=("rename",),
            note="a newline in a name breaks logs and line-based tools: refuse (rename) or keep it exactly",
        )
    )

    # --------------------------------------------------------------------------------------- column names
    for id_, column in [
        ("col-name-with-quotes", 'He said "hi"'),
        ("col-name-with-semicolon", "a;b"),
        ("col-name-sql-injection", 'x"; DROP TABLE raw.x; --'),
        ("col-name-korean", "비고(특이사항)"),
    ]:
        add(
            Case(
                id_,
                "column-name",
                "shots",
                f"shots_{id_}.csv",
                shots_csv([[*r, "v"] for r in shots()], header=[*SHOTS, column]),
                expect=("loaded",),
                rows=5,
                checks=(
                    Check(
                        "column kept under its name",
                        "SELECT count(*) FROM information_schema.columns "
                        "WHERE table_schema = 'raw' AND table_name = 'shots' AND column_name = "
                        + "'"
                        + column.replace("'", "''")
                        + "'",
                        [(1,)],
                    ),
                ),
            )
        )
    records = g.downtime(day)
    for r in records:
        r['x"; DROP TABLE raw.downtime; --'] = "v"
    add(
        Case(
            "col-jsonl-key-sql-injection",
            "column-name",
            "downtime",
            "downtime_sql_key.jsonl",
            jsonl_bytes(records),
            expect=("loaded",),
            rows=3,
            checks=(
                Check(
                    "every raw table still there",
                    "SELECT count(*) FROM duckdb_tables() WHERE schema_name "
                    "= 'raw' AND table_name IN ('shots', 'plc', 'counts', 'downtime')",
                    [(4,)],
                ),
            ),
        )
    )

    # ---------------------------------------------------------------------------------------------- cells
    sql_cell = "M-01'; DROP TABLE raw.shots; --"
    add(
        shots_loaded(
            "cell-sql-injection",
            "cell",
            "shots_sql_cell.csv",
            shots_csv(put(shots(), 1, "Machine", sql_cell)),
            5,
            Check(
                "kept as text",
                "SELECT machine_id FROM mapped.cycles WHERE source_file = $file AND source_row = 3",
                [(sql_cell,)],
            ),
        )
    )
    formula = "=cmd|' /C calc'!A0"
    add(
        shots_loaded(
            "cell-formula-injection",
            "cell",
            "shots_formula.csv",
            shots_csv(put(shots(), 0, "Operator", formula)),
            5,
            Check(
                "kept verbatim",
                "SELECT \"Operator\" FROM raw.shots WHERE _source_file = $file AND _source_row = '2'",
                [(formula,)],
            ),
        )
    )
    hyperlink = '=HYPERLINK("http://evil.example/x","M-01")'
    add(
        shots_loaded(
            "cell-formula-in-mapped-field",
            "cell",
            "shots_formula_machine.csv",
            shots_csv(put(shots(), 1, "Machine", hyperlink)),
            5,
            Check(
                "kept as text",
                "SELECT machine_id FROM mapped.cycles WHERE source_file = $file AND source_row = 3",
                [(hyperlink,)],
            ),
        )
    )
    add(
        shots_loaded(
            "cell-100kb",
            "cell",
            "shots_100kb_cell.csv",
            shots_csv(put(shots(), 1, "Operator", "가나다라" * 25_000)),
            5,
            Check(
                "kept whole",
                "SELECT length(\"Operator\") FROM raw.shots WHERE _source_file = $file AND _source_row = '3'",
                [(100_000,)],
            ),
        )
    )
    add(
        Case(
            "cell-1mb",
            "cell",
            "shots",
            "shots_1mb_cell.csv",
            shots_csv(put(shots(), 1, "Operator", "note " * 200_000)),
            expect=("refused", "loaded"),
            rows=5,
            words=("line 3",),
            checks=(
                Check(
                    "kept whole",
                    'SELECT length("Operator") FROM raw.shots WHERE _source_file = $file '
                    "AND _source_row = '3'",
                    [(999_999,)],
                ),
            ),
        )
    )
    lines = csv_lines(SHOTS, put(shots(), 1, "Operator", "OPERATOR"))
    lines[2] = lines[2].replace("OPERATOR", '"Kim\x00Lee"')
    add(
        Case(
            "cell-nul-in-quoted-value",
            "cell",
            "shots",
            "shots_nul_quoted.csv",
            "".join(lines).encode(),
            words=("line 3", ("nul", "zero byte")),
        )
    )
    rows = put(shots(), 1, "Operator", "김민수\n(교대)")
    add(
        shots_loaded(
            "cell-line-break-in-quoted-value",
            "cell",
            "shots_multiline.csv",
            shots_csv(rows),
            5,
            Check(
                "rows keep their lines",
                "SELECT list(_source_row::INT ORDER BY _source_row::INT) FROM "
                "raw.shots WHERE _source_file = $file",
                [([2, 3, 5, 6, 7],)],
            ),
        )
    )
    records = g.downtime(day)
    records[1]["extra"] = {"operator": "김민수", "parts": [1, 2]}
    add(
        Case(
            "cell-jsonl-object-in-unmapped-key",
            "cell",
            "downtime",
            "downtime_nested.jsonl",
            jsonl_bytes(records),
            expect=("loaded",),
            rows=3,
            checks=(
                Check(
                    "kept as JSON text",
                    "SELECT extra FROM raw.downtime WHERE _source_file = $file AND _source_row = '2'",
                    [('{"operator": "김민수", "parts": [1, 2]}',)],
                ),
            ),
        )
    )
    add(
        Case(
            "xlsx-formula-without-saved-value",
            "cell",
            "counts",
            "counts_formula.xlsx",
            xlsx_bytes(put(g.counts(day), 1, "생산수량", "=SUM(500,500)", COUNTS)),
            expect=("quarantined", "refused"),
            rows=4,
            words=("formula",),
            quarantine=_q("production_counts", "total_count", "key", 3, column="생산수량"),
            note="a workbook written by a program, never opened in Excel: its formulas have no saved value",
        )
    )

    # ------------------------------------------------------------------------------ symlinks, special files
    never_passwd = ("root:", "/bin/bash", "/usr/sbin/nologin")
    add(
        Case(
            "link-to-etc-passwd",
            "link-special",
            "shots",
            "shots_passwd.csv",
            build=_symlink("shots_passwd.csv", lambda landing, home: "/etc/passwd"),
            words=(("link", "symbolic"),),
            never=never_passwd,
        )
    )
    add(
        Case(
            "link-to-proc-environ",
            "link-special",
            "shots",
            "shots_env.csv",
            build=_symlink("shots_env.csv", lambda landing, home: "/proc/self/environ"),
            words=(("link", "symbolic"),),
            never=("PATH=", "HOME="),
        )
    )
    add(
        Case(
            "link-to-other-clients-file",
            "link-special",
            "shots",
            "shots_theirs.csv",
            build=_symlink(
                "shots_theirs.csv", lambda landing, home: home / "landing" / OTHER / "shots_2025-03-04.csv"
            ),
            words=(("link", "symbolic"),),
            never=(OTHER_MARK, "O-77"),
        )
    )
    add(
        Case(
            "link-dangling",
            "link-special",
            "shots",
            "shots_gone.csv",
            build=_symlink("shots_gone.csv", lambda landing, home: landing / "nowhere" / "shots_x.csv"),
            words=(("link", "symbolic", "does not exist", "missing"),),
        )
    )
    add(
        Case(
            "link-to-dev-zero",
            "link-special",
            "shots",
            "shots_zero.csv",
            build=_symlink("shots_zero.csv", lambda landing, home: "/dev/zero"),
            words=(("link", "symbolic", "not a regular file"),),
        )
    )
    add(
        Case(
            "link-inside-landing",
            "link-special",
            "shots",
            "shots_alias.csv",
            build=_symlink("shots_alias.csv", lambda landing, home: BASE_SHOTS),
            expect=("refused", "skipped"),
            words=(("link", "symbolic"),),
        )
    )
    add(
        Case(
            "special-fifo",
            "link-special",
            "shots",
            "shots_pipe.csv",
            build=_fifo("shots_pipe.csv"),
            words=(("pipe", "fifo", "not a regular file", "special file"),),
        )
    )
    add(
        Case(
            "special-folder-named-csv",
            "link-special",
            "shots",
            "shots_folder.csv",
            build=_folder("shots_folder.csv", {"readme.txt": b"unzipped here\n"}),
            words=(("folder", "directory"),),
        )
    )
    add(
        Case(
            "special-folder-named-xlsx",
            "link-special",
            "counts",
            "counts_folder.xlsx",
            build=_folder("counts_folder.xlsx", {}),
            words=(("folder", "directory"),),
        )
    )

    # --------------------------------------------------------------------------------------- JSON lines
    records = g.downtime(day)
    lines: list[dict | str] = [records[0], records[1], '{"machine": "M-01", "start": ']
    add(
        Case(
            "jsonl-invalid-line",
            "jsonl",
            "downtime",
            "downtime_broken.jsonl",
            jsonl_bytes(lines),
            words=("line 3",),
        )
    )
    add(
        Case(
            "jsonl-line-not-an-object",
            "jsonl",
            "downtime",
            "downtime_array_line.jsonl",
            jsonl_bytes([records[0], "[1, 2, 3]", records[2]]),
            words=("line 2",),
        )
    )
    add(
        Case(
            "jsonl-one-json-array",
            "jsonl",
            "downtime",
            "downtime_array.jsonl",
            json.dumps(records, ensure_ascii=False, indent=2).encode(),
            words=(("json array", "json lines", "one object per line", "one record per line"),),
        )
    )
    add(
        Case(
            "jsonl-holding-csv",
            "jsonl",
            "downtime",
            "downtime_csv.jsonl",
            csv_bytes(["machine", "start", "reason"], [["M-01", "2025-03-10 10:00:00", "설비고장"]]),
            words=("line 1",),
        )
    )

    # ----------------------------------------------------------------------------------- more variants
    add(
        Case(
            "link-folder-to-other-client",
            "link-special",
            "shots",
            "2025-03",
            build=_symlink("2025-03", lambda landing, home: home / "landing" / OTHER),
            words=(("link", "symbolic"),),
            never=(OTHER_MARK, "O-77"),
            note="a folder link into the other client's landing folder: its files must never load here",
        )
    )
    records = g.downtime(day)
    records[2]["Machine"] = records[2].pop("machine")
    add(
        Case(
            "jsonl-key-differs-in-case",
            "jsonl",
            "downtime",
            "downtime_key_case.jsonl",
            jsonl_bytes(records),
            words=("line 3", "machine"),
        )
    )
    lines = csv_lines(SHOTS, shots())
    add(
        shots_loaded(
            "hdr-cr-only-line-endings",
            "header",
            "shots_cr.csv",
            "".join(line.replace("\r\n", "\r") for line in lines).encode(),
            5,
            Check(
                "rows keep their lines",
                "SELECT list(_source_row::INT ORDER BY _source_row::INT) "
                "FROM raw.shots WHERE _source_file = $file",
                [([2, 3, 4, 5, 6],)],
            ),
        )
    )
    lines = csv_lines(SHOTS, shots())
    add(
        shots_loaded(
            "hdr-trailing-empty-columns",
            "header",
            "shots_trailing_commas.csv",
            "".join(line.replace("\r\n", ",,\r\n") for line in lines).encode(),
            5,
        )
    )
    add(shots_loaded("enc-utf8-bom-legit", "encoding", "shots_bom.csv", shots_csv(shots(), "utf-8-sig"), 5))
    add(
        quarantined(
            "ts-excel-text-date-with-dots",
            "counts",
            "counts_dotted_date.xlsx",
            xlsx_bytes(put(g.counts(day), 0, "일자", "2025.03.10", COUNTS)),
            4,
            *_q("production_counts", "production_date", "cast", 2, column="일자", value="2025.03.10"),
        )
    )
    add(
        quarantined(
            "val-overflow-1e400",
            "shots",
            "shots_1e400.csv",
            shots_csv(put(shots(), 1, "CycleTime_s", "1e400")),
            5,
            *_q("cycles", "cycle_time_s", ("cast", "range"), 3, column="CycleTime_s", value="1e400"),
        )
    )
    add(
        quarantined(
            "val-excel-count-overflow",
            "counts",
            "counts_overflow.xlsx",
            xlsx_bytes(put(g.counts(day), 2, "생산수량", 1e20, COUNTS)),
            4,
            *_q("production_counts", "total_count", ("cast", "range"), 4, column="생산수량"),
        )
    )
    add(
        quarantined(
            "val-unicode-minus",
            "shots",
            "shots_unicode_minus.csv",
            shots_csv(put(shots(), 1, "CycleTime_s", "\u221212.5")),
            5,
            *_q("cycles", "cycle_time_s", ("cast", "range"), 3, column="CycleTime_s"),
        )
    )
    add(
        Case(
            "val-fullwidth-digits",
            "values",
            "shots",
            "shots_fullwidth.csv",
            shots_csv(put(shots(), 1, "CycleTime_s", "３１.５")),
            expect=("quarantined", "loaded"),
            rows=5,
            quarantine=_q("cycles", "cycle_time_s", "cast", 3, column="CycleTime_s", value="３１.５"),
            checks=(
                Check(
                    "read as 31.5",
                    "SELECT cycle_time_s FROM mapped.cycles WHERE source_file = $file AND source_row = 3",
                    [(31.5,)],
                ),
            ),
        )
    )
    add(
        shots_loaded(
            "cell-nbsp-around-number",
            "cell",
            "shots_nbsp.csv",
            shots_csv(put(shots(), 1, "CycleTime_s", "\u00a031.5\u00a0")),
            5,
            Check(
                "read as 31.5",
                "SELECT cycle_time_s FROM mapped.cycles WHERE source_file = $file AND source_row = 3",
                [(31.5,)],
            ),
        )
    )
    add(
        shots_loaded(
            "cell-padded-machine-id",
            "cell",
            "shots_padded_machine.csv",
            shots_csv(put(shots(), 1, "Machine", "  M-01 ")),
            5,
            Check(
                "trimmed",
                "SELECT machine_id FROM mapped.cycles WHERE source_file = $file AND source_row = 3",
                [("M-01",)],
            ),
        )
    )
    records = g.downtime(day)
    text = jsonl_bytes(records).decode().replace(f'"minutes": {records[1]["minutes"]}', '"minutes": NaN', 1)
    add(
        quarantined(
            "val-jsonl-nan-literal",
            "downtime",
            "downtime_nan.jsonl",
            text.encode(),
            3,
            *_q("downtime_events", "duration_s", "cast", 2, column="minutes"),
        )
    )
    add(
        quarantined(
            "val-excel-error-value",
            "counts",
            "counts_div0.xlsx",
            xlsx_bytes(put(g.counts(day), 1, "생산수량", "#DIV/0!", COUNTS)),
            4,
            *_q("production_counts", "total_count", "cast", 3, column="생산수량", value="#DIV/0!"),
        )
    )
    nfd = unicodedata.normalize("NFD", "shots_3월_생산.csv")
    add(
        shots_loaded(
            "name-korean-nfd-from-a-mac",
            "file-name",
            nfd,
            shots_csv(shots()),
            5,
            Check(
                "name kept",
                "SELECT DISTINCT _source_file FROM raw.shots WHERE _source_file = $file",
                [(nfd,)],
            ),
        )
    )

    ids = [c.id for c in cases]
    assert len(ids) == len(set(ids)), sorted({i for i in ids if ids.count(i) > 1})
    return cases

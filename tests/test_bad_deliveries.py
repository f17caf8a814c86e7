"""The bad-delivery corpus (issue 7): every case of ``tests/bad_deliveries.py`` gets the outcome it is owed.

Each case runs on its own copy of one baseline workspace (built once per module): the test client with a
good delivery loaded for each of its four sources, and a second client with its own data. The case's file
goes into the test client's landing folder with a good file of the same source after it; then ingest
(``raise_on_rejection=False``) and ``apply_mapping`` run, each in a thread with a time limit (a FIFO must
never hang the suite); then a later good file is ingested to prove the client can still ingest.

A case is ``clear`` when it got an accepted outcome the way the corpus says (refused with every expected
word; quarantined rows with their rule; loaded right), ``unclear`` when it was refused without the words
that say where and what to do, or refused or quarantined when it should have loaded, ``silent`` when it
loaded wrong data, left bad rows in the views or was ignored without a word, ``crash`` when ingest or
mapping raised, hung, or left the client unable to ingest. Earlier raw rows lost are counted apart, and
the other client's warehouse must not change.

Run: ``.venv/bin/python -m pytest -q -p no:cacheprovider tests/test_bad_deliveries.py``. The terminal
summary prints ``inputs N / clear C / unclear U / silent S / crash X / rows lost L`` and every case that is
not clear; ``BAD_DELIVERIES_REPORT=<file.json>`` also writes every result there.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
import shutil
import stat
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pytest
from bad_deliveries import (
    CLIENT,
    MAPPING,
    OTHER,
    OTHER_MAPPING,
    TAG_NAMES,
    Case,
    Q,
    bad_delivery_cases,
    baseline_deliveries,
    good_file,
    without_ranges,
)

from forgeline.clients import ClientConfig, ClientConfigError, parse_client_config, save_mapping_text
from forgeline.ingest import ingest_client
from forgeline.settings import Settings, get_settings
from forgeline.standardize import apply_mapping

CASES = bad_delivery_cases()
STEP_TIMEOUT_S = 30  # one ingest or apply_mapping; a hang (a FIFO opened for reading) is a crash
DO_WORDS = re.compile(
    r"\b(ask|set|fix|rename|deliver|re-?deliver|remove|re-?export|re-?save|save|withdraw|re-?send|send|"
    r"name them|name it|unzip|unpack|decompress|convert|replace|download)\b",
    re.IGNORECASE,
)
STATUSES = ("clear", "unclear", "silent", "crash")

if importlib.util.find_spec("pytest_timeout"):
    pytestmark = pytest.mark.timeout(300)


# ---------------------------------------------------------------------------------------------------
# Results and the summary line
# ---------------------------------------------------------------------------------------------------
@dataclass
class Result:
    case: Case
    status: str = "clear"
    actual: str = ""  # what happened, in words (the error message, rows loaded, quarantined rows)
    problems: list[str] = field(default_factory=list)  # why it is not clear
    lost: int = 0  # earlier raw rows missing afterwards
    isolation: list[str] = field(default_factory=list)  # the other client's data changed

    def worst(self, status: str, problem: str) -> None:
        self.problems.append(problem)
        if STATUSES.index(status) > STATUSES.index(self.status):
            self.status = status

    def describe(self) -> str:
        return (
            f"{self.case.id} [{self.case.cls}] expected {'/'.join(self.case.expect)}, got {self.status}: "
            f"{self.actual}\n  "
            + "\n  ".join(self.problems + self.isolation)
            + (f"\n  {self.lost} earlier raw row(s) lost" if self.lost else "")
        )


RESULTS: dict[str, Result] = {}
NOTES: list[str] = []  # what the baseline had to adapt to this tree (printed with the summary)


def figures(results: list[Result]) -> str:
    count = {s: sum(r.status == s for r in results) for s in STATUSES}
    return (
        f"inputs {len(results)} / clear {count['clear']} / unclear {count['unclear']} / "
        f"silent {count['silent']} / crash {count['crash']} / rows lost {sum(r.lost for r in results)}"
    )


class _Summary:
    """Prints the figures line and the cases that are not clear at the end of the session."""

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        results = [RESULTS[c.id] for c in CASES if c.id in RESULTS]
        if not results:
            return
        terminalreporter.section("bad deliveries")
        terminalreporter.write_line(figures(results))
        for note in dict.fromkeys(NOTES):
            terminalreporter.write_line(f"  note: {note}")
        for result in results:
            if result.status != "clear" or result.lost or result.isolation:
                first = (result.problems or result.isolation or [""])[0]
                terminalreporter.write_line(
                    f"  {result.status:8} {result.case.id} [{result.case.cls}]: {_short(first, 160)}"
                )
        report = os.environ.get("BAD_DELIVERIES_REPORT")
        if report:
            Path(report).write_text(
                json.dumps(
                    [
                        {
                            "id": r.case.id,
                            "class": r.case.cls,
                            "source": r.case.source,
                            "expect": list(r.case.expect),
                            "status": r.status,
                            "actual": r.actual,
                            "problems": r.problems,
                            "lost": r.lost,
                            "isolation": r.isolation,
                        }
                        for r in results
                    ],
                    ensure_ascii=False,
                    indent=1,
                ),
                encoding="utf-8",
            )


def _short(text: object, limit: int = 300) -> str:
    text = str(text).replace("\n", "⏎")
    return text if len(text) <= limit else text[: limit - 1] + "…"


# ---------------------------------------------------------------------------------------------------
# The baseline workspace
# ---------------------------------------------------------------------------------------------------
@dataclass
class Baseline:
    home: Path
    config: ClientConfig
    raw_counts: dict[tuple[str, str], int]  # (raw table, file) → rows
    other_digest: str


def _client_config(settings: Settings, client_id: str, text: str) -> ClientConfig:
    """Save and parse a mapping; without `range:` when this tree does not know the key yet."""
    try:
        save_mapping_text(settings, client_id, text)
    except ClientConfigError as exc:
        if "range" not in str(exc):
            raise
        NOTES.append("this tree's mapping has no `range:` yet: the declared ranges were left out")
        text = without_ranges(text)
        save_mapping_text(settings, client_id, text)
    return parse_client_config(text)


def _raw_counts(con: duckdb.DuckDBPyConnection) -> dict[tuple[str, str], int]:
    """Rows per raw table and delivered file."""
    counts: dict[tuple[str, str], int] = {}
    for (table,) in con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'raw' AND table_name NOT LIKE '\\_%' "
        "ESCAPE '\\'"
    ).fetchall():
        for file, rows in con.execute(
            f'SELECT _source_file, count(*) FROM raw."{table}" GROUP BY 1'
        ).fetchall():
            counts[(table, file)] = rows
    return counts


def _digest(settings: Settings, client_id: str) -> str:
    """The other client's warehouse and landing files, as bytes: nothing a case does may change them."""
    digest = hashlib.sha256()
    paths = [settings.warehouse_path(client_id), *sorted(settings.landing_dir(client_id).rglob("*"))]
    for path in paths:
        digest.update(str(path.relative_to(settings.home)).encode())
        if path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Baseline:
    if not request.config.pluginmanager.has_plugin("bad-deliveries-summary"):
        request.config.pluginmanager.register(_Summary(), "bad-deliveries-summary")
    home = tmp_path_factory.mktemp("bad_deliveries") / "home"
    settings = get_settings(home)
    config = _client_config(settings, CLIENT, MAPPING)
    other = _client_config(settings, OTHER, OTHER_MAPPING)
    for client_id, files in baseline_deliveries().items():
        for name, data in files.items():
            path = settings.landing_dir(client_id) / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
    for client in (config, other):
        report = ingest_client(settings, client, raise_on_rejection=False)
        assert not report.rejected, [f.error for f in report.rejected]
        apply_mapping(settings, client)
    con = duckdb.connect(str(settings.warehouse_path(CLIENT)), read_only=True)
    try:
        counts = _raw_counts(con)
    finally:
        con.close()
    assert sorted({t for t, _ in counts}) == ["counts", "downtime", "plc", "shots"], counts
    return Baseline(home, config, counts, _digest(settings, OTHER))


# ---------------------------------------------------------------------------------------------------
# Running one step with a time limit
# ---------------------------------------------------------------------------------------------------
class Hang(Exception):
    pass


def _release_fifos(landing: Path) -> None:
    """Give any FIFO in the landing folder a writer that closes at once: a reader stuck on it sees EOF."""
    for folder, _, names in os.walk(landing):
        for name in names:
            path = Path(folder) / name
            try:
                if stat.S_ISFIFO(path.lstat().st_mode):
                    os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))
            except OSError:
                pass


def _within(what: str, step: Callable[[], Any], landing: Path) -> Any:
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["value"] = step()
        except BaseException as exc:  # reported to the caller as it is
            box["error"] = exc

    thread = threading.Thread(target=run, name=f"bad-delivery {what}", daemon=True)
    thread.start()
    thread.join(STEP_TIMEOUT_S)
    if thread.is_alive():
        for _ in range(5):
            _release_fifos(landing)
            thread.join(1)
        raise Hang(
            f"{what} did not finish within {STEP_TIMEOUT_S} s"
            + (" and is still stuck" if thread.is_alive() else " (it was blocked reading a FIFO)")
        )
    if "error" in box:
        raise box["error"]
    return box.get("value")


# ---------------------------------------------------------------------------------------------------
# One case
# ---------------------------------------------------------------------------------------------------
def _place(case: Case, landing: Path, home: Path) -> None:
    landing.mkdir(parents=True, exist_ok=True)
    if case.build is not None:
        case.build(landing, home)
    else:
        assert case.data is not None
        path = landing / case.name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(case.data)


def _deliver_good(landing: Path, source: str, tag: str) -> tuple[str, int]:
    name, data, rows = good_file(source, tag)
    (landing / name).write_bytes(data)
    return name, rows


def _has_table(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    """Whether a table or view exists."""
    return bool(
        con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
            [schema, table],
        ).fetchone()[0]
    )


def _raw_rows(con: duckdb.DuckDBPyConnection, table: str, file: str) -> int:
    if not _has_table(con, "raw", table):
        return 0
    return con.execute(f'SELECT count(*) FROM raw."{table}" WHERE _source_file = ?', [file]).fetchone()[0]


def _source_rows(con: duckdb.DuckDBPyConnection, view: str, file: str, tag: str | None = None) -> set[int]:
    sql = f'SELECT DISTINCT source_row FROM mapped."{view}" WHERE source_file = ?'
    params: list[Any] = [file]
    if tag is not None:
        sql += " AND tag = ?"
        params.append(tag)
    return {int(r[0]) for r in con.execute(sql, params).fetchall() if r[0] is not None}


def _normal(rows: list[tuple] | list) -> list:
    def cell(value: object) -> object:
        if isinstance(value, float):
            return round(value, 3)
        if isinstance(value, list | tuple):
            return [cell(v) for v in value]
        return value

    return [cell(r) for r in rows]


def _check_problems(con: duckdb.DuckDBPyConnection, case: Case) -> list[str]:
    problems = []
    for check in case.checks:
        try:
            if "$file" in check.sql:
                got = con.execute(check.sql, {"file": case.name}).fetchall()
            else:
                got = con.execute(check.sql).fetchall()
        except duckdb.Error as exc:
            problems.append(f"{check.what}: the check's query failed ({_short(exc, 200)})")
            continue
        if _normal(got) != _normal(check.expected):
            problems.append(f"{check.what}: got {_short(got, 200)}, expected {_short(check.expected, 200)}")
    return problems


def _loaded_problems(con: duckdb.DuckDBPyConnection, case: Case, raw_rows: int) -> list[str]:
    problems = []
    if case.rows is not None:
        if raw_rows != case.rows:
            problems.append(f"raw.{case.source} holds {raw_rows} row(s) of the file, expected {case.rows}")
        mapped = len(_source_rows(con, case.entity, case.name))
        if mapped != case.rows:
            problems.append(f"mapped.{case.entity} holds {mapped} of its rows, expected {case.rows}")
    return problems + _check_problems(con, case)


def _quarantine_problems(
    con: duckdb.DuckDBPyConnection, case: Case, raw_rows: int, quarantined: list[tuple]
) -> list[str]:
    if not _has_table(con, "mapped", "_quarantine"):
        return ["mapped._quarantine does not exist"]
    problems = []
    if case.rows is not None and raw_rows != case.rows:
        problems.append(f"raw.{case.source} holds {raw_rows} row(s) of the file, expected {case.rows}")
    all_rows = {
        int(r[0])
        for r in con.execute(
            f'SELECT DISTINCT _source_row FROM raw."{case.source}" WHERE _source_file = ?', [case.name]
        ).fetchall()
    }
    for q in case.quarantine:
        match = [r for r in quarantined if r[0] == q.row and r[1] == q.entity and r[2] == q.field]
        what = f"row {q.row} {q.entity}.{q.field}"
        if not match:
            others = [r for r in quarantined if r[0] == q.row]
            problems.append(
                f"{what} not quarantined ({'/'.join(q.rules)})"
                + (f"; quarantined as {[(r[1], r[2], r[5]) for r in others]}" if others else "")
            )
        else:
            rules = sorted({r[5] for r in match})
            if not all(r[6] for r in match):
                problems.append(f"{what}: no reason given")
            if not all(r[7] == case.source for r in match):
                problems.append(
                    f"{what}: source_name {sorted({r[7] for r in match})}, expected {case.source}"
                )
            if not set(rules) & set(q.rules):
                problems.append(f"{what} quarantined under rule {rules}, expected {'/'.join(q.rules)}")
            if q.value is not None and not any((r[4] or "").strip() == q.value for r in match):
                problems.append(f"{what}: value {[r[4] for r in match]}, expected {q.value!r}")
            if q.column is not None and not any(r[3] == q.column for r in match):
                problems.append(f"{what}: column {[r[3] for r in match]}, expected {q.column!r}")
        tag = q.field if q.field in TAG_NAMES else None
        if q.row in _source_rows(con, q.entity, case.name, tag):
            problems.append(f"{what} is still in mapped.{q.entity}")
    for entity in sorted({q.entity for q in case.quarantine}):
        whole = {q.row for q in case.quarantine if q.entity == entity and q.field not in TAG_NAMES}
        tags = sorted({q.field for q in case.quarantine if q.entity == entity and q.field in TAG_NAMES})
        for tag in tags or [None]:
            bad = whole | {q.row for q in case.quarantine if q.entity == entity and q.field == tag}
            missing = all_rows - bad - _source_rows(con, entity, case.name, tag)
            if missing:
                problems.append(
                    f"good rows {sorted(missing)} of the file are missing from mapped.{entity}"
                    + (f" (tag {tag})" if tag else "")
                )
    extra = sorted({r[0] for r in quarantined} - {q.row for q in case.quarantine})
    if extra:
        shown = [(r[0], r[1], r[2], r[5]) for r in quarantined if r[0] in extra][:4]
        problems.append(f"good rows {extra} quarantined too: {shown}")
    return problems


def _names_the_file(error: str, name: str) -> bool:
    escaped = name.encode("unicode_escape").decode()
    return any(n in error for n in {name, escaped, repr(name)[1:-1], Path(name).name})


def _refusal_problems(case: Case, error: str) -> list[str]:
    problems = []
    if not _names_the_file(error, case.name):
        problems.append("the error does not name the file")
    # The words must be in what the message says, not in the file name it quotes ("shots_empty.csv").
    low = error
    for name in sorted({case.name, Path(case.name).name}, key=len, reverse=True):
        low = low.replace(name, "<file>")
    low = low.lower()
    for words in case.words:
        options = (words,) if isinstance(words, str) else words
        if not any(w.lower() in low for w in options):
            problems.append(f"the error lacks {' / '.join(repr(w) for w in options)}")
    if not DO_WORDS.search(error):
        problems.append("the error does not say what to do")
    return problems


def _leaks(con: duckdb.DuckDBPyConnection, case: Case, errors: list[str]) -> list[str]:
    if not case.never:
        return []
    texts = list(errors)
    if _has_table(con, "raw", case.source):  # every row of the source: a followed link may load elsewhere
        texts += [str(r) for r in con.execute(f'SELECT * FROM raw."{case.source}"').fetchall()]
    found = sorted({n for n in case.never for t in texts if n in t})
    return [f"LEAK: {found} from outside the landing folder appear in the error or raw rows"] if found else []


def _judge(result: Result, con: duckdb.DuckDBPyConnection, case: Case) -> None:
    errors = [
        str(e)
        for (e,) in con.execute(
            "SELECT error FROM raw._rejected_files WHERE source_file = ?", [case.name]
        ).fetchall()
    ]
    raw_rows = _raw_rows(con, case.source, case.name)
    quarantined: list[tuple] = []
    if _has_table(con, "mapped", "_quarantine"):
        quarantined = con.execute(
            "SELECT source_row, entity, field, column_name, value, rule, reason, source_name "
            "FROM mapped._quarantine "
            "WHERE source_file = ? ORDER BY ALL",
            [case.name],
        ).fetchall()
    for leak in _leaks(con, case, errors):
        result.worst("silent", leak)
    expect = case.expect
    if raw_rows:
        result.actual = f"loaded {raw_rows} raw row(s)" + (
            f"; quarantined {[(r[0], r[1], r[2], r[5]) for r in quarantined][:6]}" if quarantined else ""
        )
        if errors:
            result.actual += f"; also refused: {_short(errors[-1])}"
        failures: list[list[str]] = []  # the problems under each accepted outcome
        if "quarantined" in expect:
            failures.append(_quarantine_problems(con, case, raw_rows, quarantined))
            if not failures[-1]:
                return
        if "loaded" in expect:
            loaded = _loaded_problems(con, case, raw_rows)
            if quarantined:  # visible, but good rows were left out
                result.worst("unclear", "; ".join(["good rows quarantined", *loaded]))
                return
            if not loaded:
                return
            failures.append(loaded)
        if not failures:
            failures.append([f"the file loaded although it should be {' or '.join(expect)}"])
        result.worst("silent", "; ".join(min(failures, key=len)))
        return
    if errors:
        result.actual = f"refused: {errors[-1]}"
        if "refused" in expect:
            problems = _refusal_problems(case, errors[-1])
            if problems:
                result.worst("unclear", "; ".join(problems))
        else:
            result.worst("unclear", f"refused although it should be {' or '.join(expect)}")
        return
    result.actual = "not loaded, not refused"
    if "skipped" in expect:
        problems = _check_problems(con, case)
        if problems:
            result.worst("silent", "; ".join(problems))
        return
    result.worst("silent", "nothing loaded and nothing refused: the file was passed over without a word")


def run_case(case: Case, base: Baseline, home: Path) -> Result:
    result = Result(case)
    shutil.copytree(base.home, home, symlinks=True)
    settings = get_settings(home)
    landing = settings.landing_dir(CLIENT)
    _place(case, landing, home)
    after, after_rows = _deliver_good(landing, case.source, "after")
    config = base.config

    try:
        report = _within("ingest", lambda: ingest_client(settings, config, raise_on_rejection=False), landing)
        if not any(f.file == after and f.status == "loaded" and f.rows == after_rows for f in report.files):
            result.worst(
                "crash", f"the good file delivered with it ({after}) did not load in the same ingest"
            )
    except BaseException as exc:  # any exception is the finding
        result.worst("crash", f"ingest raised {type(exc).__name__}: {_short(exc)}")
    try:
        _within("apply_mapping", lambda: apply_mapping(settings, config), landing)
    except BaseException as exc:
        result.worst("crash", f"apply_mapping raised {type(exc).__name__}: {_short(exc)}")

    # The client can still ingest: a later good file loads.
    later, later_rows = _deliver_good(landing, case.source, "later")
    try:
        _within("a later ingest", lambda: ingest_client(settings, config, raise_on_rejection=False), landing)
    except BaseException as exc:
        result.worst("crash", f"a later ingest raised {type(exc).__name__}: {_short(exc)}")

    try:
        con = duckdb.connect(str(settings.warehouse_path(CLIENT)), read_only=True)
    except duckdb.Error as exc:
        result.worst("crash", f"the warehouse cannot be opened: {_short(exc)}")
        return result
    try:
        now = _raw_counts(con)
        if now.get((case.source, later), 0) != later_rows:
            result.worst("crash", f"a later good file ({later}) did not load: the client is stuck")
        _judge(result, con, case)
    except duckdb.Error as exc:
        result.worst("crash", f"the warehouse cannot be read after the case: {_short(exc)}")
    finally:
        con.close()

    # No earlier raw row lost (a same-name correction replaces its own file's rows); nothing of the other
    # client changed.
    superseded = case.supersedes if result.actual.startswith("loaded") else None
    for (table, file), rows in base.raw_counts.items():
        if file != superseded and now.get((table, file), 0) < rows:
            result.lost += rows - now.get((table, file), 0)
    if _digest(settings, OTHER) != base.other_digest:
        result.isolation.append("the other client's warehouse or landing files changed")
        result.worst("silent", result.isolation[-1])
    return result


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_delivery(case: Case, baseline: Baseline, tmp_path: Path) -> None:
    result = RESULTS[case.id] = run_case(case, baseline, tmp_path / "home")
    assert result.status == "clear" and not result.lost and not result.isolation, result.describe()


def test_the_corpus_is_big_and_varied() -> None:
    classes = {c.cls for c in CASES}
    assert len(CASES) >= 70 and len(classes) >= 10
    for outcome in ("refused", "quarantined", "loaded", "skipped"):
        assert any(outcome in c.expect for c in CASES), outcome
    rules = {rule for c in CASES for q in c.quarantine for rule in q.rules}
    assert rules >= {"cast", "code", "unit", "range", "time", "key"}, rules
    assert all(isinstance(q, Q) for c in CASES for q in c.quarantine)

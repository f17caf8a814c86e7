"""The gate validates in chunks: every expectation kind the suites use gives exactly GX's whole-table result.

The reference is what the gate did before: the whole table read into pandas and validated by GX in one go.
Each kind is checked passing and failing, on a table whose chunks differ from the whole (NULLs only in some
chunks, duplicates across chunks, more than 20 unexpected rows, row ids with gaps after deletes).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import duckdb
import great_expectations as gx
import great_expectations.expectations as gxe
import pandas as pd
import pytest

from forgeline.quality import _describe
from forgeline.quality.chunked import TableValidation, UnmergeableExpectation

pytestmark = pytest.mark.gate

ROWS = 300
CHUNK_ROWS = 16  # about 20 chunks and 20 hash partitions

# (expectation, passes?) for every kind in expectations/suites.py, each passing and failing.
CASES: list[tuple[Any, bool]] = [
    (gxe.ExpectColumnValuesToNotBeNull(column="id"), True),
    (gxe.ExpectColumnValuesToNotBeNull(column="late_nulls"), False),
    (gxe.ExpectColumnValuesToNotBeNull(column="label"), False),
    (gxe.ExpectColumnValuesToBeUnique(column="id"), True),
    (gxe.ExpectColumnValuesToBeUnique(column="code"), False),
    (gxe.ExpectColumnValuesToBeUnique(column="late_nulls"), False),
    (gxe.ExpectColumnValuesToBeBetween(column="measure", min_value=0, max_value=ROWS), True),
    (gxe.ExpectColumnValuesToBeBetween(column="measure", min_value=10, max_value=100), False),
    (gxe.ExpectColumnValuesToBeBetween(column="measure", min_value=0, max_value=297, mostly=0.99), True),
    (gxe.ExpectColumnValuesToBeBetween(column="measure", min_value=0, max_value=290, mostly=0.99), False),
    (gxe.ExpectColumnValuesToBeBetween(column="late_nulls", min_value=0), True),
    (gxe.ExpectColumnValuesToBeBetween(column="measure", min_value=0, max_value=math.inf), True),
    (gxe.ExpectColumnValuesToBeBetween(column="late_nulls", min_value=0, max_value=50), False),
    (gxe.ExpectColumnValuesToBeInSet(column="flag", value_set=[True, False]), True),
    (gxe.ExpectColumnValuesToBeInSet(column="flag", value_set=[True]), False),
    (gxe.ExpectColumnValuesToBeInSet(column="kind", value_set=["failure", "preventive", "inspection"]), True),
    (gxe.ExpectColumnValuesToBeInSet(column="kind", value_set=["failure", "preventive"]), False),
    (
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="ended_at", column_B="started_at", or_equal=True
        ),
        True,
    ),
    (gxe.ExpectColumnPairValuesAToBeGreaterThanB(column_A="ended_at", column_B="started_at"), False),
    (
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(column_A="measure", column_B="late_nulls", or_equal=True),
        False,
    ),
    (gxe.ExpectTableRowCountToBeBetween(min_value=1), True),
    (gxe.ExpectTableRowCountToBeBetween(min_value=10 * ROWS), False),
    (gxe.ExpectColumnValuesToNotBeNull(column="no_such_column"), False),
]


def _rows(start: int, stop: int) -> str:
    """Rows where every kind passes and fails somewhere, numbered start … stop - 1."""
    return f"""
        SELECT
            i::BIGINT AS id,
            'C' || (i % 250)::VARCHAR AS code,                                   -- 50 codes twice, far apart
            CASE WHEN i > 200 AND i % 3 = 0 THEN NULL ELSE i END::INTEGER AS late_nulls,
            CASE WHEN i % 40 = 7 THEN NULL ELSE 'row ' || i END AS label,
            i::DOUBLE AS measure,
            CASE WHEN i % 50 = 3 THEN NULL ELSE i % 2 = 0 END AS flag,
            ['failure', 'preventive', 'inspection'][1 + i % 3] AS kind,
            TIMESTAMPTZ '2026-01-01 08:00:00+09' + to_minutes(i) AS started_at,
            TIMESTAMPTZ '2026-01-01 08:00:00+09' + to_minutes(i + (i % 4)) AS ended_at
        FROM range({start}, {stop}) AS r(i)
    """


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A table whose chunks look unlike the whole: NULLs late, duplicates far apart, gaps in row ids."""
    path = tmp_path_factory.mktemp("chunks") / "client.duckdb"
    con = duckdb.connect(str(path))
    con.execute("SET TimeZone = 'Asia/Seoul'")
    con.execute(
        f"""
        CREATE SCHEMA core;
        CREATE TABLE core.t AS {_rows(0, ROWS)};
        DELETE FROM core.t WHERE id % 17 = 0 AND id > 0;
        INSERT INTO core.t SELECT * FROM core.t WHERE id IN (5, 6, 7);
        UPDATE core.t SET id = id + 10000 WHERE rowid >= {ROWS};                    -- ids stay unique
        CREATE TABLE core.empty AS SELECT * FROM core.t LIMIT 0;
        """
    )
    con.close()
    return path


@pytest.fixture(scope="module")
def batch_definition() -> Any:
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    return (
        context.data_sources.add_pandas("p")
        .add_dataframe_asset("t")
        .add_batch_definition_whole_dataframe("w")
    )


def _suite(cases: list[tuple[Any, bool]]) -> gx.ExpectationSuite:
    suite = gx.ExpectationSuite(name="t")
    for expectation, _ in cases:
        suite.add_expectation(expectation.copy(update={"id": None}))
    return suite


def _key(config: Any) -> str:
    return f"{config.type} {sorted((k, v) for k, v in config.kwargs.items() if k != 'batch_id')}"


def _whole_table(
    con: duckdb.DuckDBPyConnection, table: str, batch_definition: Any, cases: list[tuple[Any, bool]] = CASES
) -> list[Any]:
    """The gate before chunks: the whole table in pandas (tz-naive UTC), validated by GX in one go."""
    from great_expectations.validator.v1_validator import Validator

    frame = con.execute(f"SELECT * FROM core.{table}").df()
    for column in frame.columns:
        if isinstance(frame[column].dtype, pd.DatetimeTZDtype):
            frame[column] = frame[column].dt.tz_convert("UTC").dt.tz_localize(None)
    validator = Validator(
        batch_definition=batch_definition, batch_parameters={"dataframe": frame}, result_format="SUMMARY"
    )
    return list(validator.validate_expectation_suite(_suite(cases)).results)


@pytest.mark.parametrize("table", ["t", "empty"])
def test_every_kind_gives_the_whole_table_result_in_chunks(
    warehouse: Path, batch_definition: Any, table: str
) -> None:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        expected = _whole_table(con, table, batch_definition)
        chunked, meta, batch_id = TableValidation(
            con, "core", table, _suite(CASES), batch_definition, CHUNK_ROWS
        ).run()
    finally:
        con.close()

    assert meta["active_batch_definition"] and batch_id
    verdicts = {_key(expectation.configuration): passes for expectation, passes in CASES}
    for whole, merged in zip(expected, chunked, strict=True):  # in GX's order (errors first)
        label = _key(whole.expectation_config)
        if table == "t":
            assert merged.success is verdicts[label], label
        # Same verdict, counts, percentages, first 20 values and positions, and the same Python values.
        assert merged.to_json_dict() == whole.to_json_dict(), label
        assert _describe(table, merged) == _describe(table, whole), label
    if table == "t":  # the table really is spread over chunks and beyond GX's 20 examples
        failing = {r.expectation_config.kwargs.get("column"): r.result for r in chunked if not r.success}
        assert failing["code"]["unexpected_count"] > 20
        assert failing["late_nulls"]["unexpected_count"] > 20


def test_a_kind_without_a_merge_is_refused_not_guessed(warehouse: Path, batch_definition: Any) -> None:
    suite = gx.ExpectationSuite(name="t")
    suite.add_expectation(gxe.ExpectColumnMaxToBeBetween(column="measure", max_value=ROWS))
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        with pytest.raises(UnmergeableExpectation, match="ExpectColumnMaxToBeBetween.*chunked.py"):
            TableValidation(con, "core", "t", suite, batch_definition, CHUNK_ROWS).run()
    finally:
        con.close()


def test_every_kind_the_suites_use_has_a_merge() -> None:
    """A new kind in expectations/suites.py must come with a merge (and a case above)."""
    from expectations import SUITE_BUILDERS, build_suite

    used = {type(e).__name__ for table in SUITE_BUILDERS for e in build_suite(table, True).expectations}
    tested = {type(e).__name__ for e, _ in CASES}
    assert used <= tested, used - tested


# GX raises on a column the table lacks, and on a pair with a nullable integer column that holds NULLs:
# such results are never carried over (see the end of the test), so the growing table's suite lacks them.
GROWING_CASES = [
    (e, passes)
    for e, passes in CASES
    if getattr(e, "column", None) != "no_such_column" and getattr(e, "column_B", None) != "late_nulls"
]


def _validate(
    path: Path,
    batch_definition: Any,
    known: dict[str, Any] | None,
    cases: list[tuple[Any, bool]] = GROWING_CASES,
) -> TableValidation:
    con = duckdb.connect(str(path), read_only=True)
    try:
        validation = TableValidation(con, "core", "grow", _suite(cases), batch_definition, CHUNK_ROWS)
        validation.known = json.loads(json.dumps(known)) if known else None  # as gate_state.json keeps it
        validation.results = validation.run()[0]  # type: ignore[attr-defined]
        return validation
    finally:
        con.close()


def test_a_table_grown_at_its_end_is_validated_on_its_new_rows_with_the_whole_table_result(
    tmp_path: Path, batch_definition: Any
) -> None:
    path = tmp_path / "client.duckdb"
    con = duckdb.connect(str(path))
    con.execute("SET TimeZone = 'Asia/Seoul'")
    # NULLs in every nullable column from the start: a column's first NULL changes its dtype in pandas,
    # and with it how GX reports values, so that revalidates the whole table (asserted below).
    con.execute(f"CREATE SCHEMA core; CREATE TABLE core.grow AS {_rows(0, 220)}")
    con.close()
    first = _validate(path, batch_definition, None)
    assert first.rows_validated == 220 and first.state is not None

    def whole() -> list[Any]:
        con = duckdb.connect(str(path), read_only=True)
        try:
            return _whole_table(con, "grow", batch_definition, GROWING_CASES)
        finally:
            con.close()

    def same(validation: TableValidation, expected: list[Any]) -> None:
        for want, got in zip(expected, validation.results, strict=True):  # type: ignore[attr-defined]
            label = _key(want.expectation_config)
            assert got.to_json_dict() == want.to_json_dict(), label

    # A new load batch appended: only its rows go through GX, and the results are the whole table's.
    con = duckdb.connect(str(path))
    con.execute(f"INSERT INTO core.grow {_rows(220, 280)}")
    con.close()
    grown = _validate(path, batch_definition, first.state)
    assert grown.rows_validated == 60
    same(grown, whole())
    # Nothing new: no row is validated again, and the results stay the whole table's.
    again = _validate(path, batch_definition, grown.state)
    assert again.rows_validated == 0
    same(again, whole())
    # A damaged state (here without its digest) validates the whole table; it never fails the gate.
    damaged = {k: v for k, v in grown.state.items() if k != "digest"}  # type: ignore[union-attr]
    assert _validate(path, batch_definition, damaged).rows_validated == 280
    # An earlier row changed (a corrected re-delivery rebuilt the table): the whole table is validated.
    con = duckdb.connect(str(path))
    con.execute("UPDATE core.grow SET measure = -1 WHERE id = 5")
    con.close()
    changed = _validate(path, batch_definition, again.state)
    assert changed.rows_validated == 280
    same(changed, whole())
    # A suite that changed does not resume from tallies computed under the old one.
    state = {**changed.state, "key": "another suite"}  # type: ignore[dict-item]
    assert _validate(path, batch_definition, state).rows_validated == 280
    # A column's first NULL arriving with the new rows: the whole table is validated.
    con = duckdb.connect(str(path))
    con.execute(
        "CREATE OR REPLACE TABLE core.grow AS SELECT * REPLACE (coalesce(late_nulls, 0) AS late_nulls) "
        "FROM core.grow"
    )
    con.close()
    before = _validate(path, batch_definition, None)
    con = duckdb.connect(str(path))
    con.execute(f"INSERT INTO core.grow {_rows(280, 290)}")
    con.close()
    assert _validate(path, batch_definition, before.state).rows_validated == 290
    # A result GX could not compute (a missing column) is not carried over: nothing is kept.
    assert _validate(path, batch_definition, None, CASES).state is None

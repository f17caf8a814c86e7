"""The gate validates in chunks: every expectation kind the suites use gives exactly GX's whole-table result.

The reference is what the gate did before: the whole table read into pandas and validated by GX in one go.
Each kind is checked passing and failing, on a table whose chunks differ from the whole (NULLs only in some
chunks, duplicates across chunks, more than 20 unexpected rows, row ids with gaps after deletes).
"""

from __future__ import annotations

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


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A table whose chunks look unlike the whole: NULLs late, duplicates far apart, gaps in row ids."""
    path = tmp_path_factory.mktemp("chunks") / "client.duckdb"
    con = duckdb.connect(str(path))
    con.execute("SET TimeZone = 'Asia/Seoul'")
    con.execute(
        f"""
        CREATE SCHEMA core;
        CREATE TABLE core.t AS
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
        FROM range({ROWS}) AS r(i);
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


def _whole_table(con: duckdb.DuckDBPyConnection, table: str, batch_definition: Any) -> list[Any]:
    """The gate before chunks: the whole table in pandas (tz-naive UTC), validated by GX in one go."""
    from great_expectations.validator.v1_validator import Validator

    frame = con.execute(f"SELECT * FROM core.{table}").df()
    for column in frame.columns:
        if isinstance(frame[column].dtype, pd.DatetimeTZDtype):
            frame[column] = frame[column].dt.tz_convert("UTC").dt.tz_localize(None)
    validator = Validator(
        batch_definition=batch_definition, batch_parameters={"dataframe": frame}, result_format="SUMMARY"
    )
    return list(validator.validate_expectation_suite(_suite(CASES)).results)


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

"""The quality gate: Great Expectations suites (expectations/) run on a client's core tables.

GX stays the judge, but never holds a whole table: ``chunked.py`` streams each core table from the client's
DuckDB file (one read-only connection, ``Settings.gate_duckdb_settings`` caps its memory and threads) in
chunks of the columns a suite names, validates each chunk with GX's pandas path and merges the chunk results
into exactly the result GX gives on the whole table (uniqueness by hash partitions of the column). Peak
memory depends on the chunk size, not on the table. GX's SQL path is not used: on DuckDB it reports every
expectation as failed (see docs/architecture.md). Each client has its own GX project under
``quality/<client>/`` with its own Data Docs site; ``gate.json`` there holds the last verdict.

After dbt appended new load batches, the gate validates only the new rows of each fact, resuming from the
last gate's tallies in ``gate_state.json`` when a digest proves the earlier rows unchanged (chunked.py);
anything else validates whole tables.

Re-running the gate is safe and stays quick: suites and validation definitions are replaced from code,
results of the last ``KEEP_GATE_RUNS`` gate runs are kept (older ones and suites of tables no longer
checked are removed), and the Data Docs site is rebuilt from exactly what is kept.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from forgeline.atomic import write_atomically
from forgeline.clients import ClientConfig
from forgeline.i18n import N_, Stored, as_number, later
from forgeline.locking import open_warehouse
from forgeline.settings import Settings

log = logging.getLogger("forgeline.quality")

DATASOURCE = "forgeline_core"
KEEP_GATE_RUNS = 3  # as many as published snapshots are kept
RUN_NAME_PREFIX = "gate-"
# Rows GX validates at once. Measured on 20 M readings: 100,000 peaks at ~0.47 GB, 200,000 at ~0.52 GB
# and is no faster (bench/gate_bench.py).
CHUNK_ROWS = 100_000


class GateError(RuntimeError):
    """The gate could not run at all (no warehouse, no core tables); says which step to run first."""


@dataclass(frozen=True)
class ExpectationOutcome:
    suite_name: str
    table_name: str
    expectation_type: str
    column_name: str | None
    success: bool
    observed: str
    details: str


GATE_COLUMNS = [f.name for f in fields(ExpectationOutcome)]


@dataclass
class GateResult:
    client_id: str
    passed: bool
    results: list[ExpectationOutcome] = field(default_factory=list)
    data_docs_index: str | None = None
    checked_at: str = ""
    tables_checked: list[str] = field(default_factory=list)

    def failed(self) -> list[ExpectationOutcome]:
        return [r for r in self.results if not r.success]

    def reason(self, shown: int) -> Stored:
        """The first ``shown`` failures in a sentence a consultant can act on (all are in
        meta.gate_results), as a message and its values to word in the reader's language (forgeline/i18n.py);
        tables, columns, checks and observed values are named as they are (data)."""
        from expectations import QUARANTINE_SUITE

        failed = self.failed()
        said: Stored | None = None
        for o in failed[:shown]:
            checked = (
                later(N_("the mapping's quarantine"))
                if o.table_name == QUARANTINE_SUITE
                else f"core.{o.table_name}"
            )
            one = later(
                N_("{checked}{column} failed {check}"),
                checked=checked,
                column="." + o.column_name if o.column_name else "",
                check=o.expectation_type,
            )
            if o.observed:
                one = later(N_("{failure} (observed {observed})"), failure=one, observed=str(o.observed))
            said = one if said is None else later(N_("{earlier}; {failure}"), earlier=said, failure=one)
        if said is None:
            return later(N_("the quality gate failed"))
        more = len(failed) - shown
        return later(N_("{failures}; and {n} more"), failures=said, n=as_number(more)) if more > 0 else said

    def to_frame(self) -> pd.DataFrame:
        """One row per expectation, in publish's ``meta.gate_results`` layout."""
        return pd.DataFrame([asdict(r) for r in self.results], columns=GATE_COLUMNS)

    def summary(self) -> dict[str, Any]:
        return {
            "client_id": self.client_id,
            "passed": self.passed,
            "expectations": len(self.results),
            "failed": [f"{r.table_name}.{r.column_name or '*'}: {r.expectation_type}" for r in self.failed()],
            "checked_at": self.checked_at,
        }


def required_tables(config: ClientConfig) -> set[str]:
    from expectations import REQUIRED_TABLES_BY_MODEL

    return {t for model in config.models for t in REQUIRED_TABLES_BY_MODEL.get(model, [])}


def _open_core(settings: Settings, client_id: str, tables: list[str]) -> duckdb.DuckDBPyConnection:
    """The gate's one read-only connection to the client's warehouse, memory and threads capped."""
    path = settings.warehouse_path(client_id)
    if not path.exists():
        raise GateError(
            f"{path}: no warehouse for {client_id}. Ingest the client's files and run dbt build first "
            f"(`forgeline run {client_id}` does both, then the gate)."
        )
    con = open_warehouse(settings, client_id, read_only=True)
    try:
        # SET, not connect(config=...): a connection opened with another config in this process would clash.
        for name, value in settings.gate_duckdb_settings.items():
            con.execute(f"SET {name} = '{value}'")
        present = {
            r[0]
            for r in con.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'core'"
            ).fetchall()
        }
        missing = [t for t in tables if t not in present]
        if missing:
            raise GateError(
                f"{path}: core table(s) {missing} do not exist for {client_id}. Run dbt build for the "
                f"client first (`forgeline run {client_id}` runs ingest, dbt and the gate in order)."
            )
    except BaseException:
        con.close()
        raise
    return con


def _read_quarantine(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """``mapped._quarantine_summary`` as one row per entity (per tag, for readings) with a ``share_<rule>``
    column per rule: the share of rows it quarantined, 0 where it quarantined fewer than
    QUARANTINE_MIN_ROWS (a handful of bad rows never blocks). One row "(none)" when nothing was
    quarantined, so that the suite always runs."""
    from forgeline.mapping.compile import QUARANTINE_MIN_ROWS, QUARANTINE_THRESHOLDS

    columns = ["entity", "level", "tag", "rule", "quarantined_rows", "delivered_rows", "share"]
    present = con.execute(
        "SELECT count(*) FROM information_schema.columns WHERE table_schema = 'mapped' "
        "AND table_name = '_quarantine_summary' AND column_name = 'level'"
    ).fetchone()[0]
    long = (
        con.execute(f"SELECT {', '.join(columns)} FROM mapped._quarantine_summary").df()
        if present
        else pd.DataFrame(columns=columns)
    )
    long["entity"] = long["entity"].where(long["level"] != "reading", long["entity"] + ": " + long["tag"])
    long["share"] = long["share"].where(long["quarantined_rows"] >= QUARANTINE_MIN_ROWS, 0.0).astype(float)
    wide = long.pivot_table(index="entity", columns="rule", values="share", aggfunc="max", fill_value=0.0)
    wide = wide.reindex(columns=list(QUARANTINE_THRESHOLDS), fill_value=0.0).add_prefix("share_")
    if wide.empty:
        wide = pd.DataFrame([{c: 0.0 for c in wide.columns}], index=pd.Index(["(none)"], name="entity"))
    return wide.reset_index().astype({c: float for c in wide.columns})


def _quarantine_details(frame: pd.DataFrame, outcome: ExpectationOutcome) -> str:
    """Which entities quarantined too large a share, for the consultant (the rule is in the column)."""
    from forgeline.mapping.compile import QUARANTINE_THRESHOLDS

    column = outcome.column_name or ""
    rule = column.removeprefix("share_")
    threshold = QUARANTINE_THRESHOLDS.get(rule, 0.0)
    over = frame[frame[column] > threshold].sort_values(column, ascending=False)
    named = ", ".join(f"{row.entity} {getattr(row, column):.1%}" for row in over.itertuples())
    return (
        f"rows quarantined by rule '{rule}' above the {threshold:.0%} allowed: {named}. See the quarantined "
        "rows (file, row, column, value) on the Data quality page or with `forgeline check`; fix mapping.yml "
        "or ask the client for a corrected export"
    )


def _open_context(project: Path) -> Any:
    """The client's file-backed GX project, with GX's tqdm progress bars off (they flood run logs)."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="file", project_root_dir=str(project))
    bars = context.variables.progress_bars
    if bars is None or bars.get("globally") or bars.get("metric_calculations"):
        context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
        context.variables.save()
    return context


def _prune(context: Any, client_id: str, checked: set[str]) -> None:
    """Keep results of the last KEEP_GATE_RUNS gate runs and only the suites this run checked."""
    store = context.validation_results_store
    keys = store.list_keys()
    runs = sorted({k.run_id.run_name or "" for k in keys}, reverse=True)  # run names sort by time
    keep = set(runs[:KEEP_GATE_RUNS])
    for key in keys:
        if (key.run_id.run_name or "") not in keep:
            store.remove_key(key)
    results_dir = Path(context.root_directory) / "uncommitted" / "validations"
    for folder in sorted(results_dir.rglob("*"), key=lambda f: len(f.parts), reverse=True):
        if folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()  # the store leaves the folders of removed results behind
    for definition in list(context.validation_definitions.all()):
        table = definition.name.removeprefix(f"{client_id}__")
        if table not in checked:
            context.validation_definitions.delete(definition.name)
    for suite in list(context.suites.all()):
        if suite.name not in checked:
            context.suites.delete(suite.name)


def _describe(table: str, result: Any) -> ExpectationOutcome:
    config = result.expectation_config
    kwargs = config.kwargs
    column = kwargs.get("column") or (
        f"{kwargs['column_A']} vs {kwargs['column_B']}" if "column_A" in kwargs else None
    )
    info = result.result or {}
    observed = info.get("observed_value")
    if observed is None and "unexpected_count" in info:
        observed = f"{info['unexpected_count']:,} of {info.get('element_count', 0):,} rows unexpected"
    bounds = {k: v for k, v in kwargs.items() if k in ("min_value", "max_value", "value_set", "mostly")}
    examples = info.get("partial_unexpected_list") or []
    details = f"expected {bounds}" if bounds else ""
    if examples:
        details += f"; e.g. {examples[:5]}"
    if result.exception_info and result.exception_info.get("raised_exception"):
        details += f"; error: {result.exception_info.get('exception_message')}"
    return ExpectationOutcome(
        suite_name=table,
        table_name=table,
        expectation_type=config.type,
        column_name=column,
        success=bool(result.success),
        observed="" if observed is None else str(observed),
        details=details.strip("; "),
    )


def _read_states(path: Path) -> dict[str, Any]:
    """The last gate's per-table tallies; nothing (a whole validation) when missing or unreadable."""
    try:
        states = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return states if isinstance(states, dict) else {}


def _store(
    context: Any, definition: Any, results: list[Any], meta: dict[str, Any], batch_id: str | None, run_id: Any
) -> None:
    """Keep a table's merged results in the GX project as ValidationDefinition.run keeps its own."""
    from great_expectations.constants import DATAFRAME_REPLACEMENT_STR
    from great_expectations.core.expectation_validation_result import ExpectationSuiteValidationResult
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )
    from great_expectations.validator.validation_statistics import calc_validation_statistics

    statistics = calc_validation_statistics(results)
    suite_result = ExpectationSuiteValidationResult(
        results=results,
        success=statistics.success,
        suite_name=definition.suite.name,
        statistics={
            "evaluated_expectations": statistics.evaluated_expectations,
            "successful_expectations": statistics.successful_expectations,
            "unsuccessful_expectations": statistics.unsuccessful_expectations,
            "success_percent": statistics.success_percent,
        },
        meta={
            **meta,
            "validation_id": definition.id,
            "checkpoint_id": None,
            "run_id": run_id,
            "validation_time": run_id.run_time,
            "batch_parameters": {"dataframe": DATAFRAME_REPLACEMENT_STR},
        },
        batch_id=batch_id,
    )
    suite_id = ExpectationSuiteIdentifier(name=definition.suite.name)
    context.validation_results_store.store_validation_results(
        suite_validation_result=suite_result,
        suite_validation_result_identifier=ValidationResultIdentifier(
            expectation_suite_identifier=suite_id, run_id=run_id, batch_identifier=batch_id
        ),
        expectation_suite_identifier=suite_id,
    )


def run_gate(settings: Settings, config: ClientConfig, chunk_rows: int = CHUNK_ROWS) -> GateResult:
    """Validate the client's core tables; the gate passes only when every expectation holds.

    ``chunk_rows`` bounds the rows GX holds at once (tests make it tiny to merge many chunks).
    """
    import great_expectations as gx
    from great_expectations.core.run_identifier import RunIdentifier

    from expectations import (
        QUARANTINE_SUITE,
        REQUIRED_TABLES_BY_MODEL,
        SUITE_BUILDERS,
        build_quarantine_suite,
        build_suite,
    )
    from forgeline.quality.chunked import TableValidation

    needed = required_tables(config)
    con = _open_core(settings, config.id, list(SUITE_BUILDERS))
    try:
        project = settings.quality_dir(config.id)
        project.mkdir(parents=True, exist_ok=True)
        context = _open_context(project)
        datasource = context.data_sources.add_or_update_pandas(name=DATASOURCE)
        now = datetime.now(UTC)
        gate = GateResult(client_id=config.id, passed=True, checked_at=now.isoformat())
        # One run id for every table of this gate run, so Data Docs group them and pruning keeps whole runs.
        run_id = RunIdentifier(run_name=f"{RUN_NAME_PREFIX}{now:%Y%m%dT%H%M%S.%fZ}", run_time=now)
        quarantine = _read_quarantine(con)
        states_file = project / "gate_state.json"
        known, states = _read_states(states_file), {}
        for table in [*SUITE_BUILDERS, QUARANTINE_SUITE]:
            required = table in needed
            try:
                asset = datasource.get_asset(table)
            except LookupError:
                asset = datasource.add_dataframe_asset(name=table)
            try:
                batch = asset.get_batch_definition("whole table")
            except KeyError:
                batch = asset.add_batch_definition_whole_dataframe("whole table")
            if table == QUARANTINE_SUITE:
                # One row per entity (per tag for readings): small whatever the client's size.
                suite = context.suites.add_or_update(build_quarantine_suite())
                definition = context.validation_definitions.add_or_update(
                    gx.ValidationDefinition(name=f"{config.id}__{table}", data=batch, suite=suite)
                )
                results = definition.run(
                    batch_parameters={"dataframe": quarantine}, result_format="SUMMARY", run_id=run_id
                ).results
            else:
                validation = TableValidation(con, "core", table, None, batch, chunk_rows)
                if validation.row_count == 0 and not required:
                    continue  # the client does not deliver this kind of data: nothing to check
                suite = context.suites.add_or_update(build_suite(table, required))
                definition = context.validation_definitions.add_or_update(
                    gx.ValidationDefinition(name=f"{config.id}__{table}", data=batch, suite=suite)
                )
                validation.suite = suite
                validation.known = known.get(table)
                results, meta, batch_id = validation.run()
                _store(context, definition, results, meta, batch_id, run_id)
                if validation.state is not None:
                    states[table] = validation.state
                if validation.rows_resumed:
                    log.info(
                        "%s: %s: %s new row(s) validated; the %s before were validated by an earlier gate.",
                        config.id,
                        table,
                        f"{validation.row_count - validation.rows_resumed:,}",
                        f"{validation.rows_resumed:,}",
                    )
            gate.tables_checked.append(table)
            for result in results:
                outcome = _describe(table, result)
                if not outcome.success and outcome.expectation_type == "expect_table_row_count_to_be_between":
                    models = sorted(m for m in config.models if table in REQUIRED_TABLES_BY_MODEL.get(m, []))
                    outcome = replace(
                        outcome,
                        details=f"no rows, but {', '.join(models)} needs core.{table}: check that the "
                        "client delivered the export that fills it (see the ingest log) and that mapping.yml "
                        "feeds it",
                    )
                elif not outcome.success and table == QUARANTINE_SUITE:
                    outcome = replace(outcome, details=_quarantine_details(quarantine, outcome))
                gate.results.append(outcome)
                if not outcome.success:
                    gate.passed = False
                    # The engagement flow logs each failure for the consultant; here only for debugging.
                    log.debug(
                        "%s: %s.%s failed %s: %s%s",
                        config.id,
                        table,
                        outcome.column_name or "(table)",
                        outcome.expectation_type,
                        outcome.observed,
                        f" ({outcome.details})" if outcome.details else "",
                    )
    finally:
        con.close()
    _prune(context, config.id, set(gate.tables_checked))
    context.clean_data_docs()  # rebuilt from the kept results only: no pages of pruned runs linger
    context.build_data_docs()
    from forgeline.quality import offline_docs  # here: `python -m` of that module imports this package

    try:
        offline_docs.localize(settings.data_docs_site(config.id))  # no CDN: factory servers are offline
    except OSError as error:  # the pages' looks never fail a gate: they are rebuilt whole at the next one
        log.warning("%s: Data Docs left with their CDN links: %s", config.id, error)
    index = settings.data_docs_site(config.id) / "index.html"
    gate.data_docs_index = str(index) if index.exists() else None
    write_atomically(
        project / "gate.json",
        json.dumps({**gate.summary(), "data_docs_index": gate.data_docs_index}, indent=2, ensure_ascii=False),
    )
    write_atomically(states_file, json.dumps(states, ensure_ascii=False))
    verdict = "passed" if gate.passed else f"FAILED ({len(gate.failed())} expectation(s))"
    log.info(
        "%s: quality gate %s on %d table(s); Data Docs: %s",
        config.id,
        verdict,
        len(gate.tables_checked),
        gate.data_docs_index,
    )
    return gate

"""`forgeline check`: a dry run of a client's mapping on its delivered files that loads nothing.

The files (all landed files, or the ones named) are read as their source says into an in-memory DuckDB,
the mapping is compiled and run on them exactly as a real run would (``compile.py``), and the report
says per entity how many rows it would produce, which columns nothing maps, which cells fail casts,
units or value maps (file, row, column), and which standard models and maturity-level evidence the
mapped data would support. Nothing is written to the client's warehouse.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from forgeline.ingest import IngestError, _ensure_registry, _load_one, _one_source_each, _two_sources
from forgeline.ingest.landing import scan_landing
from forgeline.mapping.compile import QUARANTINE_THRESHOLDS, CompileError, compile_mapping, quarantine_blocks
from forgeline.mapping.expressions import columns_of
from forgeline.mapping.spec import ClientConfig, SourceSpec
from forgeline.settings import Settings
from forgeline.standardize import MappingProblem, client_models, create_mapped_views, raw_columns

DEFAULT_SAMPLE_ROWS = 20_000

# Evidence of the smart-factory levels the mapped data can show (a first reading: the program layer owns
# the full, versioned rules). Each: level, what it needs (mapped views with rows), what it means.
LEVEL_EVIDENCE: list[tuple[int, tuple[tuple[str, ...], ...], str]] = [
    (
        1,
        (("production_counts", "quality_results"), ("cycles", "quality_results")),
        "production and defect counts recorded digitally",
    ),
    (
        2,
        (("machine_states",), ("sensor_readings",), ("cycles",)),
        "machine state, signals or cycles collected automatically with timestamps",
    ),
    (3, (("cycle_parameters", "quality_results"),), "process parameters tied to each cycle's quality result"),
]


@dataclass
class SourceCheck:
    name: str
    files: list[str] = field(default_factory=list)
    rows_read: int = 0
    error: str | None = None
    unmapped_columns: list[str] = field(default_factory=list)


@dataclass
class CheckReport:
    client_id: str
    sources: list[SourceCheck] = field(default_factory=list)
    entity_rows: dict[str, int] = field(default_factory=dict)
    problems: list[MappingProblem] = field(default_factory=list)
    # Per entity and rule: (entity, rule, rows quarantined, rows delivered, share, share allowed).
    quarantine: list[tuple[str, str, int, int, float, float]] = field(default_factory=list)
    compile_error: str | None = None
    models: dict[str, str] = field(default_factory=dict)  # model -> "supported" or what is missing
    levels: list[tuple[int, bool, str]] = field(default_factory=list)
    sample_rows: int | None = None

    @property
    def ok(self) -> bool:
        """False when a source would fail: a file it cannot read, or a mapping that does not fit it."""
        return self.compile_error is None and not any(s.error for s in self.sources)

    @property
    def blocking(self) -> list[tuple[str, str, int, int, float, float]]:
        """The entity × rule shares of quarantined rows above what the quality gate allows."""
        return [q for q in self.quarantine if quarantine_blocks(q[1], q[2], q[4])]


def mapped_columns(source: SourceSpec) -> set[str]:
    """Every source column the mapping reads (fields, expressions, tags, filters, order columns)."""
    used: set[str] = set()
    for feed in source.feeds.values():
        for spec in feed.fields.values():
            if spec.column:
                used.add(spec.column)
            if spec.expr:
                used.update(columns_of(spec.expr))
            if spec.from_order and spec.from_order.order != "row":
                used.add(spec.from_order.order)
        used.update(feed.tags)
        if feed.where:
            used.update(columns_of(feed.where))
    return used


def _files_for(source: SourceSpec, files: list[Path], landing: Path) -> list[tuple[Path, str]]:
    chosen = []
    for path in files:
        relative = path.relative_to(landing).as_posix() if path.is_relative_to(landing) else path.name
        if source.takes(relative):
            chosen.append((path, relative))
    return chosen


def check_client(
    settings: Settings,
    config: ClientConfig,
    files: list[Path] | None = None,
    sample_rows: int | None = DEFAULT_SAMPLE_ROWS,
) -> CheckReport:
    """Dry-run the mapping on the landed files (or ``files``), ``sample_rows`` rows per file at most."""
    from forgeline.standard_models import CATALOG, missing_inputs

    landing = settings.landing_dir(config.id)
    scan = scan_landing(landing)
    candidates = [p.resolve() for p in files] if files else scan.files
    report = CheckReport(client_id=config.id, sample_rows=sample_rows)
    con = duckdb.connect(":memory:")
    try:
        _ensure_registry(con)
        for source in config.sources:
            checked = SourceCheck(source.name)
            report.sources.append(checked)
            # The same landing rules as ingest: links and special files are refused unread, and a file
            # two sources take is refused.
            refused = [u.message for u in scan.unusable if not files and source.takes(u.relative)]
            for path, relative in _files_for(source, candidates, landing):
                takers = [s for s in config.sources if s.takes(relative)]
                if not _one_source_each(takers):
                    refused.append(_two_sources(relative, takers))
                    continue
                checked.files.append(relative)
                try:
                    batch = hashlib.sha256(f"dry-run:{relative}".encode()).hexdigest()[:16]
                    load = _load_one(con, config, source, path, relative, batch, limit=sample_rows)
                except IngestError as exc:
                    checked.error = str(exc)
                    break
                checked.rows_read += load.rows
            if refused and checked.error is None:
                checked.error = "\n".join(refused)
        con.execute("SET enable_external_access = false")  # the mapped SQL reads these tables only
        columns = raw_columns(con)
        for checked in report.sources:
            used = mapped_columns(config.source(checked.name))
            checked.unmapped_columns = [c for c in columns.get(checked.name, []) if c not in used]
        try:
            compiled = compile_mapping(config, columns, client_models(settings, config.id))
        except CompileError as exc:
            report.compile_error = str(exc)
            return report
        try:
            report.problems = create_mapped_views(con, compiled)
        except CompileError as exc:
            report.compile_error = str(exc)
            return report
        for name in compiled.views:
            report.entity_rows[name] = int(con.execute(f'SELECT count(*) FROM mapped."{name}"').fetchone()[0])
        report.quarantine = [
            (
                entity if level == "row" else f"{entity}: {tag}",
                rule,
                int(rows),
                int(delivered),
                float(share),
                QUARANTINE_THRESHOLDS[rule],
            )
            for entity, level, tag, rule, rows, delivered, share in con.execute(
                "SELECT entity, level, tag, rule, quarantined_rows, delivered_rows, share "
                "FROM mapped._quarantine_summary ORDER BY share DESC, entity, tag, rule"
            ).fetchall()
        ]
    finally:
        con.close()
    filled = {name for name, rows in report.entity_rows.items() if rows > 0}
    for model_name in CATALOG:
        missing = missing_inputs(model_name, filled)
        report.models[model_name] = "supported" if not missing else f"needs {', '.join(missing)}"
    for level, alternatives, meaning in LEVEL_EVIDENCE:
        met = any(all(v in filled for v in option) for option in alternatives)
        report.levels.append((level, met, meaning))
    return report

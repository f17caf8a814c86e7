"""The report's underlying tables as an Excel workbook (openpyxl): one sheet each, units in the headers, the
headers in the report's language. Shares are written as fractions with a percent format (Excel computes on
them); a figure not measured is an empty cell, never 0."""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd
from openpyxl import Workbook
from openpyxl.utils import get_column_letter

from forgeline.i18n import N_, _
from forgeline.reports import words
from forgeline.reports.content import ReportContent


@dataclass(frozen=True)
class Column:
    source: str
    header: str  # a catalog message: translated when written
    format: str = "General"


PERCENT, NUMBER, DECIMAL, DATE = "0.0%", "#,##0", "#,##0.00", "yyyy-mm-dd"

SHEETS: dict[str, tuple[str, list[Column]]] = {
    "kpis": (
        N_("Key figures"),
        [
            Column("figure", N_("Figure")),
            Column("value", N_("Value"), "#,##0.0##"),
            Column("unit", N_("Unit")),
            Column("note", N_("Note")),
        ],
    ),
    "daily": (
        N_("Daily"),
        [
            Column("day", N_("Day"), DATE),
            Column("oee", N_("OEE (%)"), PERCENT),
            Column("availability", N_("Availability (%)"), PERCENT),
            Column("performance", N_("Performance (%)"), PERCENT),
            Column("quality", N_("Quality (%)"), PERCENT),
            Column("defect_rate", N_("Defect rate (%)"), PERCENT),
            Column("energy_kwh", N_("Energy (kWh)"), NUMBER),
            Column("co2_kg", N_("CO2 (kg)"), NUMBER),
        ],
    ),
    "machines": (
        N_("Machines"),
        [
            Column("machine_id", N_("Machine")),
            Column("machine_name", N_("Machine name")),
            Column("days", N_("Days with data"), NUMBER),
            Column("planned_h", N_("Planned time (h)"), DECIMAL),
            Column("run_h", N_("Run time (h)"), DECIMAL),
            Column("total_count", N_("Units made"), NUMBER),
            Column("good_count", N_("Good units"), NUMBER),
            Column("oee", N_("OEE (%)"), PERCENT),
            Column("availability", N_("Availability (%)"), PERCENT),
            Column("performance", N_("Performance (%)"), PERCENT),
            Column("quality", N_("Quality (%)"), PERCENT),
        ],
    ),
    "oee_daily": (
        N_("OEE by machine and day"),
        [
            Column("production_date", N_("Day"), DATE),
            Column("machine_id", N_("Machine")),
            Column("machine_name", N_("Machine name")),
            Column("planned_time_s", N_("Planned time (s)"), NUMBER),
            Column("run_time_s", N_("Run time (s)"), NUMBER),
            Column("total_count", N_("Units made"), NUMBER),
            Column("good_count", N_("Good units"), NUMBER),
            Column("availability", N_("Availability (%)"), PERCENT),
            Column("performance", N_("Performance (%)"), PERCENT),
            Column("quality", N_("Quality (%)"), PERCENT),
            Column("oee", N_("OEE (%)"), PERCENT),
        ],
    ),
    "defect_rate_daily": (
        N_("Defects by machine and day"),
        [
            Column("production_date", N_("Day"), DATE),
            Column("machine_id", N_("Machine")),
            Column("inspected_count", N_("Units inspected"), NUMBER),
            Column("defect_count", N_("Defective units"), NUMBER),
            Column("defect_rate", N_("Defect rate (%)"), PERCENT),
        ],
    ),
    "defect_pareto": (
        N_("Defect Pareto (all data)"),
        [
            Column("defect_code", N_("Defect code")),
            Column("defect_name", N_("Defect")),
            Column("defect_count", N_("Defective units"), NUMBER),
            Column("share", N_("Share (%)"), PERCENT),
            Column("cumulative_share", N_("Cumulative share (%)"), PERCENT),
        ],
    ),
    "energy_daily": (
        N_("Energy by site and day"),
        [
            Column("reading_date", N_("Day"), DATE),
            Column("site_id", N_("Site")),
            Column("energy_kwh", N_("Energy (kWh)"), DECIMAL),
            Column("good_count", N_("Good units"), NUMBER),
            Column("kwh_per_good_unit", N_("Energy per good unit (kWh)"), "#,##0.000"),
            Column("emission_factor_kg_per_kwh", N_("Emission factor (kg CO2 per kWh)"), "0.000"),
            Column("co2_kg", N_("CO2 (kg)"), DECIMAL),
        ],
    ),
    "maintenance_kpis": (
        N_("Maintenance (all data)"),
        [
            Column("machine_id", N_("Machine")),
            Column("failure_count", N_("Failures"), NUMBER),
            Column("operating_time_h", N_("Operating time (h)"), DECIMAL),
            Column("mtbf_h", N_("MTBF (h)"), DECIMAL),
            Column("mttr_h", N_("MTTR (h)"), DECIMAL),
        ],
    ),
    "level": (
        N_("Level evidence"),
        [
            Column("level", N_("Level")),
            Column("measure", N_("What the data shows")),
            Column("value", N_("Now"), "#,##0.00"),
            Column("at_least", N_("Needs at least"), "#,##0.00"),
            Column("holds", N_("Holds")),
        ],
    ),
    "recommendations": (
        N_("Next steps"),
        [
            Column("rank", N_("Rank")),
            Column("kind", N_("Kind")),
            Column("title", N_("Step")),
            Column("benefit", N_("Benefit")),
            Column("why", N_("Why")),
            Column("needs", N_("What it needs")),
        ],
    ),
    "models": (
        N_("Models"),
        [
            Column("model", N_("Model")),
            Column("metric", N_("Measure")),
            Column("model_metric", N_("Model score"), "0.000"),
            Column("baseline_metric", N_("Simple rule's score"), "0.000"),
            Column("champion", N_("In operation")),
            Column("n_test", N_("Records in the test period"), NUMBER),
            Column("n_test_positives", N_("Problem cases in the test period"), NUMBER),
        ],
    ),
    "findings": (
        N_("Findings"),
        [
            Column("kind", N_("Kind")),
            Column("title", N_("Title")),
            Column("body", N_("Text")),
            Column("evidence", N_("Evidence")),
        ],
    ),
}


def _yes_no(value: object) -> str:
    return _("yes") if bool(value) else _("no")


def _frames(c: ReportContent) -> dict[str, pd.DataFrame]:
    """Each sheet's rows, from the report's content (only what the PDF reads, in full)."""
    frames: dict[str, pd.DataFrame] = {
        "kpis": pd.DataFrame(
            [
                {
                    "figure": words.label(words.KPI_LABELS, k.key),
                    # Shares in percent here: one column holds several units, each named beside its value.
                    "value": None if k.value is None else k.value * 100 if k.unit == "share" else k.value,
                    "unit": "%" if k.unit == "share" else k.unit,
                    "note": words.label(words.NOT_MEASURED_WHY, k.key)
                    if k.value is None
                    else (_("over all delivered data") if k.whole_history else ""),
                }
                for k in c.kpis
            ]
        ),
        "daily": c.daily,
        "machines": c.machines,
        # A mart the client has no rows in (no energy meters, no maintenance log) gets no empty sheet.
        **{name: frame for name, frame in c.tables.items() if len(frame)},
    }
    if len(c.evidence):
        frames["level"] = pd.DataFrame(
            {
                "level": c.evidence["level"],
                "measure": [words.label(words.MEASURE_LABELS, m) for m in c.evidence["measure"]],
                "value": c.evidence["value"],
                "at_least": c.evidence["at_least"],
                "holds": c.evidence["passed"].map(_yes_no),
            }
        )
    if len(c.recommendations):
        frames["recommendations"] = words.worded_recommendations(c.recommendations)
    if len(c.models):
        frames["models"] = c.models.assign(
            model=c.models["model_name"].map(lambda m: words.label(words.MODEL_LABELS, m)),
            metric=c.models["metric_name"].map(lambda m: words.label(words.METRIC_LABELS, m)),
            champion=c.models["is_champion"].map(_yes_no),
        )
    frames["findings"] = pd.DataFrame(
        [
            {
                "kind": _("Recommendation") if f.kind == "recommendation" else _("Finding"),
                "title": f.title,
                "body": words.plain(f.body),
                "evidence": "; ".join(
                    [f.evidence, *(f"{name}: {value}" for name, value in f.figures)][0 if f.evidence else 1 :]
                ),
            }
            for f in c.findings
        ],
        columns=["kind", "title", "body", "evidence"],
    )
    return frames


def render_excel(content: ReportContent) -> bytes:
    """The workbook, in the current language."""
    book = Workbook()
    book.remove(book.active)
    frames = _frames(content)
    for key, (title, columns) in SHEETS.items():
        frame = frames.get(key)
        if frame is None:
            continue  # the client has no such data: no empty sheet to puzzle over
        _sheet(book, _(title), frame, columns)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _cell(value: object) -> object:
    if value is None or (pd.api.types.is_scalar(value) and pd.isna(value)):
        return None  # an empty cell: not measured, never 0
    if isinstance(value, pd.Timestamp):
        return value.tz_localize(None).to_pydatetime() if value.tzinfo else value.to_pydatetime()
    return value.item() if hasattr(value, "item") else value


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _sheet(book: Workbook, title: str, frame: pd.DataFrame, columns: list[Column]) -> None:
    sheet = book.create_sheet(title=title[:31])  # Excel's limit on a sheet's name
    present = [c for c in columns if c.source in frame.columns]
    sheet.append([_(c.header) for c in present])
    fix: Callable[[object], object] = _cell
    for number, row in enumerate(frame[[c.source for c in present]].itertuples(index=False), start=2):
        for index, value in enumerate(row, start=1):
            cell = sheet.cell(number, index, fix(value))
            if isinstance(cell.value, str):
                # Text stays text: a client's machine name or a consultant's title starting with = + - @ is
                # never a formula Excel would run (formula injection).
                cell.data_type = "s"
                cell.quotePrefix = cell.value[:1] in _FORMULA_START
    for index, column in enumerate(present, start=1):
        letter = get_column_letter(index)
        for cell in sheet[letter][1:]:
            cell.number_format = column.format
        sheet.column_dimensions[letter].width = max(12, min(48, len(_(column.header)) * 1.6))
    sheet.freeze_panes = "A2"

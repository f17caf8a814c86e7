"""The report as a PDF (fpdf2, the report's TrueType font embedded as a subset), in the current language.

Pages: the title page (client, period, the KPIs), the KPIs' charts, the smart-factory level and its
roadmap, the models with their caveats, data quality in plain words, and the consultant's findings.
"""

from __future__ import annotations

import io
import logging
from datetime import UTC, datetime
from typing import Any

import pandas as pd
from fpdf import FPDF
from fpdf.enums import XPos, YPos

from forgeline import i18n
from forgeline.i18n import _
from forgeline.reports import charts, words
from forgeline.reports.content import ReportContent
from forgeline.reports.fonts import korean_font

FONT = "Report"
INK, MUTED, ACCENT = (30, 30, 30), (110, 110, 110), (31, 78, 121)
# A holdout score this high is more often a leak or easy (synthetic) data than a model (the app's model
# page warns at the same score).
NEAR_PERFECT = 0.98
# fontTools names every font table its subsetter drops (Nanum's hinting sources): noise, not a problem.
logging.getLogger("fontTools.subset").setLevel(logging.ERROR)


class _Document(FPDF):
    def __init__(self, footer_text: str) -> None:
        super().__init__(orientation="P", unit="mm", format="A4")
        self.footer_text = footer_text
        font = korean_font()
        self.add_font(FONT, "", str(font.regular))
        self.add_font(FONT, "B", str(font.bold))
        self.set_auto_page_break(auto=True, margin=18)
        self.set_margins(18, 18, 18)

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(FONT, "", 8)
        self.set_text_color(*MUTED)
        self.cell(0, 5, f"{self.footer_text} · {self.page_no()}", align="C")


def render_pdf(content: ReportContent) -> bytes:
    """The whole report, in the current language (set with i18n.use_language)."""
    pdf = _Document(f"{content.client_name} · {content.period.label()}")
    pdf.set_title(
        _("Smart-factory report: {client}, {period}").format(
            client=content.client_name, period=content.period.label()
        )
    )
    pdf.set_author("Forgeline")
    pdf.set_lang(i18n.current_language())
    pdf.set_creation_date(datetime.now(UTC))
    _title_page(pdf, content)
    _charts(pdf, content)
    _level(pdf, content)
    _models(pdf, content)
    _data_quality(pdf, content)
    _findings(pdf, content)
    return bytes(pdf.output())


# -- building blocks ------------------------------------------------------------------------------------
def _heading(pdf: FPDF, text: str, size: int = 15) -> None:
    if pdf.get_y() > pdf.h - 60:
        pdf.add_page()
    pdf.ln(3)
    pdf.set_font(FONT, "B", size)
    pdf.set_text_color(*ACCENT)
    pdf.multi_cell(0, size * 0.5, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(1.5)
    pdf.set_text_color(*INK)


def _text(pdf: FPDF, text: str, size: float = 10, muted: bool = False, bold: bool = False) -> None:
    pdf.set_font(FONT, "B" if bold else "", size)
    pdf.set_text_color(*(MUTED if muted else INK))
    pdf.multi_cell(0, size * 0.5, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT, align="L")
    pdf.set_text_color(*INK)
    pdf.ln(1)


def _table(
    pdf: FPDF, header: list[str], rows: list[list[str]], widths: tuple[int, ...], size: float = 9
) -> None:
    pdf.set_font(FONT, "", size)
    with pdf.table(col_widths=widths, text_align="LEFT", line_height=size * 0.55, padding=1) as table:
        heading = table.row()
        for cell in header:
            heading.cell(cell)
        for values in rows:
            row = table.row()
            for cell in values:
                row.cell(cell)
    pdf.ln(2)


def _image(pdf: FPDF, png: bytes, title: str) -> None:
    height = 170 * 2.8 / 7.0
    if pdf.get_y() + height + 12 > pdf.h - 18:
        pdf.add_page()
    _text(pdf, title, size=10, bold=True)
    pdf.image(io.BytesIO(png), w=170)
    pdf.ln(2)


def _when(value: Any, timezone: str) -> str:
    if value is None or (pd.api.types.is_scalar(value) and pd.isna(value)):
        return "–"
    stamp = pd.Timestamp(value)
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp
    return i18n.day(stamp.tz_convert(timezone).date())


# -- pages ----------------------------------------------------------------------------------------------
def _title_page(pdf: FPDF, c: ReportContent) -> None:
    pdf.add_page()
    pdf.ln(20)
    _text(pdf, _("Smart-factory report"), size=12, muted=True)
    pdf.set_font(FONT, "B", 26)
    pdf.multi_cell(0, 13, c.client_name, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(2)
    _text(pdf, c.period.label(), size=16, bold=True)
    about = " · ".join(part for part in (c.industry, c.process) if part)
    if about:
        _text(pdf, about, size=10, muted=True)
    _text(
        pdf,
        _("Figures as published on {day}; the data covers {first} to {last}.").format(
            day=_when(c.published_at, c.timezone), first=i18n.day(c.span[0]), last=i18n.day(c.span[1])
        ),
        size=9,
        muted=True,
    )
    if c.figures_held_back:
        _text(
            pdf,
            _(
                "The newest delivery did not pass the data-quality checks, so these figures come from the "
                "last delivery that did (see Data quality)."
            ),
            size=9,
        )
    pdf.ln(6)
    _heading(pdf, _("Key figures"), size=13)
    days = c.days_with_data
    rows = []
    for kpi in c.kpis:
        note = ""
        if kpi.value is None:
            note = words.label(words.NOT_MEASURED_WHY, kpi.key)
        elif kpi.whole_history:
            note = _("over all delivered data")
        rows.append([words.label(words.KPI_LABELS, kpi.key), words.kpi_value(kpi.value, kpi.unit), note])
    _table(pdf, [_("Figure"), _("This period"), _("Note")], rows, (55, 35, 84))
    _text(
        pdf,
        _(
            "Data on {n} of the period's {total} days. OEE and its factors are weighted by time and counts "
            "(good output at ideal speed over planned time), never an average of machine-days."
        ).format(n=days, total=len(c.period.days)),
        size=8.5,
        muted=True,
    )


def _charts(pdf: FPDF, c: ReportContent) -> None:
    pdf.add_page()
    _heading(pdf, _("The period day by day"))
    _text(
        pdf,
        _("Days without data are left as gaps: no line joins days that are not consecutive."),
        size=9,
        muted=True,
    )
    daily = c.daily
    parts = {k: words.label(words.KPI_LABELS, k) for k in ("oee", "availability", "performance", "quality")}
    present = {k: v for k, v in parts.items() if k in daily and daily[k].notna().any()}
    drew = False
    if present:
        _image(pdf, charts.daily_lines(daily, present, share=True), _("OEE and its factors per day"))
        drew = True
    if len(c.machines) and c.machines["oee"].notna().any() and len(c.machines) > 1:
        names = [
            str(r.machine_name) if isinstance(r.machine_name, str) and r.machine_name else str(r.machine_id)
            for r in c.machines.itertuples()
        ]
        values = [None if pd.isna(v) else float(v) for v in c.machines["oee"]]
        _image(pdf, charts.machine_bars(names, values), _("OEE per machine over the period"))
        drew = True
    if "defect_rate" in daily and daily["defect_rate"].notna().any():
        label = words.label(words.KPI_LABELS, "defect_rate")
        _image(pdf, charts.daily_lines(daily, {"defect_rate": label}, share=True), _("Defect rate per day"))
        drew = True
    if "energy_kwh" in daily and daily["energy_kwh"].notna().any():
        _image(pdf, charts.daily_bars(daily, "energy_kwh", "kWh"), _("Energy per day (kWh)"))
        drew = True
    if not drew:
        _text(pdf, _("No daily figures to chart in this period."))


def _level(pdf: FPDF, c: ReportContent) -> None:
    pdf.add_page()
    _heading(pdf, _("Smart-factory level and roadmap"))
    if c.level is None:
        _text(
            pdf,
            _("Not assessed yet: no delivery has passed the data-quality checks since levels are assessed."),
        )
        return
    level = int(c.level["level"])
    _text(pdf, words.level_name(level), size=13, bold=True)
    _text(
        pdf,
        _(
            "Assessed from the factory's own data with the program's rules (version {version}). A level is "
            "reached when its rules and every lower level's hold."
        ).format(version=c.level.get("rules_version", "")),
        size=9,
        muted=True,
    )
    if len(c.evidence):
        rows = [
            [
                str(int(r.level)),
                words.label(words.MEASURE_LABELS, r.measure)
                if r.measure in words.MEASURE_LABELS
                else str(r.meaning),
                words.evidence_value(r.value, r.kind),
                words.evidence_value(r.at_least, r.kind),
                _("holds") if bool(r.passed) else _("not yet"),
            ]
            for r in c.evidence.itertuples()
        ]
        _table(
            pdf, [_("Level"), _("What the data shows"), _("Now"), _("Needs"), ""], rows, (14, 86, 24, 24, 26)
        )
    _heading(pdf, _("Next steps"), size=12)
    if c.recommendations.empty:
        _text(pdf, _("No recommendations in the published results."))
        return
    for r in words.worded_recommendations(c.recommendations.head(6)).itertuples():
        _text(pdf, f"{int(r.rank)}. {r.title}", size=10, bold=True)
        _text(pdf, f"{r.kind} · {r.benefit}", size=9, muted=True)
        reasons = _("Why: {why}. What it needs: {needs}.").format(why=r.why, needs=r.needs)
        _text(pdf, reasons, size=9, muted=True)
    if words.speaks_english_only(c.recommendations):  # published before its reasons were stored as messages
        _text(
            pdf,
            _("The reasons beside the steps are worded in English, as the program publishes them."),
            size=8,
            muted=True,
        )


def _caveats(model: Any) -> list[str]:
    from forgeline.standard_models.champion import MIN_HOLDOUT_POSITIVES  # the champion rule's own count

    notes = []
    positives = getattr(model, "n_test_positives", None)
    event_model = model.metric_name in ("pr_auc", "roc_auc")
    if event_model and positives is not None and not pd.isna(positives) and positives < MIN_HOLDOUT_POSITIVES:
        notes.append(
            i18n.ngettext(
                "Only {n} problem case in the test period: a first signal, not a verdict.",
                "Only {n} problem cases in the test period: a first signal, not a verdict.",
                int(positives),
            ).format(n=int(positives))
        )
    score = model.model_metric
    higher_better = model.metric_name in ("pr_auc", "roc_auc", "precision_at_k")
    if higher_better and score is not None and not pd.isna(score) and score >= NEAR_PERFECT:
        notes.append(
            _(
                "A near-perfect score is more often synthetic data or a sign that gives the answer away "
                "than a model that good: check it on more real data before relying on it."
            )
        )
    if not bool(model.beats_baseline):
        notes.append(_("It does not beat the simple rule a plant would use without a model."))
    if not bool(model.is_champion):
        notes.append(_("Not in operation: it has not been chosen as champion."))
    return notes


def _models(pdf: FPDF, c: ReportContent) -> None:
    _heading(pdf, _("Model results"))
    if c.models.empty:
        _text(pdf, _("No standard model has results for this factory yet."))
        return
    _text(
        pdf,
        _(
            "Each model is scored on the latest part of the data, which it never saw in training, beside a "
            "simple rule a plant would use without a model."
        ),
        size=9,
        muted=True,
    )
    for m in c.models.itertuples():
        digits = 3 if m.metric_name in ("pr_auc", "roc_auc", "precision_at_k", "mase") else 2
        metric = words.label(words.METRIC_LABELS, m.metric_name)
        _text(pdf, words.label(words.MODEL_LABELS, m.model_name), size=11, bold=True)
        _text(
            pdf,
            _("{metric}: model {model}, simple rule {baseline}. {status}").format(
                metric=metric,
                model=i18n.number(m.model_metric, digits),
                baseline=i18n.number(m.baseline_metric, digits),
                status=_("In operation (champion).") if bool(m.is_champion) else "",
            ),
            size=9.5,
        )
        for note in _caveats(m):
            _text(pdf, f"· {note}", size=9, muted=True)


def _data_quality(pdf: FPDF, c: ReportContent) -> None:
    _heading(pdf, _("Data quality"))
    q = c.quality
    _text(
        pdf,
        i18n.ngettext(
            "{files} file delivered so far, {rows} records loaded.",
            "{files} files delivered so far, {rows} records loaded.",
            q.files_loaded,
        ).format(files=i18n.number(q.files_loaded), rows=i18n.number(q.rows_loaded)),
    )
    if q.checks and not q.failed:
        _text(
            pdf,
            i18n.ngettext(
                "All {n} check on the data passed.", "All {n} checks on the data passed.", q.checks
            ).format(n=q.checks),
        )
    elif q.failed:
        _text(
            pdf,
            _("{failed} of {n} checks on the data found a problem:").format(failed=len(q.failed), n=q.checks),
        )
        for failure in q.failed:
            _text(pdf, f"· {words.failed_check(failure)}", size=9)
    if q.files_refused:
        _text(
            pdf,
            _("Files refused at delivery (to correct and send again): {files}.").format(
                files=", ".join(q.files_refused)
            ),
        )
    if q.unreadable:
        _text(pdf, _("Values that could not be read, left out of the figures:"))
        for p in q.unreadable:
            _text(
                pdf,
                "· "
                + i18n.ngettext(
                    "{column} in {source}: {n} cell", "{column} in {source}: {n} cells", int(p["cells"])
                ).format(column=p["column_name"], source=p["source_name"], n=i18n.number(p["cells"])),
                size=9,
            )
    if not q.files_refused and not q.unreadable:
        _text(pdf, _("No file was refused and every value could be read."))


def _findings(pdf: FPDF, c: ReportContent) -> None:
    _heading(pdf, _("Findings"))
    if not c.findings:
        _text(pdf, _("No findings delivered for this period."))
        return
    for f in c.findings:
        kind = _("Recommendation") if f.kind == "recommendation" else _("Finding")
        _text(pdf, f"{kind}: {f.title}", size=11, bold=True)
        _text(pdf, words.plain(f.body), size=10)
        if f.evidence:
            _text(pdf, _("Evidence: {evidence}").format(evidence=f.evidence), size=9, muted=True)
        for name, value in f.figures:
            _text(pdf, f"· {name}: {value}", size=9, muted=True)
        if f.chart is not None and len(f.chart) and len(f.chart.columns) > 1:
            _image(pdf, charts.evidence_chart(f.chart, f.chart_unit), f.chart_title or f.title)

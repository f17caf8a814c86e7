"""Client reports: a PDF and an Excel workbook per client and period, in Korean or English, built only from
the client's published snapshot (forgeline/publish.py), never from its warehouse or any other client's data.

``make_report`` is the one entry: the CLI (`forgeline report`), the app's download and the monthly Prefect
deployment (flows/reports.py) all call it. The findings a consultant delivered come from the workbench
through ``_delivered_findings``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from forgeline import i18n
from forgeline.atomic import write_files
from forgeline.i18n import _
from forgeline.publish import current_snapshot
from forgeline.reports.content import Finding, NoDataInPeriod, ReportContent, data_months, read_content
from forgeline.reports.fonts import FontMissing
from forgeline.reports.period import Period, PeriodError, month, parse_period
from forgeline.settings import Settings, check_client_id

__all__ = [
    "Finding",
    "FontMissing",
    "NothingToReport",
    "Period",
    "PeriodError",
    "Report",
    "ReportError",
    "build_report",
    "filed_reports",
    "make_report",
    "parse_period",
    "report_months",
]


class ReportError(RuntimeError):
    """A report that cannot be made; the message (in the report's language) says what to do."""


class NothingToReport(ReportError):
    """The client has nothing to report on (nothing published, no data in the period): a schedule skips it,
    where any other ReportError (a missing font) is a failure to fix."""

    def __init__(self, message: str, span: tuple[date, date] | None = None) -> None:
        super().__init__(message)
        self.span = span  # the days the data covers, when the period asked for holds none of them


@dataclass(frozen=True)
class Report:
    client_id: str
    period: Period
    lang: str
    pdf: bytes
    xlsx: bytes

    @property
    def stem(self) -> str:
        return f"forgeline-{self.client_id}-{self.period.slug}-{self.lang}"

    def write(self, folder: Path) -> tuple[Path, Path]:
        """Both files into ``folder``, atomically (forgeline/atomic.py): both written and flushed before
        either replaces an earlier version."""
        pdf, xlsx = folder / f"{self.stem}.pdf", folder / f"{self.stem}.xlsx"
        write_files({pdf: self.pdf, xlsx: self.xlsx})
        return pdf, xlsx


def build_report(
    settings: Settings,
    client_id: str,
    period: Period | None = None,
    lang: str | None = None,
    findings: Iterable[Finding] | None = None,
) -> Report:
    """The client's report for ``period`` (None: the last full month of its data) in ``lang``.

    ``findings``: what the report's Findings section lists; None (always, but in tests) asks the workbench
    for the findings delivered for the period.
    """
    with i18n.use_language(lang) as chosen:
        check_client_id(client_id)
        if (
            not settings.client_config_path(client_id).exists()
            and not settings.published_dir(client_id).exists()
        ):
            raise ReportError(
                _("There is no client {client} in this program: `forgeline clients` lists them.").format(
                    client=client_id
                )
            )
        snapshot = current_snapshot(settings, client_id)
        if snapshot is None:
            raise NothingToReport(
                _(
                    "{client} has no published results yet: run its engagement first "
                    "(`forgeline run {client}`)."
                ).format(client=client_id)
            )
        try:
            content = read_content(snapshot, client_id, period, [])
        except NoDataInPeriod as exc:
            if exc.span is None:
                raise NothingToReport(
                    _(
                        "{client}'s published results hold no daily figures (production, quality or energy) "
                        "to report on."
                    ).format(client=client_id)
                ) from exc
            raise NothingToReport(
                _("{client} has no data in {period}: its data covers {first} to {last}.").format(
                    client=client_id,
                    period=str(exc.period),
                    first=exc.span[0].isoformat(),
                    last=exc.span[1].isoformat(),
                ),
                exc.span,
            ) from exc
        listed = _delivered_findings(settings, client_id, content.period) if findings is None else findings
        content = dataclasses.replace(content, findings=list(listed))
        return _render(content, chosen)


def _render(content: ReportContent, lang: str) -> Report:
    from forgeline.reports.excel import render_excel
    from forgeline.reports.pdf import render_pdf

    try:
        pdf = render_pdf(content)
    except FontMissing as exc:
        raise ReportError(str(exc)) from exc
    return Report(content.client_id, content.period, lang, pdf, render_excel(content))


def make_report(
    settings: Settings,
    client_id: str,
    out_dir: Path,
    period: Period | None = None,
    lang: str | None = None,
    findings: Iterable[Finding] | None = None,
) -> tuple[Path, Path]:
    """Build the report and write its PDF and Excel files into ``out_dir``; their paths."""
    return build_report(settings, client_id, period, lang, findings).write(out_dir)


def report_months(settings: Settings, client_id: str) -> list[Period]:
    """The months the client's published data has days in, newest first (what a report can cover): a month
    between them without any day of data is not offered."""
    snapshot = current_snapshot(settings, client_id)
    return [month(d.year, d.month) for d in data_months(snapshot, client_id)] if snapshot else []


def filed_reports(settings: Settings, client_id: str) -> list[Path]:
    """The reports filed in the client's downloads folder (the monthly deployment's), newest first."""
    folder = settings.client_downloads_dir(client_id)
    found = (
        [p for p in folder.glob("forgeline-*.*") if p.suffix in (".pdf", ".xlsx")] if folder.is_dir() else []
    )
    return sorted(found, key=lambda p: p.name, reverse=True)


def _delivered_findings(settings: Settings, client_id: str, period: Period) -> list[Finding]:
    """The findings and recommendations consultants delivered to this client for the period (the workbench,
    forgeline/program/findings.py), in the current language: each piece of evidence described with its
    figures, and the first KPI chart it rests on drawn from the client's own snapshot (every day of the
    period, a missing day as a gap)."""
    from forgeline.program import findings as workbench

    delivered = []
    for item in workbench.findings_for(settings, client_id, statuses=("delivered",), period=period):
        views = [(piece, workbench.evidence_view(settings, client_id, piece)) for piece in item.evidence]
        chart = next(
            (view for piece, view in views if piece.kind == "kpi_chart" and view.days is not None), None
        )
        delivered.append(
            Finding(
                title=item.title,
                body=item.body,
                kind="recommendation" if item.kind == "recommendation" else "finding",
                evidence="; ".join(view.title for _piece, view in views),
                figures=tuple(
                    (workbench.figure_name(name), value)
                    for _piece, view in views
                    for name, value in view.figures.items()
                    if value
                ),
                chart=chart.days if chart is not None else None,
                chart_title=chart.title if chart is not None else "",
                chart_unit=chart.unit if chart is not None else "",
            )
        )
    return delivered

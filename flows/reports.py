"""Every published client's monthly report, filed in its downloads folder (deployment `reports-monthly`).

Each client's report is made from its published snapshot only (forgeline/reports/), for the calendar month
before the run's scheduled time in the client's time zone (a run on 1 November 06:00 Asia/Seoul files
October, whatever days October's data has), in each language asked for, and written to
``Settings.client_downloads_dir`` (in the client's folder: its portal offers it, a purge removes it). A client
with nothing to report (no snapshot, no data in that month) is logged and skipped; any other error (a missing
font, a full disk) fails its task. One client's failure does not stop the others, and the run fails at the
end naming the clients whose report could not be made.
"""

from __future__ import annotations

from datetime import UTC, datetime

from forgeline.settings import CLIENT_ID_PATTERN, apply_tool_environment, get_settings

apply_tool_environment()

from prefect import flow, get_run_logger, task  # noqa: E402
from prefect.cache_policies import NO_CACHE  # noqa: E402
from prefect.runtime import flow_run  # noqa: E402

from forgeline.publish import current_snapshot  # noqa: E402
from forgeline.reports import NothingToReport, make_report, parse_period  # noqa: E402
from forgeline.reports.content import DEFAULT_TIMEZONE, snapshot_timezone  # noqa: E402
from forgeline.reports.period import previous_month  # noqa: E402


class ReportsFailed(RuntimeError):
    """Raised after every client was tried when some reports could not be made."""


@task(task_run_name="report {client_id} {period} ({lang})", cache_policy=NO_CACHE)
def client_report(client_id: str, lang: str, period: str, home: str | None = None) -> list[str]:
    """One client's report of ``period`` in one language, written to its downloads folder; the files' paths
    (none when the client has nothing to report on). Any other error is raised: the task fails."""
    settings = get_settings(home)
    logger = get_run_logger()
    try:
        pdf, xlsx = make_report(
            settings, client_id, settings.client_downloads_dir(client_id), parse_period(period), lang
        )
    except NothingToReport as exc:  # nothing published or no data that month: said, not failed
        logger.info("No %s report of %s for %s: %s", lang, client_id, period, exc)
        return []
    logger.info("Filed the %s report of %s: %s, %s", lang, client_id, pdf.name, xlsx.name)
    return [str(pdf), str(xlsx)]


def run_time() -> datetime:
    """When this run was scheduled for (now, when started by hand or outside Prefect)."""
    scheduled = flow_run.scheduled_start_time
    return datetime.fromtimestamp(scheduled.timestamp(), UTC) if scheduled else datetime.now(UTC)


@flow(name="forgeline-reports")
def reports_flow(
    home: str | None = None, languages: list[str] | None = None, at: datetime | None = None
) -> list[str]:
    """Each published client's report of the month before ``at`` (default: the run's scheduled time) in the
    client's time zone, in Korean and English by default."""
    settings = get_settings(home)
    when = at or run_time()
    root = settings.published_root
    found = root.glob("*/CURRENT") if root.exists() else []
    clients = sorted(p.parent.name for p in found if CLIENT_ID_PATTERN.match(p.parent.name))
    written: list[str] = []
    failed: list[str] = []
    for client_id in clients:
        snapshot = current_snapshot(settings, client_id)
        period = previous_month(when, snapshot_timezone(snapshot) if snapshot else DEFAULT_TIMEZONE)
        for lang in languages or ["ko", "en"]:
            try:
                written += client_report(client_id, lang, str(period), str(settings.home))
            except Exception:  # noqa: BLE001 - the others still get theirs; the run fails at the end
                get_run_logger().exception("The %s report of %s failed", lang, client_id)
                failed.append(f"{client_id} ({lang})")
    if failed:
        raise ReportsFailed(f"Reports not made: {', '.join(failed)} (see the log above).")
    return written

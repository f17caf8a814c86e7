"""Every published client's monthly report, filed in its downloads folder (deployment `reports-monthly`).

Each client's report is made from its published snapshot only (forgeline/reports/), for the last full month
its data covers, in each language asked for, and written to ``Settings.client_downloads_dir`` (in the
client's folder: its portal offers it, a purge removes it). A client with nothing to report (no snapshot,
no data) is logged and skipped; one client's failure does not stop the others, and the run fails at the
end naming the clients whose report could not be made.
"""

from __future__ import annotations

from forgeline.settings import CLIENT_ID_PATTERN, apply_tool_environment, get_settings

apply_tool_environment()

from prefect import flow, get_run_logger, task  # noqa: E402
from prefect.cache_policies import NO_CACHE  # noqa: E402

from forgeline.reports import ReportError, make_report  # noqa: E402


class ReportsFailed(RuntimeError):
    """Raised after every client was tried when some reports could not be made."""


@task(task_run_name="report {client_id} ({lang})", cache_policy=NO_CACHE)
def client_report(client_id: str, lang: str, home: str | None = None) -> list[str]:
    """One client's report in one language, written to its downloads folder; the files' paths (none when
    the client has nothing to report on)."""
    settings = get_settings(home)
    logger = get_run_logger()
    try:
        pdf, xlsx = make_report(settings, client_id, settings.client_downloads_dir(client_id), lang=lang)
    except ReportError as exc:  # nothing published or no data yet: said, not failed
        logger.warning("No %s report for %s: %s", lang, client_id, exc)
        return []
    logger.info("Filed the %s report of %s: %s, %s", lang, client_id, pdf.name, xlsx.name)
    return [str(pdf), str(xlsx)]


@flow(name="forgeline-reports")
def reports_flow(home: str | None = None, languages: list[str] | None = None) -> list[str]:
    """Each published client's report of its last full month, in Korean and English by default."""
    settings = get_settings(home)
    root = settings.published_root
    found = root.glob("*/CURRENT") if root.exists() else []
    clients = sorted(p.parent.name for p in found if CLIENT_ID_PATTERN.match(p.parent.name))
    written: list[str] = []
    failed: list[str] = []
    for client_id in clients:
        for lang in languages or ["ko", "en"]:
            try:
                written += client_report(client_id, lang, str(settings.home))
            except Exception:  # noqa: BLE001 - the others still get theirs; the run fails at the end
                get_run_logger().exception("The %s report of %s failed", lang, client_id)
                failed.append(f"{client_id} ({lang})")
    if failed:
        raise ReportsFailed(f"Reports not made: {', '.join(failed)} (see the log above).")
    return written

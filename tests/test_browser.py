"""The served app in a real browser (Debian's Chromium driven by playwright), on a real program run.

A client logs in, opens its KPI page and sees its own published numbers, and nothing of any other client.
The program manager logs in to the cohort dashboard and opens a client's level evidence from its table.
A consultant opens the Workbench and previews a piece of evidence.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

from forgeline.auth import demo_password
from forgeline.clients import list_clients
from forgeline.publish import current_snapshot
from forgeline.settings import Settings

pytestmark = pytest.mark.browser

CLIENT = "sejin-diecast"
PAGE_TIMEOUT_MS = 30_000


@pytest.fixture(scope="module")
def served_app(program_run: Settings, tmp_path_factory: pytest.TempPathFactory, app_server) -> Iterator[str]:
    """The app served on the program's workspace; stopped when the module's tests are done."""
    with app_server(program_run.home, tmp_path_factory.mktemp("streamlit") / "server.log") as url:
        yield url


def log_in(browser: Any, url: str, username: str) -> Any:
    """A new page of the served app, logged in with the demo password of ``username``."""
    page = browser.new_page(viewport={"width": 1400, "height": 2400})
    page.set_default_timeout(PAGE_TIMEOUT_MS)
    page.goto(url)
    page.get_by_role("textbox", name="Username").fill(username)
    page.get_by_role("textbox", name="Password").fill(demo_password(username))
    page.get_by_role("button", name="Log in").click()
    return page


def _published_numbers(settings: Settings, client_id: str) -> tuple[int, int, int]:
    """Inspected and defective units and number of defect codes, straight from the client's snapshot."""
    con = duckdb.connect(str(current_snapshot(settings, client_id)), read_only=True)
    try:
        inspected, defective, months = con.execute(
            "SELECT sum(inspected_count), sum(defect_count), "
            "count(DISTINCT date_trunc('month', production_date)) FROM marts.defect_rate_daily"
        ).fetchone()
        codes = con.execute("SELECT count(*) FROM marts.defect_pareto").fetchone()[0]
    finally:
        con.close()
    assert months == 1, "the check below reads the default period as all of the data"
    return int(inspected), int(defective), int(codes)


def test_a_client_sees_its_own_kpis_and_nothing_else(
    served_app: str, program_run: Settings, tmp_path: Path, chromium_launch: dict
) -> None:
    from playwright.sync_api import sync_playwright

    clients = list_clients(program_run)
    me = next(c for c in clients if c.id == CLIENT)
    others = [c for c in clients if c.id != CLIENT]
    inspected, defective, codes = _published_numbers(program_run, CLIENT)
    assert inspected > 0 and codes > 0

    with sync_playwright() as pw:
        browser = pw.chromium.launch(**chromium_launch)
        try:
            page = log_in(browser, served_app, CLIENT)
            # It lands on its own Home: the month against the one before, its level, its band.
            page.get_by_role("heading", name="Home").wait_for()
            page.get_by_role("heading", name="Smart-factory level").wait_for()
            page.get_by_text("OEE", exact=True).first.wait_for()
            page.get_by_role("heading", name="From your consultants").wait_for()  # drawn to its end
            page.get_by_role("heading", name="Reports").wait_for()
            page.screenshot(path=str(tmp_path / f"{CLIENT}_home.png"))
            home = page.inner_text("body")
            assert str(program_run.home) not in home and "Program overview" not in home

            page.get_by_role("link", name="Client KPIs").click()
            page.get_by_role("heading", name="Client KPIs").wait_for()
            page.get_by_text(re.compile(rf"^Defect Pareto \({codes} defect codes?\)$")).wait_for()
            # The defect rate of its data's month (all of it: the demo's die casting covers one month).
            page.get_by_text(f"{defective / inspected:.2%}", exact=True).first.wait_for()
            page.locator(".js-plotly-plot").first.wait_for()
            page.screenshot(path=str(tmp_path / f"{CLIENT}_kpis.png"))

            shown = page.inner_text("body")
            html = page.content()
            assert me.name in shown
            assert not page.locator("[data-testid='stException']").count()
            for other in others:
                for leaked in (other.id, other.name):
                    assert leaked not in shown and leaked not in html, f"{CLIENT} sees {leaked}"

            # Its own benchmark band and ledger, and still nothing of another client.
            page.get_by_role("link", name="My data & benchmarks").click()
            page.get_by_role("heading", name="Where you stand").wait_for()
            page.get_by_text("What your data went into").wait_for()
            page.screenshot(path=str(tmp_path / f"{CLIENT}_benchmarks.png"))
            shown, html = page.inner_text("body"), page.content()
            assert "Pooled: consent given" in shown
            assert not page.locator("[data-testid='stException']").count()
            for other in others:
                for leaked in (other.id, other.name):
                    assert leaked not in shown and leaked not in html, f"{CLIENT} sees {leaked} (benchmarks)"
        finally:
            browser.close()
    assert (tmp_path / f"{CLIENT}_kpis.png").stat().st_size > 10_000


def test_the_program_manager_sees_the_cohort_and_opens_a_clients_evidence(
    served_app: str, program_run: Settings, tmp_path: Path, chromium_launch: dict
) -> None:
    from playwright.sync_api import sync_playwright

    from forgeline.publish import current_level

    clients = list_clients(program_run)
    # The table lists the highest level first, then by name: its first row is this client.
    levels = {c.id: (current_level(program_run, c.id) or ({"level": -1}, None))[0]["level"] for c in clients}
    first = min(clients, key=lambda c: (-levels[c.id], c.name))
    with sync_playwright() as pw:
        browser = pw.chromium.launch(**chromium_launch)
        try:
            page = log_in(browser, served_app, "manager")
            page.get_by_role("heading", name="Cohort dashboard").wait_for()
            page.get_by_text(re.compile(r"^Level 3\+")).wait_for()
            page.locator(".js-plotly-plot").nth(2).wait_for()  # distribution, history, readiness
            assert page.locator(".js-plotly-plot").count() == 3
            page.screenshot(path=str(tmp_path / "cohort.png"))
            shown = page.inner_text("body")
            assert all(c.name in shown for c in clients)
            assert not page.locator("[data-testid='stException']").count()

            # Selecting a row of the clients table opens that client's level evidence: the grid is a
            # canvas, so click its first row's selection box.
            grid = page.locator("[data-testid='stDataFrame']").first
            grid.scroll_into_view_if_needed()
            box = grid.bounding_box()
            assert box is not None
            page.mouse.click(box["x"] + 15, box["y"] + 35 + 18)
            page.get_by_role("heading", name="Smart-factory level").wait_for()
            page.get_by_text("The evidence, rule by rule").wait_for()
            page.get_by_text(f"{first.name} · {first.id}").wait_for()
            page.screenshot(path=str(tmp_path / "evidence.png"))
        finally:
            browser.close()
    assert (tmp_path / "cohort.png").stat().st_size > 10_000


def test_a_consultant_opens_the_workbench_and_previews_evidence(
    served_app: str, tmp_path: Path, chromium_launch: dict
) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(**chromium_launch)
        try:
            page = log_in(browser, served_app, "consultant")
            page.get_by_role("link", name="Workbench").click()
            page.get_by_role("heading", name="New finding or recommendation").wait_for()
            page.get_by_text("Preview", exact=True).wait_for()
            page.locator(".js-plotly-plot").first.wait_for()  # the KPI chart the evidence would show
            page.screenshot(path=str(tmp_path / "workbench.png"))
            assert not page.locator("[data-testid='stException']").count()
        finally:
            browser.close()
    assert (tmp_path / "workbench.png").stat().st_size > 10_000

"""The served app in a real browser (Debian's Chromium driven by playwright), on a real program run.

A client logs in, opens its KPI page and sees its own published numbers, and nothing of any other client.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from forgeline.auth import demo_password
from forgeline.cli import streamlit_command
from forgeline.clients import list_clients
from forgeline.publish import current_snapshot
from forgeline.settings import REPO_ROOT, Settings

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
CLIENT = "sejin-diecast"
SERVER_START_S = 30
PAGE_TIMEOUT_MS = 30_000


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def served_app(program_run: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`streamlit run` on the program's workspace; stopped when the module's tests are done."""
    if not shutil.which("chromium"):
        pytest.skip("Chromium is not installed (apt-get install chromium); the browser test needs it.")
    port = _free_port()
    log = tmp_path_factory.mktemp("streamlit") / "server.log"
    env = {**os.environ, "FORGELINE_HOME": str(program_run.home)}
    with log.open("wb") as out:
        server = subprocess.Popen(
            # The command `forgeline app` serves with; no file watcher in a test.
            [*streamlit_command(port, address="127.0.0.1"), "--server.fileWatcherType", "none"],
            cwd=REPO_ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + SERVER_START_S
        while True:
            if server.poll() is not None:
                pytest.fail(f"streamlit exited with {server.returncode}:\n{log.read_text()}")
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as answer:
                    if answer.read().decode().strip() == "ok":
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"streamlit did not answer within {SERVER_START_S} s:\n{log.read_text()}")
            time.sleep(0.3)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)


def _published_numbers(settings: Settings, client_id: str) -> tuple[int, int]:
    """Inspected units and number of defect codes, read straight from the client's current snapshot."""
    con = duckdb.connect(str(current_snapshot(settings, client_id)), read_only=True)
    try:
        inspected = con.execute("SELECT sum(inspected_count) FROM marts.defect_rate_daily").fetchone()[0]
        codes = con.execute("SELECT count(*) FROM marts.defect_pareto").fetchone()[0]
    finally:
        con.close()
    return int(inspected), int(codes)


def test_a_client_sees_its_own_kpis_and_nothing_else(
    served_app: str, program_run: Settings, tmp_path: Path
) -> None:
    from playwright.sync_api import sync_playwright

    clients = list_clients(program_run)
    me = next(c for c in clients if c.id == CLIENT)
    others = [c for c in clients if c.id != CLIENT]
    inspected, codes = _published_numbers(program_run, CLIENT)
    assert inspected > 0 and codes > 0

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 2400})
            page.set_default_timeout(PAGE_TIMEOUT_MS)
            page.goto(served_app)
            page.get_by_role("textbox", name="Username").fill(CLIENT)
            page.get_by_role("textbox", name="Password").fill(demo_password(CLIENT))
            page.get_by_role("button", name="Log in").click()
            page.get_by_role("heading", name="Program overview").wait_for()

            page.get_by_role("link", name="Client KPIs").click()
            page.get_by_role("heading", name="Client KPIs").wait_for()
            page.get_by_text(re.compile(rf"^Defect Pareto \({codes} defect codes?\)$")).wait_for()
            page.get_by_text(f"{inspected:,}", exact=True).wait_for()
            page.locator(".js-plotly-plot").first.wait_for()
            page.screenshot(path=str(tmp_path / f"{CLIENT}_kpis.png"))

            shown = page.inner_text("body")
            html = page.content()
            assert me.name in shown
            assert not page.locator("[data-testid='stException']").count()
            for other in others:
                for leaked in (other.id, other.name):
                    assert leaked not in shown and leaked not in html, f"{CLIENT} sees {leaked}"
        finally:
            browser.close()
    assert (tmp_path / f"{CLIENT}_kpis.png").stat().st_size > 10_000

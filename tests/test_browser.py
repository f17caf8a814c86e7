"""The served app in a real browser (Debian's Chromium driven by playwright), on a real program run.

A client logs in, opens its KPI page and sees its own published numbers, and nothing of any other client.
The program manager logs in to the cohort dashboard and opens a client's level evidence from its table.
A consultant opens the Workbench and previews a piece of evidence.
A session survives a reload and a new tab, a deep link lands after the login, logout ends the session in
every tab, a forged, expired or revoked cookie is refused; Streamlit's metrics and cache clearing answer
consultants only.
"""

from __future__ import annotations

import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

from forgeline.auth import SESSION_COOKIE, SESSION_IDLE_S, demo_password
from forgeline.clients import list_clients
from forgeline.publish import current_snapshot
from forgeline.settings import Settings

pytestmark = pytest.mark.browser

CLIENT = "sejin-diecast"
PAGE_TIMEOUT_MS = 30_000
VIEWPORT = {"width": 1400, "height": 2400}


@pytest.fixture(scope="module")
def server_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("streamlit") / "server.log"


@pytest.fixture(scope="module")
def served_app(program_run: Settings, server_log: Path, app_server) -> Iterator[str]:
    """The app served on the program's workspace; stopped when the module's tests are done."""
    with app_server(program_run.home, server_log) as url:
        yield url


def log_in(browser: Any, url: str, username: str, path: str = "") -> Any:
    """A new page of the served app (at ``path``, e.g. ``/models``), logged in with the demo password of
    ``username``. ``browser`` may be a browser context: its pages share cookies, as a browser's tabs do."""
    is_browser = hasattr(browser, "new_context")  # a context's pages take their viewport from it
    page = browser.new_page(**({"viewport": VIEWPORT} if is_browser else {}))
    page.set_default_timeout(PAGE_TIMEOUT_MS)
    page.goto(url + path)
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


# -- sessions and what only consultants may do ------------------------------------------------------
def _session_cookie(context: Any) -> dict:
    """The session cookie, once the page has asked the server for it (one fetch after the login)."""
    deadline = time.monotonic() + 10
    while not (found := [c for c in context.cookies() if c["name"] == SESSION_COOKIE]):
        assert time.monotonic() < deadline, "no session cookie was set"
        time.sleep(0.1)
    return found[0]


def _login_form(page: Any) -> None:
    """The login form, and no trace of the session: the last page's "Log out" button goes too. Streamlit
    removes the previous run's elements only when the new run ends, so on a loaded machine the form may be
    drawn a moment before the stale button leaves: wait for that, rather than race it."""
    from playwright.sync_api import expect

    page.get_by_role("textbox", name="Username").wait_for()
    expect(page.get_by_role("button", name="Log out")).to_have_count(0, timeout=PAGE_TIMEOUT_MS)


def test_a_session_survives_reload_and_new_tab_and_logout_ends_it_everywhere(
    served_app: str, program_run: Settings, chromium_launch: dict
) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(**chromium_launch)
        try:
            # A deep link before login asks for the login, then opens the page it named.
            context = browser.new_context(viewport=VIEWPORT)
            page = log_in(context, served_app, CLIENT, "/models")
            page.get_by_role("heading", name="Model results").wait_for()
            assert page.url.endswith("/models")
            page.get_by_role("button", name="Log out").wait_for()
            cookie = _session_cookie(context)
            assert (
                cookie["httpOnly"] and cookie["sameSite"] == "Strict" and not cookie["secure"]
            )  # plain http
            assert 0 < cookie["expires"] - time.time() <= SESSION_IDLE_S
            assert cookie["value"] not in page.content()  # the token passed through the page, and left it

            page.reload()  # a reload keeps the session and the page
            page.get_by_role("heading", name="Model results").wait_for()
            page.get_by_role("button", name="Log out").wait_for()

            tab = context.new_page()  # a new tab too, at another deep link
            tab.set_default_timeout(PAGE_TIMEOUT_MS)
            tab.goto(served_app + "/kpis")
            tab.get_by_role("heading", name="Client KPIs").wait_for()
            assert not tab.locator("[data-testid='stException']").count()

            # Logging out in the first tab ends the session in the second at its next step, and the old
            # cookie, replayed in another browser, opens nothing (revoked on the server, not only deleted).
            page.get_by_role("button", name="Log out").click()
            _login_form(page)
            tab.get_by_role("link", name="Model results").click()
            _login_form(tab)
            replay = browser.new_context()
            replay.add_cookies([{**cookie, "expires": time.time() + 600}])
            again = replay.new_page()
            again.goto(served_app + "/kpis")
            _login_form(again)

            # A client's deep link to a consultant's page lands on its own first page after the login.
            page = log_in(browser.new_context(), served_app, CLIENT, "/cohort")
            page.get_by_role("heading", name="Home").wait_for()
            assert not page.get_by_text("Page not found").count()
        finally:
            browser.close()


def test_a_forged_or_expired_cookie_is_refused(
    served_app: str, program_run: Settings, chromium_launch: dict
) -> None:
    from playwright.sync_api import sync_playwright

    from forgeline.auth import authenticate, issue_session

    user = authenticate(program_run, CLIENT, demo_password(CLIENT))
    assert user is not None
    expired = issue_session(program_run, user, now=time.time() - SESSION_IDLE_S - 60)
    genuine = issue_session(program_run, user)
    forged = genuine.rsplit(".", 1)[0] + ".AAAAAAAAAAAAAAAAAAAAAAAAAAA"  # the same claims, not signed by us
    host = served_app.split("//", 1)[1].split(":")[0]
    with sync_playwright() as pw:
        browser = pw.chromium.launch(**chromium_launch)
        try:
            for value in (forged, expired, genuine):
                context = browser.new_context()
                context.add_cookies([{"name": SESSION_COOKIE, "value": value, "domain": host, "path": "/"}])
                page = context.new_page()
                page.set_default_timeout(PAGE_TIMEOUT_MS)
                page.goto(served_app + "/kpis")
                if value is genuine:  # the control: the same way in with a real cookie works
                    page.get_by_role("heading", name="Client KPIs").wait_for()
                else:
                    _login_form(page)
        finally:
            browser.close()


def _run_finished(page: Any) -> None:
    """Wait until Streamlit's run of the page is over (its status widget says "Running" meanwhile)."""
    page.wait_for_timeout(300)
    page.locator("[data-testid='stStatusWidget']").wait_for(state="detached")


def _metrics(url: str, token: str | None) -> tuple[int, str]:
    headers = {"Cookie": f"{SESSION_COOKIE}={token}"} if token else {}
    try:
        with urllib.request.urlopen(
            urllib.request.Request(f"{url}/_stcore/metrics", headers=headers)
        ) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, ""


def _send_clear_cache(url: str, token: str | None) -> None:
    """What any page could send on Streamlit's websocket: the message that clears every user's cache."""
    from streamlit.proto.BackMsg_pb2 import BackMsg
    from websockets.sync.client import connect

    headers = {"Origin": url, **({"Cookie": f"{SESSION_COOKIE}={token}"} if token else {})}
    with connect(url.replace("http", "ws", 1) + "/_stcore/stream", additional_headers=headers) as ws:
        ws.send(BackMsg(clear_cache=True).SerializeToString())
        time.sleep(0.5)


def _cache_entries(url: str, consultant: str) -> int:
    """The cached entries Streamlit's metrics count (their figure is refreshed every 5 s at most)."""
    status, text = _metrics(url, consultant)
    assert status == 200
    return sum(1 for line in text.splitlines() if line.startswith("cache_memory_bytes{"))


def test_metrics_and_cache_clearing_are_for_consultants_only(
    served_app: str, program_run: Settings, server_log: Path, chromium_launch: dict
) -> None:
    from playwright.sync_api import sync_playwright

    from forgeline.auth import authenticate, issue_session

    consultant = authenticate(program_run, "consultant", demo_password("consultant"))
    client = authenticate(program_run, CLIENT, demo_password(CLIENT))
    assert consultant is not None and client is not None
    as_consultant, as_client = issue_session(program_run, consultant), issue_session(program_run, client)

    assert _metrics(served_app, None)[0] == 403
    assert _metrics(served_app, as_client)[0] == 403
    assert _metrics(served_app, "forged")[0] == 403
    with sync_playwright() as pw:  # a page drawn fills Streamlit's caches
        browser = pw.chromium.launch(**chromium_launch)
        try:
            page = log_in(browser, served_app, "consultant")
            page.get_by_role("heading", name="Program overview").wait_for()
            _run_finished(page)  # else the run, still filling caches, could outlast the clear below
        finally:
            browser.close()

    refused = "Refused clear_cache from a connection without a consultant's session."
    before = server_log.read_text().count(refused)
    _send_clear_cache(served_app, None)
    _send_clear_cache(served_app, as_client)
    deadline = time.monotonic() + 10
    while server_log.read_text().count(refused) < before + 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert server_log.read_text().count(refused) == before + 2
    assert _cache_entries(served_app, as_consultant) > 0  # the figure's first count: nothing was cleared

    _send_clear_cache(served_app, as_consultant)  # a consultant may
    deadline = time.monotonic() + 15  # the metrics keep their figure for 5 s
    while _cache_entries(served_app, as_consultant) and time.monotonic() < deadline:
        time.sleep(1)
    assert _cache_entries(served_app, as_consultant) == 0


def test_failed_logins_from_one_address_are_throttled(
    served_app: str, program_run: Settings, chromium_launch: dict
) -> None:
    """The address the throttle counts is the browser's, as a TLS proxy on this machine forwards it."""
    from playwright.sync_api import sync_playwright

    from forgeline.auth import MAX_FAILURES_PER_ADDRESS
    from forgeline.auth import log_in as attempt

    address = "203.0.113.7"  # a documentation address: no other test's
    for i in range(MAX_FAILURES_PER_ADDRESS):  # earlier guesses of many names from that address
        assert attempt(program_run, f"guess-{i}", "wrong-password", address) is None
    with sync_playwright() as pw:
        browser = pw.chromium.launch(**chromium_launch)
        try:
            proxied = browser.new_context(viewport=VIEWPORT, extra_http_headers={"X-Forwarded-For": address})
            page = log_in(proxied, served_app, CLIENT)
            page.get_by_text("Too many failed logins.").wait_for()
            _login_form(page)
            page = log_in(browser, served_app, CLIENT)  # another address gets in
            page.get_by_role("heading", name="Home").wait_for()
        finally:
            browser.close()


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


# -- every page, as a consultant and as a client ----------------------------------------------------------
# A page is drawn when its script run has finished, its heading is not the last page's, and every Plotly
# chart has drawn its SVG.
_DRAWN = """(previous) => {
  const app = document.querySelector('[data-testid="stApp"]');
  if (!app || app.getAttribute('data-test-script-state') !== 'notRunning') return false;
  const heading = document.querySelector('[data-testid="stMain"] h1');
  if (!heading || heading.textContent === previous) return false;
  for (const chart of document.querySelectorAll('[data-testid="stPlotlyChart"]')) {
    if (!chart.querySelector('.main-svg')) return false;
  }
  return !document.querySelector('[data-testid="stSkeleton"]');
}"""
# Tofu: a character no font holds is drawn as the same empty box as any other such character. A Korean
# syllable drawn exactly like a private-use character has no font.
_TOFU = """(text) => {
  const font = getComputedStyle(document.querySelector('h1') || document.body).fontFamily;
  const draw = (s) => {
    const canvas = document.createElement('canvas');
    canvas.width = 64; canvas.height = 64;
    const ctx = canvas.getContext('2d');
    ctx.font = `40px ${font}`;
    ctx.fillText(s, 4, 48);
    return Array.from(ctx.getImageData(0, 0, 64, 64).data).join(',');
  };
  return [...text].filter((ch) => /[\\uac00-\\ud7a3]/.test(ch) && draw(ch) === draw('\\ue000'));
}"""


def _walk_every_page(page: Any, home: Path, forbidden: list[str]) -> list[str]:
    """Open each page of the sidebar; each one drawn with no exception, no server path, nothing forbidden."""
    page.locator('[data-testid="stSidebarNav"] a').first.wait_for()
    page.wait_for_function(_DRAWN, arg="")
    links = page.locator('[data-testid="stSidebarNav"] a')
    # Each link's text is its icon's name, then its title; its address names the page.
    pages = {
        links.nth(i).inner_text().strip().splitlines()[-1]: links.nth(i).get_attribute("href")
        for i in range(links.count())
    }
    for title, href in pages.items():
        link = page.locator(f'[data-testid="stSidebarNav"] a[href="{href}"]')
        here = page.url.split("?")[0].rstrip("/")
        if urllib.parse.urljoin(page.url, href).rstrip("/") != here:  # not the page already open
            previous = page.locator('[data-testid="stMain"] h1').first.inner_text()
            link.click()
            page.wait_for_function(_DRAWN, arg=previous)
        text = page.locator('[data-testid="stMain"]').inner_text()
        assert not page.locator("[data-testid='stException']").count(), title
        assert str(home) not in text and "/tmp/" not in text, f"a server path on {title}"
        for other in forbidden:
            assert other not in text, f"{other!r} on {title}"
    return list(pages)


# What the walk looks for, in each language (apps/forgeline_app.py's titles, the Reports page's button, the
# PDF's title: forgeline/locale/ko).
WALK_WORDS = {
    "en": {
        "consultant pages": {"Workbench", "Stack tools", "Cohort dashboard", "Reports"},
        "client-free pages": {"Workbench", "Stack tools"},
        "reports": "Reports",
        "make": "Make the report",
        "username": "Username",
        "password": "Password",
        "log in": "Log in",
        "pdf title": "Smart-factory report",
    },
    "ko": {
        "consultant pages": {"작업대", "스택 도구", "참여 기업 현황판", "보고서"},
        "client-free pages": {"작업대", "스택 도구"},
        "reports": "보고서",
        "make": "보고서 만들기",
        "username": "아이디",
        "password": "비밀번호",
        "log in": "로그인",
        "pdf title": "스마트공장 보고서",
    },
}


def record_problems(page: Any, url: str, problems: list[str]) -> None:
    """Collect every request of ``page`` that failed, was refused (4xx, 5xx) or left this server: the app
    must draw everything from its own server (an air-gapped factory's browser reaches nothing else), and a
    refused font or script only shows as a page drawn wrongly."""
    own = urllib.parse.urlsplit(url).netloc

    def leaves(request: Any) -> None:
        elsewhere = urllib.parse.urlsplit(request.url).netloc != own
        if elsewhere and not request.url.startswith(("data:", "blob:")):
            problems.append(f"left the server: {request.url}")

    def refused(response: Any) -> None:
        if response.status >= 400:
            problems.append(f"{response.status}: {response.url}")

    def failed(request: Any) -> None:
        if request.failure != "net::ERR_ABORTED":  # a download: the browser takes it over from the page
            problems.append(f"failed ({request.failure}): {request.url}")

    page.on("request", leaves)
    page.on("response", refused)
    page.on("requestfailed", failed)


def log_in_speaking(
    browser: Any, url: str, username: str, lang: str, problems: list[str] | None = None
) -> Any:
    """:func:`log_in` after picking ``lang`` with the login page's switch (the login keeps it); the page's
    failed, refused or outside requests go to ``problems`` if given."""
    words = WALK_WORDS[lang]
    page = browser.new_page(viewport=VIEWPORT)
    page.set_default_timeout(PAGE_TIMEOUT_MS)
    if problems is not None:
        record_problems(page, url, problems)
    page.goto(url)
    page.get_by_text({"ko": "한국어", "en": "English"}[lang], exact=True).click()
    page.get_by_role("textbox", name=words["username"]).fill(username)
    page.get_by_role("textbox", name=words["password"]).fill(demo_password(username))
    page.get_by_role("button", name=words["log in"]).click()
    return page


@pytest.mark.parametrize("lang", ["en", "ko"])
def test_every_page_as_a_consultant_and_as_a_client_with_korean_drawn_and_reports_downloaded(
    served_app: str, program_run: Settings, tmp_path: Path, chromium_launch: dict, lang: str
) -> None:
    import openpyxl
    from playwright.sync_api import sync_playwright
    from pypdf import PdfReader

    from forgeline.auth import set_language

    words = WALK_WORDS[lang]
    clients = {c.id: c for c in list_clients(program_run)}
    me = clients[CLIENT]
    others = [c.name.split(" (")[0] for c in clients.values() if c.id != me.id]
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(**chromium_launch)
            try:
                problems: list[str] = []
                consultant = log_in_speaking(browser, served_app, "consultant", lang, problems)
                walked = _walk_every_page(consultant, program_run.home, forbidden=[])
                assert words["consultant pages"] <= set(walked)

                page = log_in_speaking(browser, served_app, me.id, lang, problems)
                walked = _walk_every_page(page, program_run.home, forbidden=others)
                assert not words["client-free pages"] & set(walked)

                # Its report, both files, from the Reports page (which names the client in Korean).
                previous = page.locator('[data-testid="stMain"] h1').first.inner_text()
                page.locator('[data-testid="stSidebarNav"] a', has_text=words["reports"]).first.click()
                page.wait_for_function(_DRAWN, arg=previous)
                assert me.name.split(" (")[0] in page.locator('[data-testid="stMain"]').inner_text()
                assert page.evaluate(_TOFU, me.name) == [], "Korean drawn as empty boxes"
                heading = page.locator('[data-testid="stMain"] h1').first.inner_text()
                assert heading == words["reports"] and page.evaluate(_TOFU, heading) == []
                page.get_by_role("button", name=words["make"]).click()
                files = {}
                for suffix in ("pdf", "xlsx"):
                    with page.expect_download() as download:  # the buttons come once the report is made
                        page.get_by_role("button", name=re.compile(rf"\.{suffix}$")).first.click()
                    files[suffix] = tmp_path / download.value.suggested_filename
                    download.value.save_as(files[suffix])
                assert problems == [], problems  # every font, script and file came from the app's server
            finally:
                browser.close()
    finally:  # the demo logins speak the default again for the module's other tests
        for username in ("consultant", me.id):
            set_language(program_run, username, "en")
    text = "".join(p.extract_text() for p in PdfReader(files["pdf"]).pages)
    assert me.name.split(" (")[0] in text and not any(other in text for other in others)
    assert words["pdf title"] in text  # the report is made in the page's language by default
    workbook = openpyxl.load_workbook(files["xlsx"], read_only=True)
    assert len(workbook.sheetnames) >= 2

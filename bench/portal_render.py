"""Benchmark: how fast the served app draws in a real browser, against a plain Streamlit page in the same run.

Headless Chromium (Debian's, driven by playwright; never a downloaded browser) times, each ``--times``
times in a fresh browser context (a first visit: nothing in the browser's cache):

- **baseline**: a plain Streamlit page with one Plotly chart, from opening its URL to the chart drawn;
- **client landing**: a client's login, from the click on "Log in" to its first page fully drawn;
- **navigation**: from a click on another page in the sidebar to that page fully drawn;
- **program manager landing**: the program manager's login to the cohort dashboard drawn.

"Fully drawn": the app's script run has finished (Streamlit's ``data-test-script-state`` is
``notRunning`` after the click) and every Plotly chart on the page has drawn its SVG.
Programs: the demo (made with ``forgeline demo --no-serve`` in ``--workdir`` unless it is there), and,
with ``--scale-up 10``, a program 10× larger (the demo's clients copied under new ids, published
snapshots included: the cohort and the client lists hold 10× the clients). Goal: the client landing
page drawn in ≤ 1.5 s on this machine.

    .venv/bin/python bench/portal_render.py                   # the full demo, then 10× larger
    .venv/bin/python bench/portal_render.py --scale small --times 3
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

from conftest import CHROMIUM, CHROMIUM_ARGS  # noqa: E402 (how the tests start Debian's Chromium)

from forgeline.auth import DEMO_PROGRAM_MANAGER, demo_password, ensure_demo_logins  # noqa: E402
from forgeline.cli import streamlit_command  # noqa: E402
from forgeline.clients import list_clients  # noqa: E402
from forgeline.publish import current_snapshot  # noqa: E402
from forgeline.settings import get_settings  # noqa: E402

VIEWPORT = {"width": 1400, "height": 900}
PLAIN_PAGE = """
import numpy as np
import plotly.express as px
import streamlit as st

st.title("A plain page")
days = np.arange(365)
st.plotly_chart(px.line(x=days, y=np.sin(days / 20) + 2, labels={"x": "day", "y": "OEE"}))
"""
# The page is drawn: the run after the click has finished and every Plotly chart has its SVG.
DRAWN = """(previous) => {
  const app = document.querySelector('[data-testid="stApp"]');
  if (!app || app.getAttribute('data-test-script-state') !== 'notRunning') return false;
  if (document.querySelector('[data-testid="stSkeleton"]')) return false;
  const heading = document.querySelector('h1');
  if (!heading || heading.textContent === previous) return false;
  for (const chart of document.querySelectorAll('[data-testid="stPlotlyChart"]')) {
    if (!chart.querySelector('.main-svg')) return false;
  }
  return true;
}"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def served(command: list[str], env: dict[str, str], port: int):
    """A Streamlit server until the block ends (ready when its health check answers)."""
    log = tempfile.TemporaryFile()  # noqa: SIM115 (read at a failed start, closed at the end)
    process = subprocess.Popen(command, env=env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    raise RuntimeError(f"the server did not start: {log.read()[-2000:]!r}") from None
                time.sleep(0.3)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


def make_demo(home: Path, scale: str) -> None:
    if current_snapshot(get_settings(home), "hanbit-press") is not None:
        return
    print(f"Making the {scale} demo program in {home} (a few minutes)…", flush=True)
    env = {**os.environ, "FORGELINE_HOME": str(home), "PREFECT_HOME": str(home / "prefect")}
    subprocess.run(
        [sys.executable, "-m", "forgeline.cli", "demo", "--scale", scale, "--no-serve"], env=env, check=True
    )


def scale_up(source: Path, target: Path, times: int) -> None:
    """A program ``times`` larger: every client copied ``times - 1`` times under a new id (files linked)."""
    if target.exists():
        return
    shutil.copytree(source, target, symlinks=True, ignore=shutil.ignore_patterns("prefect", "mlflow"))
    settings = get_settings(target)
    originals = list_clients(settings)
    for copy in range(2, times + 1):
        for config in originals:
            new_id = f"{config.id}-x{copy}"
            client_dir = settings.client_dir(new_id)
            client_dir.mkdir(parents=True)
            mapping = settings.client_config_path(config.id).read_text(encoding="utf-8")
            settings.client_config_path(new_id).write_text(
                mapping.replace(f"id: {config.id}", f"id: {new_id}", 1).replace(
                    f"name: {config.name}", f"name: {config.name} ×{copy}", 1
                ),
                encoding="utf-8",
            )
            published = settings.published_dir(config.id)
            if published.exists():
                shutil.copytree(published, settings.published_dir(new_id), copy_function=os.link)
    ensure_demo_logins(settings, list_clients(settings))


def _drawn(page, previous: str) -> None:
    page.wait_for_function(DRAWN, arg=previous, timeout=120_000, polling="raf")


def measure(browser, app_url: str, plain_url: str, client: str, times: int) -> dict[str, list[float]]:
    names = ("baseline", "client landing", "navigation", "PM landing")
    timings: dict[str, list[float]] = {name: [] for name in names}
    for _ in range(times):
        context = browser.new_context(viewport=VIEWPORT)
        page = context.new_page()
        started = time.perf_counter()
        page.goto(plain_url)
        _drawn(page, "")
        timings["baseline"].append(time.perf_counter() - started)
        context.close()

        for who, key in ((client, "client landing"), (DEMO_PROGRAM_MANAGER, "PM landing")):
            context = browser.new_context(viewport=VIEWPORT)
            page = context.new_page()
            page.goto(app_url)
            page.get_by_role("textbox", name="Username").fill(who)
            page.get_by_role("textbox", name="Password").fill(demo_password(who))
            _drawn(page, "")
            started = time.perf_counter()
            page.get_by_role("button", name="Log in").click()
            _drawn(page, "Forgeline")
            timings[key].append(time.perf_counter() - started)
            if key == "client landing":
                heading = page.locator("h1").first.text_content() or ""
                links = page.locator('[data-testid="stSidebarNav"] a')
                target = next(
                    links.nth(i)
                    for i in range(links.count())
                    if "KPI" in (links.nth(i).text_content() or "")
                    and links.nth(i).get_attribute("aria-current") != "page"
                )
                started = time.perf_counter()
                target.click()
                _drawn(page, heading)
                timings["navigation"].append(time.perf_counter() - started)
            context.close()
    return timings


def run(home: Path, times: int, label: str) -> list[str]:
    from playwright.sync_api import sync_playwright

    settings = get_settings(home)
    client = next(c.id for c in list_clients(settings) if current_snapshot(settings, c.id) is not None)
    env = {**os.environ, "FORGELINE_HOME": str(home), "PREFECT_HOME": str(home / "prefect")}
    with tempfile.TemporaryDirectory(prefix="plain-page-") as tmp:
        plain = Path(tmp) / "plain.py"
        plain.write_text(PLAIN_PAGE, encoding="utf-8")
        app_port, plain_port = _free_port(), _free_port()
        plain_command = [*streamlit_command(plain_port)[:4], str(plain), *streamlit_command(plain_port)[5:]]
        with (
            served(streamlit_command(app_port), env, app_port) as app_url,
            served(plain_command, env, plain_port) as plain_url,
            sync_playwright() as pw,
        ):
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            measure(browser, app_url, plain_url, client, 1)  # warm the servers' caches and imports
            timings = measure(browser, app_url, plain_url, client, times)
            browser.close()
    base = statistics.median(timings["baseline"])
    lines = [f"{label}: {len(list_clients(settings))} clients, client {client}, {times} times each"]
    for name, values in timings.items():
        median = statistics.median(values)
        lines.append(
            f"  {name:<16} median {median:5.2f} s  (min {min(values):.2f}, max {max(values):.2f})"
            f"  {median / base:5.2f}× the plain page"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    workdir = Path(tempfile.gettempdir()) / "forgeline-portal-bench"
    parser.add_argument("--workdir", type=Path, default=workdir)
    parser.add_argument("--scale", choices=("full", "small"), default="full")
    parser.add_argument("--scale-up", type=int, default=10, help="also a program this many times larger")
    parser.add_argument("--times", type=int, default=5)
    args = parser.parse_args()
    home = args.workdir / f"demo-{args.scale}"
    make_demo(home, args.scale)
    report = run(home, args.times, f"demo ({args.scale})")
    if args.scale_up > 1:
        bigger = args.workdir / f"demo-{args.scale}-x{args.scale_up}"
        scale_up(home, bigger, args.scale_up)
        report += run(bigger, args.times, f"{args.scale_up}× the demo")
    print("\n".join(report))


if __name__ == "__main__":
    main()

"""Shared fixtures. Tiers: plain tests are fast; markers (dbt, gate, e2e, app, browser) run real stacks."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from forgeline.settings import Settings, apply_tool_environment, get_settings

apply_tool_environment()


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """A fresh, empty workspace for one test; FORGELINE_HOME points at it."""
    home = tmp_path / "home"
    monkeypatch.setenv("FORGELINE_HOME", str(home))
    yield get_settings(home)


def _onboard(settings: Settings, client_id: str, mapping: str, files: dict[str, bytes]) -> Settings:
    """A client onboarded as a data engineer would: its mapping file and its delivered files, then ingest,
    the mapping's views and dbt (what the engagement flow runs before the gate)."""
    from forgeline.clients import get_client, save_mapping_text
    from forgeline.ingest import ingest_client
    from forgeline.standardize import apply_mapping, run_dbt

    save_mapping_text(settings, client_id, mapping)
    landing = settings.landing_dir(client_id)
    landing.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        (landing / name).write_bytes(content)
    config = get_client(settings, client_id)
    report = ingest_client(settings, config)
    assert {f.status for f in report.files} == {"loaded"}
    assert apply_mapping(settings, config) == []
    run_dbt(settings, config, "build")
    return settings


@pytest.fixture(scope="session")
def onboard():  # noqa: ANN201 - returns _onboard
    """Onboard a client by its mapping file only: ``onboard(settings, client_id, mapping_text, files)``."""
    return _onboard


@pytest.fixture(scope="session")
def small_program(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The demo program at small scale (mapping files, landing files); the dbt and gate tiers build in it."""
    from forgeline.demo import prepare_demo_program

    settings = get_settings(tmp_path_factory.mktemp("small_program"))
    prepare_demo_program(settings, scale="small")
    return settings


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    """One temporary Prefect API for the whole session (starting one costs about 25 s)."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture(scope="session")
def program_run(tmp_path_factory: pytest.TempPathFactory, prefect_harness: None) -> Settings:
    """The small demo program after one complete run of the program flow (real Prefect, dbt, GX, MLflow)."""
    from flows.program import program_flow
    from forgeline.auth import ensure_demo_logins
    from forgeline.demo import prepare_demo_program

    home = tmp_path_factory.mktemp("program_run")
    os.environ["FORGELINE_HOME"] = str(home)
    settings = get_settings(home)
    clients = prepare_demo_program(settings, scale="small")
    ensure_demo_logins(settings, clients)
    outcomes = program_flow(home=str(home))
    _PROGRAM_OUTCOMES[str(home)] = outcomes
    return settings


_PROGRAM_OUTCOMES: dict[str, list] = {}


@pytest.fixture(scope="session")
def program_outcomes(program_run: Settings) -> list:
    """The EngagementOutcome of every client from the program_run fixture's run."""
    return _PROGRAM_OUTCOMES[str(program_run.home)]


# -- the served app, for the browser tier ------------------------------------------------------------
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
SERVER_START_S = 30


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def serve_app(home: Path, log: Path) -> Iterator[str]:
    """`streamlit run` as `forgeline app` serves it, on ``home``; yields its URL, then stops it."""
    from forgeline.cli import streamlit_command
    from forgeline.settings import REPO_ROOT

    if not Path(CHROMIUM).exists():
        pytest.skip("Chromium is not installed (apt-get install chromium); the browser tests need it.")
    port = _free_port()
    env = {**os.environ, "FORGELINE_HOME": str(home)}
    with log.open("wb") as out:
        server = subprocess.Popen(
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


@pytest.fixture(scope="session")
def app_server():  # noqa: ANN201 - returns the serve_app context manager
    """`with app_server(home, log) as url:` serves the app on a workspace for a browser test."""
    return serve_app


@pytest.fixture(scope="session")
def chromium_launch() -> dict:
    """How playwright starts Debian's Chromium (never a downloaded browser: the machines are offline)."""
    return {"executable_path": CHROMIUM, "args": CHROMIUM_ARGS}

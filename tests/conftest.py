"""Shared fixtures. Tiers: plain tests are fast; markers (dbt, gate, e2e, app, browser) run real stacks."""

from __future__ import annotations

import os
from collections.abc import Iterator
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


@pytest.fixture(scope="session")
def small_program(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The demo program at small scale (client.yml, landing files); the dbt and gate tiers build in it."""
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

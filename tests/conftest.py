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
    """A workspace holding the demo program at small scale: client.yml files and landing files, not run."""
    from forgeline.demo import prepare_demo_program

    settings = get_settings(tmp_path_factory.mktemp("small_program"))
    prepare_demo_program(settings, scale="small")
    return settings


@pytest.fixture(scope="session")
def program_run(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The small demo program after one complete run of the program flow (real Prefect, dbt, GX, MLflow)."""
    from forgeline.demo import prepare_demo_program
    from flows.program import program_flow

    home = tmp_path_factory.mktemp("program_run")
    os.environ["FORGELINE_HOME"] = str(home)
    settings = get_settings(home)
    prepare_demo_program(settings, scale="small")
    program_flow(home=str(home))
    return settings

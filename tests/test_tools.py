"""forgeline serve-tools: the MLflow UI, dbt docs and Data Docs of a real program run, served locally."""

from __future__ import annotations

import json
import socket
import time
import urllib.request

import pytest

from forgeline import tools
from forgeline.clients import get_client
from forgeline.quality import offline_docs
from forgeline.settings import Settings
from forgeline.standardize import generate_docs

pytestmark = pytest.mark.e2e


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read().decode("utf-8")


def test_serve_tools_serves_the_mlflow_ui_dbt_docs_and_data_docs(
    program_run: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FORGELINE_MLFLOW_UI_PORT", str(_free_port()))
    monkeypatch.setenv("FORGELINE_DOCS_PORT", str(_free_port()))
    client = get_client(program_run, "hanbit-press")
    generate_docs(program_run, client)
    program_run.tools_dir.mkdir(parents=True, exist_ok=True)
    where = tools.urls(program_run)
    with tools.Tools(program_run, generate_dbt_docs=False, progress=lambda _: None) as running:
        index = _get(where.docs + "/")
        assert client.name in index and f"dbt/{client.id}/index.html" in index
        assert "dbt docs" in _get(where.dbt_docs(client.id)).lower() or "<html" in _get(
            where.dbt_docs(client.id)
        )
        manifest = json.loads(_get(f"{where.docs}/dbt/{client.id}/manifest.json"))
        assert "model.forgeline.fct_cycles" in manifest["nodes"]
        data_docs = _get(where.data_docs(client.id))
        assert offline_docs.external_assets(data_docs) == []  # offline, as the gate left it
        deadline = time.monotonic() + 90
        while not tools.answers(where.mlflow + "/health") and time.monotonic() < deadline:
            assert running.mlflow is not None and running.mlflow.poll() is None, "the MLflow UI exited"
            time.sleep(1)
        models = json.loads(
            _get(f"{where.mlflow}/ajax-api/2.0/mlflow/registered-models/search?max_results=100")
        )
        assert any(client.id in m["name"] for m in models.get("registered_models", []))
    assert running.mlflow is not None and running.mlflow.poll() is not None  # stopped with the tools
    assert not tools.answers(where.docs + "/", timeout_s=0.5)

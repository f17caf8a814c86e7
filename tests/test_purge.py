"""`forgeline purge CLIENT`: after a purge nothing in the workspace holds the client's id or its data.

The end-to-end tests run a small program of their own (two demo clients, through `forgeline run` in a
process of its own, so Prefect's state lives in the workspace as it does for a consultant), purge one
client, then read every file of the workspace, binary ones too (DuckDB, SQLite of MLflow and Prefect,
MLflow artifacts, logs), for the client's id and some distinctive values of its data. The fast tests
cover the prompt, a held lock and a second purge on a workspace of files only.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from forgeline import tools
from forgeline.cli import EXIT_BUSY, app
from forgeline.settings import REPO_ROOT, Settings, get_settings

PURGED = "hanbit-press"  # sensor data, maintenance log, two models, a login
KEPT = "daehan-molding"  # its snapshot, models, login and Prefect runs must survive the purge

runner = CliRunner()


def _environment(settings: Settings) -> dict[str, str]:
    """A `forgeline` process on this workspace with its own ephemeral Prefect (never the test harness's)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PREFECT_API", "PREFECT_SERVER_DATABASE", "PREFECT_HOME", "PREFECT_PROFILE"))
    }
    env.update({"FORGELINE_HOME": str(settings.home), "PREFECT_HOME": str(settings.prefect_home)})
    return env


def _forgeline(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "forgeline.cli", *args],
        cwd=REPO_ROOT,
        env=_environment(settings),
        capture_output=True,
        text=True,
        timeout=1200,
    )


PREFECT_SCRIPT = """
import asyncio, json, sys
from prefect.client.orchestration import get_client

async def main(create_slot):
    async with get_client() as client:
        if create_slot:  # what a worker's run leaves in the distributed set-up
            await client.upsert_global_concurrency_limit_by_name(create_slot, limit=1)
        flows = await client.read_flow_runs(limit=200)
        tasks = await client.read_task_runs(limit=200)
        logs, offset = [], 0
        while batch := await client.read_logs(limit=200, offset=offset):
            logs += [log.message for log in batch]
            offset += len(batch)
        limits = await client.read_global_concurrency_limits(limit=200)
        page = await client.read_events(limit=50)
        events = list(page.events)
        while page.next_page:
            page = await client.read_events_page(str(page.next_page))
            events += page.events
        print("RESULT " + json.dumps({
            "flow_runs": [f.name for f in flows],
            "flow_parameters": [f.parameters for f in flows],
            "task_runs": [t.name for t in tasks],
            "logs": logs,
            "limits": [c.name for c in limits],
            "events": [e.model_dump(mode="json") for e in events],
        }, default=str))

asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else None))
"""


def _prefect_view(settings: Settings, create_slot: str | None = None) -> dict[str, Any]:
    """What Prefect's API shows of the workspace (its ephemeral API, in a process of its own)."""
    done = subprocess.run(
        [sys.executable, "-c", PREFECT_SCRIPT, *([create_slot] if create_slot else [])],
        cwd=REPO_ROOT,
        env=_environment(settings),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    line = next(x for x in reversed(done.stdout.splitlines()) if x.startswith("RESULT "))
    return json.loads(line.removeprefix("RESULT "))


def _needles(settings: Settings, client_id: str) -> dict[str, bytes]:
    """The client's id and distinctive values of its data (its name, site, products, machine names)."""
    mapping = yaml.safe_load(settings.client_config_path(client_id).read_text(encoding="utf-8"))
    masters = mapping["masters"]
    values = {
        "id": client_id,
        "name": mapping["name"],
        "name (Korean)": mapping["name"].split(" (")[0],
        **{f"site {s['site_id']}": s["site_id"] for s in masters["sites"]},
        **{f"site name {s['site_name']}": s["site_name"] for s in masters["sites"]},
        **{f"product {p['product_id']}": p["product_id"] for p in masters["products"]},
        **{f"machine {m['machine_id']}": m["machine_name"] for m in masters["equipment"]},
    }
    return {what: value.encode("utf-8") for what, value in values.items()}


def _find(settings: Settings, needles: dict[str, bytes]) -> dict[str, list[str]]:
    """Every file (name or bytes) under the workspace holding each needle."""
    found: dict[str, list[str]] = {what: [] for what in needles}
    for root, dirs, names in os.walk(settings.home):
        for name in [*dirs, *names]:
            path = Path(root) / name
            data = path.read_bytes() if path.is_file() and not path.is_symlink() else b""
            for what, needle in needles.items():
                if needle in name.encode("utf-8") or needle in data:
                    found[what].append(str(path.relative_to(settings.home)))
    return {what: paths for what, paths in found.items() if paths}


def _write_findings(settings: Settings, client_id: str) -> None:
    """A finding on the client, delivered, then a second version (a draft) naming one of its machines."""
    from forgeline.program import findings

    mapping = yaml.safe_load(settings.client_config_path(client_id).read_text(encoding="utf-8"))
    machine = mapping["masters"]["equipment"][0]["machine_name"]
    choices = findings.evidence_choices(settings, client_id)
    kpi, (first, last, _) = next(iter(choices.kpis.items()))
    evidence = [
        {"kind": "kpi_chart", "kpi": kpi, "start": str(first), "end": str(last)},
        {"kind": "level_gap", "rule_id": choices.gaps[0][0]},
    ]
    found = findings.write(
        settings,
        client_id,
        kind="finding",
        title="Planned time lost",
        body="See the chart.",
        evidence=evidence,
        by="kim",
    )
    findings.review(settings, client_id, found.finding_id, version=1, by="lee")
    findings.deliver(settings, client_id, found.finding_id, version=1, by="lee")
    findings.revise(
        settings,
        client_id,
        found.finding_id,
        based_on=1,
        kind="recommendation",
        title=f"{machine}: plan its mould changes",
        body=f"{machine} loses most of its planned time after a change.",
        evidence=evidence,
        by="kim",
    )


@pytest.fixture(scope="module")
def purged(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Two demo clients run by `forgeline run`, then PURGED purged by `forgeline purge --yes`."""
    from flows.engagement import slot_name
    from forgeline.auth import ensure_demo_logins
    from forgeline.demo import prepare_demo_program

    settings = get_settings(tmp_path_factory.mktemp("purge") / "home")
    clients = [c for c in prepare_demo_program(settings, scale="small") if c.id in (PURGED, KEPT)]
    ensure_demo_logins(settings, clients)
    run = _forgeline(settings, "run", PURGED, KEPT)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    for client_id in (PURGED, KEPT):
        _write_findings(settings, client_id)
    site = tools.build_site(settings, generate_dbt_docs=False, progress=lambda _: None)  # serve-tools' links
    assert (site / "data-docs" / PURGED).is_symlink()
    needles = _needles(settings, PURGED)
    before = _find(settings, needles)
    prefect_before = _prefect_view(settings, create_slot=slot_name(PURGED))
    purge = _forgeline(settings, "purge", PURGED, "--yes", "--by", "auditor")
    return {
        "settings": settings,
        "needles": needles,
        "before": before,
        "prefect_before": prefect_before,
        "purge": purge,
    }


@pytest.mark.e2e
def test_the_purge_succeeds_and_says_what_it_removed(purged: dict[str, Any]) -> None:
    purge = purged["purge"]
    assert purge.returncode == 0, purge.stdout[-3000:] + purge.stderr[-3000:]
    out = purge.stdout
    assert "A purge of hanbit-press removes, for good:" in out
    assert "warehouse tables and views" in out and "MLflow registered models: 2 models" in out
    assert "Prefect: deleting" in out and "Searching the whole workspace" in out
    assert "is purged" in out and "Still found" not in out and "Traceback" not in out + purge.stderr


@pytest.mark.e2e
def test_no_file_in_the_workspace_holds_the_client_id_or_its_data(purged: dict[str, Any]) -> None:
    settings, needles = purged["settings"], purged["needles"]
    # The search is meaningful: before the purge every needle was somewhere, in the warehouse, the
    # snapshots and MLflow's and Prefect's databases.
    assert set(purged["before"]) == set(needles), set(needles) - set(purged["before"])
    assert any(p.startswith("prefect/prefect.db") for p in purged["before"]["id"])
    assert "mlflow/mlflow.db" in purged["before"]["id"]
    assert any(p.endswith(".duckdb") for p in purged["before"]["name (Korean)"])
    # ...and in the program layer: its consent record, the pooled benchmarks' ledger and the findings.
    assert {
        "program/benchmarks.duckdb",
        f"program/consent/{PURGED}.yml",
        "program/workbench.duckdb",
        "tools/site/index.html",  # the tools' docs site lists it
    } <= set(purged["before"]["id"])
    # A finding's text names one of its machines.
    assert any("program/workbench.duckdb" in purged["before"][w] for w in needles if w.startswith("machine "))
    assert _find(settings, needles) == {}
    # The docs site was rebuilt without it: the other client's links stay.
    site = settings.tools_site_dir
    assert not (site / "data-docs" / PURGED).exists() and (site / "data-docs" / KEPT).is_symlink()


@pytest.mark.e2e
def test_mlflow_holds_nothing_of_the_client_and_keeps_the_other(purged: dict[str, Any]) -> None:
    from mlflow.entities import ViewType

    from forgeline.standard_models.store import tracking_client

    client = tracking_client(purged["settings"])
    experiments = client.search_experiments(view_type=ViewType.ALL)
    assert not [e.name for e in experiments if PURGED in e.name]
    runs = client.search_runs([e.experiment_id for e in experiments], run_view_type=ViewType.ALL)
    assert runs and not [r for r in runs if PURGED in json.dumps(r.to_dictionary(), default=str)]
    registered = [m.name for m in client.search_registered_models()]
    assert not [name for name in registered if PURGED in name]
    assert f"{KEPT}__defect_prediction" in registered
    assert client.search_model_versions(f"name = '{KEPT}__defect_prediction'")
    assert not client.search_model_versions(f"name = '{PURGED}__failure_prediction'")


@pytest.mark.e2e
def test_prefect_api_shows_nothing_of_the_client_and_keeps_the_other(purged: dict[str, Any]) -> None:
    before = purged["prefect_before"]
    assert f"engagement-{PURGED}" in before["flow_runs"]
    assert f"forgeline-client-{PURGED}" in before["limits"]
    assert any(PURGED in json.dumps(e) for e in before["events"])
    after = _prefect_view(purged["settings"])
    assert PURGED not in json.dumps(after)
    assert f"engagement-{KEPT}" in after["flow_runs"] and f"ingest {KEPT}" in after["task_runs"]
    assert any(KEPT in message for message in after["logs"])
    # The program's run stays, the purged client's id blanked out of its parameters.
    assert {"clients": ["[purged client]", KEPT]}.items() <= next(
        p for p in after["flow_parameters"] if "clients" in p
    ).items()


@pytest.mark.e2e
def test_the_other_client_is_intact_and_the_app_still_reads_it(
    purged: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from apps import data
    from forgeline.auth import User, authenticate, demo_password
    from forgeline.publish import current_snapshot

    settings = purged["settings"]
    monkeypatch.setenv("FORGELINE_HOME", str(settings.home))
    assert current_snapshot(settings, KEPT) is not None
    assert current_snapshot(settings, PURGED) is None
    assert authenticate(settings, KEPT, demo_password(KEPT)) is not None
    assert authenticate(settings, PURGED, demo_password(PURGED)) is None
    consultant = User("consultant", "Consultant", "consultant")
    assert [c.id for c in data.clients(consultant)] == [KEPT]
    assert not data.model_results(consultant, KEPT).empty
    assert not data.oee_daily(consultant, KEPT).empty
    # The other client's findings stay, every version; the purged client's are gone.
    (kept,) = data.findings(consultant, KEPT)
    assert kept.version == 2 and data.findings(User(KEPT, KEPT, "client", KEPT), KEPT)[0].version == 1
    assert [e.action for e in data.finding_history(consultant, KEPT, kept.finding_id)] == [
        "written",
        "reviewed",
        "delivered",
        "written",
    ]
    records = [json.loads(p.read_text()) for p in settings.program_run_paths()]
    assert [[c["client_id"] for c in r["clients"]] for r in records] == [[KEPT]]
    assert settings.warehouse_path(KEPT).exists() and settings.landing_dir(KEPT).exists()


@pytest.mark.e2e
def test_the_certificate_verifies_against_the_id_and_holds_no_data(purged: dict[str, Any]) -> None:
    from forgeline.purge import verify_certificate

    settings = purged["settings"]
    (path,) = settings.purge_certificates_dir.glob("*.json")
    assert path.name in "".join(purged["purge"].stdout.split())  # named in the output (maybe wrapped)
    text = path.read_text(encoding="utf-8")
    assert all(needle.decode() not in text for needle in purged["needles"].values())
    assert verify_certificate(path, PURGED) and not verify_certificate(path, KEPT)
    certificate = json.loads(text)
    assert certificate["by"] == "auditor" and certificate["purged_at"].endswith("Z")
    removed = {item["kind"]: item["count"] for item in certificate["removed"]}
    for kind in (
        "landing files",
        "warehouse",
        "published snapshots",
        "quality results and Data Docs",
        "MLflow artifacts",
        "MLflow runs",
        "MLflow registered models",
        "Prefect flow runs",
        "Prefect task runs",
        "Prefect events",
        "Prefect concurrency limits",
        "logins",
        "program run records rewritten without it",
        "consent record",
        "consultants' findings",
        "findings' versions",
    ):
        assert removed[kind] > 0, kind
    assert certificate["remaining"] == []
    assert "pooled benchmarks" in certificate["program_stores_recomputed"]
    assert removed["consultants' findings"] == 1 and removed["findings' versions"] == 2


@pytest.mark.e2e
def test_purging_again_is_safe_and_writes_nothing(purged: dict[str, Any]) -> None:
    settings = purged["settings"]
    again = _forgeline(settings, "purge", PURGED, "--yes")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "Nothing is left of hanbit-press" in again.stdout
    assert len(list(settings.purge_certificates_dir.glob("*.json"))) == 1
    assert not settings.run_lock_path(PURGED).exists()


# -- fast: a workspace of files only (no MLflow store, no Prefect database) -----------------------
@pytest.fixture
def files_only(workspace: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """A client with a mapping, a delivered file and a login; nothing tracked or orchestrated yet."""
    from forgeline.auth import set_login

    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    monkeypatch.setenv("PREFECT_HOME", str(workspace.prefect_home))
    assert runner.invoke(app, ["add-client", "acme-press"]).exit_code == 0
    workspace.landing_dir("acme-press").mkdir(parents=True, exist_ok=True)
    (workspace.landing_dir("acme-press") / "shots.csv").write_text("machine,shots\nACME-P1,12\n")
    set_login(workspace, "kim", "a-long-password", "client", "Kim", "acme-press")
    set_login(workspace, "lee", "a-long-password", "consultant", "Lee")
    return workspace


def test_without_yes_it_shows_what_goes_and_asks_and_no_keeps_everything(files_only: Settings) -> None:
    result = runner.invoke(app, ["purge", "acme-press"], input="n\n")
    assert result.exit_code == 1, result.output
    assert "landing files: 1 files" in result.output and "logins: 1 logins" in result.output
    assert "Remove every trace of acme-press?" in result.output and "not purged" in result.output
    assert (files_only.landing_dir("acme-press") / "shots.csv").exists()
    assert files_only.client_config_path("acme-press").exists()
    assert not files_only.purge_certificates_dir.exists()


def test_a_yes_at_the_prompt_purges_and_keeps_consultants(files_only: Settings) -> None:
    from forgeline.auth import authenticate

    result = runner.invoke(app, ["purge", "acme-press"], input="y\n")
    assert result.exit_code == 0, result.output
    assert (
        not files_only.client_dir("acme-press").exists() and not files_only.landing_dir("acme-press").exists()
    )
    assert authenticate(files_only, "kim", "a-long-password") is None
    assert authenticate(files_only, "lee", "a-long-password") is not None
    assert _find(files_only, {"id": b"acme-press", "data": b"ACME-P1"}) == {}
    assert len(list(files_only.purge_certificates_dir.glob("*.json"))) == 1


def test_a_held_lock_refuses_the_purge_and_removes_nothing(files_only: Settings) -> None:
    from forgeline.locking import client_lock

    with client_lock(files_only, "acme-press"):
        result = runner.invoke(app, ["purge", "acme-press", "--yes"])
    assert result.exit_code == EXIT_BUSY, result.output
    assert "Another run is writing acme-press" in result.output and "Nothing was purged" in result.output
    assert (files_only.landing_dir("acme-press") / "shots.csv").exists()


def test_an_unknown_client_has_nothing_to_purge_and_leaves_no_trace(
    workspace: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    monkeypatch.setenv("PREFECT_HOME", str(workspace.prefect_home))
    result = runner.invoke(app, ["purge", "nobody-here", "--yes"])
    assert result.exit_code == 0, result.output
    assert "Nothing is left of nobody-here" in result.output
    assert _find(workspace, {"id": b"nobody-here"}) == {}


def test_an_invalid_id_is_refused_in_one_line(workspace: Settings) -> None:
    result = runner.invoke(app, ["purge", "../etc", "--yes"])
    assert result.exit_code == 1 and "is not valid" in result.output


def test_a_client_whose_id_another_holds_is_purged_without_touching_the_other(files_only: Settings) -> None:
    from forgeline.auth import authenticate, set_login

    assert runner.invoke(app, ["add-client", "acme"]).exit_code == 0
    set_login(files_only, "ann", "a-long-password", "client", "Ann", "acme")
    files_only.landing_dir("acme").mkdir(parents=True, exist_ok=True)
    (files_only.landing_dir("acme") / "a.csv").write_text("machine\nACME-A1\n")
    result = runner.invoke(app, ["purge", "acme", "--yes"])
    assert result.exit_code == 0, result.output
    assert "Still found" not in result.output  # acme-press's files hold "acme" but are not acme's
    assert (
        not files_only.client_dir("acme").exists()
        and authenticate(files_only, "ann", "a-long-password") is None
    )
    assert (files_only.landing_dir("acme-press") / "shots.csv").exists()
    assert authenticate(files_only, "kim", "a-long-password") is not None


@pytest.mark.parametrize("chunk", [3, 5, 7, 11, 1 << 20])
def test_trace_finds_the_id_but_never_inside_a_longer_id_in_any_window(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    import forgeline.purge as purge

    monkeypatch.setattr(purge, "_CHUNK", chunk)
    trace = purge.Trace("acme", ["acme-press", "big-acme", "other"])
    for text, holds in [
        ("engagement-acme-press and big-acme", False),
        ("engagement-acme", True),
        ("xx acme-press xx acme", True),
        ("acme-pres", True),  # not another client's id: a truncated one is this client's
        ("", False),
    ]:
        for pad in range(0, 9):
            path = tmp_path / "f"
            path.write_bytes(("." * pad + text + "." * pad).encode())
            assert trace.in_file(path) is holds, (text, pad)
            assert trace.in_text("." * pad + text) is holds
    assert trace.blank("acme, acme-press, big-acme") == "[purged client], acme-press, big-acme"
    assert purge.Trace("press", ["acme-press"]).in_text("acme-press") is False
    assert purge.Trace("press", ["acme-press"]).in_text("engagement-press") is True


def test_the_prefect_sweep_deletes_rows_naming_the_client_and_blanks_shared_ones(tmp_path: Path) -> None:
    import sqlite3

    from forgeline.purge import Trace, _sweep_database

    db = tmp_path / "prefect.db"
    con = sqlite3.connect(db)
    con.executescript(
        """
        CREATE TABLE flow_run (id CHAR(36) PRIMARY KEY, name VARCHAR, parameters JSON);
        CREATE TABLE log (id CHAR(36) PRIMARY KEY, flow_run_id CHAR(36), message TEXT);
        CREATE TABLE events (id CHAR(36) PRIMARY KEY, resource_id VARCHAR, payload JSON);
        CREATE TABLE event_resources (id CHAR(36) PRIMARY KEY, event_id CHAR(36), resource_id VARCHAR);
        INSERT INTO flow_run VALUES ('p', 'bold-fox', '{"clients": ["acme", "acme-press"]}');
        INSERT INTO log VALUES ('1', 'p', 'Progress: acme publishing'), ('2', 'p', 'acme-press done'),
            ('3', 'gone-run', 'Loaded shots.csv: 12 rows');
        INSERT INTO events VALUES ('e1', 'prefect.flow-run.x', '{"name": "engagement-acme"}'),
            ('e2', 'prefect.flow-run.y', '{"name": "engagement-acme-press"}'),
            ('e3', 'prefect.flow-run.gone-run', '{"state": "Completed"}');
        INSERT INTO event_resources VALUES ('r1', 'e1', 'prefect.flow-run.x'),
            ('r2', 'e2', 'prefect.flow-run.y'),
            ('r3', 'e3', 'prefect.flow-run.gone-run');
        """
    )
    con.commit()
    trace = Trace("acme", ["acme-press"])
    assert _sweep_database(f"sqlite:///{db}", trace, [], dry_run=True) == {
        "flow_run": 1,
        "log": 1,
        "events": 1,
    }
    counts = _sweep_database(f"sqlite:///{db}", trace, ["gone-run"], dry_run=False)
    assert counts == {"flow_run": 1, "log": 2, "events": 2, "event_resources": 1}
    assert con.execute("SELECT id FROM log").fetchall() == [("2",)]
    assert con.execute("SELECT id FROM events").fetchall() == [("e2",)]
    assert con.execute("SELECT id FROM event_resources").fetchall() == [("r2",)]
    (parameters,) = con.execute("SELECT parameters FROM flow_run").fetchone()
    assert json.loads(parameters) == {"clients": ["[purged client]", "acme-press"]}
    con.close()

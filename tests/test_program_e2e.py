"""End to end: the program flow on the small demo program, on the real stack.

Checks each client's core tables, gate results, registered models and published data, and that running
the whole program again changes nothing (files skipped, same numbers).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys

import duckdb
import pytest

from forgeline.clients import list_clients
from forgeline.publish import current_snapshot
from forgeline.settings import REPO_ROOT, Settings
from forgeline.warehouse import table_row_counts

pytestmark = pytest.mark.e2e

# Core tables each demo client's exports must fill (others may legitimately stay empty).
EXPECTED_CORE = {
    "daehan-molding": [
        "dim_equipment",
        "dim_products",
        "fct_cycles",
        "fct_cycle_parameters",
        "fct_quality_results",
    ],
    "sejin-diecast": ["dim_equipment", "fct_cycles", "fct_cycle_parameters", "fct_quality_results"],
    "gwangyang-steel": ["fct_energy_readings"],
    "hanbit-press": [
        "dim_equipment",
        "fct_sensor_readings",
        "fct_maintenance_events",
        "fct_production_counts",
    ],
    "miraero-parts": ["fct_production_counts", "fct_downtime_events", "fct_quality_results"],
    "hanul-cnc": ["fct_cycles", "fct_cycle_parameters", "fct_quality_results", "fct_sensor_readings"],
    "daesung-melting": ["fct_sensor_readings", "fct_quality_results", "dim_sensor_tags"],
    "dongbang-rig": ["fct_cycles", "fct_cycle_parameters", "dim_run_units"],
}
EXPECTED_MARTS = {
    "daehan-molding": ["oee_daily", "defect_rate_daily", "defect_pareto"],
    "sejin-diecast": ["oee_daily", "defect_rate_daily", "defect_pareto"],
    "gwangyang-steel": ["energy_daily"],
    "hanbit-press": ["oee_daily", "maintenance_kpis"],
    "miraero-parts": ["oee_daily", "defect_pareto"],
    "hanul-cnc": ["defect_rate_daily"],
    "daesung-melting": ["defect_rate_daily"],
    "dongbang-rig": ["oee_daily"],
}
EXPECTED_MODELS = {
    "daehan-molding": ["defect_prediction"],
    "sejin-diecast": ["defect_prediction"],
    "hanbit-press": ["failure_prediction", "sensor_anomalies"],
    "gwangyang-steel": ["energy_baseline"],
    "dongbang-rig": ["remaining_useful_life"],
    "daesung-melting": ["sensor_anomalies"],
}


def test_every_client_ran_and_published(program_run: Settings, program_outcomes: list) -> None:
    by_client = {o.client_id: o for o in program_outcomes}
    assert set(by_client) == set(EXPECTED_CORE)
    for client_id, outcome in by_client.items():
        assert outcome.status == "published", (client_id, outcome.error, outcome.gate_failures)
        assert outcome.gate_passed is True
        assert current_snapshot(program_run, client_id) is not None
    [record] = list(program_run.runs_dir.glob("*.json"))[:1]
    assert {c["client_id"] for c in json.loads(record.read_text())["clients"]} == set(EXPECTED_CORE)


@pytest.mark.parametrize("client_id", sorted(EXPECTED_CORE))
def test_core_tables_hold_the_clients_rows_with_lineage(program_run: Settings, client_id: str) -> None:
    counts = table_row_counts(program_run, client_id, "core")
    for table in EXPECTED_CORE[client_id]:
        assert counts.get(table, 0) > 0, f"{client_id}: core.{table} is empty"
    con = duckdb.connect(str(program_run.warehouse_path(client_id)), read_only=True)
    try:
        for table, rows in counts.items():
            if not rows:
                continue
            lineage = con.execute(
                f"SELECT count(*) FILTER (WHERE client_id IS DISTINCT FROM ?), "
                f"count(*) FILTER (WHERE source_file IS NULL OR load_batch_id IS NULL) FROM core.{table}",
                [client_id],
            ).fetchall()[0]
            assert lineage == (0, 0), f"{client_id}: core.{table} rows without this client's lineage"
    finally:
        con.close()


@pytest.mark.parametrize("client_id", sorted(EXPECTED_MARTS))
def test_published_snapshot_holds_marts_gate_and_models(program_run: Settings, client_id: str) -> None:
    con = duckdb.connect(str(current_snapshot(program_run, client_id)), read_only=True)
    try:
        for mart in EXPECTED_MARTS[client_id]:
            rows, others = con.execute(
                f"SELECT count(*), count(*) FILTER (WHERE client_id <> ?) FROM marts.{mart}", [client_id]
            ).fetchall()[0]
            assert rows > 0, f"{client_id}: published marts.{mart} is empty"
            assert others == 0
        assert con.execute("SELECT bool_and(success) FROM meta.gate_results").fetchall()[0][0] is True
        models = con.execute("SELECT model_name, n_test FROM meta.model_results ORDER BY 1").fetchall()
        if client_id in EXPECTED_MODELS:
            assert [m[0] for m in models] == EXPECTED_MODELS[client_id]
            assert all(m[1] > 0 for m in models)
        else:
            assert models == []
    finally:
        con.close()


def test_each_client_has_its_level_with_the_evidence_and_the_cli_prints_it(program_run: Settings) -> None:
    from forgeline.program.levels import SHIPPED_RULES, load_rules
    from forgeline.publish import current_level

    rules, digest = load_rules(SHIPPED_RULES)
    rule_count = sum(len(level.rules) for level in rules.levels)
    reached = {}
    for config in list_clients(program_run):
        published = current_level(program_run, config.id)
        assert published is not None, config.id
        summary, evidence = published
        assert (summary["rules_version"], summary["rules_digest"]) == (rules.version, digest)
        assert len(evidence) == rule_count
        # Cumulative: every rule up to the level holds, and one of the next level's does not.
        assert evidence.loc[evidence["level"] <= summary["level"], "passed"].all()
        if summary["level"] < 5:
            assert not evidence.loc[evidence["level"] == summary["level"] + 1, "passed"].all()
        reached[config.id] = int(summary["level"])
    # Cycles with parameters and inspections, and a root-cause analysis: level 3 needs only enough days.
    linked = evidence_of(program_run, "sejin-diecast")
    assert linked["parameters_linked"] and linked["root_cause_analysis"], linked

    env = {**os.environ, "FORGELINE_HOME": str(program_run.home)}
    listed = subprocess.run(
        [sys.executable, "-m", "forgeline.cli", "levels"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert listed.returncode == 0, listed.stdout + listed.stderr
    for client_id in reached:
        assert client_id in listed.stdout
    # The cohort against the program's targets, counted from the levels above.
    at_3 = sum(level >= 3 for level in reached.values())
    assert f"now {at_3} of {len(reached)}" in " ".join(listed.stdout.split())
    one = subprocess.run(
        [sys.executable, "-m", "forgeline.cli", "levels", "sejin-diecast"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert one.returncode == 0, one.stdout + one.stderr
    assert f"level {reached['sejin-diecast']}" in one.stdout and "holds" in one.stdout
    assert "Recommended next" in one.stdout and "1. " in one.stdout


def evidence_of(settings: Settings, client_id: str) -> dict[str, bool]:
    from forgeline.publish import current_level

    published = current_level(settings, client_id)
    assert published is not None
    return dict(zip(published[1]["rule_id"], published[1]["passed"].astype(bool), strict=True))


def test_models_are_registered_with_champion_only_as_the_policy_decides(
    program_run: Settings, program_outcomes: list
) -> None:
    from mlflow import MlflowClient

    from forgeline.standard_models.champion import (
        MIN_HOLDOUT_DAYS,
        MIN_HOLDOUT_INCIDENTS,
        MIN_HOLDOUT_POSITIVES,
        MIN_HOLDOUT_UNITS,
    )

    client = MlflowClient(
        tracking_uri=program_run.mlflow_tracking_uri, registry_uri=program_run.mlflow_tracking_uri
    )
    for outcome in program_outcomes:
        for model in outcome.models:
            registered = client.get_registered_model(model["registered_model"])
            assert registered.name == f"{outcome.client_id}__{model['model_name']}"
            run = client.get_run(model["mlflow_run_id"])
            assert "training_data_fingerprint" in {**run.data.params, **run.data.tags}
            # The champion alias points at this version exactly when the policy promoted it: it beat its
            # baseline on a holdout with enough evidence (no champion before it in a first run).
            is_champion = str(registered.aliases.get("champion")) == str(model["model_version"])
            if model["family"] == "event":
                enough = model["n_test_positives"] >= MIN_HOLDOUT_POSITIVES
            elif model["family"] == "anomaly":
                enough = (model["holdout_incidents"] or 0) >= MIN_HOLDOUT_INCIDENTS
            elif model["family"] == "remaining_life":
                enough = model["holdout_units"] >= MIN_HOLDOUT_UNITS
            else:
                enough = len(model["holdout_daily"]) >= MIN_HOLDOUT_DAYS
            fair = model["beats_baseline"] and enough
            assert is_champion == bool(model["is_champion"]), model
            assert model["champion_decision"], model
            if not fair:
                assert not is_champion, model


def test_failure_model_finds_the_planted_drift(program_run: Settings, program_outcomes: list) -> None:
    """hanbit-press's breakdowns follow a planted vibration and oil-temperature drift (ground truth)."""
    from forgeline.demo.synthetic import press_line_ground_truth

    truth = press_line_ground_truth("small")
    [model] = [
        m
        for m in next(o for o in program_outcomes if o.client_id == "hanbit-press").models
        if m["model_name"] == "failure_prediction"
    ]
    assert model["beats_baseline"], model
    con = duckdb.connect(str(current_snapshot(program_run, "hanbit-press")), read_only=True)
    try:
        top = [
            f
            for (f,) in con.execute(
                "SELECT feature FROM meta.model_features WHERE model_name = 'failure_prediction' "
                "ORDER BY rank LIMIT 3"
            ).fetchall()
        ]
    finally:
        con.close()
    # The exported columns that drift become the tags the mapping names (oil_temp_F → oil_temp).
    from forgeline.clients import get_client

    tags = get_client(program_run, "hanbit-press").source("plc_minutes").feeds["sensor_readings"].tags
    drifting = [tags[column].tag or column for column in truth["drift_tags"]]
    assert any(f.startswith(tuple(drifting)) for f in top), (top, drifting)


def test_running_the_program_again_is_safe_and_gives_the_same_result(program_run: Settings) -> None:
    from flows.program import program_flow

    def marts_fingerprint(client_id: str) -> dict[str, list]:
        con = duckdb.connect(str(current_snapshot(program_run, client_id)), read_only=True)
        try:
            return {
                t: con.execute(f"SELECT * FROM marts.{t} ORDER BY ALL").fetchall()
                for (t,) in con.execute(
                    "SELECT table_name FROM duckdb_tables() WHERE schema_name='marts'"
                ).fetchall()
            }
        finally:
            con.close()

    clients = [c.id for c in list_clients(program_run)]
    before = {c: (table_row_counts(program_run, c, "core"), marts_fingerprint(c)) for c in clients}
    snapshots = {c: current_snapshot(program_run, c) for c in clients}
    outcomes = program_flow(home=str(program_run.home))
    for outcome in outcomes:
        assert outcome.status == "published"
        # Nothing changed: no stage runs, not even ingest, and the current results stand
        # (forgeline/changes.py).
        assert outcome.unchanged_since is not None, outcome
        assert outcome.files_loaded == 0 and outcome.seconds == {}, outcome
        assert current_snapshot(program_run, outcome.client_id) == snapshots[outcome.client_id]
    after = {c: (table_row_counts(program_run, c, "core"), marts_fingerprint(c)) for c in clients}
    assert after == before

    # `forgeline run` answers from the records without starting Prefect: pointed at a server that does
    # not exist, it still succeeds, and writes its run record.
    records = set(program_run.runs_dir.glob("*.json"))
    env = {**os.environ, "FORGELINE_HOME": str(program_run.home), "PREFECT_API_URL": "http://127.0.0.1:9/api"}
    result = subprocess.run(
        [sys.executable, "-m", "forgeline.cli", "run"], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Nothing changed" in result.stdout and "nothing changed" in result.stdout
    [record] = set(program_run.runs_dir.glob("*.json")) - records
    assert all(c["unchanged_since"] for c in json.loads(record.read_text(encoding="utf-8"))["clients"])


def test_a_new_delivery_runs_its_client_again_and_only_it(program_run: Settings, tmp_path) -> None:
    from flows.program import program_flow
    from forgeline.settings import get_settings

    # A copy of the program's workspace (the session's own stays as the other tests expect it).
    program_run = get_settings(shutil.copytree(program_run.home, tmp_path / "home", symlinks=True))
    steel = "gwangyang-steel"
    landing = program_run.landing_dir(steel)
    [export] = sorted(landing.glob("energy_*.csv"))
    header, *rows = export.read_text(encoding="utf-8").splitlines()
    # A re-sent last day under a new name: new rows for the dedup to judge, the same data in the marts.
    (landing / "energy_2018-resent.csv").write_text("\n".join([header, *rows[-96:]]) + "\n", encoding="utf-8")
    before = current_snapshot(program_run, steel)
    outcomes = {o.client_id: o for o in program_flow(home=str(program_run.home))}
    assert outcomes[steel].files_loaded == 1 and outcomes[steel].unchanged_since is None
    assert {"standardize", "gate", "publish"} <= set(outcomes[steel].seconds)
    assert current_snapshot(program_run, steel) != before
    assert all(o.unchanged_since for c, o in outcomes.items() if c != steel), outcomes


def test_prefect_deployments_are_accepted(tmp_path) -> None:
    """`prefect deploy --all` accepts prefect.yaml (against a temporary local API)."""
    env = {
        "PATH": f"{REPO_ROOT / '.venv' / 'bin'}:/usr/bin:/bin",
        "HOME": str(tmp_path),
        "PREFECT_HOME": str(tmp_path / "prefect"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "FORGELINE_REPO": str(REPO_ROOT),
    }
    prefect = [sys.executable, "-m", "prefect"]
    subprocess.run(
        [*prefect, "work-pool", "create", "forgeline-local", "--type", "process"],
        cwd=REPO_ROOT,
        env=env,
        check=True,
        capture_output=True,
        timeout=300,
    )
    done = subprocess.run(
        [*prefect, "--no-prompt", "deploy", "--all"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "forgeline-program/program-nightly" in done.stdout
    assert "client-engagement/client-engagement" in done.stdout
    assert "forgeline-reports/reports-monthly" in done.stdout


def test_a_client_whose_data_fails_the_gate_is_published_but_not_trained(
    tmp_path, prefect_harness: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A press line that delivered its PLC files, one of them broken, but not its maintenance log: the
    broken file is refused and the others load, dbt builds, the gate fails (failure prediction needs
    failures), training is blocked, and the client still gets a snapshot that says what to fix."""
    from flows.engagement import engagement_flow
    from forgeline.clients import save_client_config
    from forgeline.demo import demo_clients, synthetic
    from forgeline.settings import get_settings

    settings = get_settings(tmp_path / "home")
    [press] = [c for c in demo_clients() if c.id == "hanbit-press"]
    save_client_config(settings, press)
    landing = settings.landing_dir(press.id)
    landing.mkdir(parents=True)
    for name, content in synthetic.press_line_exports("small").items():
        if name.startswith("press_sensors_"):
            (landing / name).write_bytes(content)
    broken = ",".join(synthetic.SENSOR_HEADER) + "\n2026-10-01 00:00:00,P-01,RUN,20\n"  # a cut-off line
    (landing / "press_sensors_202610.csv").write_text(broken, encoding="utf-8")

    # What the task runs log (Prefect's logger, shown in the UI and console): what a consultant reads.
    run_log: list[str] = []
    listener = logging.Handler()
    listener.emit = lambda record: run_log.append(record.getMessage())  # type: ignore[method-assign]
    task_logger = logging.getLogger("prefect.task_runs")
    task_logger.addHandler(listener)
    try:
        outcome = engagement_flow(client_id=press.id, home=str(settings.home))
    finally:
        task_logger.removeHandler(listener)

    assert outcome.status == "gate_failed" and outcome.gate_passed is False
    assert outcome.files_rejected == ["press_sensors_202610.csv"] and outcome.files_loaded == 1
    assert any("press_sensors_202610.csv: line 2" in line for line in run_log), run_log
    assert outcome.models == []
    assert any("fct_maintenance_events" in failure for failure in outcome.gate_failures), outcome
    assert any("core.fct_maintenance_events" in line and "needs" in line for line in run_log), run_log
    assert any("training is blocked" in line for line in run_log), run_log
    # Run again with nothing changed: the same verdict stands, without rebuilding anything.
    again = engagement_flow(client_id=press.id, home=str(settings.home))
    assert (again.status, again.unchanged_since) == ("gate_failed", outcome.run_id)
    assert again.gate_failures == outcome.gate_failures and again.snapshot == outcome.snapshot
    con = duckdb.connect(str(current_snapshot(settings, press.id)), read_only=True)
    try:
        status, gate_passed = con.execute("SELECT status, gate_passed FROM meta.run").fetchall()[0]
        failed = con.execute("SELECT table_name FROM meta.gate_results WHERE NOT success").fetchall()
        refused = con.execute("SELECT source_file FROM meta.rejected_files").fetchall()
    finally:
        con.close()
    assert (status, gate_passed) == ("gate_failed", False)
    assert ("fct_maintenance_events",) in failed
    # No data has passed the gate: no level is claimed for it.
    from forgeline.publish import current_level

    assert current_level(settings, press.id) is None
    assert refused == [("press_sensors_202610.csv",)]

    # The client sees both problems on its data-quality page.
    from streamlit.testing.v1 import AppTest

    from forgeline.auth import ensure_demo_logins

    ensure_demo_logins(settings, [press])
    monkeypatch.setenv("FORGELINE_HOME", str(settings.home))
    at = AppTest.from_file(str(REPO_ROOT / "apps" / "forgeline_app.py"), default_timeout=60).run()
    at.text_input(key="username").input(press.id)
    at.text_input(key="password").input(f"{press.id}-demo")
    at = at.button[0].click().run().switch_page("app_pages/client/data_quality.py").run()
    assert not at.exception
    shown = " ".join(str(w.value) for w in at.warning)  # in plain words for a client login
    assert "quality checks found a problem" in shown and "press_sensors_202610.csv" in shown


def test_a_broken_mapping_fails_its_client_only_and_says_where(tmp_path, prefect_harness: None) -> None:
    """One client's mapping.yml broken by hand: the others still run and publish; the run names the file."""
    from flows.program import ProgramRunError, program_flow
    from forgeline.clients import save_mapping_text
    from forgeline.demo import _deliveries, demo_mapping_text
    from forgeline.settings import get_settings

    settings = get_settings(tmp_path / "home")
    save_mapping_text(settings, "gwangyang-steel", demo_mapping_text("gwangyang-steel"))
    settings.landing_dir("gwangyang-steel").mkdir(parents=True)
    _deliveries("gwangyang-steel", "small", settings.landing_dir("gwangyang-steel"))
    broken = settings.client_config_path("acme-press")
    broken.parent.mkdir(parents=True)
    broken.write_text(
        "id: acme-press\nname: Acme\nsources:\n  - name: shots\n    format: xls\n", encoding="utf-8"
    )

    with pytest.raises(ProgramRunError, match="acme-press") as caught:
        program_flow(home=str(settings.home))

    record = json.loads(next(settings.runs_dir.glob("*.json")).read_text(encoding="utf-8"))
    outcomes = {c["client_id"]: c for c in record["clients"]}
    assert outcomes["gwangyang-steel"]["status"] == "published"
    assert f"{broken}:5:" in outcomes["acme-press"]["error"], outcomes["acme-press"]
    assert current_snapshot(settings, "gwangyang-steel") is not None
    assert "acme-press" in str(caught.value)

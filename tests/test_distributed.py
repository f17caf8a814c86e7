"""More than one machine, on existing engines: PostgreSQL, a Prefect server, two process workers and an
MLflow tracking server (proxied artifacts) on this machine, everything in one temporary folder, torn down at
the end.

- The program deployment runs the small demo program across both workers, each client's engagement a flow
  run; one worker is killed (SIGKILL of it and of the flow runs it started, as when its machine is lost)
  while it runs an engagement. The lost run is marked Crashed (heartbeats stop), the program starts it
  again on the other worker, and the program completes with the same published results, client by client,
  as an embedded run (`forgeline run`, Prefect's temporary API, MLflow on SQLite) of the same data.
- The server's scheduler creates scheduled runs of the cron deployment within a minute (it created none
  with SQLAlchemy 2.1).
- Two runs of one client started at once on the pool run one after the other (the client's global
  concurrency limit), both completing.

Opt-in: marker ``distributed``, run by ``make test-distributed`` (about 11-12 minutes on 2 shared cores).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from kill_harness import run_env, workspace_state

from forgeline import deploy
from forgeline.settings import REPO_ROOT, get_settings

pytestmark = pytest.mark.distributed

PROGRAM = "forgeline-program/program-nightly"
PROGRAM_TIMEOUT_S = 900


def _selected(config: pytest.Config) -> bool:
    expression = config.option.markexpr or ""
    return "distributed" in expression and "not distributed" not in expression


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Api:
    """A synchronous Prefect client on the test's server (the test process itself has no PREFECT_API_URL)."""

    def __init__(self, url: str) -> None:
        from prefect.client.orchestration import SyncPrefectClient

        self.client = SyncPrefectClient(url)
        self.client.__enter__()

    def flow_runs(self, **filters: Any) -> list[Any]:
        from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId, FlowRunFilter

        deployment_filter = None
        if "deployment_id" in filters:
            deployment_filter = DeploymentFilter(id=DeploymentFilterId(any_=[filters.pop("deployment_id")]))
        return self.client.read_flow_runs(
            flow_run_filter=FlowRunFilter(**filters) if filters else None,
            deployment_filter=deployment_filter,
            limit=200,
        )

    def close(self) -> None:
        self.client.__exit__(None, None, None)


@pytest.fixture(scope="module")
def stack(request: pytest.FixtureRequest) -> Iterator[deploy.Stack]:
    if not _selected(request.config):
        pytest.skip("the distributed tier takes about 12 minutes: run it with `make test-distributed`")
    # Not under pytest's base temp: other pytest sessions on a shared machine prune the oldest of those
    # (PostgreSQL's data vanished mid-run once). Removed at the end (not if FORGELINE_KEEP_DISTRIBUTED=1).
    root = Path(tempfile.mkdtemp(prefix="forgeline-distributed-"))
    settings = get_settings(root / "home")
    stack = deploy.Stack(
        settings=settings,
        state_dir=root / "state",
        pg_port=_free_port(),
        prefect_port=_free_port(),
        mlflow_port=_free_port(),
    )
    try:
        deploy.start_postgres(stack)
        deploy.start_prefect_server(stack)
        deploy.start_mlflow_server(stack)
        deploy.prepare_server(stack)
        yield stack
    finally:
        for pid_file in sorted((stack.state_dir / "pids").glob("worker-*.pid")):
            _kill_machine(int(pid_file.read_text()))
        deploy.stop(stack)
        if os.environ.get("FORGELINE_KEEP_DISTRIBUTED") != "1":
            shutil.rmtree(root, ignore_errors=True)


def test_schedule_creates_scheduled_runs(stack: deploy.Stack) -> None:
    """The nightly cron deployment gets scheduled runs from the server's scheduler within a minute."""
    api = Api(stack.api_url)
    try:
        deployment = api.client.read_deployment_by_name(PROGRAM)
        assert deployment.schedules and deployment.schedules[0].schedule.cron == "0 2 * * *"
        deadline = time.monotonic() + 75
        scheduled: list[Any] = []
        while time.monotonic() < deadline and not scheduled:
            scheduled = [r for r in api.flow_runs(deployment_id=deployment.id) if r.state_type == "SCHEDULED"]
            time.sleep(2)
        assert scheduled, "the server's scheduler created no scheduled run of program-nightly within 75 s"
        times = sorted(r.expected_start_time for r in scheduled)
        assert times[0] > datetime.now(UTC) - timedelta(minutes=1)
        # 02:00 in Seoul is 17:00 UTC.
        assert all((t.hour, t.minute) == (17, 0) for t in times), times
    finally:
        api.close()


def test_program_across_two_workers_survives_a_lost_worker(stack: deploy.Stack) -> None:
    from forgeline.demo import prepare_demo_program

    home = stack.settings.home
    tmp_path = stack.state_dir.parent
    clients = [c.id for c in prepare_demo_program(stack.settings, scale="small")]
    # The embedded reference: the same data, `forgeline run` in its own workspace (side by side with the
    # distributed run: the two share nothing).
    embedded_home = tmp_path / "embedded"
    shutil.copytree(home, embedded_home, symlinks=True)
    embedded_log = (tmp_path / "embedded.log").open("w")
    embedded = subprocess.Popen(
        [sys.executable, "-m", "forgeline.cli", "run"],
        cwd=REPO_ROOT,
        # Its temporary Prefect API starts beside the servers and workers: give it time on a busy machine.
        env={**run_env(embedded_home), "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "300"},
        stdout=embedded_log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    workers = {name: deploy.start_worker(stack, name, limit=3) for name in ("machine-a", "machine-b")}
    api = Api(stack.api_url)
    try:
        deployment = api.client.read_deployment_by_name(PROGRAM)
        program = api.client.create_flow_run_from_deployment(deployment.id)

        victim, lost_run = _kill_a_worker_mid_engagement(api, workers, program.id)

        deadline = time.monotonic() + PROGRAM_TIMEOUT_S
        while not (state := api.client.read_flow_run(program.id).state).is_final():
            assert time.monotonic() < deadline, "the program did not finish"
            time.sleep(5)
        logs = _logs(stack)
        assert state.is_completed(), f"program ended {state.name}: {state.message}\n{logs}"

        lost = api.client.read_flow_run(lost_run)
        assert lost.state.is_crashed(), f"the lost worker's run ended {lost.state.name}, not Crashed"
        engagements = [r for r in api.flow_runs() if r.name.startswith("engagement-")]
        by_client = {c: [r for r in engagements if r.parameters.get("client_id") == c] for c in clients}
        assert all(any(r.state.is_completed() for r in runs) for runs in by_client.values()), by_client
        assert any(len(runs) > 1 for runs in by_client.values()), "no engagement was started again"
        assert victim in workers

        record = json.loads(sorted((home / "runs").glob("*.json"))[-1].read_text())
        assert {c["client_id"]: c["status"] for c in record["clients"]} == dict.fromkeys(clients, "published")
    finally:
        api.close()
        if embedded.poll() is None:
            embedded.wait(timeout=PROGRAM_TIMEOUT_S)
        embedded_log.close()
    assert embedded.returncode == 0, (tmp_path / "embedded.log").read_text()[-4000:]

    # Same published results (marts and meta) and warehouse, client by client; MLflow's stores differ by
    # kind (PostgreSQL behind a server vs SQLite): what the registry decided is in meta.model_results.
    for client_id in clients:
        distributed = _without_mlflow(workspace_state(home, client_id))
        reference = _without_mlflow(workspace_state(embedded_home, client_id))
        assert distributed == reference, [
            f"{k}: embedded {reference.get(k)} | distributed {distributed.get(k)}"
            for k in sorted(set(reference) | set(distributed))
            if reference.get(k) != distributed.get(k)
        ]


def test_one_run_of_a_client_at_a_time_across_workers(stack: deploy.Stack) -> None:
    """Two runs of one client started at once: the second waits for the client's concurrency slot (with the
    file lock alone it would stop as busy), so both complete, one after the other.

    The client's last-run record is removed first, so the run that holds the slot first does the whole
    work. The other, once it has the slot, finds the record that run wrote as its very last step and has
    nothing to do ("Nothing changed"): proof that it started only after the first had finished. (Were the
    two to overlap, both would do the work, and their task spans would overlap.)"""
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId, LogFilter, LogFilterFlowRunId

    from forgeline.demo import prepare_demo_program

    client_id = "hanul-cnc"  # quick, no model
    if not stack.settings.client_config_path(client_id).exists():
        prepare_demo_program(stack.settings, scale="small")
    stack.settings.last_run_path(client_id).unlink(missing_ok=True)
    deploy.start_worker(stack, "machine-c", limit=3)  # beside the one left from the program test, if any
    api = Api(stack.api_url)
    try:
        deployment = api.client.read_deployment_by_name("client-engagement/client-engagement")
        runs = [
            api.client.create_flow_run_from_deployment(deployment.id, parameters={"client_id": client_id})
            for _ in range(2)
        ]
        deadline = time.monotonic() + PROGRAM_TIMEOUT_S
        states = {}
        while len(states) < len(runs):
            assert time.monotonic() < deadline, "the two runs did not finish"
            time.sleep(3)
            for run in runs:
                state = api.client.read_flow_run(run.id).state
                if state.is_final():
                    states[run.id] = state
        assert all(s.is_completed() for s in states.values()), {
            k: (s.name, s.message) for k, s in states.items()
        }
        spans = {}
        for run in runs:
            tasks = api.client.read_task_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run.id]))
            )
            ran = [t for t in tasks if t.start_time and t.end_time]
            if ran:
                spans[run.id] = (min(t.start_time for t in ran), max(t.end_time for t in ran))
        if len(spans) == 2:
            first, second = sorted(spans.values())
            assert first[1] <= second[0], f"the two runs of {client_id} overlapped: {spans}"
        else:
            [(worked, (_, worked_end))] = spans.items()
            [idle] = [run for run in runs if run.id != worked]
            # A flow run's last log lines reach the server after its final state (they are sent in
            # batches): wait for them a little.
            deadline = time.monotonic() + 60
            while True:
                messages = [
                    log.message
                    for log in api.client.read_logs(
                        log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[idle.id]))
                    )
                ]
                if any("Nothing changed" in m for m in messages) or time.monotonic() > deadline:
                    break
                time.sleep(2)
            assert any("Nothing changed" in m for m in messages), messages
            assert api.client.read_flow_run(idle.id).end_time >= worked_end
    finally:
        api.close()


def _without_mlflow(state: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in state.items() if not k.startswith("mlflow")}


def _kill_a_worker_mid_engagement(
    api: Api, workers: dict[str, subprocess.Popen[bytes]], program_id: Any
) -> tuple[str, Any]:
    """Wait until the worker that does not run the program runs an engagement for a while, then kill it
    and everything it started (the machine is lost). Returns the worker's name and the lost run's id."""
    deadline = time.monotonic() + PROGRAM_TIMEOUT_S
    while time.monotonic() < deadline:
        hosted = {name: _flow_runs_of(worker.pid) for name, worker in workers.items()}
        program_on = [name for name, runs in hosted.items() if str(program_id) in runs]
        if program_on:
            victim = next(name for name in workers if name not in program_on)
            for run_id in hosted[victim]:
                run = api.client.read_flow_run(run_id)
                if (
                    run.state.is_running()
                    and run.name.startswith("engagement-")
                    and run.start_time is not None
                    and datetime.now(UTC) - run.start_time > timedelta(seconds=15)
                ):
                    _kill_machine(workers[victim].pid)
                    return victim, run.id
        time.sleep(1)
    raise AssertionError("no engagement ran on the worker that does not run the program")


def _flow_runs_of(worker_pid: int) -> set[str]:
    """The flow runs a worker's subprocesses are running (their PREFECT__FLOW_RUN_ID)."""
    found = set()
    for pid in deploy.descendants(worker_pid):
        try:
            environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        except OSError:
            continue
        for item in environ:
            if item.startswith(b"PREFECT__FLOW_RUN_ID="):
                found.add(item.split(b"=", 1)[1].decode())
    return found


def _kill_machine(worker_pid: int) -> None:
    """SIGKILL a worker's process group and every process below it (flow runs have sessions of their own)."""
    targets = [worker_pid, *deploy.descendants(worker_pid)]
    for pid in targets:
        for kill in (os.killpg, os.kill):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                kill(pid, signal.SIGKILL)


def _logs(stack: deploy.Stack) -> str:
    parts = []
    for log in sorted(stack.log_dir.glob("*.log")):
        lines = log.read_text(errors="replace").splitlines()
        parts.append(f"== {log.name}\n" + "\n".join(lines[-30:]))
    return "\n".join(parts)

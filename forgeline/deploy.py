"""The distributed set-up on existing engines: PostgreSQL, a Prefect server, an MLflow tracking server and
process workers, started, checked and stopped as one (``forgeline serve-scheduler``, ``make scheduler``).

The embedded default (no server: each run starts Prefect's temporary API, MLflow on SQLite) is untouched;
this module only matters when ``PREFECT_API_URL`` names a server. docs/deploy.md tells how to run it on
one machine and on several.

Who talks to whom: only the two servers connect to PostgreSQL (on 127.0.0.1, trust authentication, no
Unix socket); workers on any machine talk HTTP to the Prefect API and the MLflow server, and read and write
the shared workspace (``FORGELINE_HOME``, the same path on every machine). The server processes are
detached, each in its own session, with their pid files and logs under the state folder (default
``<home>/deploy/<host name>/``; ``FORGELINE_DEPLOY_DIR`` puts it on the server's local disk, where
PostgreSQL's data belongs, not on NFS).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

from forgeline.settings import REPO_ROOT, Settings

POOL = "forgeline-local"  # the process work pool of prefect.yaml
DB_USER = "forgeline"
DATABASES = ("prefect", "mlflow")
HEARTBEAT_S = 30  # flow run heartbeats (Prefect's minimum): a run silent for ZOMBIE_AFTER_S is Crashed
ZOMBIE_AFTER_S = 90
ZOMBIE_AUTOMATION = "forgeline: crash flow runs without heartbeat"
SERVICES = ("prefect-server", "mlflow-server")
STARTUP_TIMEOUT_S = 240


class DeployError(RuntimeError):
    """A part of the distributed set-up could not be started; the message says which and what to do."""


@dataclasses.dataclass(frozen=True)
class Stack:
    """Where the servers listen and keep their state. Ports default to the usual ones (PostgreSQL on 5433,
    beside a system cluster on 5432); ``FORGELINE_PG_PORT``, ``FORGELINE_PREFECT_PORT`` and
    ``FORGELINE_MLFLOW_PORT`` override them, ``FORGELINE_DEPLOY_HOST`` is the address workers use."""

    settings: Settings
    state_dir: Path
    host: str = "127.0.0.1"
    pg_port: int = 5433
    prefect_port: int = 4200
    mlflow_port: int = 5000

    @classmethod
    def from_environment(cls, settings: Settings) -> Stack:
        ports = settings.deploy_ports
        return cls(
            settings=settings,
            state_dir=settings.deploy_state_dir,
            host=settings.deploy_host,
            pg_port=ports["postgres"],
            prefect_port=ports["prefect"],
            mlflow_port=ports["mlflow"],
        )

    @property
    def api_url(self) -> str:
        return f"http://{self.host}:{self.prefect_port}/api"

    @property
    def mlflow_url(self) -> str:
        return f"http://{self.host}:{self.mlflow_port}"

    def database_url(self, database: str, driver: str = "") -> str:
        return f"postgresql{driver}://{DB_USER}@127.0.0.1:{self.pg_port}/{database}"

    @property
    def pg_data(self) -> Path:
        return self.state_dir / "postgres"

    @property
    def log_dir(self) -> Path:
        return self.state_dir / "logs"

    def pid_file(self, name: str) -> Path:
        return self.state_dir / "pids" / f"{name}.pid"

    @property
    def artifacts_dir(self) -> Path:
        return self.settings.mlflow_server_artifacts_dir

    @property
    def results_dir(self) -> Path:
        return self.settings.prefect_results_dir

    def worker_environment(self, name: str) -> dict[str, str]:
        """What a worker (and every flow run it starts) needs: the servers, the shared workspace."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "FORGELINE_"))}
        env.update(
            {
                "PREFECT_API_URL": self.api_url,
                "PREFECT_HOME": str(self.state_dir / "workers" / name),  # local state, never shared
                "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
                "PREFECT_FLOWS_HEARTBEAT_FREQUENCY": str(HEARTBEAT_S),
                "PREFECT_RESULTS_PERSIST_BY_DEFAULT": "true",
                "PREFECT_LOCAL_STORAGE_PATH": str(self.results_dir),
                "FORGELINE_HOME": str(self.settings.home),
                "FORGELINE_MLFLOW_URI": self.mlflow_url,
                "FORGELINE_REPO": str(REPO_ROOT),
                "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
                "PYTHONUNBUFFERED": "1",
            }
        )
        return env


# -- PostgreSQL ----------------------------------------------------------------------------------------
def postgres_bin() -> Path:
    """Debian's PostgreSQL binaries (the newest installed); installed with apt-get when root and missing."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=lambda p: int(p.parts[-3]))
    if not found and os.geteuid() == 0 and shutil.which("apt-get"):
        print("Installing Debian's postgresql…", flush=True)
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
        subprocess.run(["apt-get", "install", "-y", "-qq", "postgresql"], check=True, env=env)
        found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=lambda p: int(p.parts[-3]))
    if not found:
        raise DeployError(
            "PostgreSQL is not installed: run `sudo apt-get install -y postgresql`, then again."
        )
    return found[-1].parent


def _as_postgres(command: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: as root, run it as Debian's ``postgres`` user."""
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


def _traversable_for_postgres(path: Path) -> None:
    """As root, the ``postgres`` user must reach the data folder: give its ancestors search (x) permission
    for others where they lack it (no listing, no reading), and hand the folder itself to ``postgres``."""
    if os.geteuid() != 0:
        return
    for parent in reversed(path.parents):
        mode = parent.stat().st_mode
        if not mode & 0o001:
            parent.chmod(mode | 0o001)
    shutil.chown(path, "postgres", "postgres")


def start_postgres(stack: Stack) -> None:
    """Initialise the cluster once, start it (TCP on 127.0.0.1 only), create the servers' databases."""
    bindir = postgres_bin()
    stack.log_dir.mkdir(parents=True, exist_ok=True)
    if not (stack.pg_data / "PG_VERSION").exists():
        stack.pg_data.mkdir(parents=True, exist_ok=True)
        _traversable_for_postgres(stack.pg_data)
        _run(
            _as_postgres(
                [str(bindir / "initdb"), "-D", str(stack.pg_data), "-U", DB_USER, "-A", "trust", "-E", "UTF8"]
            ),
            "initdb",
        )
    status = subprocess.run(
        _as_postgres([str(bindir / "pg_ctl"), "-D", str(stack.pg_data), "status"]), capture_output=True
    )
    if status.returncode != 0:
        log = stack.pg_data / "server.log"  # inside the data folder: postgres may write there
        options = f"-p {stack.pg_port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=''"
        _run(
            _as_postgres(
                [
                    str(bindir / "pg_ctl"),
                    "-D",
                    str(stack.pg_data),
                    "-l",
                    str(log),
                    "-o",
                    options,
                    "-w",
                    "start",
                ]
            ),
            f"PostgreSQL (log {log})",
        )
    for database in DATABASES:
        exists = subprocess.run(
            [str(bindir / "psql"), "-h", "127.0.0.1", "-p", str(stack.pg_port), "-U", DB_USER,
             "-d", "postgres", "-tAc", f"SELECT 1 FROM pg_database WHERE datname = '{database}'"],
            capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
        if not exists:
            _run(
                [
                    str(bindir / "createdb"),
                    "-h",
                    "127.0.0.1",
                    "-p",
                    str(stack.pg_port),
                    "-U",
                    DB_USER,
                    database,
                ],
                f"createdb {database}",
            )


def stop_postgres(stack: Stack) -> None:
    if not (stack.pg_data / "PG_VERSION").exists():
        return
    subprocess.run(
        _as_postgres([str(postgres_bin() / "pg_ctl"), "-D", str(stack.pg_data), "-m", "fast", "stop"]),
        capture_output=True,
    )


def _run(command: list[str], what: str) -> None:
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise DeployError(
            f"{what} failed ({done.returncode}): {(done.stderr or done.stdout).strip()[-2000:]}"
        )


# -- servers and workers -------------------------------------------------------------------------------
def _spawn(stack: Stack, name: str, command: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    """Start a detached process in its own session (its children die with its group), log to a file."""
    stack.log_dir.mkdir(parents=True, exist_ok=True)
    stack.pid_file(name).parent.mkdir(parents=True, exist_ok=True)
    log = open(stack.log_dir / f"{name}.log", "ab")  # noqa: SIM115 (the child keeps it)
    process = subprocess.Popen(
        command, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        cwd=REPO_ROOT, start_new_session=True,
    )  # fmt: skip
    log.close()
    stack.pid_file(name).write_text(str(process.pid))
    return process


def _bin(name: str) -> str:
    return str(Path(sys.executable).with_name(name))


def _running(stack: Stack, name: str) -> int | None:
    path = stack.pid_file(name)
    if not path.exists():
        return None
    pid = int(path.read_text())
    try:
        os.killpg(pid, 0)
    except (ProcessLookupError, PermissionError):
        return None
    return pid


def _wait_http(url: str, process: subprocess.Popen[bytes] | None, what: str, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise DeployError(f"{what} exited at start ({process.returncode}); see {log}")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(1)
    raise DeployError(f"{what} did not answer {url} within {STARTUP_TIMEOUT_S} s; see {log}")


def start_prefect_server(stack: Stack) -> None:
    if _running(stack, "prefect-server") is None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
        env.update(
            {
                "PREFECT_HOME": str(stack.state_dir / "prefect-server"),
                "PREFECT_API_DATABASE_CONNECTION_URL": stack.database_url("prefect", "+asyncpg"),
                "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
                "PREFECT_UI_API_URL": stack.api_url,
            }
        )
        command = [
            _bin("prefect"),
            "server",
            "start",
            "--host",
            stack.host,
            "--port",
            str(stack.prefect_port),
        ]
        process = _spawn(stack, "prefect-server", command, env)
    else:
        process = None
    _wait_http(f"{stack.api_url}/health", process, "The Prefect server", stack.log_dir / "prefect-server.log")


def start_mlflow_server(stack: Stack) -> None:
    if _running(stack, "mlflow-server") is None:
        stack.artifacts_dir.mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
        command = [
            _bin("mlflow"), "server", "--host", stack.host, "--port", str(stack.mlflow_port),
            "--workers", "2",
            "--backend-store-uri", stack.database_url("mlflow"),
            "--serve-artifacts", "--artifacts-destination", stack.artifacts_dir.as_uri(),
        ]  # fmt: skip
        if stack.host not in ("127.0.0.1", "localhost", "0.0.0.0"):
            command += ["--allowed-hosts", f"{stack.host},{stack.host}:{stack.mlflow_port},localhost"]
        process = _spawn(stack, "mlflow-server", command, env)
    else:
        process = None
    _wait_http(
        f"{stack.mlflow_url}/health", process, "The MLflow server", stack.log_dir / "mlflow-server.log"
    )


def prepare_server(stack: Stack) -> None:
    """The work pool, the zombie-run automation and the deployments of prefect.yaml (all idempotent)."""
    env = stack.worker_environment("deploy")
    # In a subprocess: Prefect reads PREFECT_API_URL once, at import (this process may have none).
    script = f"from forgeline.deploy import _prepare_in_process; _prepare_in_process({ZOMBIE_AFTER_S})"
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, cwd=REPO_ROOT
    )
    if done.returncode != 0:
        raise DeployError(f"Preparing the Prefect server failed: {done.stderr.strip()[-2000:]}")
    done = subprocess.run(
        [_bin("prefect"), "--no-prompt", "deploy", "--all"],
        env=env, capture_output=True, text=True, cwd=REPO_ROOT,
    )  # fmt: skip
    if done.returncode != 0:
        raise DeployError(f"`prefect deploy --all` failed: {(done.stderr or done.stdout).strip()[-2000:]}")


def _prepare_in_process(zombie_after_s: int) -> None:
    """Run with PREFECT_API_URL set (a subprocess of :func:`prepare_server`)."""
    from prefect.automations import Automation
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.client.schemas.objects import StateType
    from prefect.events.actions import ChangeFlowRunState
    from prefect.events.schemas.automations import EventTrigger, Posture
    from prefect.events.schemas.events import ResourceSpecification
    from prefect.exceptions import ObjectAlreadyExists

    with get_client(sync_client=True) as client, contextlib.suppress(ObjectAlreadyExists):
        client.create_work_pool(WorkPoolCreate(name=POOL, type="process"))
    # A worker that dies (its machine lost, kill -9) leaves its flow runs Running for ever; their heartbeats
    # stop, and this automation marks them Crashed (Prefect's documented zombie detection): the program
    # then runs the client again, and the client's concurrency slot expires with its lease.
    try:
        Automation.read(name=ZOMBIE_AUTOMATION)
        return
    except ValueError:
        pass
    Automation(
        name=ZOMBIE_AUTOMATION,
        trigger=EventTrigger(
            after={"prefect.flow-run.heartbeat"},
            expect={
                "prefect.flow-run.heartbeat",
                "prefect.flow-run.Completed",
                "prefect.flow-run.Failed",
                "prefect.flow-run.Cancelled",
                "prefect.flow-run.Crashed",
            },
            match=ResourceSpecification({"prefect.resource.id": ["prefect.flow-run.*"]}),
            for_each={"prefect.resource.id"},
            posture=Posture.Proactive,
            threshold=1,
            within=timedelta(seconds=zombie_after_s),
        ),
        actions=[
            ChangeFlowRunState(
                state=StateType.CRASHED,
                message=f"No heartbeat for {zombie_after_s} s: its worker or machine was lost.",
            )
        ],
    ).create()


def start_worker(stack: Stack, name: str, limit: int = 3) -> subprocess.Popen[bytes]:
    """A process worker of the pool; it runs each flow run it takes in a subprocess of its own."""
    command = [_bin("prefect"), "worker", "start", "--pool", POOL, "--type", "process", "--name", name,
               "--limit", str(limit)]  # fmt: skip
    env = stack.worker_environment(name)
    Path(env["PREFECT_HOME"]).mkdir(parents=True, exist_ok=True)
    return _spawn(stack, f"worker-{name}", command, env)


def serve(stack: Stack, workers: int = 1, limit: int = 3) -> list[str]:
    """Start (or find running) everything, in order; returns what to tell the operator."""
    start_postgres(stack)
    start_prefect_server(stack)
    start_mlflow_server(stack)
    prepare_server(stack)
    started = []
    for i in range(1, workers + 1):
        name = f"{socket.gethostname()}-{i}"
        if _running(stack, f"worker-{name}") is None:
            start_worker(stack, name, limit)
            started.append(name)
    return [
        f"Prefect UI and API:  http://{stack.host}:{stack.prefect_port}  (PREFECT_API_URL={stack.api_url})",
        f"MLflow:              {stack.mlflow_url}",
        f"PostgreSQL:          127.0.0.1:{stack.pg_port} (data {stack.pg_data})",
        f"Workers on pool {POOL!r}: {', '.join(started) or 'already running'} (logs in {stack.log_dir})",
        f"Workspace:           {stack.settings.home}",
        "Deployments:         forgeline-program/program-nightly (02:00 Asia/Seoul), "
        "client-engagement/client-engagement, forgeline-reports/reports-monthly (the 1st, 06:00 Asia/Seoul)",
        "Run the program now: PREFECT_API_URL="
        f"{stack.api_url} .venv/bin/prefect deployment run forgeline-program/program-nightly",
        "Stop everything:     make scheduler-stop   (or: forgeline serve-scheduler --stop)",
    ]


def stop(stack: Stack) -> list[str]:
    """Stop workers, then the servers, then PostgreSQL (TERM, then KILL after 20 s)."""
    pids_dir = stack.state_dir / "pids"
    names = sorted(p.stem for p in pids_dir.glob("*.pid")) if pids_dir.exists() else []
    order = [n for n in names if n.startswith("worker-")] + [n for n in SERVICES if n in names]
    stopped = []
    for name in order:
        pid = _running(stack, name)
        if pid is not None:
            _stop_group(pid)
            stopped.append(name)
        stack.pid_file(name).unlink(missing_ok=True)
    stop_postgres(stack)
    return stopped


def _stop_group(pid: int, grace_s: float = 20) -> None:
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        try:
            os.killpg(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.2)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)


def descendants(pid: int) -> Iterator[int]:
    """Every process below ``pid`` (Linux /proc): a worker's flow runs run in sessions of their own."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    todo = list(children.get(pid, []))
    while todo:
        child = todo.pop()
        yield child
        todo.extend(children.get(child, []))


def status(stack: Stack) -> dict[str, object]:
    """What is running (for `forgeline serve-scheduler --status` and the test)."""
    pids_dir = stack.state_dir / "pids"
    names = sorted(p.stem for p in pids_dir.glob("*.pid")) if pids_dir.exists() else []
    return {name: _running(stack, name) for name in names} | {"api_url": stack.api_url}


def serve_scheduler(settings: Settings, workers: int, limit: int, join: str | None, stop_all: bool) -> int:
    """`forgeline serve-scheduler`: start (or stop) the set-up and say where it is; the exit code."""
    stack = Stack.from_environment(settings)
    if join:
        stack = dataclasses.replace(stack, host=join)
    try:
        if stop_all:
            stopped = stop(stack)
            print(f"Stopped: {', '.join(stopped) or 'nothing was running'}; PostgreSQL stopped.")
            return 0
        if join:
            _wait_http(f"{stack.api_url}/health", None, "The Prefect server", stack.log_dir)
            names = [f"{socket.gethostname()}-{i}" for i in range(1, workers + 1)]
            for name in names:
                if _running(stack, f"worker-{name}") is None:
                    start_worker(stack, name, limit)
            print(f"Workers {', '.join(names)} on pool {POOL!r} of {stack.api_url}; logs in {stack.log_dir}.")
            print("Stop them: forgeline serve-scheduler --stop")
            return 0
        for line in serve(stack, workers, limit):
            print(line)
        return 0
    except DeployError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 1

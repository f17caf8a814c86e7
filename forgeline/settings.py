"""The one place that decides where everything lives and how the stack is configured.

Every path Forgeline reads or writes is derived here from one workspace directory,
``FORGELINE_HOME`` (default: ``workspace/`` beside this checkout). Nothing else in the
code base builds a path to a store by hand: ask :func:`get_settings`.
"""

from __future__ import annotations

import os
import re
import socket
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"
DEMO_DIR = REPO_ROOT / "demo"
# Third-party files fetched at set-up (make env), never at run time: the offline Data Docs' assets.
VENDOR_DIR = REPO_ROOT / ".tools" / "vendor"

CLIENT_ID_PATTERN = re.compile(r"^[a-z][a-z0-9-]{1,39}$")

# Quiet, offline-friendly defaults for the tools we drive (no telemetry calls from an air-gapped server).
TOOL_ENVIRONMENT = {
    "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
    "GX_ANALYTICS_ENABLED": "false",
    "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false",
    # Forgeline's own library loggers (forgeline.ingest, forgeline.quality, ...) go into Prefect's run logs.
    "PREFECT_LOGGING_EXTRA_LOGGERS": "forgeline",
    # ...and outside a flow (the CLI's ingest, tests) they just log locally, without a warning.
    "PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW": "ignore",
    # Prefect's temporary API (no server configured) takes 10-25 s to start on 2 cores, longer when the
    # machine is busy or its database is new; at Prefect's default of 20 s a loaded machine failed whole
    # runs with "Timed out while attempting to connect to ephemeral Prefect API server".
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "180",
}


def apply_tool_environment() -> None:
    """Set the tools' offline defaults unless the operator chose otherwise."""
    for key, value in TOOL_ENVIRONMENT.items():
        os.environ.setdefault(key, value)


@dataclass(frozen=True)
class Settings:
    """Paths of every store in one workspace. See docs/architecture.md for who writes and reads each."""

    home: Path

    # -- program and clients ------------------------------------------------------------------
    @property
    def clients_dir(self) -> Path:
        """One folder per client holding its ``mapping.yml`` (who it is, masters, how its files map)."""
        return self.home / "clients"

    def client_dir(self, client_id: str) -> Path:
        """Everything that is this client's configuration; adding a client touches nothing else."""
        return self.clients_dir / check_client_id(client_id)

    def client_config_path(self, client_id: str) -> Path:
        return self.client_dir(client_id) / "mapping.yml"

    def client_models_dir(self, client_id: str) -> Path:
        """Client-local SQL models (the escape hatch for exports a mapping cannot describe)."""
        return self.client_dir(client_id) / "models"

    def client_downloads_dir(self, client_id: str) -> Path:
        """Files the client downloads (its monthly reports): in its folder, so a purge removes them."""
        return self.client_dir(client_id) / "downloads"

    def mapping_history_dir(self, client_id: str) -> Path:
        """Earlier versions of the mapping, one file each, kept when a new one is saved."""
        return self.client_dir(client_id) / "history"

    # -- landing -> raw -> staging/core/marts ---------------------------------------------------
    def landing_dir(self, client_id: str) -> Path:
        """Files exactly as the client delivered them. Never modified by Forgeline."""
        return self.home / "landing" / check_client_id(client_id)

    def withdrawn_dir(self, client_id: str) -> Path:
        """Delivered files taken back by `forgeline withdraw`: kept, never loaded."""
        return self.home / "withdrawn" / check_client_id(client_id)

    @property
    def warehouse_dir(self) -> Path:
        return self.home / "warehouse"

    def warehouse_path(self, client_id: str) -> Path:
        """The client's working DuckDB file: written by ingestion and dbt only, one writer at a time."""
        return self.warehouse_dir / f"{check_client_id(client_id)}.duckdb"

    def warehouse_files(self, client_id: str) -> list[Path]:
        """The client's warehouse file and the companions DuckDB keeps beside it (``.wal``, ``.tmp``)."""
        # "<id>." never matches another client's "<id>-more.duckdb": ids hold no dot.
        return sorted(self.warehouse_dir.glob(f"{check_client_id(client_id)}.*"))

    # -- resources: one memory budget for the program, shared by the clients running side by side ------
    @property
    def memory_budget_bytes(self) -> int:
        """What the whole program may use (``FORGELINE_MEMORY_BUDGET``, e.g. ``4GB``); by default half the
        machine's memory, at most 4 GB (the program's goal on a 2-core, 24 GB machine)."""
        chosen = os.environ.get("FORGELINE_MEMORY_BUDGET")
        if chosen:
            return parse_bytes(chosen)
        machine = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        return min(machine // 2, 4 * 1024**3)

    @property
    def parallel_clients(self) -> int:
        """Clients run side by side (``FORGELINE_PARALLEL_CLIENTS``; default 2: dbt and training use CPU)."""
        return max(1, int(os.environ.get("FORGELINE_PARALLEL_CLIENTS", "2")))

    @property
    def client_threads(self) -> int:
        """CPU threads each running client may use (DuckDB, dbt, OpenMP): the cores shared out evenly."""
        return max(1, (os.cpu_count() or 1) // self.parallel_clients)

    @property
    def clients_budget_bytes(self) -> int:
        """The budget less what the program itself holds whatever the clients do: the orchestrating
        process (Prefect's flow engine, the training frames) and Prefect's API server, about 1 GB (a
        quarter of a budget smaller than 4 GiB). Measured: a 20-factory program peaked at 4.06 GB when the
        clients were given the whole 4 GB."""
        budget = self.memory_budget_bytes
        return budget - min(1024**3, budget // 4)

    @property
    def client_duckdb_memory_limit(self) -> str:
        """DuckDB's memory cap in one client's run: half its share of the clients' budget (the rest is
        Python's: pandas frames for the gate and training, dbt's own process). Beyond it DuckDB spills to
        ``<home>/warehouse/.tmp`` instead of growing."""
        share = self.clients_budget_bytes // self.parallel_clients // 2
        return f"{max(share // 1024**2, 128)}MB"

    def client_duckdb_config(self) -> dict[str, str | int]:
        """DuckDB settings for a client's working connections (ingest, the mapping, dbt, the gate)."""
        return {"memory_limit": self.client_duckdb_memory_limit, "threads": self.client_threads}

    @property
    def ingest_memory_limit(self) -> str:
        """DuckDB's memory cap while loading files: big deliveries spill to disk instead of growing RAM."""
        return os.environ.get("FORGELINE_INGEST_MEMORY_LIMIT", "512MB")

    def dbt_dir(self, client_id: str) -> Path:
        """Everything dbt writes for one client: its target (artefacts) and its logs."""
        return self.home / "dbt" / check_client_id(client_id)

    def dbt_target_dir(self, client_id: str) -> Path:
        """dbt artefacts per client, so that clients can build side by side."""
        return self.dbt_dir(client_id) / "target"

    def dbt_log_dir(self, client_id: str) -> Path:
        return self.dbt_dir(client_id) / "logs"

    def run_lock_path(self, client_id: str) -> Path:
        """Held while a run or an ingest writes the client's warehouse (see forgeline/locking.py)."""
        return self.home / "locks" / f"{check_client_id(client_id)}.lock"

    # -- quality gate ---------------------------------------------------------------------------
    @property
    def gate_duckdb_settings(self) -> dict[str, str]:
        """DuckDB's caps on the gate's read-only connection: its sorts spill and its cache of the file's
        blocks stops growing (the gate's own chunks are bounded by forgeline.quality.CHUNK_ROWS)."""
        return {
            "memory_limit": os.environ.get("FORGELINE_GATE_MEMORY_LIMIT", "128MB"),
            "threads": os.environ.get("FORGELINE_GATE_THREADS", str(self.client_threads)),
        }

    def quality_dir(self, client_id: str) -> Path:
        """Great Expectations project (Data Docs site, results) of one client."""
        return self.home / "quality" / check_client_id(client_id)

    def data_docs_site(self, client_id: str) -> Path:
        """The client's Great Expectations Data Docs site (GX's own layout inside the client's project)."""
        return self.quality_dir(client_id) / "gx" / "uncommitted" / "data_docs" / "local_site"

    # -- model tracking -------------------------------------------------------------------------
    @property
    def mlflow_dir(self) -> Path:
        return self.home / "mlflow"

    @property
    def mlflow_tracking_uri(self) -> str:
        return os.environ.get("FORGELINE_MLFLOW_URI") or f"sqlite:///{self.mlflow_dir / 'mlflow.db'}"

    @property
    def mlflow_artifact_root(self) -> Path:
        return self.mlflow_dir / "artifacts"

    def mlflow_artifact_dir(self, client_id: str) -> Path:
        """The artifact location of the client's experiment with the embedded store (runs, logged models)."""
        return self.mlflow_artifact_root / check_client_id(client_id)

    # -- published deliverables -----------------------------------------------------------------
    @property
    def published_root(self) -> Path:
        """One folder per published client: all the apps ever read of a client's data."""
        return self.home / "published"

    def published_dir(self, client_id: str) -> Path:
        """Immutable published snapshots of one client, plus the CURRENT pointer the apps follow."""
        return self.published_root / check_client_id(client_id)

    # -- the program layer ----------------------------------------------------------------------
    @property
    def program_dir(self) -> Path:
        """The program's own store (never a client's data): the rules and targets a program applies."""
        return self.home / "program"

    @property
    def level_rules_path(self) -> Path:
        """A program's tuned level rules; without it, the rules shipped in forgeline/program/."""
        return self.program_dir / "level_rules.yml"

    @property
    def consent_dir(self) -> Path:
        """The clients' decisions on pooling their figures, one file each (forgeline/program/consent.py)."""
        return self.program_dir / "consent"

    def consent_path(self, client_id: str) -> Path:
        """The client's decisions on pooling its figures into benchmarks (forgeline/program/consent.py)."""
        return self.consent_dir / f"{check_client_id(client_id)}.yml"

    @property
    def benchmarks_path(self) -> Path:
        """The program store: pooled benchmarks of consenting clients, aggregates only, and their ledger."""
        return self.program_dir / "benchmarks.duckdb"

    @property
    def program_lock_path(self) -> Path:
        """Held while the program store is rebuilt (a leading underscore: never a client id)."""
        return self.home / "locks" / "_program-store.lock"

    @property
    def workbench_path(self) -> Path:
        """Consultants' findings and recommendations, each version and event (program/findings.py)."""
        return self.program_dir / "workbench.duckdb"

    @property
    def workbench_lock_path(self) -> Path:
        """Held while the workbench store is written (its own lock: a benchmarks build may hold the program
        store's for minutes, and a consultant's save should not wait for it)."""
        return self.home / "locks" / "_workbench.lock"

    @property
    def program_targets_path(self) -> Path:
        """A program's own targets (a share of the cohort at a level by a date); else the shipped ones."""
        return self.program_dir / "targets.yml"

    @property
    def purge_certificates_dir(self) -> Path:
        """Certificates of clients purged at the end of their engagement (forgeline/purge.py writes them,
        a consultant or auditor reads them). No client data in them: not even the id, only its salted hash."""
        return self.program_dir / "purges"

    # -- apps -----------------------------------------------------------------------------------
    @property
    def auth_dir(self) -> Path:
        """Logins and sessions (forgeline/auth.py owns every file in it)."""
        return self.home / "auth"

    @property
    def users_path(self) -> Path:
        """Logins of consultants and clients (bcrypt hashes only) and each login's session epoch."""
        return self.auth_dir / "users.yml"

    @property
    def session_key_path(self) -> Path:
        """The key that signs session cookies (made on first use, readable by its owner only)."""
        return self.auth_dir / "session.key"

    @property
    def login_failures_path(self) -> Path:
        """Recent failed logins per login name and per address (keyed by HMAC: never what was typed)."""
        return self.auth_dir / "login_failures.json"

    @property
    def app_address(self) -> str:
        """The address the app listens on (``FORGELINE_APP_ADDRESS``; default 127.0.0.1: this machine only,
        serve others through a TLS reverse proxy, docs/security.md)."""
        return os.environ.get("FORGELINE_APP_ADDRESS", "127.0.0.1")

    @property
    def prefect_home(self) -> Path:
        """Prefect's own state (its ephemeral API database): one per workspace, never shared."""
        return self.home / "prefect"

    @property
    def runs_dir(self) -> Path:
        """One JSON record per program run (what ran, when, with which outcome)."""
        return self.home / "runs"

    def last_run_path(self, client_id: str) -> Path:
        """The client's last complete run: its inputs' fingerprint and outcome (see forgeline/changes.py)."""
        return self.runs_dir / "clients" / f"{check_client_id(client_id)}.json"

    def program_run_path(self, run_id: str) -> Path:
        """The record of one program run (forgeline/outcomes.py)."""
        return self.runs_dir / f"{run_id}.json"

    def program_run_paths(self) -> list[Path]:
        """Every program run's record, oldest first (run ids sort by time)."""
        return sorted(self.runs_dir.glob("*.json"))

    # -- the distributed set-up (docs/deploy.md) -------------------------------------------------
    @property
    def deploy_state_dir(self) -> Path:
        """This machine's state of the set-up: PostgreSQL's data, logs, pid files, workers' Prefect homes.
        Per machine (pid files name this machine's processes); ``FORGELINE_DEPLOY_DIR`` puts it on local
        disk instead of the shared workspace."""
        chosen = os.environ.get("FORGELINE_DEPLOY_DIR")
        return Path(chosen or self.deploy_root / socket.gethostname()).resolve()

    # -- the stack's own tools (forgeline serve-tools) -----------------------------------------
    @property
    def tools_dir(self) -> Path:
        """The tools' logs and their docs site (links into the clients' folders, rebuilt at each start)."""
        return self.home / "tools"

    @property
    def tools_site_dir(self) -> Path:
        return self.tools_dir / "site"

    @property
    def tools_host(self) -> str:
        """Where the tools listen (``FORGELINE_TOOLS_HOST``): this machine only unless told otherwise."""
        return os.environ.get("FORGELINE_TOOLS_HOST", "127.0.0.1")

    @property
    def tools_ports(self) -> dict[str, int]:
        """The MLflow UI and the docs site (``FORGELINE_MLFLOW_UI_PORT``, ``FORGELINE_DOCS_PORT``)."""
        return {
            "mlflow": int(os.environ.get("FORGELINE_MLFLOW_UI_PORT", "5050")),
            "docs": int(os.environ.get("FORGELINE_DOCS_PORT", "8580")),
        }

    @property
    def deploy_root(self) -> Path:
        """Every machine's state of the distributed set-up on the shared workspace (one folder per host)."""
        return self.home / "deploy"

    @property
    def deploy_host(self) -> str:
        """Where the servers listen and workers find them (``FORGELINE_DEPLOY_HOST``)."""
        return os.environ.get("FORGELINE_DEPLOY_HOST", "127.0.0.1")

    @property
    def deploy_ports(self) -> dict[str, int]:
        """PostgreSQL, the Prefect server and the MLflow server (``FORGELINE_PG_PORT`` and so on)."""
        return {
            "postgres": int(os.environ.get("FORGELINE_PG_PORT", "5433")),
            "prefect": int(os.environ.get("FORGELINE_PREFECT_PORT", "4200")),
            "mlflow": int(os.environ.get("FORGELINE_MLFLOW_PORT", "5000")),
        }

    @property
    def mlflow_server_artifacts_dir(self) -> Path:
        """Where the MLflow tracking server keeps the artifacts it proxies (on the shared workspace)."""
        return self.mlflow_dir / "server-artifacts"

    @property
    def prefect_results_dir(self) -> Path:
        """Prefect results of flow runs (an engagement's outcome, read by the program on another machine)."""
        return self.prefect_home / "results"

    @property
    def client_slot_timeout_s(self) -> float:
        """How long a worker's run waits for its client's concurrency slot (another run holds it)."""
        return float(os.environ.get("FORGELINE_CLIENT_SLOT_TIMEOUT", "3600"))

    @cached_property
    def created(self) -> bool:
        self.home.mkdir(parents=True, exist_ok=True)
        return True


def parse_bytes(text: str) -> int:
    """``4GB``, ``512 MB``, ``1.5GiB`` (pint's units: GB = 10^9 bytes, GiB = 2^30) or a number of bytes."""
    import pint

    from forgeline.mapping.units import registry  # the one cached pint registry (building one costs 0.3 s)

    if text.strip().isdigit():
        return int(text)
    try:
        quantity = registry().Quantity(text.strip())
        if quantity.unitless:  # pint counts information as dimensionless: a bare number is no size
            raise ValueError(text)
        return int(quantity.to("byte").magnitude)
    except (pint.errors.PintError, ValueError, TypeError, AttributeError) as exc:
        raise ValueError(f"{text!r} is not a size: write it as 4GB, 512MB or a number of bytes") from exc


def check_client_id(client_id: str) -> str:
    """Client ids become folder and file names: only lower-case letters, digits and hyphens."""
    if not CLIENT_ID_PATTERN.match(client_id or ""):
        from forgeline.i18n import _  # here: settings imports nothing beyond the standard library

        raise ValueError(
            _(
                "Client id {client!r} is not valid: use 2-40 lower-case letters, digits or hyphens, starting "
                "with a letter (for example 'daehan-molding')."
            ).format(client=client_id)
        )
    return client_id


def default_home() -> Path:
    return REPO_ROOT / "workspace"


def get_settings(home: str | os.PathLike[str] | None = None) -> Settings:
    """Settings for ``home``, else ``$FORGELINE_HOME``, else ``workspace/`` in the checkout."""
    chosen = home or os.environ.get("FORGELINE_HOME") or default_home()
    return Settings(home=Path(chosen).expanduser().resolve())

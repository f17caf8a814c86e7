"""The whole consulting program: every client's engagement, two side by side.

Clients can run in parallel safely because each has its own DuckDB file and dbt target folder; the
gate and training steps take turns inside the engagement flow. Run by a worker from its deployment (the
distributed set-up, docs/deploy.md), the program starts each client's engagement as a flow run of the
``client-engagement`` deployment instead, which any worker of the pool takes; an engagement whose worker
was lost (Crashed) is started again. One client's failure does not stop the
others: the program records every outcome in ``<home>/runs/<run_id>.json`` and fails at the end if
any client failed, naming them.
"""

from __future__ import annotations

import dataclasses
import json
import time
from datetime import UTC, datetime
from typing import Any

from forgeline.settings import apply_tool_environment, get_settings

apply_tool_environment()

from prefect import flow, get_run_logger, task  # noqa: E402
from prefect.cache_policies import NO_CACHE  # noqa: E402
from prefect.task_runners import ThreadPoolTaskRunner  # noqa: E402

from flows.engagement import EngagementOutcome, engagement_flow  # noqa: E402
from forgeline.clients import client_ids, list_clients  # noqa: E402
from forgeline.publish import new_run_id  # noqa: E402

# Clients side by side (FORGELINE_PARALLEL_CLIENTS, default 2); each gets its share of memory and cores.
PARALLEL_CLIENTS = get_settings().parallel_clients
ENGAGEMENT_DEPLOYMENT = "client-engagement/client-engagement"  # prefect.yaml
ENGAGEMENT_ATTEMPTS = 3  # an engagement that crashed (its worker lost) is started again, this often at most
POLL_S = 5


class ProgramRunError(RuntimeError):
    """Raised after all clients ran when at least one engagement failed."""


@task(task_run_name="engagement {client_id}", cache_policy=NO_CACHE)
def run_engagement(client_id: str, home: str) -> EngagementOutcome:
    """One client's engagement as a subflow, so it shows as its own run with its own logs."""
    return engagement_flow(client_id=client_id, home=home)


def _distributable() -> bool:
    """A worker runs this program from its deployment, and the engagement deployment exists on the server."""
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound
    from prefect.runtime import deployment

    if deployment.id is None:
        return False
    with get_client(sync_client=True) as client:
        try:
            client.read_deployment_by_name(ENGAGEMENT_DEPLOYMENT)
        except ObjectNotFound:
            return False
    return True


def _run_distributed(chosen: list[str], home: str, run_id: str) -> list[EngagementOutcome]:
    """Each client's engagement as a flow run of its deployment (any worker, any machine); wait for all."""
    from prefect.client.orchestration import get_client
    from prefect.deployments import run_deployment

    logger = get_run_logger()

    def submit(client_id: str) -> Any:
        return run_deployment(
            ENGAGEMENT_DEPLOYMENT, parameters={"client_id": client_id, "home": home}, timeout=0
        )

    runs = {client_id: submit(client_id) for client_id in chosen}
    attempts = dict.fromkeys(chosen, 1)
    done: dict[str, EngagementOutcome] = {}
    with get_client(sync_client=True) as client:
        while len(done) < len(chosen):
            time.sleep(POLL_S)
            for client_id in chosen:
                if client_id in done:
                    continue
                state = client.read_flow_run(runs[client_id].id).state
                if state is None or not state.is_final():
                    continue
                if state.is_crashed() and attempts[client_id] < ENGAGEMENT_ATTEMPTS:
                    # Its worker (or machine) was lost: the run converges when started again (kill tier).
                    logger.warning(
                        "%s: engagement run %s crashed (%s); starting it again (attempt %d of %d).",
                        client_id,
                        runs[client_id].id,
                        state.message,
                        attempts[client_id] + 1,
                        ENGAGEMENT_ATTEMPTS,
                    )
                    runs[client_id] = submit(client_id)
                    attempts[client_id] += 1
                    continue
                if state.is_completed():
                    done[client_id] = state.result()
                else:
                    error = (
                        f"{state.name}: {state.message or 'see the flow run logs'} (run {runs[client_id].id})"
                    )
                    done[client_id] = EngagementOutcome(
                        client_id=client_id, run_id=run_id, status="failed", error=error
                    )
                logger.info("%s: %s", client_id, done[client_id].status)
    return [done[client_id] for client_id in chosen]


@flow(name="forgeline-program", task_runner=ThreadPoolTaskRunner(max_workers=PARALLEL_CLIENTS))
def program_flow(
    home: str | None = None, clients: list[str] | None = None, distribute: bool | None = None
) -> list[EngagementOutcome]:
    """Run the engagement of every client in the program (or of the ``clients`` named).

    ``distribute``: each engagement a flow run of its deployment, on any worker. By default, only when a
    worker runs this program from its deployment and the engagement deployment exists.
    """
    logger = get_run_logger()
    settings = get_settings(home)
    home = str(settings.home)
    # A client whose mapping.yml is broken still takes its turn: its engagement fails naming the file,
    # line and key, and the other clients run.
    invalid: dict[str, str] = {}
    configs = list_clients(settings, invalid)
    known = client_ids(settings)
    chosen = clients or known
    unknown = sorted(set(chosen) - set(known))
    if unknown:
        raise ValueError(
            f"Unknown client(s) {unknown}; the program has {known}. Add them with `forgeline add-client`."
        )
    run_id = new_run_id()
    started = datetime.now(UTC)
    logger.info("Program run %s: %d client(s), %d side by side.", run_id, len(chosen), PARALLEL_CLIENTS)
    if any(c.models for c in configs if c.id in chosen):
        # Once, before any client trains (created atomically the first time: see standard_models/store.py).
        from forgeline.standard_models import ensure_mlflow_store
        from forgeline.standard_models.store import MlflowStoreError

        logger.info("MLflow store: checking…")
        try:
            ensure_mlflow_store(settings)
        except MlflowStoreError as exc:  # the clients with models fail on it, naming it; the others run
            logger.error("%s", exc)

    if distribute is None:
        distribute = _distributable()
    futures = (
        {} if distribute else {client_id: run_engagement.submit(client_id, home) for client_id in chosen}
    )
    outcomes: list[EngagementOutcome] = _run_distributed(chosen, home, run_id) if distribute else []
    for client_id, future in futures.items():
        future.wait()
        state = future.state
        if state.is_completed():
            outcome = future.result()
        else:
            message = str(state.message or "")
            try:
                future.result()
            except Exception as exc:  # the client's own error, already logged by its subflow
                message = f"{type(exc).__name__}: {exc}"
            outcome = EngagementOutcome(client_id=client_id, run_id=run_id, status="failed", error=message)
        outcomes.append(outcome)
        logger.info("%s: %s", client_id, outcome.status if not outcome.error else f"failed — {outcome.error}")

    record = {
        "run_id": run_id,
        "started_at": started.isoformat(),
        "finished_at": datetime.now(UTC).isoformat(),
        "clients": [dataclasses.asdict(o) for o in outcomes],
    }
    settings.runs_dir.mkdir(parents=True, exist_ok=True)
    record_path = settings.runs_dir / f"{run_id}.json"
    tmp = record_path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(record, indent=2, ensure_ascii=False, default=str), encoding="utf-8")
    tmp.replace(record_path)
    logger.info("Run record written to %s", record_path)

    failed = [o.client_id for o in outcomes if o.status == "failed"]
    if failed:
        raise ProgramRunError(
            f"Engagement failed for {failed}; see {record_path} and each client's flow logs."
        )
    return outcomes


if __name__ == "__main__":
    program_flow()

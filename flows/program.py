"""The whole consulting program: every client's engagement, side by side as far as memory allows.

Clients whose deliveries, mapping and code did not change since their last complete run are answered at
once, without an engagement (forgeline/changes.py). The others are scheduled by memory
(forgeline/scheduling.py): biggest first, side by side while their estimates fit the budget, and a
progress line (clients done, each running client's stage, the time left) goes to the run log every
``PROGRESS_EVERY_S`` seconds and whenever a client finishes. Clients can run in parallel safely because
each has its own DuckDB file and dbt target folder; gates take turns inside the engagement flow, and
MLflow calls around the store (forgeline/standard_models). Run by a worker from its deployment (the
distributed set-up, docs/deploy.md), the program starts each client's engagement as a flow run of the
``client-engagement`` deployment instead, which any worker of the pool takes; an engagement whose worker
was lost (Crashed) is started again. One client's failure does not stop the
others: the program records every outcome in ``<home>/runs/<run_id>.json`` and fails at the end if
any client failed, naming them.
"""

from __future__ import annotations

import concurrent.futures
import time
from datetime import UTC, datetime
from typing import Any

from forgeline.settings import apply_tool_environment, get_settings

apply_tool_environment()

from prefect import flow, get_run_logger, task  # noqa: E402
from prefect.cache_policies import NO_CACHE  # noqa: E402
from prefect.task_runners import ThreadPoolTaskRunner  # noqa: E402

from flows.engagement import engagement_flow  # noqa: E402
from forgeline.clients import client_ids, list_clients  # noqa: E402
from forgeline.outcomes import EngagementOutcome, new_run_id, unchanged_outcomes, write_program_record  # noqa: E402
from forgeline.program import benchmarks  # noqa: E402
from forgeline.scheduling import MemoryScheduler, ProgramProgress, delivered_bytes, memory_estimate, track  # noqa: E402

# At most this many clients side by side (FORGELINE_PARALLEL_CLIENTS, default 2: the cores); fewer when
# their memory estimates do not fit the budget together.
PARALLEL_CLIENTS = get_settings().parallel_clients
PROGRESS_EVERY_S = 30
ENGAGEMENT_DEPLOYMENT = "client-engagement/client-engagement"  # prefect.yaml
ENGAGEMENT_ATTEMPTS = 3  # an engagement that crashed (its worker lost) is started again, this often at most
POLL_S = 5
# A run a worker took (Pending) starts its process within seconds; this long means the worker was lost.
PENDING_LOST_S = 240


class ProgramRunError(RuntimeError):
    """Raised after all clients ran when at least one engagement failed."""


# How the program's task running a client's engagement is named (forgeline/purge.py finds it by it).
ENGAGEMENT_TASK_RUN_NAME = "engagement {client_id}"


@task(task_run_name=ENGAGEMENT_TASK_RUN_NAME, cache_policy=NO_CACHE)
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
    pending_since: dict[Any, float] = {}
    with get_client(sync_client=True) as client:
        while len(done) < len(chosen):
            time.sleep(POLL_S)
            for client_id in chosen:
                if client_id in done:
                    continue
                state = client.read_flow_run(runs[client_id].id).state
                if state is not None and state.is_pending():
                    # Timed by this program's clock from when it first saw that Pending state (no clock
                    # of another machine involved).
                    since = pending_since.setdefault(state.id, time.monotonic())
                    if time.monotonic() - since > PENDING_LOST_S:
                        # Taken by a worker that was lost before the run's process started: no heartbeat
                        # will ever come, so Prefect's crash detection never sees it. Mark it crashed.
                        state = _mark_lost(client, runs[client_id].id)
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


def _mark_lost(client: Any, flow_run_id: Any) -> Any:
    """Crashed, unless the run moved on meanwhile (not forced: a run that just started stays running)."""
    from prefect.states import Crashed

    client.set_flow_run_state(
        flow_run_id,
        Crashed(
            message=f"Pending for over {PENDING_LOST_S} s: the worker that took it was lost before it ran."
        ),
    )
    return client.read_flow_run(flow_run_id).state


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
    # Nothing new since its last complete run: the client's results stand, no engagement is started.
    outcomes = unchanged_outcomes(settings, chosen, run_id)
    for client_id, outcome in outcomes.items():
        logger.info(
            "%s: nothing changed since run %s; its results stand.", client_id, outcome.unchanged_since
        )
        for name in outcome.files_rejected:
            logger.warning("%s: file %s is still refused (see its Data quality page).", client_id, name)
    to_run = [c for c in chosen if c not in outcomes]
    logger.info(
        "Program run %s: %d client(s), %d unchanged, %d to run.",
        run_id,
        len(chosen),
        len(outcomes),
        len(to_run),
    )
    if to_run and any(c.models for c in configs if c.id in to_run):
        # Once, before any client trains (created atomically the first time: see standard_models/store.py).
        from forgeline.standard_models import ensure_mlflow_store
        from forgeline.standard_models.store import MlflowStoreError

        logger.info("MLflow store: checking…")
        try:
            ensure_mlflow_store(settings)
        except MlflowStoreError as exc:  # the clients with models fail on it, naming it; the others run
            logger.error("%s", exc)

    if distribute is None:
        distribute = bool(to_run) and _distributable()
    if distribute:
        outcomes.update(zip(to_run, _run_distributed(to_run, home, run_id), strict=True))
    elif to_run:
        outcomes.update(_run_here(to_run, home, run_id, settings))

    if to_run or benchmarks.stale(settings):
        _pool_benchmarks(settings)
    outcomes_list = [outcomes[client_id] for client_id in chosen]
    record_path = write_program_record(settings, run_id, started, datetime.now(UTC), outcomes_list)
    logger.info("Run record written to %s", record_path)
    failed = [o.client_id for o in outcomes_list if o.status == "failed"]
    if failed:
        raise ProgramRunError(
            f"Engagement failed for {failed}; see {record_path} and each client's flow logs."
        )
    return outcomes_list


def _pool_benchmarks(settings: Any) -> None:
    """Rebuild the pooled benchmarks from the consenting clients' new snapshots (forgeline/program/
    benchmarks.py). A failure here leaves the last store standing and the clients' results published."""
    logger = get_run_logger()
    started = time.monotonic()
    try:
        summary = benchmarks.build(settings)
    except Exception as exc:  # noqa: BLE001 - the program's results stand; say what to do
        logger.error(
            "Benchmarks not rebuilt (%s: %s); the last ones stand. Fix it and run `forgeline benchmarks`.",
            type(exc).__name__,
            exc,
        )
        return
    logger.info(
        "Benchmarks rebuilt in %.1f s: %d consenting clients, %d cells released, %d suppressed.",
        time.monotonic() - started,
        summary.consenting,
        summary.released,
        summary.suppressed,
    )


def _run_here(chosen: list[str], home: str, run_id: str, settings: Any) -> dict[str, EngagementOutcome]:
    """The engagements in this process, scheduled by memory, with a progress line for the whole run."""
    logger = get_run_logger()
    sizes = {client_id: delivered_bytes(settings, client_id) for client_id in chosen}
    scheduler = MemoryScheduler(
        budget_bytes=settings.clients_budget_bytes,
        max_side_by_side=PARALLEL_CLIENTS,
        estimates={c: memory_estimate(settings, size) for c, size in sizes.items()},
        sizes=sizes,
    )
    progress = ProgramProgress(sizes)
    logger.info(
        "Scheduling %d client(s) by memory: %.1f GB for clients (of a %.1f GB budget), at most %d side by "
        "side; estimates %s.",
        len(chosen),
        settings.clients_budget_bytes / 1024**3,
        settings.memory_budget_bytes / 1024**3,
        PARALLEL_CLIENTS,
        ", ".join(f"{c} {scheduler.estimates[c] / 1024**3:.1f} GB" for c in scheduler.waiting),
    )
    futures: dict[str, Any] = {}
    outcomes: dict[str, EngagementOutcome] = {}
    track(progress)
    try:
        last_line = time.monotonic()
        while len(outcomes) < len(chosen):
            for client_id in scheduler.next_to_start():
                progress.start(client_id)
                futures[client_id] = run_engagement.submit(client_id, home)
            # Waiting on the threads' own futures: asking Prefect's API for each task's state every
            # half second for hours would load it, and one failed request would end this loop.
            concurrent.futures.wait(
                [f.wrapped_future for f in futures.values()],
                timeout=PROGRESS_EVERY_S,
                return_when="FIRST_COMPLETED",
            )
            for client_id, future in list(futures.items()):
                if not future.wrapped_future.done():
                    continue
                del futures[client_id]
                outcome = _outcome_of(future, client_id, run_id)
                outcomes[client_id] = outcome
                scheduler.finished(client_id)
                progress.finish(client_id, "unchanged" if outcome.unchanged_since else outcome.status)
                logger.info(
                    "%s: %s", client_id, outcome.status if not outcome.error else f"failed — {outcome.error}"
                )
                logger.info("Progress: %s", progress.line(PARALLEL_CLIENTS))
                last_line = time.monotonic()
            if time.monotonic() - last_line >= PROGRESS_EVERY_S:
                logger.info("Progress: %s", progress.line(PARALLEL_CLIENTS))
                last_line = time.monotonic()
    finally:
        track(None)
    return outcomes


def _outcome_of(future: Any, client_id: str, run_id: str) -> EngagementOutcome:
    future.wait()  # done already: its final state comes from the thread, not from Prefect's API (it lags)
    state = future.state
    if state.is_completed():
        return future.result()
    message = str(state.message or "")
    try:
        future.result()
    except Exception as exc:  # the client's own error, already logged by its subflow
        message = f"{type(exc).__name__}: {exc}"
    return EngagementOutcome(client_id=client_id, run_id=run_id, status="failed", error=message)


if __name__ == "__main__":
    program_flow()

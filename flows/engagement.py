"""One client's engagement: ingest → standardize (dbt build) → quality gate (GX) → train (MLflow) → publish.

Each stage is a task with a log line a consultant can read. Retries are declared only where a retry can
help (file I/O that may meet a transiently locked file); dbt, the gate and training are deterministic,
so retrying them would only repeat the same failure.

Every run converges, wherever an earlier one was stopped (even by kill -9): each stage either completes
or leaves nothing the next run trusts. Before anything trains, the MLflow store is made whole and the
runs a stopped process left RUNNING are closed as FAILED; training registers a version only once its run
finished; the alias ``champion`` moves only after the snapshot that shows it is published. A run whose
gate fails publishes its gate results beside the last good marts, and ends as ``gate_failed``.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext, suppress
from datetime import UTC, datetime
from typing import Any

from forgeline.settings import apply_tool_environment, get_settings

apply_tool_environment()

from prefect import flow, get_run_logger, task  # noqa: E402
from prefect.cache_policies import NO_CACHE  # noqa: E402

from forgeline.changes import (  # noqa: E402
    forget_completed_run,
    inputs_fingerprint,
    landing_fingerprint,
    last_completed_run,
    record_completed_run,
    unchanged_before_ingest,
)
from forgeline.clients import ClientConfig, get_client  # noqa: E402
from forgeline.i18n import use_language, word  # noqa: E402
from forgeline.locking import ClientBusy, client_lock  # noqa: E402
from forgeline.outcomes import EngagementOutcome, new_run_id, unchanged_outcome  # noqa: E402
from forgeline.program.levels import load_rules, rules_path  # noqa: E402
from forgeline.publish import RunInfo, publish_client  # noqa: E402
from forgeline.scheduling import report_stage  # noqa: E402
from forgeline.warehouse import table_row_counts  # noqa: E402

# Great Expectations keeps process-wide state (its contexts): when clients run side by side in threads,
# their gates take turns. MLflow's store has its own turn-taking, around its calls only (standard_models),
# so one client's gate, another's training and fits run side by side. (Once gate and training were one
# queue: it was most of the M program's wall time; the 6.2 GB it peaked at with them apart came from
# training frames since moved into DuckDB: bench/program_bench.py shows who holds memory at the peak.)
_GATE_LOCK = threading.Lock()

# Forgeline's own progress lines (files loading, each dbt model built, the model being logged, the
# snapshot switch) go into the run logs: Prefect passes the logger on but not a level.
logging.getLogger("forgeline").setLevel(logging.INFO)

REASONS_SHOWN = 3  # the gate's failures named in a snapshot's reason (all are in meta.gate_results)
# A worker's run holds its client's global concurrency slot under a lease it renews; a worker that dies
# stops renewing, and the slot is free again this long after (plus the server's 15 s sweep).
SLOT_LEASE_S = 60
# How a client's engagement flow run is named (forgeline/purge.py finds a client's runs by it).
ENGAGEMENT_RUN_NAME = "engagement-{client_id}"


@task(task_run_name="ingest {config.id}", retries=2, retry_delay_seconds=5, cache_policy=NO_CACHE)
def ingest(home: str, config: ClientConfig) -> tuple[int, int, list[str]]:
    """Load the client's new landing files into raw tables; already loaded files are skipped."""
    from forgeline.ingest import ingest_client

    logger = get_run_logger()
    # A bad file is refused and recorded; the client's other files still load and the run goes on.
    report = ingest_client(get_settings(home), config, raise_on_rejection=False)
    loaded = [f for f in report.files if f.status == "loaded"]
    skipped = [f for f in report.files if f.status == "skipped"]
    for item in loaded:
        logger.info("Loaded %s: %s rows into raw.%s", item.file, f"{item.rows:,}", item.raw_table)
    if skipped:
        logger.info("%d file(s) already loaded earlier, skipped.", len(skipped))
    for name in report.unmatched:
        logger.warning(
            "Landing file %s matches no source in mapping.yml and was not loaded: add a source for it.", name
        )
    for refused in report.files:
        if refused.status == "rejected":
            logger.error("File refused: %s", refused.error)
        elif refused.status == "rejected earlier":
            logger.warning("File still refused from an earlier run: %s", refused.error)
    for source in report.undelivered:
        logger.warning(
            "No file delivered yet for source %s: its raw table stays empty until the client sends it.",
            source,
        )
    return len(loaded), len(skipped), [f.file for f in report.files if f.status.startswith("rejected")]


@task(task_run_name="standardize {config.id}", cache_policy=NO_CACHE)
def standardize(home: str, config: ClientConfig) -> dict[str, int]:
    """Apply the client's mapping, build its staging, core and marts with dbt; return the core row counts."""
    from forgeline.standardize import apply_mapping, run_dbt

    logger = get_run_logger()
    settings = get_settings(home)
    logger.info("Compiling the mapping of %s into its mapped views…", config.id)
    problems = apply_mapping(settings, config)
    if problems:
        logger.warning(
            "%s row(s) quarantined by the mapping (left out, the other rows go on; the gate judges their "
            "share): fix mapping.yml or ask the client for a corrected export. %s",
            f"{sum(p.cells for p in problems):,}",
            " | ".join(p.describe() for p in problems[:5]),
        )
    logger.info("dbt build of %s starts…", config.id)
    result = run_dbt(settings, config, "build")
    logger.info("dbt build for %s: %s", config.id, result.summary())
    counts = table_row_counts(settings, config.id, "core")
    logger.info("Core rows: %s", ", ".join(f"{t} {n:,}" for t, n in counts.items() if n))
    return counts


@task(task_run_name="quality gate {config.id}", cache_policy=NO_CACHE)
def quality_gate(home: str, config: ClientConfig) -> Any:
    """Run the client's Great Expectations suites on its core tables; the result decides training."""
    from forgeline.quality import run_gate

    logger = get_run_logger()
    with _GATE_LOCK:
        logger.info("Quality gate of %s starts…", config.id)
        gate = run_gate(get_settings(home), config)
    if gate.passed:
        logger.info("Quality gate passed for %s (%d expectations).", config.id, len(gate.results))
    else:
        for outcome in gate.failed():
            logger.error(
                "Quality gate: %s%s failed %s (observed %s): %s",
                _checked(outcome.table_name),
                f".{outcome.column_name}" if outcome.column_name else "",
                outcome.expectation_type,
                outcome.observed or "-",
                outcome.details,
            )
        logger.error("Quality gate FAILED for %s: training is blocked until the data is fixed.", config.id)
    return gate


@task(task_run_name="train {config.id}", cache_policy=NO_CACHE)
def train(home: str, config: ClientConfig, gate: Any) -> list[Any]:
    """Train the client's standard models; register a champion only where a model beats its baseline."""
    from forgeline.standard_models import train_client_models

    logger = get_run_logger()
    logger.info("Training of %s starts: %s.", config.id, ", ".join(config.models))
    results = train_client_models(get_settings(home), config, gate)
    for r in results:
        if r.model_metric != r.model_metric:  # NaN: nothing in the holdout to score it against
            logger.info("%s: not scored: %s", r.model_name, r.champion_decision)
            continue
        verdict = "beats" if r.beats_baseline else "does NOT beat"
        logger.info(
            "%s: %s %.3f %s baseline %s %.3f%s",
            r.model_name,
            r.metric_name,
            r.model_metric,
            verdict,
            r.baseline_name,
            r.baseline_metric,
            " → champion once published" if r.is_champion else "",
        )
    return results


@task(task_run_name="mlflow store {config.id}", cache_policy=NO_CACHE)
def prepare_models_store(home: str, config: ClientConfig) -> list[str]:
    """Before anything trains: the MLflow store whole and current, and a stopped run's leftovers closed."""
    from forgeline.standard_models import prepare_client_store

    return prepare_client_store(get_settings(home), config.id)


@task(task_run_name="publish {config.id}", retries=2, retry_delay_seconds=5, cache_policy=NO_CACHE)
def publish(home: str, config: ClientConfig, run: RunInfo, gate: Any, models: list[Any]) -> str:
    """Write the client's read-only snapshot and switch the apps to it."""
    logger = get_run_logger()
    logger.info("Publishing %s for %s…", run.run_id, config.id)
    gate_frame = gate.to_frame() if gate is not None else None
    snapshot = publish_client(get_settings(home), config, run, gate_frame, models)
    logger.info("Published %s for %s.", snapshot.name, config.id)
    return snapshot.name


@task(task_run_name="champion {config.id}", cache_policy=NO_CACHE)
def promote(home: str, config: ClientConfig, models: list[Any]) -> list[str]:
    """Move ``champion`` to the versions the snapshot just published shows as champion (never before)."""
    from forgeline.standard_models import promote_champions

    logger = get_run_logger()
    logger.info("Champion aliases of %s: checking…", config.id)
    moved = promote_champions(get_settings(home), models)
    for name in moved:
        logger.info("%s: champion moved to the version just published.", name)
    return moved


def _checked(table: str) -> str:
    """What a gate expectation checked: a core table, or the mapping's quarantine (a suite of its own)."""
    from expectations import QUARANTINE_SUITE

    return "the mapping's quarantine" if table == QUARANTINE_SUITE else f"core.{table}"


def gate_reason(gate: Any, shown: int = REASONS_SHOWN) -> str:
    """The gate's first failures in a sentence a client can act on (all are in meta.gate_results), in
    English; :func:`gate_wording` keeps it as a message to word in the reader's language."""
    with use_language("en"):
        return word(gate.reason(shown))


def gate_wording(gate: Any, shown: int = REASONS_SHOWN) -> str:
    """:func:`gate_reason` as its message and values (JSON; forgeline/i18n.py)."""
    return json.dumps(gate.reason(shown), ensure_ascii=False)


def slot_name(client_id: str) -> str:
    """The client's global concurrency limit (also removed when the client is purged)."""
    return f"forgeline-client-{client_id}"


@contextmanager
def client_slot(client_id: str, timeout_s: float) -> Iterator[None]:
    """One run of a client at a time across machines: the client's global concurrency limit (one slot).

    Only for runs a worker started from a deployment (the distributed set-up, docs/deploy.md): file locks
    do not hold across machines, Prefect's limits do. A second run of the client waits for the slot (up to
    ``timeout_s``), then stops as ClientBusy. The embedded default keeps only the file lock.
    """
    from prefect.client.orchestration import get_client
    from prefect.concurrency.sync import concurrency
    from prefect.exceptions import ObjectAlreadyExists

    name = slot_name(client_id)
    # Two runs of the client may create it at the same moment: then it exists, which is all we need.
    with get_client(sync_client=True) as client, suppress(ObjectAlreadyExists):
        client.upsert_global_concurrency_limit_by_name(name, limit=1)
    try:
        with concurrency(
            name,
            occupy=1,
            timeout_seconds=timeout_s,
            lease_duration=SLOT_LEASE_S,
            strict=True,
            # A renewal that fails once (a busy server) must not kill a run half way: the file lock taken
            # next still keeps a second writer out on the shared workspace.
            raise_on_lease_renewal_failure=False,
        ):
            yield
    except TimeoutError as exc:
        raise ClientBusy(
            f"Another run of {client_id} held its concurrency slot {name!r} for {timeout_s:.0f} s; see the "
            "Prefect UI (Concurrency) and run again later."
        ) from exc


def _from_deployment() -> bool:
    """Whether a worker runs this flow from a deployment (not `forgeline run` or an in-process program)."""
    from prefect.runtime import deployment

    return deployment.id is not None


@flow(name="client-engagement", flow_run_name=ENGAGEMENT_RUN_NAME, log_prints=True)
def engagement_flow(client_id: str, home: str | None = None) -> EngagementOutcome:
    """Run one client end to end. A failed gate still publishes (so the client sees what to fix)."""
    settings = get_settings(home)
    home = str(settings.home)
    config = get_client(settings, client_id)
    # The program's level rules, before anything runs: publish applies them at the very end.
    load_rules(rules_path(settings))
    started = datetime.now(UTC)
    outcome = EngagementOutcome(client_id=client_id, run_id=new_run_id(started), status="failed")

    clock = time.perf_counter()

    def lap(stage: str, following: str | None = None) -> None:
        """``stage`` took the time since the last lap; ``following`` starts now (shown in the progress)."""
        nonlocal clock
        now = time.perf_counter()
        outcome.seconds[stage] = round(now - clock, 2)
        clock = now
        if following:
            report_stage(client_id, following)

    logger = get_run_logger()
    distributed = _from_deployment()
    # One writer per client: across machines the client's concurrency slot (a second run waits for it);
    # then the file lock, so a second run of this client (another process) stops here, not in DuckDB.
    slot = client_slot(client_id, settings.client_slot_timeout_s) if distributed else nullcontext()
    with slot, client_lock(settings, client_id):
        last = unchanged_before_ingest(settings, client_id)
        if last is not None:
            # Nothing new in landing, raw, the client's folder or the code: nothing to load or rebuild.
            logger.info(
                "Nothing changed for %s since run %s (no new delivery; same mapping and code): snapshot %s "
                "stays.",
                client_id,
                last.outcome.get("run_id"),
                last.outcome.get("snapshot"),
            )
            return unchanged_outcome(client_id, outcome.run_id, last.outcome)
        # What ingest is about to see; a file landing during ingest makes the next run look again.
        landing = landing_fingerprint(settings, client_id)
        if config.models:
            interrupted = prepare_models_store(home, config)
            if interrupted:
                logger.warning("Closed %d MLflow run(s) a stopped process left running.", len(interrupted))
            lap("mlflow store")
        report_stage(client_id, "ingest")
        logger.info("Ingest of %s starts…", client_id)
        outcome.files_loaded, outcome.files_skipped, outcome.files_rejected = ingest(home, config)
        lap("ingest", "standardize")
        fingerprint = inputs_fingerprint(settings, client_id)
        last = last_completed_run(settings, client_id)
        if last is not None and last.fingerprint == fingerprint:
            # Same deliveries, mapping and code as the run that made the current results: they would be
            # rebuilt exactly, so they are kept (forgeline/changes.py).
            logger.info(
                "Nothing changed for %s since run %s (same deliveries, mapping and code): snapshot %s stays.",
                client_id,
                last.outcome.get("run_id"),
                last.outcome.get("snapshot"),
            )
            # The landing folder changed but brought nothing new (a file touched or matching no source):
            # remember its new look, so the next run can tell "unchanged" before ingest.
            record_completed_run(settings, client_id, fingerprint, last.outcome, landing)
            return unchanged_outcome(client_id, outcome.run_id, last.outcome)
        forget_completed_run(settings, client_id)
        outcome.core_rows = standardize(home, config)
        lap("standardize", "gate")
        gate = quality_gate(home, config)
        outcome.gate_passed = bool(gate.passed)
        outcome.gate_failures = [
            f"{o.table_name}.{o.column_name}: {o.expectation_type}" for o in gate.failed()
        ]
        lap("gate", "train" if gate.passed and config.models else "publish")
        models = train(home, config, gate) if gate.passed and config.models else []
        outcome.models = [dataclasses.asdict(m) if dataclasses.is_dataclass(m) else dict(m) for m in models]
        lap("train", "publish")
        status = "published" if gate.passed else "gate_failed"
        run = RunInfo(
            run_id=outcome.run_id,
            started_at=started,
            status=status,
            gate_passed=gate.passed,
            reason=None if gate.passed else gate_reason(gate),
            reason_wording=None if gate.passed else gate_wording(gate),
        )
        outcome.snapshot = publish(home, config, run, gate, models)
        lap("publish")
        if models:
            promote(home, config, models)
            lap("champion")
        outcome.status = status
        record_completed_run(settings, client_id, fingerprint, dataclasses.asdict(outcome), landing)
    return outcome

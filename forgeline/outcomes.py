"""What a run produced: each client's :class:`EngagementOutcome`, and the program's run record.

The program flow collects one outcome per client into ``<home>/runs/<run_id>.json``. When nothing changed
for any client, ``forgeline run`` writes the same record itself without starting Prefect at all
(forgeline/changes.py decides "nothing changed"). No Prefect import here, so the CLI stays light.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from forgeline.settings import Settings


def new_run_id(now: datetime | None = None) -> str:
    """A run's id: its start time in UTC, sortable, to the microsecond."""
    now = now or datetime.now(UTC)
    return now.strftime("%Y%m%dT%H%M%S%fZ")


@dataclasses.dataclass
class EngagementOutcome:
    """What one client's run produced; the program flow collects these into its run record."""

    client_id: str
    run_id: str
    status: str  # published | gate_failed | failed
    files_loaded: int = 0
    files_skipped: int = 0
    files_rejected: list[str] = dataclasses.field(default_factory=list)
    core_rows: dict[str, int] = dataclasses.field(default_factory=dict)
    gate_passed: bool | None = None
    gate_failures: list[str] = dataclasses.field(default_factory=list)
    models: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    snapshot: str | None = None
    error: str | None = None
    seconds: dict[str, float] = dataclasses.field(default_factory=dict)
    unchanged_since: str | None = None  # the run whose results still stand, when nothing changed


def unchanged_outcome(client_id: str, run_id: str, last: dict[str, Any]) -> EngagementOutcome:
    """This run's outcome when nothing changed: the last complete run's results, still current (its
    refused files too: they are still refused)."""
    return EngagementOutcome(
        client_id=client_id,
        run_id=run_id,
        status=last.get("status") or "published",
        files_rejected=list(last.get("files_rejected") or []),
        core_rows=last.get("core_rows") or {},
        gate_passed=last.get("gate_passed"),
        gate_failures=list(last.get("gate_failures") or []),
        models=list(last.get("models") or []),
        snapshot=last.get("snapshot"),
        unchanged_since=last.get("run_id"),
    )


def unchanged_outcomes(
    settings: Settings, client_ids: Sequence[str], run_id: str
) -> dict[str, EngagementOutcome]:
    """The clients with nothing new since their last complete run, with that run's results.

    Each is checked under its client lock, so the check never holds the warehouse open beside a writer; a
    client another process holds right now is not checked (it runs, and waits or stops there as busy)."""
    from forgeline.changes import unchanged_before_ingest
    from forgeline.locking import ClientBusy, client_lock

    found: dict[str, EngagementOutcome] = {}
    for client_id in client_ids:
        try:
            with client_lock(settings, client_id):
                last = unchanged_before_ingest(settings, client_id)
        except ClientBusy:
            continue
        if last is not None:
            found[client_id] = unchanged_outcome(client_id, run_id, last.outcome)
    return found


def write_program_record(
    settings: Settings,
    run_id: str,
    started: datetime,
    finished: datetime,
    outcomes: Sequence[EngagementOutcome],
) -> Path:
    """``<home>/runs/<run_id>.json``, written whole or not at all."""
    record = {
        "run_id": run_id,
        "started_at": started.isoformat(),
        "finished_at": finished.isoformat(),
        "clients": [dataclasses.asdict(o) for o in outcomes],
    }
    settings.runs_dir.mkdir(parents=True, exist_ok=True)
    path = settings.program_run_path(run_id)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(record, indent=2, ensure_ascii=False, default=str), encoding="utf-8")
    tmp.replace(path)
    return path

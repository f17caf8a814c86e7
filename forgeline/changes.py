"""Whether a client's run would change anything: everything a run's result depends on, as one fingerprint.

A run's result (core tables, gate verdict, models, the published snapshot) is a function of:

- the client's deliveries in raw: which load batches are live and which files were refused;
- the client's folder: ``mapping.yml`` and its client models;
- Forgeline's own code that turns them into results: the mapping compiler, dbt project, gate suites,
  standard models and publisher.
- the smart-factory level rules the program applies (``<home>/program/level_rules.yml`` if tuned).

After a run completes (its snapshot published and champions moved), the fingerprint is recorded with its
outcome. A later run whose fingerprint is the same would rebuild exactly the same things, so it stops
after ingest and reports the recorded outcome ("unchanged"). Anything else (a new or withdrawn delivery,
an edited mapping, an upgrade of Forgeline) runs everything. A run stopped before the record is written
leaves no record, so the next run does the whole work again: the record can only be missing, never wrong.

The record also keeps what the landing folder looked like when that run's ingest began (each file's
path, size, modification and change times, and inode, as make and rsync judge files). When the landing
folder still looks the same, ingest would find nothing new, so :func:`unchanged_before_ingest` can say
"unchanged" before anything starts: ``forgeline run`` then answers without starting Prefect, and the
program flow without starting the client's engagement. A file changed in place changes its change time
(ctime), which ordinary programs cannot set back. A file touched within ``RACY_S`` of the look (within a
coarse file system's timestamp resolution) could change again unseen, so such a look is not kept (Git's
"racily clean" rule): the next run ingests and compares the deliveries themselves.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from forgeline.atomic import write_atomically
from forgeline.ingest.landing import scan_landing
from forgeline.locking import open_warehouse
from forgeline.program.levels import rules_path
from forgeline.settings import REPO_ROOT, Settings

log = logging.getLogger("forgeline.changes")

RACY_S = 3  # a landing entry changed this recently makes its folder's look untrustworthy (see above)

# The code a client's results depend on (all of Forgeline's package, ingest included: coarse but safe),
# beside the dbt project, whose digest standardize owns.
_CODE_GLOBS = [
    (REPO_ROOT / "forgeline", "**/*.py"),
    (REPO_ROOT / "forgeline", "**/*.yml"),
    (REPO_ROOT / "expectations", "**/*.py"),
]


@lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """A digest of the code that turns deliveries into results (computed once per process)."""
    from forgeline.standardize import dbt_project_fingerprint

    digest = hashlib.sha256()
    for root, pattern in _CODE_GLOBS:
        for path in sorted(p for p in root.glob(pattern) if p.is_file() and "__pycache__" not in p.parts):
            digest.update(str(path.relative_to(REPO_ROOT)).encode())
            digest.update(path.read_bytes())
    digest.update(dbt_project_fingerprint().encode())
    return digest.hexdigest()


def _client_files_digest(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(folder)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def landing_fingerprint(settings: Settings, client_id: str) -> str | None:
    """What the client's landing folder looks like now: each entry's path and stat, never its content.
    None when an entry changed too recently for its timestamps to tell a later change apart."""
    folder = settings.landing_dir(client_id)
    now_ns = time.time_ns()
    entries = []
    for path, stat in sorted(scan_landing(folder).stats.items()):
        if now_ns - max(stat.st_mtime_ns, stat.st_ctime_ns) < RACY_S * 1e9:
            return None
        entries.append(
            [
                str(path.relative_to(folder)),
                stat.st_mode,
                stat.st_size,
                stat.st_mtime_ns,
                stat.st_ctime_ns,
                stat.st_ino,
            ]
        )
    return hashlib.sha256(json.dumps(entries).encode()).hexdigest()


def inputs_fingerprint(settings: Settings, client_id: str) -> str:
    """The fingerprint of everything the client's next run depends on (read after ingest)."""
    con = open_warehouse(settings, client_id, read_only=True)
    try:
        has = {
            t
            for (t,) in con.execute(
                "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'raw' "
                "AND table_name IN ('_load_batches', '_rejected_files')"
            ).fetchall()
        }
        batches = (
            con.execute(
                "SELECT batch_id, raw_table, rows, coalesce(status, 'loaded') FROM raw._load_batches "
                "ORDER BY ALL"
            ).fetchall()
            if "_load_batches" in has
            else []
        )
        rejected = (
            con.execute(
                "SELECT batch_id, raw_table, source_settings FROM raw._rejected_files ORDER BY ALL"
            ).fetchall()
            if "_rejected_files" in has
            else []
        )
    finally:
        con.close()
    payload = {
        "batches": [list(map(str, b)) for b in batches],
        "rejected": [list(map(str, r)) for r in rejected],
        "client": _client_files_digest(settings.client_dir(client_id)),
        "code": code_fingerprint(),
        # The level rules a program applies (its tuned copy, else the shipped file in the code above).
        "level_rules": hashlib.sha256(rules_path(settings).read_bytes()).hexdigest(),
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True)
class CompletedRun:
    fingerprint: str
    outcome: dict[str, Any]  # the EngagementOutcome of the run that produced the current results
    landing: str | None = None  # the landing folder's look when that run's ingest began


def last_completed_run(settings: Settings, client_id: str) -> CompletedRun | None:
    """The record of the client's last complete run, if its snapshot is still the one the apps show."""
    path = settings.last_run_path(client_id)
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        snapshot = record["outcome"].get("snapshot")
        pointer = settings.published_dir(client_id) / "CURRENT"
        if not snapshot or pointer.read_text().strip() != snapshot:
            return None  # published since by other means, or removed: run everything
        return CompletedRun(record["fingerprint"], record["outcome"], record.get("landing"))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def unchanged_before_ingest(settings: Settings, client_id: str) -> CompletedRun | None:
    """The last complete run, when nothing it depends on changed since: no new or altered landing file,
    the same live batches and refusals in raw, the same client folder and code. None means "run"."""
    last = last_completed_run(settings, client_id)
    if last is None or last.landing is None or last.landing != landing_fingerprint(settings, client_id):
        return None
    try:
        fingerprint = inputs_fingerprint(settings, client_id)
    except Exception:  # noqa: BLE001 - an unreadable (or busy) warehouse is never "unchanged": run it
        log.debug("%s: warehouse not readable for the change check; running.", client_id, exc_info=True)
        return None
    return last if fingerprint == last.fingerprint else None


def record_completed_run(
    settings: Settings, client_id: str, fingerprint: str, outcome: dict[str, Any], landing: str | None
) -> None:
    """Written last, atomically: a run stopped before this line leaves the previous record or none."""
    path = settings.last_run_path(client_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(
        path,
        json.dumps(
            {"fingerprint": fingerprint, "landing": landing, "outcome": outcome},
            indent=2,
            ensure_ascii=False,
            default=str,
        ),
    )


def forget_completed_run(settings: Settings, client_id: str) -> None:
    """Before a run changes anything: its result will differ from the record."""
    settings.last_run_path(client_id).unlink(missing_ok=True)


def follow_republished(
    settings: Settings, client_id: str, previous: str, snapshot: str, registered_model: str, version: str
) -> None:
    """The last complete run's record follows a snapshot re-published with another champion
    (`forgeline models promote/rollback`): its data is the same, so a run with nothing new stays skipped.
    A record naming another snapshot than ``previous`` is left as it is (the next run looks again)."""
    try:  # read as written: CURRENT names the new snapshot already, so last_completed_run would say None
        record = json.loads(settings.last_run_path(client_id).read_text(encoding="utf-8"))
        if record["outcome"].get("snapshot") != previous:
            return
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return
    outcome = {**record["outcome"], "snapshot": snapshot}
    outcome["models"] = [
        {**m, "is_champion": str(m.get("model_version")) == str(version)}
        if m.get("registered_model") == registered_model
        else m
        for m in outcome.get("models") or []
    ]
    record_completed_run(settings, client_id, record["fingerprint"], outcome, record.get("landing"))

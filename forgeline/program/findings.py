"""The consultant workbench: findings and recommendations per client, each linked to its evidence, with a
reviewed lifecycle and an append-only history. This module is the one owner of these rules.

**Store.** :attr:`Settings.workbench_path` (``<home>/program/workbench.duckdb``): the program's own store,
never a client's warehouse. Two tables, both append-only: ``versions`` (every version of every finding:
kind, title, body, evidence as JSON, its author and when, in UTC) and ``events`` (written, changes
requested, reviewed, delivered, withdrawn: by whom, when, with the reviewer's note). Each write takes
:attr:`Settings.workbench_lock_path` (its own lock: a benchmarks build holds the program store's lock for a
whole build, and a consultant's save should not wait for that), writes a new file holding the old rows plus
the new ones, and switches to it with ``os.replace``; readers attach the file read-only for a moment, so
no reader ever blocks a writer and a reader sees the store before or after a write, never half of one.
Only :func:`forget` (a purge) drops rows: it too writes a fresh file, so no freed page keeps them.

**Lifecycle.** A finding is ``draft`` → ``reviewed`` → ``delivered``; or ``withdrawn`` (final).

- Every edit is a new version (``revise``, naming the version it is based on: an edit made on an older
  version is refused, so two consultants never overwrite each other). A new version is a draft, whatever
  the status before: a delivered finding changes only through a new version that is reviewed again, and
  until that version is delivered the client keeps seeing the version delivered last.
- A reviewer must not be the author of the version reviewed (the last author). A reviewer approves it
  (``reviewed``) or asks for changes with a note (it stays a draft). Reviewer notes are never shown to
  clients.
- Only a reviewed version is delivered. Review and delivery need at least one piece of evidence, and
  check every piece again against the client's current published snapshot (no dangling links).
- A withdrawn finding is no longer shown to the client, even a version delivered before; nothing more
  happens to it (write a new one instead). Its history stays.
- Who may do what (consultants write, program managers read, a client reads only its own delivered
  findings) is checked by ``apps/data.py`` with forgeline/auth.py; this module records who did it.

**Evidence.** Each piece is one of :data:`EVIDENCE_KINDS`, with its parameters:

- ``kpi_chart``: ``kpi`` (a key of :data:`KPIS`), ``start``, ``end`` (ISO dates), ``machine`` (optional);
- ``model_result``: ``model_name``, ``model_version`` (a result of the client's catalog models);
- ``operating_window``: ``model_name``, ``parameter`` (a window the model recommends);
- ``level_gap``: ``rule_id`` (a rule of the level rules the client does not meet yet).

:func:`check_evidence` validates a piece against what the client's current snapshot holds and refuses with
a message saying what the snapshot holds instead; the piece then carries a description and the figures
the snapshot showed (so a delivered finding still says what it rested on once later runs move on).
:func:`evidence_view` gives what to draw: the KPI's day-by-day series (live from the current snapshot), or
the figures.

**API for reports** (stable; a report builder calls these):

- ``findings_for(settings, client_id, *, statuses=("delivered",), period=None) -> list[Finding]``: each
  finding at most once; with ``"delivered"`` among ``statuses``, a finding whose current version is a new
  draft is given as the version delivered last. ``period``, ``(first_day, last_day)`` or any object with
  ``start`` and ``end`` dates (both in; a report's period), keeps findings whose version was delivered
  (or, if not delivered, written) in it or whose KPI evidence overlaps it.
- ``evidence_view(settings, client_id, evidence) -> EvidenceView``: the chart's data (``days``: a frame of
  ``day``, ``value``, every day of the evidence's period, a missing day as NaN) or the figures.
- :class:`Finding` (title, body, kind, status, version, author, timestamps, evidence) and
  :class:`Evidence` (kind, params, description, figures, checked_run).

Also: :func:`write`, :func:`revise`, :func:`review`, :func:`deliver`, :func:`withdraw`, :func:`finding`,
:func:`history`, :func:`evidence_choices`, :func:`forget`, :func:`count`.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Any, Literal, Protocol, runtime_checkable

import duckdb
import pandas as pd
from filelock import FileLock, Timeout
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator

from forgeline import i18n
from forgeline.i18n import N_, _
from forgeline.publish import current_snapshot
from forgeline.reports import words
from forgeline.reports.content import DEFAULT_TIMEZONE, Figures, figures, snapshot_timezone
from forgeline.settings import Settings, check_client_id

Kind = Literal["finding", "recommendation"]
Status = Literal["draft", "reviewed", "delivered", "withdrawn"]
KINDS: tuple[Kind, ...] = ("finding", "recommendation")
STATUSES: tuple[Status, ...] = ("draft", "reviewed", "delivered", "withdrawn")
# A status as people read it in a message (the codes stay in the store).
STATUS_WORDS = {
    "draft": N_("draft"),
    "reviewed": N_("reviewed"),
    "delivered": N_("delivered"),
    "withdrawn": N_("withdrawn"),
}
EVIDENCE_KINDS = ("kpi_chart", "model_result", "operating_window", "level_gap")
TITLE_MAX = 200
LOCK_WAIT_S = 30  # writes take milliseconds; a longer wait means something is stuck

# What each event makes of the version's status (withdrawn: the whole finding).
_STATUS_AFTER = {
    "written": "draft",
    "changes_requested": "draft",
    "reviewed": "reviewed",
    "delivered": "delivered",
    "withdrawn": "withdrawn",
}
_SCHEMA = {
    "versions": (
        "finding_id VARCHAR, version INTEGER, client_id VARCHAR, kind VARCHAR, title VARCHAR, body VARCHAR, "
        "evidence VARCHAR, author VARCHAR, written_at TIMESTAMPTZ"
    ),
    "events": (
        "seq BIGINT, finding_id VARCHAR, version INTEGER, client_id VARCHAR, action VARCHAR, actor VARCHAR, "
        "acted_at TIMESTAMPTZ, note VARCHAR"
    ),
}


@runtime_checkable
class Span(Protocol):
    """A period as reports pass it: an object with ``start`` and ``end`` dates, both in."""

    start: date
    end: date


class FindingError(ValueError):
    """An action the lifecycle refuses; the message says why and what to do."""


class EvidenceError(FindingError):
    """Evidence the client's published snapshot does not hold."""


class Conflict(FindingError):
    """The finding changed since the version the action was based on."""


class Busy(FindingError):
    """The store stayed locked by another writer for the whole wait."""


# -- KPIs a chart can show: one value per day, rolled up as the client's report rolls it up ------------------
@dataclass(frozen=True)
class Kpi:
    label: str  # marked for the catalogs (N_): translated where shown
    unit: str  # "share" or a unit of measure
    figure: str  # the report's figure (forgeline/reports/content.py Figures): its one roll-up of the KPI
    by_machine: bool  # whether the mart has a machine_id (energy is metered per site)


KPIS: dict[str, Kpi] = {
    "oee": Kpi(N_("OEE"), "share", "oee", True),
    "availability": Kpi(N_("availability"), "share", "availability", True),
    "performance": Kpi(N_("performance"), "share", "performance", True),
    "quality": Kpi(N_("quality"), "share", "quality", True),
    "good_units": Kpi(N_("good units"), "units", "good_units", True),
    "defect_rate": Kpi(N_("defect rate"), "share", "defect_rate", True),
    "energy_kwh": Kpi(N_("energy"), "kWh", "energy_kwh", False),
    "co2_kg": Kpi(N_("CO2"), "kg", "co2_kg", False),
    "kwh_per_good_unit": Kpi(N_("energy per good unit"), "kWh", "kwh_per_unit", False),
}


# -- evidence parameters (validated by pydantic, then against the snapshot) -------------------------------
class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class KpiChart(_Params):
    kind: Literal["kpi_chart"] = "kpi_chart"
    kpi: str
    start: date
    end: date
    machine: str | None = None

    @model_validator(mode="after")
    def _ordered(self) -> KpiChart:
        if self.kpi not in KPIS:
            raise ValueError(f"unknown KPI {self.kpi!r}; known: {', '.join(KPIS)}")
        if self.start > self.end:
            raise ValueError(f"the period starts ({self.start}) after it ends ({self.end})")
        self.machine = self.machine or None
        return self


class ModelResult(_Params):
    kind: Literal["model_result"] = "model_result"
    model_name: str
    model_version: str


class OperatingWindow(_Params):
    kind: Literal["operating_window"] = "operating_window"
    model_name: str
    parameter: str


class LevelGap(_Params):
    kind: Literal["level_gap"] = "level_gap"
    rule_id: str


EvidenceParams = Annotated[KpiChart | ModelResult | OperatingWindow | LevelGap, Field(discriminator="kind")]
_PARAMS = TypeAdapter(EvidenceParams)


@dataclass(frozen=True)
class Evidence:
    """One piece of evidence: its kind and parameters, what it shows in words, and the figures the client's
    snapshot held when it was checked (``checked_run``: that snapshot's run)."""

    kind: str
    params: dict[str, Any]
    description: str
    figures: dict[str, str] = field(default_factory=dict)
    checked_run: str = ""

    def as_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "params": self.params,
            "description": self.description,
            "figures": self.figures,
            "checked_run": self.checked_run,
        }


@dataclass(frozen=True)
class Finding:
    """A finding or recommendation as one version of it stands (see the module's lifecycle)."""

    finding_id: str
    client_id: str
    kind: str  # finding | recommendation
    title: str
    body: str
    status: str  # draft | reviewed | delivered | withdrawn
    version: int  # this version
    latest_version: int  # the newest version (greater when a new draft follows a delivered version)
    author: str  # who wrote this version
    written_at: datetime  # when this version was written (UTC)
    created_by: str  # who wrote version 1
    created_at: datetime
    evidence: tuple[Evidence, ...]
    reviewed_by: str | None = None  # of this version
    reviewed_at: datetime | None = None
    delivered_by: str | None = None
    delivered_at: datetime | None = None
    withdrawn_by: str | None = None
    withdrawn_at: datetime | None = None


@dataclass(frozen=True)
class HistoryEntry:
    """One line of a finding's history: who did what to which version, when (UTC)."""

    version: int
    action: str  # written | changes_requested | reviewed | delivered | withdrawn
    by: str
    at: datetime
    note: str  # the reviewer's note or the withdrawal's reason (never shown to a client)
    changed: tuple[str, ...] = ()  # for a written version: what differs from the version before


# -- the store -----------------------------------------------------------------------------------------------
@contextmanager
def _attached(path: Path, alias: str = "store") -> Iterator[duckdb.DuckDBPyConnection]:
    """An in-memory connection with ``path`` attached read-only as ``alias``. Attaching (not
    ``duckdb.connect(path)``) matters: DuckDB keeps one instance per path in a process while any connection
    to it lives, so a connect after a switch could still read the file from before it."""
    con = duckdb.connect(":memory:")
    try:
        con.execute("SET TimeZone = 'UTC'")
        con.execute(f"ATTACH ? AS {alias} (READ_ONLY)", [str(path)])
        yield con
    finally:
        con.close()


def _frames(settings: Settings, client_id: str | None = None) -> dict[str, pd.DataFrame]:
    """The store's tables (of one client, or all), empty before the first write."""
    path = settings.workbench_path
    if not path.exists():
        return {name: _empty(name) for name in _SCHEMA}
    with _attached(path) as con:
        where, args = ("where client_id = ?", [client_id]) if client_id else ("", [])
        return {name: con.execute(f"select * from store.{name} {where}", args).df() for name in _SCHEMA}


def _empty(name: str) -> pd.DataFrame:
    con = duckdb.connect(":memory:")
    try:
        con.execute(f"CREATE TABLE empty ({_SCHEMA[name]})")
        return con.execute("select * from empty").df()
    finally:
        con.close()


@contextmanager
def _writing(settings: Settings) -> Iterator[_Batch]:
    """Under the workbench lock: the store's current rows, and a batch of rows to append; on leaving the
    block without an error, a new file with the old rows (less a forgotten client's) and the batch is
    switched in atomically."""
    settings.workbench_lock_path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(settings.workbench_lock_path, timeout=LOCK_WAIT_S, thread_local=False)
    try:
        lock.acquire()
    except Timeout as exc:
        raise Busy(
            f"Another consultant is saving to the workbench (busy for {LOCK_WAIT_S} s); nothing was saved: "
            "try again in a moment."
        ) from exc
    try:
        batch = _Batch(_frames(settings))
        yield batch
        _rewrite(settings, batch)
    finally:
        lock.release()


@dataclass
class _Batch:
    current: dict[str, pd.DataFrame]
    versions: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    forget: str | None = None  # a client whose rows are dropped (a purge)


def _rewrite(settings: Settings, batch: _Batch) -> None:
    path = settings.workbench_path
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    partial.unlink(missing_ok=True)
    con = duckdb.connect(":memory:")
    try:
        con.execute("SET TimeZone = 'UTC'")
        con.execute("ATTACH ? AS new", [str(partial)])
        if path.exists():
            con.execute("ATTACH ? AS store (READ_ONLY)", [str(path)])
        for name, columns in _SCHEMA.items():
            con.execute(f"CREATE TABLE new.{name} ({columns})")
            if path.exists():
                where = "where client_id <> $forget" if batch.forget else ""
                con.execute(
                    f"INSERT INTO new.{name} SELECT * FROM store.{name} {where}",
                    {"forget": batch.forget} if batch.forget else None,
                )
            rows = batch.versions if name == "versions" else batch.events
            if name == "events":  # the order things happened in, whatever the clocks say
                start = int(batch.current["events"]["seq"].max()) if len(batch.current["events"]) else 0
                rows = [{**row, "seq": start + i} for i, row in enumerate(rows, 1)]
            if rows:
                names = [c.split()[0] for c in columns.split(", ")]
                frame = pd.DataFrame(rows, columns=names)  # noqa: F841 - read by the INSERT below
                con.execute(f"INSERT INTO new.{name} SELECT {', '.join(names)} FROM frame")
        con.execute("DETACH new")
    finally:
        con.close()
    os.replace(partial, path)


# -- reading a finding's state ---------------------------------------------------------------------------
def _evidence_from(text: str) -> tuple[Evidence, ...]:
    return tuple(Evidence(**item) for item in json.loads(text or "[]"))


def _timestamp(value: Any) -> datetime | None:
    if value is None or pd.isna(value):
        return None
    stamp = pd.Timestamp(value)
    return (stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")).to_pydatetime()


def _states(frames: dict[str, pd.DataFrame], client_id: str) -> dict[str, list[Finding]]:
    """Every finding of the client: its versions, oldest first, each with its own status."""
    versions = frames["versions"][frames["versions"]["client_id"] == client_id]
    events = frames["events"][frames["events"]["client_id"] == client_id].sort_values("seq")
    found: dict[str, list[Finding]] = {}
    for finding_id, rows in versions.sort_values(["finding_id", "version"]).groupby("finding_id", sort=False):
        mine = events[events["finding_id"] == finding_id]
        withdrawn = mine[mine["action"] == "withdrawn"]
        latest = int(rows["version"].max())
        first = rows.iloc[0]
        states = []
        for row in rows.itertuples(index=False):
            own = mine[mine["version"] == row.version]
            status = _STATUS_AFTER[own["action"].iloc[-1]] if len(own) else "draft"
            reviewed, delivered = _last(own, "reviewed"), _last(own, "delivered")
            if status == "draft":  # changes asked after a review: that review no longer stands
                reviewed = (None, None)
            if len(withdrawn):
                status = "withdrawn"
            states.append(
                Finding(
                    finding_id=str(finding_id),
                    client_id=client_id,
                    kind=str(row.kind),
                    title=str(row.title),
                    body=str(row.body),
                    status=status,
                    version=int(row.version),
                    latest_version=latest,
                    author=str(row.author),
                    written_at=_timestamp(row.written_at),
                    created_by=str(first["author"]),
                    created_at=_timestamp(first["written_at"]),
                    evidence=_evidence_from(row.evidence),
                    reviewed_by=reviewed[0],
                    reviewed_at=reviewed[1],
                    delivered_by=delivered[0],
                    delivered_at=delivered[1],
                    withdrawn_by=_last(withdrawn, "withdrawn")[0],
                    withdrawn_at=_last(withdrawn, "withdrawn")[1],
                )
            )
        found[str(finding_id)] = states
    return found


def _last(events: pd.DataFrame, action: str) -> tuple[str | None, datetime | None]:
    """Who did ``action`` last among ``events``, and when (None, None: never)."""
    done = events[events["action"] == action]
    if done.empty:
        return None, None
    return str(done["actor"].iloc[-1]), _timestamp(done["acted_at"].iloc[-1])


def _one(frames: dict[str, pd.DataFrame], client_id: str, finding_id: str) -> list[Finding]:
    versions = _states(frames, client_id).get(finding_id)
    if not versions:  # also another client's finding: never said to exist
        raise LookupError(
            _("No finding {finding!r} for {client}.").format(finding=finding_id, client=client_id)
        )
    return versions


def finding(settings: Settings, client_id: str, finding_id: str, version: int | None = None) -> Finding:
    """The finding as its newest version (or ``version``) stands."""
    versions = _one(_frames(settings, check_client_id(client_id)), client_id, finding_id)
    if version is None:
        return versions[-1]
    chosen = [v for v in versions if v.version == version]
    if not chosen:
        raise LookupError(
            _("Finding {finding!r} has no version {version}.").format(finding=finding_id, version=version)
        )
    return chosen[0]


def findings_for(
    settings: Settings,
    client_id: str,
    *,
    statuses: tuple[str, ...] = ("delivered",),
    period: tuple[date, date] | Span | None = None,
) -> list[Finding]:
    """The client's findings in ``statuses`` (see the module's API), newest first."""
    unknown = set(statuses) - set(STATUSES)
    if unknown:
        raise ValueError(f"unknown status {sorted(unknown)}; use {', '.join(STATUSES)}")
    chosen = []
    zone = client_timezone(settings, client_id) if period is not None else "UTC"
    for versions in _states(_frames(settings, check_client_id(client_id)), client_id).values():
        shown = versions[-1] if versions[-1].status in statuses else None
        if shown is None and "delivered" in statuses and versions[-1].status != "withdrawn":
            delivered = [v for v in versions if v.status == "delivered"]
            shown = delivered[-1] if delivered else None
        if shown is not None and (period is None or _in_period(shown, period, zone)):
            chosen.append(shown)
    return sorted(chosen, key=lambda f: f.delivered_at or f.written_at, reverse=True)


def client_timezone(settings: Settings, client_id: str) -> str:
    """The client's time zone as its published snapshot states it: a period's days are the client's days."""
    path = current_snapshot(settings, check_client_id(client_id))
    return snapshot_timezone(path) if path is not None else DEFAULT_TIMEZONE


def _in_period(found: Finding, period: tuple[date, date] | Span, zone: str = "UTC") -> bool:
    first, last = (period.start, period.end) if isinstance(period, Span) else period
    stamp = pd.Timestamp(found.delivered_at or found.written_at)
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp
    when = stamp.tz_convert(zone).date()  # the client's day, not UTC's
    if first <= when <= last:
        return True
    return any(
        e.kind == "kpi_chart"
        and date.fromisoformat(e.params["start"]) <= last
        and date.fromisoformat(e.params["end"]) >= first
        for e in found.evidence
    )


def history(settings: Settings, client_id: str, finding_id: str) -> list[HistoryEntry]:
    """Everything that happened to the finding, oldest first: each version written (with what changed from
    the one before), each review, delivery and the withdrawal."""
    frames = _frames(settings, check_client_id(client_id))
    versions = _one(frames, client_id, finding_id)
    events = frames["events"]
    mine = events[events["finding_id"] == finding_id].sort_values("seq")
    entries = []
    by_version = {v.version: v for v in versions}
    for row in mine.itertuples(index=False):
        changed: tuple[str, ...] = ()
        if row.action == "written" and int(row.version) > 1:
            before, now = by_version[int(row.version) - 1], by_version[int(row.version)]
            changed = tuple(
                name
                for name, a, b in [
                    ("kind", before.kind, now.kind),
                    ("title", before.title, now.title),
                    ("text", before.body, now.body),
                    ("evidence", [e.params for e in before.evidence], [e.params for e in now.evidence]),
                ]
                if a != b
            ) or ("nothing",)
        entries.append(
            HistoryEntry(
                int(row.version),
                str(row.action),
                str(row.actor),
                _timestamp(row.acted_at),
                str(row.note or ""),
                changed,
            )
        )
    return entries


def stamp(settings: Settings) -> str:
    """Changes whenever the store is written (each write switches in a new file): a cache of anything made
    from findings (a report) keys on it, so a delivery or a withdrawal shows at once."""
    try:
        found = settings.workbench_path.stat()
    except FileNotFoundError:
        return "none"
    return f"{found.st_ino}-{found.st_mtime_ns}-{found.st_size}"


def count(settings: Settings, client_id: str) -> tuple[int, int]:
    """The client's findings and versions in the store (what a purge removes)."""
    versions = _frames(settings, check_client_id(client_id))["versions"]
    return int(versions["finding_id"].nunique()), len(versions)


# -- writing ---------------------------------------------------------------------------------------------
def _now(now: datetime | None) -> datetime:
    return (now or datetime.now(UTC)).astimezone(UTC)


def _text(kind: str, title: str, body: str, by: str) -> tuple[str, str, str]:
    if kind not in KINDS:
        raise FindingError(
            _("A finding's kind is {kinds}, not {kind!r}.").format(kinds=" or ".join(KINDS), kind=kind)
        )
    title, body = (title or "").strip(), (body or "").strip()
    if not title:
        raise FindingError(_("Give the finding a title."))
    if len(title) > TITLE_MAX:
        raise FindingError(
            _("Keep the title under {most} characters (it has {length}).").format(
                most=TITLE_MAX, length=len(title)
            )
        )
    if not body:
        raise FindingError(_("Write what was found or what to do: the text is empty."))
    if not (by or "").strip():
        raise FindingError(_("Say who writes it."))
    return kind, title, body


def _checked_all(
    settings: Settings, client_id: str, evidence: list[dict[str, Any] | Evidence]
) -> list[Evidence]:
    return [check_evidence(settings, client_id, e.params if isinstance(e, Evidence) else e) for e in evidence]


def write(
    settings: Settings,
    client_id: str,
    *,
    kind: str,
    title: str,
    body: str,
    evidence: list[dict[str, Any]],
    by: str,
    now: datetime | None = None,
) -> Finding:
    """A new finding, version 1, a draft; every piece of evidence checked against the client's snapshot."""
    check_client_id(client_id)
    kind, title, body = _text(kind, title, body, by)
    checked = _checked_all(settings, client_id, evidence)
    finding_id = uuid.uuid4().hex[:12]
    at = _now(now)
    with _writing(settings) as batch:
        batch.versions.append(_version_row(finding_id, 1, client_id, kind, title, body, checked, by, at))
        batch.events.append(_event_row(finding_id, 1, client_id, "written", by, at))
    return finding(settings, client_id, finding_id)


def revise(
    settings: Settings,
    client_id: str,
    finding_id: str,
    *,
    based_on: int,
    kind: str,
    title: str,
    body: str,
    evidence: list[dict[str, Any] | Evidence],
    by: str,
    now: datetime | None = None,
) -> Finding:
    """A new version of the finding (a draft), written on ``based_on``, which must still be the newest."""
    check_client_id(client_id)
    kind, title, body = _text(kind, title, body, by)
    checked = _checked_all(settings, client_id, evidence)
    at = _now(now)
    with _writing(settings) as batch:
        current = _acting_on(batch, client_id, finding_id, based_on)
        version = current.version + 1
        batch.versions.append(
            _version_row(finding_id, version, client_id, kind, title, body, checked, by, at)
        )
        batch.events.append(_event_row(finding_id, version, client_id, "written", by, at))
    return finding(settings, client_id, finding_id)


def review(
    settings: Settings,
    client_id: str,
    finding_id: str,
    *,
    version: int,
    by: str,
    approve: bool = True,
    note: str = "",
    now: datetime | None = None,
) -> Finding:
    """Approve the version (``reviewed``) or ask for changes with a note (it stays a draft)."""
    check_client_id(client_id)
    with _writing(settings) as batch:
        current = _acting_on(batch, client_id, finding_id, version)
        if current.status != "draft":
            raise FindingError(
                _(
                    "Version {version} is {status}; only a draft is reviewed (edit it for a new version)."
                ).format(version=version, status=_(STATUS_WORDS[current.status]))
            )
        if by == current.author:
            raise FindingError(
                _(
                    "{by} wrote version {version}: another consultant reviews it (a reviewer is never the "
                    "author)."
                ).format(by=by, version=version)
            )
        if approve:
            _ready(settings, current)
        elif not note.strip():
            raise FindingError(_("Say what should change: asking for changes needs a note."))
        action = "reviewed" if approve else "changes_requested"
        batch.events.append(_event_row(finding_id, version, client_id, action, by, _now(now), note.strip()))
    return finding(settings, client_id, finding_id)


def deliver(
    settings: Settings, client_id: str, finding_id: str, *, version: int, by: str, now: datetime | None = None
) -> Finding:
    """Deliver a reviewed version to the client (its evidence checked once more)."""
    check_client_id(client_id)
    with _writing(settings) as batch:
        current = _acting_on(batch, client_id, finding_id, version)
        if current.status != "reviewed":
            raise FindingError(
                _("Version {version} is {status}; only a reviewed version is delivered.").format(
                    version=version, status=_(STATUS_WORDS[current.status])
                )
                + (" " + _("Have another consultant review it first.") if current.status == "draft" else "")
            )
        _ready(settings, current)
        batch.events.append(_event_row(finding_id, version, client_id, "delivered", by, _now(now)))
    return finding(settings, client_id, finding_id)


def withdraw(
    settings: Settings, client_id: str, finding_id: str, *, by: str, reason: str, now: datetime | None = None
) -> Finding:
    """Withdraw the finding: the client no longer sees it; its history stays."""
    check_client_id(client_id)
    if not reason.strip():
        raise FindingError(_("Say why the finding is withdrawn."))
    with _writing(settings) as batch:
        current = _one(batch.current, client_id, finding_id)[-1]
        _not_withdrawn(current)
        batch.events.append(
            _event_row(finding_id, current.version, client_id, "withdrawn", by, _now(now), reason.strip())
        )
    return finding(settings, client_id, finding_id)


def forget(settings: Settings, client_id: str) -> None:
    """Remove every finding, version and event of a purged client; the store is written anew, so no freed
    page of the file keeps any of them."""
    check_client_id(client_id)
    if not settings.workbench_path.exists():
        # A first write killed before its switch leaves only its new file: it may hold the client's rows.
        settings.workbench_path.with_name(f".{settings.workbench_path.name}.partial").unlink(missing_ok=True)
        return
    with _writing(settings) as batch:
        batch.forget = client_id


def _acting_on(batch: _Batch, client_id: str, finding_id: str, version: int) -> Finding:
    """The finding's newest version, which an edit, review or delivery acts on: refused when the finding was
    withdrawn or ``version`` is no longer its newest."""
    current = _one(batch.current, client_id, finding_id)[-1]
    _not_withdrawn(current)
    _newest(current, version)
    return current


def _not_withdrawn(current: Finding) -> None:
    if current.status == "withdrawn":
        raise FindingError(
            _("Finding {finding!r} was withdrawn by {by}; write a new finding instead.").format(
                finding=current.finding_id, by=current.withdrawn_by
            )
        )


def _newest(current: Finding, version: int) -> None:
    if current.version != version:
        raise Conflict(
            f"Finding {current.finding_id!r} is at version {current.version} ({current.author}, "
            f"{current.written_at:%Y-%m-%d %H:%M} UTC), not {version}: reload it and start from there."
        )


def _ready(settings: Settings, current: Finding) -> None:
    """A version goes to review or to the client only with evidence the current snapshot still holds."""
    if not current.evidence:
        raise FindingError(
            _("Attach at least one piece of evidence: a finding reaches the client with its evidence.")
        )
    _checked_all(settings, current.client_id, list(current.evidence))


def _version_row(
    finding_id: str,
    version: int,
    client_id: str,
    kind: str,
    title: str,
    body: str,
    evidence: list[Evidence],
    by: str,
    at: datetime,
) -> dict[str, Any]:
    return {
        "finding_id": finding_id,
        "version": version,
        "client_id": client_id,
        "kind": kind,
        "title": title,
        "body": body,
        "evidence": json.dumps([e.as_json() for e in evidence], ensure_ascii=False),
        "author": by.strip(),
        "written_at": at,
    }


def _event_row(
    finding_id: str, version: int, client_id: str, action: str, by: str, at: datetime, note: str = ""
) -> dict[str, Any]:
    return {
        "finding_id": finding_id,
        "version": version,
        "client_id": client_id,
        "action": action,
        "actor": by.strip(),
        "acted_at": at,
        "note": note,
    }


# -- evidence against the published snapshot ------------------------------------------------------------
@contextmanager
def _snapshot(settings: Settings, client_id: str) -> Iterator[tuple[duckdb.DuckDBPyConnection, str, Path]]:
    """The client's current snapshot attached read-only as ``snap``, its run id and its path."""
    path = current_snapshot(settings, client_id)
    if path is None:
        raise EvidenceError(f"{client_id} has no published results yet: evidence comes from a published run.")
    with _attached(path, "snap") as con:
        con.execute("USE snap")
        run = (
            _value(con, "select coalesce(data_run_id, run_id) from meta.run") if _has(con, "meta.run") else ""
        )
        yield con, str(run or path.stem), path


def _has(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    schema, name = table.split(".")
    return bool(
        con.execute(
            "select count(*) from duckdb_tables() where database_name = 'snap' and schema_name = ? "
            "and table_name = ?",
            [schema, name],
        ).fetchone()[0]
    )


def _value(con: duckdb.DuckDBPyConnection, sql: str, args: list[Any] | None = None) -> Any:
    row = con.execute(sql, args or []).fetchone()
    return row[0] if row else None


def shown(value: Any, unit: str) -> str:
    """A figure as people read it, in the current language's format: shares in %, other units with their
    unit, to about four significant digits ('–' when missing)."""
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return "–"
    if unit == "share":
        return i18n.percent(float(value))
    size = abs(float(value))
    digits = 0 if size >= 100 else 1 if size >= 10 else 2 if size >= 1 else 3
    return f"{i18n.number(float(value), digits)} {_(UNITS) if unit == UNITS else unit}".strip()


def check_evidence(settings: Settings, client_id: str, params: dict[str, Any]) -> Evidence:
    """Validate one piece of evidence against the client's current snapshot; raise EvidenceError saying
    what is wrong and what the snapshot holds instead."""
    try:
        parsed = _PARAMS.validate_python(params)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'evidence'}: {e['msg']}" for e in exc.errors()
        )
        raise EvidenceError(f"The evidence is not complete: {problems}.") from exc
    with _snapshot(settings, client_id) as (con, run, path):
        if isinstance(parsed, KpiChart):
            with figures(path, client_id) as rolled:
                description, found = _check_kpi(rolled, client_id, parsed)
        elif isinstance(parsed, ModelResult):
            description, found = _check_model(con, client_id, parsed)
        elif isinstance(parsed, OperatingWindow):
            description, found = _check_window(con, client_id, parsed)
        else:
            description, found = _check_gap(con, client_id, parsed)
    return Evidence(parsed.kind, parsed.model_dump(mode="json"), description, found, run)


def _check_kpi(rolled: Figures, client_id: str, p: KpiChart) -> tuple[str, dict[str, str]]:
    kpi = KPIS[p.kpi]
    label = _(kpi.label)
    if rolled.span(kpi.figure) is None:
        raise EvidenceError(
            f"{client_id}'s published data holds no {_what(rolled, kpi)}, so it has no {label}."
        )
    if not rolled.measured(kpi.figure):
        raise EvidenceError(
            f"{client_id}'s counts never record a reject, so its {label} is not measured "
            "(its report says so too)."
        )
    if p.machine and not kpi.by_machine:
        raise EvidenceError(f"{label} is metered per site, not per machine: leave the machine out.")
    first, last = rolled.span(kpi.figure) or (None, None)
    if p.machine:
        machines = rolled.machines(kpi.figure)
        if p.machine not in machines:
            raise EvidenceError(
                f"{client_id}'s {label} names no machine {p.machine!r}; it holds {', '.join(machines)}."
            )
        first, last = rolled.span(kpi.figure, p.machine) or (first, last)
    days = rolled.days(kpi.figure, p.start, p.end, p.machine)
    if days.empty:
        on = f" for {p.machine}" if p.machine else ""
        raise EvidenceError(
            f"{client_id}'s published {label}{on} runs from {first} to {last}; "
            f"{p.start} to {p.end} holds no day of it."
        )
    values = days["value"].dropna()
    found = {
        FIGURE_DAYS: i18n.number(len(days)),
        FIGURE_PERIOD: shown(rolled.value(kpi.figure, p.start, p.end, p.machine), kpi.unit),
        FIGURE_LOWEST: shown(values.min() if len(values) else None, kpi.unit),
        FIGURE_HIGHEST: shown(values.max() if len(values) else None, kpi.unit),
    }
    return describe_kpi(p), found


UNITS = N_("units")  # a count's unit, translated where shown
# The figures' names: stored in English (the source), translated where shown (figure_name).
FIGURE_DAYS = N_("days with data")
FIGURE_PERIOD = N_("over the period")
FIGURE_LOWEST = N_("lowest day")
FIGURE_HIGHEST = N_("highest day")
_FIGURE_NAMES = (
    FIGURE_DAYS,
    FIGURE_PERIOD,
    FIGURE_LOWEST,
    FIGURE_HIGHEST,
    N_("metric"),
    N_("model"),
    N_("baseline"),
    N_("champion"),
    N_("decision"),
    N_("window"),
    N_("defect rate inside"),
    N_("defect rate outside"),
    N_("held on later cycles"),
    N_("model version"),
    N_("in words"),
    N_("level"),
    N_("rule"),
    N_("data shows"),
    N_("needs"),
    N_("step"),
    N_("rules version"),
)


def figure_name(name: str) -> str:
    """A figure's name in the current language."""
    return _(name) if name in _FIGURE_NAMES else name


def describe_kpi(p: KpiChart) -> str:
    """What a KPI chart shows, in the current language."""
    kpi = _(KPIS[p.kpi].label)
    return _("{kpi}, {start} to {end}, day by day").format(
        kpi=f"{kpi}, {p.machine}" if p.machine else kpi, start=i18n.day(p.start), end=i18n.day(p.end)
    )


def _what(rolled: Figures, kpi: Kpi) -> str:
    return {
        "oee_daily": "production counts",
        "defect_rate_daily": "inspection results",
        "energy_daily": "energy readings",
    }[rolled.mart(kpi.figure)]


def _model_row(con: duckdb.DuckDBPyConnection, model_name: str) -> dict[str, Any] | None:
    if not _has(con, "meta.model_results"):
        return None
    frame = con.execute("select * from meta.model_results where model_name = ?", [model_name]).df()
    # The decision and the baseline's name in the language the evidence is written in (stored as messages).
    return words.worded_models(frame).iloc[0].to_dict() if len(frame) else None


def _check_model(
    con: duckdb.DuckDBPyConnection, client_id: str, p: ModelResult
) -> tuple[str, dict[str, str]]:
    from forgeline.standard_models.champion import METRIC_LABELS

    row = _model_row(con, p.model_name)
    if row is None:
        held = (
            con.execute("select model_name from meta.model_results").fetchall()
            if _has(con, "meta.model_results")
            else []
        )
        raise EvidenceError(
            f"{client_id}'s published results hold no model {p.model_name!r}"
            + (f"; they hold {', '.join(r[0] for r in held)}." if held else ": no model was trained yet.")
        )
    if str(row["model_version"]) != p.model_version:
        raise EvidenceError(
            f"{client_id}'s published results hold {p.model_name} version {row['model_version']}, "
            f"not version {p.model_version}."
        )
    metric = METRIC_LABELS.get(str(row["metric_name"]), str(row["metric_name"]))
    unit = str(row.get("unit") or "")
    figures = {
        "metric": metric,
        "model": _metric(row["model_metric"], unit),
        "baseline": f"{_metric(row['baseline_metric'], unit)} ({row['baseline_name']})",
        "champion": _("yes") if bool(row["is_champion"]) else _("no"),
        "decision": str(row.get("champion_decision") or ""),
    }
    return _("{model} version {version}: {metric} on its time-ordered holdout").format(
        model=p.model_name, version=p.model_version, metric=metric
    ), figures


def _metric(value: Any, unit: str) -> str:
    """A model's score: with its unit (RMSE in kWh), else a bare ratio to three decimals (PR-AUC)."""
    if value is None or pd.isna(value):
        return "–"
    return shown(value, unit) if unit else i18n.number(float(value), 3)


def _check_window(
    con: duckdb.DuckDBPyConnection, client_id: str, p: OperatingWindow
) -> tuple[str, dict[str, str]]:
    frame = words.worded_sentences(
        con.execute("select * from meta.operating_windows where model_name = ?", [p.model_name]).df()
        if _has(con, "meta.operating_windows")
        else pd.DataFrame()
    )
    if frame.empty:
        raise EvidenceError(f"{client_id}'s published {p.model_name} recommends no operating window.")
    chosen = frame[frame["parameter"] == p.parameter]
    if chosen.empty:
        raise EvidenceError(
            f"{client_id}'s {p.model_name} recommends no window for {p.parameter!r}; it has windows for "
            f"{', '.join(frame['parameter'].astype(str))}."
        )
    row = chosen.iloc[0]
    version = _model_row(con, p.model_name)
    unit = str(row["unit"] or "")
    figures = {
        "window": _("{low} to under {high}").format(
            low=f"{float(row['low']):g}", high=f"{float(row['high']):g}"
        )
        + (f" {unit}" if unit else ""),
        "defect rate inside": shown(row["inside_rate"], "share"),
        "defect rate outside": shown(row["outside_rate"], "share"),
        "held on later cycles": {True: _("yes"), False: _("no")}.get(
            None if pd.isna(row["holds_later"]) else bool(row["holds_later"]), _("not checked")
        ),
        "model version": str(version["model_version"]) if version else "",
        "in words": str(row["sentence"]),
    }
    return _("operating window of {parameter} recommended by {model}").format(
        parameter=p.parameter, model=p.model_name
    ), figures


def _check_gap(con: duckdb.DuckDBPyConnection, client_id: str, p: LevelGap) -> tuple[str, dict[str, str]]:
    from forgeline.program.levels import figure

    frame = (
        con.execute("select * from meta.level_evidence where rule_id = ?", [p.rule_id]).df()
        if _has(con, "meta.level_evidence")
        else pd.DataFrame()
    )
    if frame.empty:
        raise EvidenceError(f"{client_id}'s published level evidence holds no rule {p.rule_id!r}.")
    row = frame.iloc[0]
    if bool(row["passed"]):
        raise EvidenceError(
            f"{client_id} meets rule {p.rule_id} ({row['says']}): it is no gap "
            f"({figure(row['value'], row['kind'])} against {figure(row['at_least'], row['kind'])})."
        )
    version = _value(con, "select rules_version from meta.level") if _has(con, "meta.level") else ""
    figures = {
        "level": f"L{int(row['level'])} {row['level_name']}",
        "rule": str(row["says"]),
        "data shows": f"{figure(row['value'], row['kind'])} ({row['meaning']})",
        "needs": figure(row["at_least"], row["kind"]),
        "step": str(row["step"]),
        "rules version": str(version or ""),
    }
    return _("level {level} gap: {rule}").format(level=int(row["level"]), rule=row["says"]), figures


# -- what the pickers offer, and what to draw --------------------------------------------------------------
@dataclass(frozen=True)
class EvidenceChoices:
    """What the client's current snapshot offers as evidence."""

    kpis: dict[str, tuple[date, date, tuple[str, ...]]]  # kpi -> first day, last day, machines
    models: list[tuple[str, str, str]]  # model_name, model_version, what it is
    windows: list[tuple[str, str, str]]  # model_name, parameter, the window's sentence
    gaps: list[tuple[str, str]]  # rule_id, what the rule says (with its level)
    run: str


def evidence_choices(settings: Settings, client_id: str) -> EvidenceChoices:
    """The KPIs (with their days and machines), model results, operating windows and level gaps the client's
    current snapshot holds (empty choices before its first publish)."""
    if current_snapshot(settings, check_client_id(client_id)) is None:
        return EvidenceChoices({}, [], [], [], "")
    with _snapshot(settings, client_id) as (con, run, path):
        kpis: dict[str, tuple[date, date, tuple[str, ...]]] = {}
        with figures(path, client_id) as rolled:
            for name, kpi in KPIS.items():
                span = rolled.span(kpi.figure)
                if span is None or not rolled.measured(kpi.figure):
                    continue  # e.g. OEE of a client that never records a reject: its report says not measured
                machines = tuple(rolled.machines(kpi.figure)) if kpi.by_machine else ()
                kpis[name] = (span[0], span[1], machines)
        models = (
            [
                (str(m), str(v), f"{m} version {v}")
                for m, v in con.execute("select model_name, model_version from meta.model_results").fetchall()
            ]
            if _has(con, "meta.model_results")
            else []
        )
        windows = (
            [
                (str(m), str(p), str(s))
                for m, p, s in con.execute(
                    "select model_name, parameter, sentence from meta.operating_windows "
                    "order by model_name, rank"
                ).fetchall()
            ]
            if _has(con, "meta.operating_windows")
            else []
        )
        gaps = (
            [
                (str(r), f"L{lv}: {s}")
                for r, lv, s in con.execute(
                    "select rule_id, level, says from meta.level_evidence where not passed order by level"
                ).fetchall()
            ]
            if _has(con, "meta.level_evidence")
            else []
        )
    return EvidenceChoices(kpis, models, windows, gaps, run)


@dataclass(frozen=True)
class EvidenceView:
    """What to show for one piece of evidence: a title, the figures, and for a KPI chart its days (every day
    of the period, a missing day as a gap: ``day``, ``value``) and unit. ``current`` is False when the
    current snapshot no longer holds it: the figures are then those it showed when checked."""

    title: str
    figures: dict[str, str]
    days: pd.DataFrame | None = None
    unit: str = ""
    current: bool = True
    note: str = ""


def evidence_view(settings: Settings, client_id: str, evidence: Evidence) -> EvidenceView:
    """The evidence as the client's current snapshot shows it; else as it was when checked, saying so."""
    try:
        live = check_evidence(settings, client_id, evidence.params)
    except EvidenceError as exc:
        return EvidenceView(
            describe_kpi(KpiChart.model_validate(evidence.params))
            if evidence.kind == "kpi_chart"
            else evidence.description,
            evidence.figures,
            current=False,
            note=f"As published in run {evidence.checked_run}; the current results no longer hold it ({exc})",
        )
    if live.kind != "kpi_chart":
        return EvidenceView(live.description, live.figures)
    params = KpiChart.model_validate(live.params)
    with _snapshot(settings, client_id) as (_con, _run, path), figures(path, client_id) as rolled:
        days = rolled.days(KPIS[params.kpi].figure, params.start, params.end, params.machine)
    every = pd.DataFrame({"day": pd.date_range(params.start, params.end, freq="D")})
    days = every.merge(
        days.assign(day=pd.to_datetime(days["day"])), on="day", how="left"
    )  # a day without data is a gap, never joined over
    return EvidenceView(live.description, live.figures, days, KPIS[params.kpi].unit)

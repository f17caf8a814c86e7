"""Pooled benchmarks ("my manufacturing data"): consenting clients' KPIs pooled into anonymous distributions
that return value to each contributor, with a ledger of who contributed to what.

The program store (:attr:`Settings.benchmarks_path`, one DuckDB file) is built only from the published
snapshots of clients whose consent is in force (forgeline/program/consent.py). It holds aggregates and the
ledger, never a row of any client's data:

- **cells**: every factory, each process type (``process:`` in the mapping) and each size band (machines
  seen in the data), per metric of :data:`METRICS`;
- **k-anonymity**: a cell is released only with at least :data:`K` contributors; its figures are the
  Harrell-Davis quartiles (each a weighted mean of every contributor's value, so one factory's figure
  only where values tie) rounded to the metric's step, never a minimum or a maximum;
- **differencing**: a release holds the same factories as every earlier release of its figure (in any
  cell) or differs from each by at least :data:`K`, and a cell holding the same factories as one released
  in the same build is not released twice. A client that joins waits until :data:`K` factories have
  changed; a contributor that leaves (withdrawn consent, a purge) suppresses every cell it was in until
  :data:`K` have changed. A contributor whose figures cannot be read this time has not left: its cells
  stand as last released. A release on unchanged contributors is refreshed at most every
  :data:`REFRESH_DAYS`, so no pair of releases shows one factory's change alone;
- **ledger and positions**: each release keeps its contributors; at each build every contributor gets its
  quartile band in each released cell, from the figure it pooled. A client sees the releases its data
  went into and its bands, never a peer's value or identity, and a client that only waits gets no band
  (it could otherwise probe the quartiles with its own figure).

:func:`build` rebuilds the store under the program lock and replaces it atomically; the program flow runs
it after every program run, and consent changes and purges run it at once.
"""

from __future__ import annotations

import json
import logging
import math
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import duckdb
import numpy as np
import pandas as pd
from filelock import FileLock
from scipy.stats.mstats import hdquantiles

from forgeline.clients import list_clients
from forgeline.i18n import N_, Stored, as_number, later, use_language, word
from forgeline.program import consent
from forgeline.publish import current_snapshot
from forgeline.settings import Settings

log = logging.getLogger("forgeline.program.benchmarks")

K = 5  # contributors a released cell needs, and contributors that must change between two releases
REFRESH_DAYS = 28  # a release on unchanged contributors is refreshed at most this often (see _decide)
ALL = "all factories"
SAME_AS = "the same factories as"  # why a cell is not released twice
TOMBSTONE = "left-"  # stands in the ledger for a purged client: it still counts as a change, names no one


@dataclass(frozen=True)
class Metric:
    label: str
    unit: str  # "share" or a unit of measure
    better: Literal["higher", "lower"]
    sql: str  # one value from the snapshot's marts (NULL when the client has no such data)
    tables: tuple[str, ...]  # the marts it reads
    round_to: Callable[[float], float]


def _step(step: float) -> Callable[[float], float]:
    return lambda v: round(round(v / step) * step, 10)


def _significant(digits: int) -> Callable[[float], float]:
    return lambda v: 0.0 if v == 0 else round(v, digits - 1 - math.floor(math.log10(abs(v))))


# Client-level roll-ups of the marts: weighted by time and counts, never a mean of machine-days (one machine
# that ran one day must not weigh as much as a line that ran all year).
_OEE_PARTS = """
    with d as (select * from marts.oee_daily where planned_time_s > 0)
    select {expr} from d
"""
# Quality (and so OEE) only from a client whose counts ever show a reject: counts without rejects mean the
# rejects are not recorded, and would pool a quality of 100 % the plant never measured. The one statement of
# that rule: reports and the workbench's evidence (forgeline/reports/content.py) evaluate it too.
REJECTS_RECORDED = "exists (select 1 from marts.oee_daily where good_count < total_count)"
_REJECTS_RECORDED = f"where {REJECTS_RECORDED}"
_AVAILABILITY = "sum(run_time_s) filter (where availability is not null) / nullif(sum(planned_time_s) filter (where availability is not null), 0)"  # noqa: E501
_PERFORMANCE = (
    "sum(performance * run_time_s) / nullif(sum(run_time_s) filter (where performance is not null), 0)"  # noqa: E501
)
_QUALITY = "sum(good_count) filter (where total_count > 0) / nullif(sum(total_count), 0)"

METRICS: dict[str, Metric] = {
    "oee": Metric(
        "OEE",
        "share",
        "higher",
        _OEE_PARTS.format(expr=f"({_AVAILABILITY}) * ({_PERFORMANCE}) * ({_QUALITY})") + _REJECTS_RECORDED,
        ("oee_daily",),
        _step(0.01),
    ),
    "availability": Metric(
        "availability", "share", "higher", _OEE_PARTS.format(expr=_AVAILABILITY), ("oee_daily",), _step(0.01)
    ),
    "performance": Metric(
        "performance", "share", "higher", _OEE_PARTS.format(expr=_PERFORMANCE), ("oee_daily",), _step(0.01)
    ),
    "quality": Metric(
        "quality",
        "share",
        "higher",
        _OEE_PARTS.format(expr=_QUALITY) + _REJECTS_RECORDED,
        ("oee_daily",),
        _step(0.001),
    ),
    "defect_rate": Metric(
        "defect rate",
        "share",
        "lower",
        "select sum(defect_count) / nullif(sum(inspected_count), 0) from marts.defect_rate_daily",
        ("defect_rate_daily",),
        _step(0.001),
    ),
    "kwh_per_unit": Metric(
        "energy per good unit",
        "kWh",
        "lower",
        "select sum(energy_kwh) / nullif(sum(good_count), 0) from marts.energy_daily where good_count > 0",
        ("energy_daily",),
        _significant(2),
    ),
    "co2_kg_per_unit": Metric(
        "CO2 per good unit",
        "kg",
        "lower",
        "select sum(co2_kg) / nullif(sum(good_count), 0) from marts.energy_daily where good_count > 0",
        ("energy_daily",),
        _significant(2),
    ),
    "mtbf_h": Metric(
        "MTBF",
        "h",
        "higher",
        "select sum(operating_time_h) / nullif(sum(failure_count), 0) from marts.maintenance_kpis",
        ("maintenance_kpis",),
        _significant(2),
    ),
    "mttr_h": Metric(
        "MTTR",
        "h",
        "lower",
        "select sum(mttr_h * failure_count) / "
        "nullif(sum(failure_count) filter (where mttr_h is not null), 0) from marts.maintenance_kpis",
        ("maintenance_kpis",),
        _significant(2),
    ),
}

# Size bands by the machines seen in the client's data (upper bounds exclusive).
SIZE_BANDS = [(10, "1–9 machines"), (50, "10–49 machines"), (math.inf, "50+ machines")]
_MACHINES_SQL = {
    "oee_daily": "select machine_id from marts.oee_daily",
    "defect_rate_daily": "select machine_id from marts.defect_rate_daily",
    "maintenance_kpis": "select machine_id from marts.maintenance_kpis",
}

BANDS = {1: "top 25 %", 2: "above the median", 3: "below the median", 4: "bottom 25 %"}

# Column types of the store's tables (a column of missing values still gets its type).
STORE_TYPES = {
    "release_id": "string",
    "cell": "string",
    "metric": "string",
    "released_at": "datetime64[us, UTC]",
    "n": "Int64",
    "p25": "float64",
    "p50": "float64",
    "p75": "float64",
    "contributor": "string",
    "status": "string",
    "reason": "string",
    "wording": "string",
    "client_id": "string",
    "built_at": "datetime64[us, UTC]",
    "consenting": "Int64",
    "released": "Int64",
    "suppressed": "Int64",
    "band": "Int64",
    "decisions_seen_ns": "Int64",
}
STORE_TABLES = {
    "releases": ["release_id", "cell", "metric", "released_at", "n", "p25", "p50", "p75"],
    "contributions": ["release_id", "contributor"],
    # reason: in English; wording: the same as its message and values (JSON, forgeline/i18n.py), worded in
    # the reader's language by forgeline/reports/words.py (a store built before it: English only).
    "cells": ["cell", "metric", "status", "release_id", "reason", "wording"],
    "positions": ["client_id", "cell", "metric", "release_id", "band"],
    "pending": ["client_id", "cell", "metric", "reason", "wording"],
    "builds": ["built_at", "consenting", "released", "suppressed", "decisions_seen_ns"],
}


# -- one client's figures, from its published snapshot ------------------------------------------------------
@dataclass(frozen=True)
class ClientFigures:
    client_id: str
    process: str
    machines: int
    values: dict[str, float]  # metric -> value (only the metrics the client has data for)

    @property
    def size_band(self) -> str | None:
        """None when the data names no machine (counts per plant only): no size to compare by."""
        if not self.machines:
            return None
        return next(label for bound, label in SIZE_BANDS if self.machines < bound)

    @property
    def cells(self) -> list[str]:
        size = [f"size: {self.size_band}"] if self.size_band else []
        return [ALL, *size, *([f"process: {self.process}"] if self.process else [])]


def snapshot_figures(snapshot: Path, client_id: str, process: str) -> ClientFigures | None:
    """The client's KPIs from its published snapshot; None when the snapshot holds no data that passed the
    gate (a run that failed before any passed) or cannot be read."""
    try:
        con = duckdb.connect(str(snapshot), read_only=True)
    except duckdb.Error:
        return None
    try:
        marts = {
            row[0]
            for row in con.execute(
                "select table_name from information_schema.tables where table_schema = 'marts'"
            ).fetchall()
        }
        if not marts:
            return None
        values: dict[str, float] = {}
        for name, metric in METRICS.items():
            if set(metric.tables) <= marts:
                row = con.execute(metric.sql).fetchone()
                if row and row[0] is not None and math.isfinite(float(row[0])):
                    values[name] = float(row[0])
        seen = [sql for table, sql in _MACHINES_SQL.items() if table in marts]
        machines = (
            con.execute(f"select count(distinct machine_id) from ({' union all '.join(seen)})").fetchone()[0]
            if seen
            else 0
        )
    except duckdb.Error:
        return None
    finally:
        con.close()
    return ClientFigures(client_id, process, int(machines or 0), values)


def shown(value: float, metric: Metric) -> str:
    """A figure as people read it: shares in %, other units with their unit."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if metric.unit == "share":
        return f"{value:.1%}"
    return f"{value:,.3g} {metric.unit}"


def band(value: float, p25: float, p50: float, p75: float, better: str) -> int:
    """The client's quartile (1 = best) against a released cell, in the metric's good direction."""
    if better == "higher":
        return 1 if value >= p75 else 2 if value >= p50 else 3 if value >= p25 else 4
    return 1 if value <= p25 else 2 if value <= p50 else 3 if value <= p75 else 4


# -- the store --------------------------------------------------------------------------------------------
def read_store(path: Path) -> dict[str, pd.DataFrame]:
    """Every table of the program store (empty frames before the first build)."""
    frames = {
        name: pd.DataFrame({c: pd.Series(dtype=STORE_TYPES[c]) for c in columns})
        for name, columns in STORE_TABLES.items()
    }
    if not path.exists():
        return frames
    con = duckdb.connect(str(path), read_only=True)
    try:
        present = {
            row[0] for row in con.execute("select table_name from information_schema.tables").fetchall()
        }
        for name in STORE_TABLES:
            if name in present:
                frames[name] = con.execute(f"select * from {name}").df()
    finally:
        con.close()
    return frames


def _write_store(path: Path, frames: dict[str, pd.DataFrame]) -> None:
    """Write every table to a new file, then switch to it atomically (readers see the old or the new)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    partial.unlink(missing_ok=True)
    con = duckdb.connect(str(partial))
    try:
        for name, frame in frames.items():
            columns = STORE_TABLES[name]
            typed = frame.reindex(columns=columns).astype({c: STORE_TYPES[c] for c in columns})
            con.register("frame_to_copy", typed)
            con.execute(f"create table {name} as select * from frame_to_copy")
            con.unregister("frame_to_copy")
    finally:
        con.close()
    os.replace(partial, path)


@dataclass(frozen=True)
class BuildSummary:
    consenting: int
    released: int
    suppressed: int
    path: Path


def build(settings: Settings, now: datetime | None = None, wait_s: float = 600) -> BuildSummary:
    """Rebuild the program store from the consenting clients' current snapshots (see the module's rules).
    Waits up to ``wait_s`` for another build to finish (filelock.Timeout after that)."""
    now = now or datetime.now(UTC)
    settings.program_lock_path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(settings.program_lock_path, timeout=wait_s, thread_local=False):
        decisions_seen = _last_decision_ns(settings)  # before reading them: a later one makes the store stale
        previous = read_store(settings.benchmarks_path)
        figures: list[ClientFigures] = []
        unreadable: set[str] = set()
        consenting = 0
        for config in list_clients(settings):
            try:
                pooled = consent.has_consented(settings, config.id)
            except ValueError as exc:  # a damaged record counts as no consent, and says so
                log.error("%s", exc)
                pooled = False
            if not pooled:
                continue
            consenting += 1
            snapshot = current_snapshot(settings, config.id)
            found = snapshot_figures(snapshot, config.id, config.process) if snapshot else None
            if found is None:
                unreadable.add(config.id)  # still a contributor: its cells stand as last released
            else:
                figures.append(found)
        frames = _decide(previous, figures, unreadable, now)
        status = frames["cells"]["status"]
        summary = BuildSummary(
            consenting,
            int((status == "released").sum()),
            int((status == "suppressed").sum()),
            settings.benchmarks_path,
        )
        frames["builds"] = _appended(
            previous["builds"],
            [
                {
                    "built_at": now,
                    "consenting": consenting,
                    "released": summary.released,
                    "suppressed": summary.suppressed,
                    "decisions_seen_ns": decisions_seen,
                }
            ],
            "builds",
        )
        _write_store(settings.benchmarks_path, frames)
    log.info(
        "Benchmarks: %d consenting clients; %d cells released, %d suppressed (fewer than %d factories, or "
        "too few changed since an earlier release).",
        summary.consenting,
        summary.released,
        summary.suppressed,
        K,
    )
    return summary


@dataclass(frozen=True)
class _Release:
    release_id: str
    cell: str
    members: frozenset[str]
    quartiles: tuple[float, float, float]
    released_at: datetime


def _releases_by_metric(releases: pd.DataFrame, contributions: pd.DataFrame) -> dict[str, list[_Release]]:
    """Every release ever made, per metric, oldest first, with its contributors (tombstones included)."""
    members = contributions.groupby("release_id")["contributor"].agg(frozenset).to_dict()
    found: dict[str, list[_Release]] = {}
    for row in releases.sort_values("released_at", kind="stable").itertuples(index=False):
        found.setdefault(str(row.metric), []).append(
            _Release(
                str(row.release_id),
                str(row.cell),
                members.get(row.release_id, frozenset()),
                (float(row.p25), float(row.p50), float(row.p75)),
                pd.Timestamp(row.released_at).to_pydatetime(),
            )
        )
    return found


def _decide(
    previous: dict[str, pd.DataFrame], figures: list[ClientFigures], unreadable: set[str], now: datetime
) -> dict[str, Any]:
    """The new store: each (cell, metric) released anew, kept as last released, or suppressed; the
    contributors' bands; who waits and why. ``unreadable``: consenting clients whose figures could not be
    read this time (they have not left: their cells stand as last released)."""
    releases, contributions = previous["releases"], previous["contributions"]
    history = _releases_by_metric(releases, contributions)
    new_releases: list[dict[str, Any]] = []
    new_contributions: list[dict[str, Any]] = []
    cells: list[dict[str, Any]] = []
    pending: list[dict[str, Any]] = []
    positions: list[dict[str, Any]] = []
    by_cell: dict[tuple[str, str], dict[str, float]] = {}
    for client in figures:
        for cell in client.cells:
            for metric, value in client.values.items():
                by_cell.setdefault((cell, metric), {})[client.client_id] = value
    known = {(r.cell, metric) for metric, rs in history.items() for r in rs} | set(by_cell)
    # Per metric, every factory first, then the bigger cells: each is checked against the releases made
    # before it in this build too (two overlapping cells must not differ by one factory either).
    order = sorted(known, key=lambda k: (k[1], k[0] != ALL, -len(by_cell.get(k, {})), k[0]))
    released_now: dict[str, list[tuple[str, frozenset[str]]]] = {}
    for cell, metric in order:
        now_in = by_cell.get((cell, metric), {})
        mine = [r for r in history.get(metric, []) if r.cell == cell]
        last = mine[-1] if mine else None
        last_set = last.members if last else frozenset()
        joined = set(now_in) - last_set
        left = last_set - set(now_in) - unreadable  # an unreadable contributor has not left
        keep: _Release | None = None  # the last release, standing as it was
        reason: Stored | None
        if last is None or len(joined | left) >= K:
            chosen, reason = frozenset(now_in), None
        elif left:
            message = N_(
                "a contributor left; released again once {k} factories have joined or left, so that no two "
                "releases tell one factory apart"
            )
            chosen, reason = frozenset(), later(message, k=as_number(K))
        else:  # the same contributors (joiners, fewer than K, wait)
            chosen, reason = (
                last_set,
                later(
                    N_("joins with the cell's next release, once {k} factories have joined or left"),
                    k=as_number(K),
                ),
            )
            stale = now - last.released_at >= timedelta(days=REFRESH_DAYS)
            if last_set & unreadable or not stale:
                keep = (
                    last  # refreshed at most every REFRESH_DAYS, so no refresh isolates one factory's change
                )
        if len(chosen) < K:
            if chosen or reason is None:
                reason = later(N_("fewer than {k} consenting factories"), k=as_number(K))
            chosen = frozenset()
        if chosen:
            problem = _apart(chosen, metric, cell, history, released_now)
            if problem:
                chosen, reason = frozenset(), problem
        english = _english(reason)
        if not english.startswith(SAME_AS):  # a twin's factories are pooled in the other benchmark
            # What a waiting client reads: never the name of a cell other than its own.
            told = _anonymous(reason)
            pending += [
                {"client_id": c, "cell": cell, "metric": metric, **_reason_columns(told)}
                for c in sorted(set(now_in) - chosen)
            ]
        if not chosen:
            cells.append(
                {"cell": cell, "metric": metric, "status": "suppressed", "release_id": None}
                | _reason_columns(reason)
            )
            continue
        released_now.setdefault(metric, []).append((cell, chosen))
        if keep is not None:
            release_id, quartiles = keep.release_id, list(keep.quartiles)
        else:
            quartiles = _quartiles([now_in[c] for c in sorted(chosen)], METRICS[metric])
            same = last is not None and last_set == chosen and list(last.quartiles) == quartiles
            release_id = last.release_id if same else f"{now:%Y%m%dT%H%M%S}-{secrets.token_hex(4)}"
            if not same:
                new_releases.append(
                    {
                        "release_id": release_id,
                        "cell": cell,
                        "metric": metric,
                        "released_at": now,
                        "n": len(chosen),
                        "p25": quartiles[0],
                        "p50": quartiles[1],
                        "p75": quartiles[2],
                    }
                )
                new_contributions += [{"release_id": release_id, "contributor": c} for c in sorted(chosen)]
        cells.append(
            {"cell": cell, "metric": metric, "status": "released", "release_id": release_id}
            | _reason_columns(None)
        )
        # Each contributor's band, from the figure it pooled: what it gets back (and only contributors).
        positions += [
            {
                "client_id": c,
                "cell": cell,
                "metric": metric,
                "release_id": release_id,
                "band": band(now_in[c], *quartiles, METRICS[metric].better),
            }
            for c in sorted(chosen)
            if c in now_in
        ]
    return {
        "releases": _appended(releases, new_releases, "releases"),
        "contributions": _appended(contributions, new_contributions, "contributions"),
        "cells": pd.DataFrame(cells, columns=STORE_TABLES["cells"]),
        "pending": pd.DataFrame(pending, columns=STORE_TABLES["pending"]),
        "positions": pd.DataFrame(positions, columns=STORE_TABLES["positions"]),
    }


def _apart(
    chosen: frozenset[str],
    metric: str,
    cell: str,
    history: dict[str, list[_Release]],
    released_now: dict[str, list[tuple[str, frozenset[str]]]],
) -> Stored | None:
    """Why ``chosen`` may not be released for ``metric`` (None: it may): it differs from some release of the
    metric, ever made in any cell, by 1 to K-1 factories; or it holds the same factories as a benchmark
    released in this build (not released twice)."""
    for other, members in released_now.get(metric, []):
        if members == chosen:
            return later(N_("the same factories as {benchmark}"), benchmark=_named(other))
    earlier = [(r.cell, r.members) for r in history.get(metric, [])] + released_now.get(metric, [])
    for other, members in earlier:
        if 0 < len(chosen ^ members) < K:
            where = later(N_("an earlier release of this benchmark")) if other == cell else _named(other)
            return later(
                N_("differs from {where} by fewer than {k} factories, which would tell them apart"),
                where=where,
                k=as_number(K),
            )
    return None


_OTHER_BENCHMARK = N_("the '{cell}' benchmark")


def _named(cell: str) -> Stored:
    return later(_OTHER_BENCHMARK, cell=cell)


def _anonymous(reason: Stored | None) -> Stored | None:
    """``reason`` with every other benchmark named 'another benchmark' (a client reads no other cell)."""
    if not isinstance(reason, dict):
        return reason
    if reason.get("message") == _OTHER_BENCHMARK:
        return later(N_("another benchmark"))
    values = {name: _anonymous(value) for name, value in (reason.get("values") or {}).items()}
    return {**reason, "values": values} if "values" in reason else reason


def _english(reason: Stored | None) -> str:
    if reason is None:
        return ""
    with use_language("en"):
        return word(reason)


def _reason_columns(reason: Stored | None) -> dict[str, str | None]:
    """A reason in English (``reason``) and as its message and values (``wording``)."""
    if reason is None:
        return {"reason": "", "wording": None}
    return {"reason": _english(reason), "wording": json.dumps(reason, ensure_ascii=False)}


def _appended(frame: pd.DataFrame, rows: list[dict[str, Any]], table: str) -> pd.DataFrame:
    columns = STORE_TABLES[table]
    added = pd.DataFrame(rows, columns=columns).astype({c: STORE_TYPES[c] for c in columns})
    if frame.empty:
        return added
    earlier = frame.reindex(columns=columns).astype({c: STORE_TYPES[c] for c in columns})  # older stores
    return pd.concat([earlier, added], ignore_index=True) if rows else earlier


def _quartiles(values: list[float], metric: Metric) -> list[float]:
    """Harrell-Davis quartiles, rounded to the metric's step: each a weighted mean of every contributor's
    value, so not one factory's figure as the plain quartiles of five values are (unless values tie)."""
    found = hdquantiles(np.asarray(values, dtype="float64"), prob=[0.25, 0.5, 0.75])
    return [metric.round_to(float(v)) for v in np.asarray(found)]


def _last_decision_ns(settings: Settings) -> int:
    """When the newest consent decision of any client was written (0: none yet)."""
    folder = settings.consent_dir
    return max((p.stat().st_mtime_ns for p in folder.glob("*.yml")), default=0) if folder.is_dir() else 0


def stale(settings: Settings) -> bool:
    """Whether a consent decision came after the last build read the decisions: then even a program run
    with nothing new to run rebuilds, so a withdrawal always takes effect (a decision written while a
    build ran counts as after it)."""
    decided = _last_decision_ns(settings)
    if not decided:
        return False
    builds = read_store(settings.benchmarks_path)["builds"].reindex(columns=STORE_TABLES["builds"])
    seen = builds["decisions_seen_ns"].dropna()  # a store from before this column: stale
    return seen.empty or decided > int(seen.iloc[-1])


def current_cells(store: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """The store's cells as of its last build, each with its release's figures (none when suppressed)."""
    return store["cells"].merge(store["releases"], on=["release_id", "cell", "metric"], how="left")


def label(metric: str) -> str:
    return METRICS[metric].label if metric in METRICS else metric


def forget(settings: Settings, client_id: str) -> None:
    """Take a purged client out of the store: its name leaves the ledger (a tombstone keeps counting it as a
    change, so the next releases cannot be differenced against the earlier ones), then rebuild."""
    settings.program_lock_path.parent.mkdir(parents=True, exist_ok=True)
    if settings.benchmarks_path.exists():
        with FileLock(settings.program_lock_path, timeout=600, thread_local=False):
            frames = read_store(settings.benchmarks_path)
            tombstone = f"{TOMBSTONE}{secrets.token_hex(6)}"
            contributions = frames["contributions"]
            contributions.loc[contributions["contributor"] == client_id, "contributor"] = tombstone
            frames["pending"] = frames["pending"][frames["pending"]["client_id"] != client_id]
            frames["positions"] = frames["positions"][frames["positions"]["client_id"] != client_id]
            # The figures its data went into go too: the ledger keeps that they were released, not what.
            releases = frames["releases"]
            touched = releases["release_id"].isin(
                contributions.loc[contributions["contributor"] == tombstone, "release_id"]
            )
            releases.loc[touched, ["p25", "p50", "p75"]] = None
            _write_store(settings.benchmarks_path, frames)
    build(settings)

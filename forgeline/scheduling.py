"""Which clients run side by side, and how far the program is: scheduling by memory, progress, time left.

The program does not start a fixed number of clients at once. Each client gets an estimate of the memory
its engagement needs (the share of Forgeline's own processes, plus what DuckDB may use for a delivery of
its size), and a client starts only while the estimates of the running ones and its own fit the memory
budget (``FORGELINE_MEMORY_BUDGET``), up to ``FORGELINE_PARALLEL_CLIENTS`` at once (the cores' limit).
Big clients start first (their runs are the longest, so the small ones fill the gaps), and a big client
takes more of the budget, so fewer others run beside it. One client always runs, even when its estimate
alone exceeds the budget: DuckDB then spills to disk within its memory limit instead of failing.

:class:`ProgramProgress` keeps the numbers a program manager asks about: how many clients are done, which
stage each running one is in, and the time left, estimated from the clients done so far (seconds per
delivered byte, plus a fixed cost per client).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from forgeline.ingest.landing import scan_landing
from forgeline.settings import Settings, parse_bytes

# Forgeline's own share of one running engagement besides DuckDB: the dbt subprocess (~0.3 GB), the
# gate's capped DuckDB and pandas chunks (≤ 0.5 GB, one client at a time), Prefect's task threads.
ENGAGEMENT_BASE_BYTES = 600 * 1024**2
# DuckDB's working set grows with the delivery (dedup windows, joins): a few times the delivered bytes,
# up to its memory limit, beyond which it spills to disk.
DUCKDB_BYTES_PER_DELIVERED_BYTE = 3


def delivered_bytes(settings: Settings, client_id: str) -> int:
    """The size of the delivered files in the client's landing folder, as ingest sees them (hidden
    partial copies and links left out): what its run loads and standardizes."""
    return scan_landing(settings.landing_dir(client_id)).delivered_bytes


def memory_estimate(settings: Settings, size_bytes: int) -> int:
    """The memory one engagement of a client with ``size_bytes`` of deliveries is expected to need."""
    duckdb_cap = parse_bytes(settings.client_duckdb_memory_limit)
    return ENGAGEMENT_BASE_BYTES + min(duckdb_cap, DUCKDB_BYTES_PER_DELIVERED_BYTE * size_bytes)


@dataclass
class MemoryScheduler:
    """Admission of clients by their memory estimates within one budget (see the module's docstring)."""

    budget_bytes: float
    max_side_by_side: int
    estimates: dict[str, int]
    sizes: dict[str, int] = field(default_factory=dict)  # delivered bytes: how long each run is
    waiting: list[str] = field(default_factory=list)
    running: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Biggest first: the longest runs start early, the small ones fill the gaps beside them. By size
        # among equal estimates: every big client's estimate stops at DuckDB's cap, and the L-program's
        # biggest (2.8 GB, 29 M shots) then started after the 12 other clients at the cap, by its name.
        self.waiting = sorted(self.estimates, key=lambda c: (-self.estimates[c], -self.sizes.get(c, 0), c))

    def in_use(self) -> int:
        return sum(self.running.values())

    def next_to_start(self) -> list[str]:
        """The clients that may start now (and are counted as running from here on)."""
        started = []
        for client_id in list(self.waiting):
            if len(self.running) >= self.max_side_by_side:
                break
            need = self.estimates[client_id]
            if self.running and self.in_use() + need > self.budget_bytes:
                continue  # a smaller one further down may still fit
            self.waiting.remove(client_id)
            self.running[client_id] = need
            started.append(client_id)
        return started

    def finished(self, client_id: str) -> None:
        self.running.pop(client_id, None)


@dataclass
class ProgramProgress:
    """How far a program run is; shared by the scheduler loop and the engagements' threads."""

    sizes: dict[str, int]  # delivered bytes per client
    clock: Callable[[], float] = time.monotonic
    done: dict[str, tuple[str, float]] = field(default_factory=dict)  # client → (status, seconds)
    started_at: dict[str, float] = field(default_factory=dict)
    stage: dict[str, str] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def start(self, client_id: str) -> None:
        with self._lock:
            self.started_at[client_id] = self.clock()
            self.stage[client_id] = "starting"

    def enter(self, client_id: str, stage: str) -> None:
        with self._lock:
            if client_id in self.started_at and client_id not in self.done:
                self.stage[client_id] = stage

    def finish(self, client_id: str, status: str) -> None:
        with self._lock:
            began = self.started_at.get(client_id, self.clock())
            self.done[client_id] = (status, self.clock() - began)
            self.stage.pop(client_id, None)

    def seconds_left(self, side_by_side: int) -> float | None:
        """The time left, from the clients done so far; None until one has run its whole work."""
        with self._lock:
            worked = [
                (self.sizes.get(c, 0), s) for c, (status, s) in self.done.items() if status != "unchanged"
            ]
            if not worked:
                return None
            fixed, per_byte = _fit(worked)
            now = self.clock()
            remaining = 0.0
            for client_id, size in self.sizes.items():
                if client_id in self.done:
                    continue
                expected = fixed + per_byte * size
                if client_id in self.started_at:
                    expected = max(expected - (now - self.started_at[client_id]), 0.0)
                remaining += expected
            return remaining / max(side_by_side, 1)

    def line(self, side_by_side: int) -> str:
        """One line for the run log: done, running with their stage, waiting, and time left."""
        with self._lock:
            total = len(self.sizes)
            statuses: dict[str, int] = {}
            for status, _ in self.done.values():
                statuses[status] = statuses.get(status, 0) + 1
            running = ", ".join(f"{c} ({s})" for c, s in sorted(self.stage.items()))
            waiting = total - len(self.done) - len(self.stage)
        left = self.seconds_left(side_by_side)
        parts = [f"{len(self.done)}/{total} clients done"]
        if statuses:
            parts[0] += " (" + ", ".join(f"{n} {s}" for s, n in sorted(statuses.items())) + ")"
        if running:
            parts.append(f"running: {running}")
        if waiting:
            parts.append(f"{waiting} waiting")
        if left is not None and len(self.done) < total:
            parts.append(f"about {_duration(left)} left")
        return "; ".join(parts)


def _fit(worked: Iterable[tuple[int, float]]) -> tuple[float, float]:
    """Seconds = fixed + per_byte × size, by least squares over the clients done (never negative)."""
    points = list(worked)
    n = len(points)
    mean_size = sum(s for s, _ in points) / n
    mean_time = sum(t for _, t in points) / n
    spread = sum((s - mean_size) ** 2 for s, _ in points)
    if n < 2 or spread == 0:
        return mean_time, 0.0  # one size seen: every client is expected to take as long
    per_byte = max(sum((s - mean_size) * (t - mean_time) for s, t in points) / spread, 0.0)
    return max(mean_time - per_byte * mean_size, 0.0), per_byte


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


_active: ProgramProgress | None = None  # the program run in this process, if any (engagements are threads)


def track(progress: ProgramProgress | None) -> None:
    """Make ``progress`` the program run that engagements in this process report their stages to."""
    global _active
    _active = progress


def report_stage(client_id: str, stage: str) -> None:
    """An engagement entered a stage (ingest, standardize, gate, train, publish): shown in the progress."""
    if _active is not None:
        _active.enter(client_id, stage)

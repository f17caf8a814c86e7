"""The program's scheduling by memory and its progress line (forgeline/scheduling.py)."""

from __future__ import annotations

from forgeline.scheduling import MemoryScheduler, ProgramProgress, _fit

GB = 1024**3


def test_clients_run_side_by_side_as_far_as_the_budget_allows() -> None:
    scheduler = MemoryScheduler(
        budget_bytes=3.75 * GB,
        max_side_by_side=3,
        estimates={"big": 3 * GB, "medium": 2 * GB, "small-a": GB // 2, "small-b": GB // 2},
    )
    assert scheduler.waiting == ["big", "medium", "small-a", "small-b"]  # biggest first
    # The big one, then the small ones that fit beside it; the medium one waits.
    assert scheduler.next_to_start() == ["big", "small-a"]
    assert scheduler.next_to_start() == []
    scheduler.finished("big")
    assert scheduler.next_to_start() == ["medium", "small-b"]
    assert scheduler.in_use() == 3 * GB


def test_among_clients_at_the_memory_cap_the_biggest_delivery_starts_first() -> None:
    scheduler = MemoryScheduler(
        budget_bytes=3 * GB,
        max_side_by_side=2,
        estimates={"f001": GB, "f038": GB, "f010": GB // 2},
        sizes={"f001": 2 * GB, "f038": 5 * GB, "f010": GB // 10},
    )
    assert scheduler.waiting == ["f038", "f001", "f010"]


def test_one_client_always_runs_even_beyond_the_budget() -> None:
    scheduler = MemoryScheduler(
        budget_bytes=GB, max_side_by_side=2, estimates={"huge": 5 * GB, "tiny": GB // 4}
    )
    assert scheduler.next_to_start() == ["huge"]  # alone: DuckDB spills within its own limit
    scheduler.finished("huge")
    assert scheduler.next_to_start() == ["tiny"]


def test_the_cores_cap_how_many_run_at_once() -> None:
    scheduler = MemoryScheduler(
        budget_bytes=100 * GB, max_side_by_side=2, estimates=dict.fromkeys("abcd", GB)
    )
    assert len(scheduler.next_to_start()) == 2


def test_progress_names_stages_and_estimates_the_time_left_from_the_clients_done() -> None:
    now = [0.0]
    progress = ProgramProgress({"a": 100, "b": 300, "c": 200, "d": 400}, clock=lambda: now[0])
    progress.start("a")
    progress.start("b")
    progress.enter("a", "standardize")
    assert progress.seconds_left(2) is None  # nothing done yet: no estimate
    assert "0/4 clients done" in progress.line(2) and "a (standardize)" in progress.line(2)
    now[0] = 20.0
    progress.finish("a", "published")  # 100 bytes in 20 s
    now[0] = 40.0
    progress.finish("b", "published")  # 300 bytes in 40 s → 10 s + 0.1 s per byte
    assert _fit([(100, 20.0), (300, 40.0)]) == (10.0, 0.1)
    # c (30 s) and d (50 s), two side by side: 40 s.
    assert progress.seconds_left(2) == 40.0
    line = progress.line(2)
    assert "2/4 clients done (2 published)" in line and "2 waiting" in line and "about 40 s left" in line


def test_an_unchanged_client_does_not_teach_the_estimate() -> None:
    progress = ProgramProgress({"a": 100, "b": 100}, clock=lambda: 0.0)
    progress.start("a")
    progress.finish("a", "unchanged")
    assert progress.seconds_left(1) is None

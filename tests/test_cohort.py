"""Fast tier: the cohort figures the program manager's dashboard shows (forgeline/program/cohort.py):
targets, the level distribution, movement between runs, readiness, and the level history publish carries."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from forgeline.program import cohort
from forgeline.program.cohort import CLIMBED, DROPPED, NEW, NOT_ASSESSED, STALLED, STEADY

NOW = pd.Timestamp("2026-11-25 09:00", tz="UTC")


def history(*levels_days_ago: tuple[int | None, int]) -> pd.DataFrame:
    """A client's level history from (level, days before NOW) pairs, oldest first."""
    frame = None
    for i, (level, days_ago) in enumerate(levels_days_ago):
        frame = cohort.history_with(frame, f"run-{i}", NOW - pd.Timedelta(days=days_ago), level, "v1", False)
    return frame if frame is not None else cohort.empty_history()


def test_the_shipped_targets_load_and_a_broken_file_names_itself(tmp_path) -> None:
    targets, digest = cohort.load_targets(cohort.SHIPPED_TARGETS)
    assert any(t.at_least_level == 3 and t.share == 0.25 for t in targets.targets)  # Korea's goal
    assert len(digest) == 16
    broken = tmp_path / "targets.yml"
    broken.write_text("version: x\ntargets:\n  - {at_least_level: 7, share: 0.25, by: 2027-12-31}\n")
    with pytest.raises(ValueError, match=r"targets.yml: the program's targets are not valid"):
        cohort.load_targets(broken)


def test_the_distribution_counts_every_level_and_leaves_out_the_unassessed() -> None:
    found = cohort.distribution(pd.Series([0, 1, 1, 3, None], dtype="Int64"))
    assert found["clients"].tolist() == [1, 2, 0, 1, 0, 0]
    assert found["share"].tolist() == [0.25, 0.5, 0.0, 0.25, 0.0, 0.0]


@pytest.mark.parametrize(
    ("levels", "missing", "met"),
    [
        ([3, 1, 1, 1, 1, 1, 1, 1], 1, False),  # 1 of 8 at L3+: 25 % of 8 needs 2
        ([3, 4, 1, 1, 1, 1, 1, 1], 0, True),  # exactly at the goal
        ([3, 1, 1, None], 0, True),  # 25 % of four clients: one
        ([3, 1, None, None, None, None, None, None], 1, False),  # the unassessed reach no level
    ],
)
def test_a_target_says_how_many_clients_are_still_to_lift(levels: list, missing: int, met: bool) -> None:
    targets = cohort.Targets(
        version="t", targets=[cohort.Target(at_least_level=3, share=0.25, by=date(2027, 12, 31))]
    )
    [goal] = cohort.progress(pd.Series(levels, dtype="Int64"), targets, date(2026, 11, 25))
    assert (goal.missing, goal.met) == (missing, met)
    assert goal.days_left == 401
    assert ("Goal met" in goal.says) == met
    if not met:
        assert f"{missing} more to lift, 401 days left" in goal.says


@pytest.mark.parametrize(
    ("steps", "status", "previous"),
    [
        ([(1, 60), (2, 40), (3, 2)], CLIMBED, 2),  # above its level 28 days ago
        ([(3, 60), (2, 3)], DROPPED, 3),
        ([(2, 60), (2, 30), (2, 1)], STALLED, 2),  # unchanged all window long
        ([(5, 60), (5, 1)], STEADY, 5),  # at the top nothing is left to climb
        ([(2, 60), (3, 10), (2, 1)], STEADY, 3),  # moved within the window and came back
        ([(1, 10), (2, 1)], NEW, 1),  # in the program for less than the window
        ([(None, 5)], NOT_ASSESSED, None),
    ],
)
def test_movement_over_the_window(steps: list, status: str, previous: int | None) -> None:
    found = cohort.movement(history(*steps), NOW, stalled_after_days=28)
    assert found["movement"] == status
    assert found["previous_level"] == previous


def test_since_is_when_the_client_first_reached_its_level() -> None:
    found = cohort.movement(history((1, 50), (2, 40), (2, 20), (2, 1)), NOW, stalled_after_days=28)
    assert found["since"] == NOW - pd.Timedelta(days=40)
    assert found["movement"] == STALLED


def test_the_history_replaces_a_republished_run_and_keeps_a_carried_level() -> None:
    frame = history((1, 3), (2, 2))
    again = cohort.history_with(frame, "run-1", NOW, 2, "v1", carried=True)
    assert again["run_id"].tolist() == ["run-0", "run-1"]
    assert again["carried"].tolist() == [False, True]
    assert cohort.history_with(again, "run-2", NOW, None, None, False)["level"].isna().tolist() == [
        False,
        False,
        True,
    ]
    assert list(again.dtypes.astype(str)) == [str(t) for t in cohort.HISTORY_COLUMNS.values()]


def test_readiness_is_how_far_each_rule_is_along() -> None:
    evidence = pd.DataFrame(
        {
            "level": [1, 2, 4],
            "rule_id": ["counts_recorded", "collection_coverage", "champion_tracked"],
            "measure": ["recorded_days", "automatic_coverage", "tracked_champions"],
            "says": ["a", "b", "c"],
            "value": [10.0, 0.9, 0.0],
            "at_least": [20.0, 0.8, 1.0],
            "kind": ["days", "share", "count"],
            "passed": [False, True, False],
        }
    )
    found = cohort.readiness({"acme-press": evidence, "empty-co": evidence.iloc[0:0]})
    assert found["client_id"].unique().tolist() == ["acme-press"]
    assert found["progress"].tolist() == [0.5, 1.0, 0.0]


def test_levels_under_earlier_rules_do_not_count_as_movement() -> None:
    frame = history((1, 60), (1, 40))
    tuned = cohort.history_with(frame, "run-9", NOW - pd.Timedelta(days=1), 3, "v2", False)
    found = cohort.movement(tuned, NOW, stalled_after_days=28)
    assert found["movement"] == NEW and found["previous_level"] is None  # not "climbed" from 1 to 3


def test_a_target_names_the_clients_not_assessed_yet() -> None:
    targets = cohort.Targets(
        version="t", targets=[cohort.Target(at_least_level=3, share=0.25, by=date(2027, 1, 1))]
    )
    [goal] = cohort.progress(pd.Series([3, None], dtype="Int64"), targets, date(2026, 11, 25))
    assert goal.says.startswith("Goal met") and "now 1 of 2 (50%), 1 not assessed yet" in goal.says

"""The cohort: where the program's clients stand on the smart-factory levels, against the program's targets,
and how they moved between runs.

Each client's level comes from its own published snapshot (``meta.level``, forgeline/program/levels.py);
its history is carried from snapshot to snapshot by publish (``meta.level_history``, :func:`history_with`),
so the program keeps no second copy of any client's data. This module owns the targets (one versioned file,
``program_targets.yml`` beside it, or a program's copy at ``<home>/program/targets.yml``) and the cohort
figures the program manager's dashboard shows. It reads frames only: the app hands it what the login may
see.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field

from forgeline import i18n
from forgeline.i18n import _, ngettext
from forgeline.settings import Settings

SHIPPED_TARGETS = Path(__file__).with_name("program_targets.yml")
HISTORY_KEPT = 400  # runs of level history a snapshot carries (a daily run: more than a year)
TOP_LEVEL = 5

# meta.level_history: one row per run that assessed (or carried) the client's level.
HISTORY_COLUMNS = {
    "run_id": "string",
    "assessed_at": "datetime64[us, UTC]",
    "level": "Int64",  # missing: no data had passed the gate yet
    "rules_version": "string",
    "carried": "boolean",  # the run's gate failed: the level is the last good run's
}

# What a client's level did over the dashboard's window (see :func:`movement`).
CLIMBED, DROPPED, STALLED, STEADY, NEW, NOT_ASSESSED = (
    "climbed",
    "dropped",
    "stalled",
    "steady",
    "new",
    "not assessed",
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Target(_Strict):
    at_least_level: int = Field(ge=1, le=TOP_LEVEL, description="the level a client must reach (or pass)")
    share: float = Field(gt=0, le=1, description="the share of the cohort that must be there")
    by: date = Field(description="the date the program promised it by")

    @property
    def says(self) -> str:
        return _("{share} of the cohort at level {level} or above by {date}").format(
            share=i18n.percent(self.share, 0), level=self.at_least_level, date=self.by.isoformat()
        )


class Targets(_Strict):
    version: str
    stalled_after_days: int = Field(default=28, ge=1, description="no level change for this long: stalled")
    targets: list[Target] = Field(default_factory=list)


def targets_path(settings: Settings) -> Path:
    """The program's own targets if it has them, else the shipped ones."""
    return settings.program_targets_path if settings.program_targets_path.exists() else SHIPPED_TARGETS


def load_targets(path: Path) -> tuple[Targets, str]:
    """The targets in ``path`` and a digest of its bytes; a broken file names itself and what is wrong."""
    raw = path.read_bytes()
    try:
        return Targets.model_validate(yaml.safe_load(raw)), hashlib.sha256(raw).hexdigest()[:16]
    except (yaml.YAMLError, ValueError) as exc:
        raise ValueError(f"{path}: the program's targets are not valid: {exc}") from exc


# -- level history, carried by publish from snapshot to snapshot ----------------------------------------
def empty_history() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=t) for c, t in HISTORY_COLUMNS.items()})


def history_with(
    previous: pd.DataFrame | None,
    run_id: str,
    assessed_at: pd.Timestamp,
    level: int | None,
    rules_version: str | None,
    carried: bool,
) -> pd.DataFrame:
    """The earlier snapshot's history plus this run (a run published again replaces its own row)."""
    row = pd.DataFrame(
        [
            {
                "run_id": run_id,
                "assessed_at": pd.Timestamp(assessed_at),
                "level": level,
                "rules_version": rules_version,
                "carried": carried,
            }
        ]
    )
    earlier = empty_history() if previous is None or previous.empty else previous
    earlier = earlier.reindex(columns=list(HISTORY_COLUMNS))
    earlier = earlier[earlier["run_id"].astype("string") != run_id]
    frame = pd.concat([_typed(earlier), _typed(row)], ignore_index=True)
    return frame.sort_values("assessed_at", kind="stable").tail(HISTORY_KEPT).reset_index(drop=True)


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.copy()
    at = pd.to_datetime(frame["assessed_at"], utc=True)
    frame["assessed_at"] = at.astype(HISTORY_COLUMNS["assessed_at"])
    return frame.astype({c: t for c, t in HISTORY_COLUMNS.items() if c != "assessed_at"})


# -- cohort figures --------------------------------------------------------------------------------------
def distribution(levels: pd.Series) -> pd.DataFrame:
    """Clients per level (0 = below level 1), with their share of the assessed cohort."""
    assessed = pd.to_numeric(levels, errors="coerce").dropna().astype(int)
    counts = assessed.value_counts().reindex(range(TOP_LEVEL + 1), fill_value=0)
    total = int(counts.sum())
    return pd.DataFrame(
        {
            "level": counts.index,
            "clients": counts.to_numpy(),
            "share": counts.to_numpy() / total if total else 0.0,
        }
    )


@dataclass(frozen=True)
class TargetProgress:
    target: Target
    reached: int  # clients at the target's level or above
    cohort: int  # clients in view, assessed or not: a client not assessed yet has not reached any level
    assessed: int
    missing: int  # clients still to lift there for the target to hold
    days_left: int

    @property
    def share(self) -> float:
        return self.reached / self.cohort if self.cohort else 0.0

    @property
    def met(self) -> bool:
        return self.cohort > 0 and self.missing == 0

    @property
    def says(self) -> str:
        """The target's progress in a sentence, in the current language (forgeline/i18n.py)."""
        aim = self.target.says
        if not self.cohort:
            return _("Goal: {aim}. No client in the program yet.").format(aim=aim)
        unassessed = self.cohort - self.assessed
        now = _("now {reached} of {cohort} ({share})").format(
            reached=self.reached, cohort=self.cohort, share=i18n.percent(self.share, 0)
        )
        if unassessed:
            now += _(", {n} not assessed yet").format(n=unassessed)
        if self.met:
            return _("Goal met: {aim}; {now}.").format(aim=aim, now=now)
        when = (
            ngettext("{n} day left", "{n} days left", self.days_left).format(n=self.days_left)
            if self.days_left >= 0
            else ngettext("{n} day past the date", "{n} days past the date", -self.days_left).format(
                n=-self.days_left
            )
        )
        return _("Goal: {aim}; {now}: {missing} more to lift, {when}.").format(
            aim=aim, now=now, missing=self.missing, when=when
        )


def progress(levels: pd.Series, targets: Targets, today: date) -> list[TargetProgress]:
    """Each target against the whole cohort: every client counts; one not assessed yet reaches no level."""
    numeric = pd.to_numeric(levels, errors="coerce")
    assessed = numeric.dropna().astype(int)
    found = []
    for target in targets.targets:
        reached = int((assessed >= target.at_least_level).sum())
        needed = math.ceil(target.share * len(numeric) - 1e-9)  # 25 % of 8 is 2, not 3 from float dust
        found.append(
            TargetProgress(
                target=target,
                reached=reached,
                cohort=len(numeric),
                assessed=len(assessed),
                missing=max(0, needed - reached),
                days_left=(target.by - today).days,
            )
        )
    return found


def movement(history: pd.DataFrame, today: pd.Timestamp, stalled_after_days: int) -> dict[str, object]:
    """One client's level over the dashboard's window (the last ``stalled_after_days`` days).

    - ``level``, ``previous_level``: at its newest run and at the run before it;
    - ``since``: when it first reached its level (in the latest unbroken stretch at that level);
    - ``movement``: ``climbed`` or ``dropped`` against its level at the window's start (runs assessed with
      the newest rules only), ``stalled`` when it
      has stood still for the whole window below the top level, ``steady`` at the top (or back where it
      was after a move within the window), ``new`` when its history is shorter than the window.
    """
    assessed = history.dropna(subset=["level"]).sort_values("assessed_at", kind="stable")
    if assessed.empty:
        return {"level": None, "previous_level": None, "since": None, "movement": NOT_ASSESSED}
    # Only runs assessed with the newest rules: tuned thresholds move levels without the factory moving.
    version = assessed["rules_version"].astype("string").fillna("")
    assessed = assessed[version == version.iloc[-1]]
    levels = assessed["level"].astype(int).to_list()
    times = pd.to_datetime(assessed["assessed_at"], utc=True).to_list()
    level = levels[-1]
    start = len(levels) - 1
    while start > 0 and levels[start - 1] == level:
        start -= 1
    window_start = pd.Timestamp(today) - pd.Timedelta(days=stalled_after_days)
    before = [lv for lv, t in zip(levels, times, strict=True) if t <= window_start]
    if not before:
        status = NEW
    elif level > before[-1]:
        status = CLIMBED
    elif level < before[-1]:
        status = DROPPED
    elif level >= TOP_LEVEL or times[start] > window_start:
        status = STEADY  # at the top, or it moved within the window and came back
    else:
        status = STALLED
    return {
        "level": level,
        "previous_level": levels[-2] if len(levels) > 1 else None,
        "since": times[start],
        "movement": status,
    }


def movements(histories: dict[str, pd.DataFrame], now: pd.Timestamp, stalled_after_days: int) -> pd.DataFrame:
    """:func:`movement` for each client (``client_id`` → its level history)."""
    rows = [
        {"client_id": client_id, **movement(history, now, stalled_after_days)}
        for client_id, history in histories.items()
    ]
    frame = pd.DataFrame(rows, columns=["client_id", "level", "previous_level", "since", "movement"])
    return frame.astype({"level": "Int64", "previous_level": "Int64"})


READINESS_COLUMNS = [
    "client_id",
    "level",
    "rule_id",
    "measure",
    "says",
    "value",
    "at_least",
    "kind",
    "passed",
    "progress",
]


def readiness(evidence: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Every client's evidence, rule by rule, with how far each rule is along (1 when it holds): the data
    readiness the dashboard draws. The rules are the program's (level_rules.yml), not a list of its own."""
    frames = [e.assign(client_id=client_id) for client_id, e in evidence.items() if len(e)]
    if not frames:
        return pd.DataFrame(columns=READINESS_COLUMNS)
    frame = pd.concat(frames, ignore_index=True)
    value = pd.to_numeric(frame["value"], errors="coerce").fillna(0.0)
    at_least = pd.to_numeric(frame["at_least"], errors="coerce")
    along = (value / at_least.where(at_least > 0)).clip(0, 1).fillna(0.0)
    frame["progress"] = along.where(~frame["passed"].astype(bool), 1.0)
    return frame[READINESS_COLUMNS]

"""Models in operation: the champion scores every row it never trained on, and its accuracy is tracked
week by week against the outcomes as they arrive, with drift flagged.

Each run rebuilds the client's training set from its core tables, so every row after the champion's
training cut (its holdout, and everything delivered since) is scored again by the champion's own model.
The outcomes of those rows are in the same data: as new deliveries bring them, the weeks fill in. Nothing
is kept between runs but the model itself, so a re-run gives the same figures and a corrected delivery
corrects them. This is the evidence of smart-factory level 4: a model in operation, its accuracy tracked.

Drift, per local week (Monday to Sunday):

- events: the week's problem cases against the number the calibrated probabilities expected (their sum).
  Their difference, in standard deviations of that count (variance Σ p(1 - p)), beyond
  :data:`DRIFT_Z` means the model no longer describes the process: it under- or over-states the risk;
- expected values: the week's NMBE beyond ±:data:`DRIFT_NMBE` (ASHRAE Guideline 14's limit for a
  baseline that savings are measured with): the model runs high or low. For an energy baseline this is
  also what a lasting saving (or waste) looks like; the sentence says both.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from types import ModuleType
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score

from forgeline.standard_models.base import TrainingSet
from forgeline.standard_models.families import EVENTS

log = logging.getLogger("forgeline.standard_models")

DRIFT_Z = 3.0
DRIFT_NMBE = 0.10
MIN_WEEK_ROWS = 24  # fewer scored rows in a week: its figures are shown, never called drift
SCORE_ROWS = 2_000  # the latest scored rows published with their scores (the live view)


@dataclass
class OperatingWeek:
    """One local week of the champion's scores against outcomes."""

    week: str  # the Monday, local date (ISO)
    model_version: str
    rows: int
    actual: float  # problem cases (events) or the measured total (expected values)
    predicted: float  # the cases the probabilities expected, or the expected total
    metric: float | None  # PR-AUC (events, when the week holds both outcomes) or RMSE
    drift: bool
    sentence: str


def _week_sentence(family_name: str, row: pd.Series, unit: str) -> tuple[bool, str]:
    """Whether the week drifted, and what it says in plain words."""
    rows, actual, predicted = int(row["rows"]), float(row["actual"]), float(row["predicted"])
    if family_name == EVENTS.name:
        spread = float(np.sqrt(row["variance"])) if row["variance"] > 0 else 0.0
        z = (actual - predicted) / spread if spread else 0.0
        drift = rows >= MIN_WEEK_ROWS and abs(z) > DRIFT_Z
        text = f"{int(actual)} problem case(s) where the model expected {predicted:.1f}"
        if drift:
            text += f": {'more' if z > 0 else 'fewer'} than it can explain ({abs(z):.1f} standard deviations)"
        return drift, text
    # NMBE as ASHRAE defines it (a share of the measured total; > 0: the model runs low) decides; the
    # sentence gives the gap as a share of what was expected, which reads without a sign convention.
    nmbe = (actual - predicted) / actual if actual else 0.0
    drift = rows >= MIN_WEEK_ROWS and abs(nmbe) > DRIFT_NMBE
    text = f"{actual:,.0f} {unit} used where the model expected {predicted:,.0f} {unit}".replace("  ", " ")
    if drift and predicted:
        gap = (actual - predicted) / predicted
        side = "more than expected (waste, or a change the model has not learnt)"
        if gap < 0:
            side = "less than expected (a saving, or a change the model has not learnt)"
        text += f": {abs(gap):.0%} {side}".replace("%", " %")
    return drift, text


def track(
    module: ModuleType,
    data: TrainingSet,
    model: Any,
    version: str,
    cut: pd.Timestamp,
    timezone: str,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The champion ``model`` (version ``version``, trained on rows up to ``cut``) on every later row:
    its weeks (:class:`OperatingWeek` records) and its latest :data:`SCORE_ROWS` scores with their keys.

    A row's outcome is known once its label can no longer change (the training set's embargo: a failure
    within 24 h is known 24 h later); later rows are scored and published without one, and count in no
    week yet."""
    family = module.FAMILY
    times = pd.to_datetime(data.time, utc=True)
    later = (times > cut).to_numpy()
    if not later.any():
        return [], []
    names = [str(n) for n in getattr(model, "feature_names_in_", data.features.columns)]
    prediction = family.predict(model, data.features.loc[later, names])
    time = times[later].reset_index(drop=True)
    known = (time <= times.max() - data.embargo).to_numpy() if data.embargo else np.ones(len(time), bool)
    outcome = np.where(known, data.label.to_numpy(dtype=float)[later], np.nan)
    local = time.dt.tz_convert(timezone)
    week = (local.dt.normalize() - pd.to_timedelta(local.dt.dayofweek, unit="D")).dt.date.astype(str)
    frame = pd.DataFrame(
        {
            "week": week.to_numpy(),
            "outcome": outcome,
            "prediction": prediction,
            "variance": prediction * (1 - prediction) if family is EVENTS else 0.0,
        }
    )[known]
    weeks = []
    for name, rows in frame.groupby("week", sort=True):
        summary = pd.Series(
            {
                "rows": len(rows),
                "actual": rows["outcome"].sum(),
                "predicted": rows["prediction"].sum(),
                "variance": rows["variance"].sum(),
            }
        )
        if family is EVENTS:
            both = 0 < rows["outcome"].sum() < len(rows)
            metric = float(average_precision_score(rows["outcome"], rows["prediction"])) if both else None
        else:
            metric = float(np.sqrt(np.mean((rows["outcome"] - rows["prediction"]) ** 2)))
        drift, sentence = _week_sentence(family.name, summary, data.unit)
        weeks.append(
            asdict(
                OperatingWeek(
                    week=str(name),
                    model_version=str(version),
                    rows=int(summary["rows"]),
                    actual=float(summary["actual"]),
                    predicted=float(summary["predicted"]),
                    metric=metric,
                    drift=drift,
                    sentence=sentence,
                )
            )
        )
    latest = pd.DataFrame({"time": time.to_numpy(), "score": prediction, "outcome": outcome})
    if data.context is not None:
        keys = data.context.loc[later].reset_index(drop=True)
        latest = pd.concat([latest, keys.drop(columns=["kg_co2e_per_unit"], errors="ignore")], axis=1)
    latest = latest.sort_values("time", kind="stable").tail(SCORE_ROWS)
    scores = [
        {
            "model_version": str(version),
            "time": t.isoformat(),
            "score": float(s),
            "outcome": None if np.isnan(o) else float(o),
            "key": key,
        }
        for t, s, o, key in zip(
            pd.to_datetime(latest["time"], utc=True),
            latest["score"],
            latest["outcome"],
            _keys(latest.drop(columns=["time", "score", "outcome"])),
            strict=True,
        )
    ]
    return weeks, scores


def _keys(frame: pd.DataFrame) -> list[str]:
    """What each scored row is (``machine_id=M1``, ``site_id=S1``), from the training set's context."""
    if frame.empty or not len(frame.columns):
        return [""] * len(frame)
    return [
        ", ".join(f"{c}={v}" for c, v in zip(frame.columns, values, strict=True) if pd.notna(v))
        for values in frame.itertuples(index=False, name=None)
    ]

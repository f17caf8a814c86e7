"""Task families: what a standard model predicts decides how it is fitted, scored, judged and read.

Each model module names its family (``FAMILY``); training (:mod:`forgeline.standard_models`), the champion
rule and the app go through it, so a new model of an existing family is only a training-set builder.

- :data:`EVENTS`: will this cycle be a defect, will this machine fail within a horizon? A calibrated
  probability with an alert threshold; PR-AUC (events are rare) beside a naive risk score; F1, precision
  and recall at the threshold; operating windows for the settings a plant can change.
- :data:`EXPECTED_VALUES`: how much should this hour use (an energy baseline)? A regression scored by RMSE,
  CV(RMSE) and NMBE beside a seasonal-naive baseline; hours far from expected are anomalies, and their
  excess is put in the value's unit and in CO2.
- :data:`REMAINING_LIFE`: how many more cycles will this unit run? A regression of the capped remaining
  life, held out by whole units (those that failed last), scored by RMSE and NASA's asymmetric PHM score
  beside the mean life of past units.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import norm

from forgeline.standard_models import champion, learner
from forgeline.standard_models.base import (
    Split,
    TrainingSet,
    filled,
    ranking_metrics,
    regression_metrics,
    time_ordered_split,
)
from forgeline.standard_models.windows import operating_windows

log = logging.getLogger("forgeline.standard_models")

TOP_FEATURES = 10
IMPORTANCE_ROWS = 20_000  # holdout rows re-scored for permutation importance (bounded)
# An expected-value row is an anomaly when it misses by more than this many typical misses (the validation
# fold's RMSE): about 1 row in 370 if the misses were normal, so a flagged hour is worth a look.
ANOMALY_SIGMAS = 3.0


@dataclass
class Fitted:
    """A fitted model and what the run logs of it."""

    model: Any
    params: dict[str, Any]  # the chosen set-up (logged as model__ parameters)
    search: list[dict[str, Any]]  # every candidate's validation figures
    note: str  # the learner's caveat for this version, if any
    split: Split
    metrics: dict[str, float]  # holdout figures (prefix holdout_), validation figures, threshold
    baseline: dict[str, float]  # the naive baseline's on the same rows (prefix baseline_)
    top_features: list[dict[str, Any]]
    holdout: pd.DataFrame  # one row per holdout row: time, outcome, prediction, baseline score, …
    windows: list[dict[str, Any]] = field(default_factory=list)  # operating windows (events)

    @classmethod
    def of(cls, learnt: Any, split: Split, **figures: Any) -> Fitted:
        """What the learner chose (its model, set-up, search and caveat), with the family's figures."""
        return cls(
            model=learnt.model,
            params=learnt.params,
            search=learnt.search,
            note=learnt.note,
            split=split,
            **figures,
        )


def importance_sample(label: np.ndarray) -> np.ndarray:
    """Holdout rows for permutation importance: all of them up to IMPORTANCE_ROWS, else a seeded sample
    (each of the 3 x features re-scorings costs a pass over them; the ranking of the top features is what
    is shown, and it settles long before a factory-year of cycles)."""
    rows = np.arange(len(label))
    if len(rows) <= IMPORTANCE_ROWS:
        return rows
    sample = np.sort(np.random.default_rng(0).choice(rows, IMPORTANCE_ROWS, replace=False))
    return sample if label[sample].any() else rows


def _top_features(model: Any, features: pd.DataFrame, label: np.ndarray, scoring: str, progress: Any) -> list:
    from sklearn.inspection import permutation_importance

    sample = importance_sample(label)
    progress(f"permutation importance of {features.shape[1]} features on {len(sample):,} holdout rows")
    importance = permutation_importance(
        model, features.iloc[sample], label[sample], scoring=scoring, n_repeats=3, random_state=0
    )
    ranked = np.argsort(-importance.importances_mean, kind="stable")[:TOP_FEATURES]
    return [
        {
            "feature": str(features.columns[i]),
            "importance": float(importance.importances_mean[i]),
            "rank": r + 1,
        }
        for r, i in enumerate(ranked)
    ]


def _holdout(data: TrainingSet, split: Split, columns: dict[str, Any]) -> pd.DataFrame:
    """One row per holdout row: its time, the family's columns, and which machine, cycle, site or unit it
    is (the training set's context)."""
    frame = pd.DataFrame({"time": pd.to_datetime(data.time[split.test], utc=True).to_numpy(), **columns})
    if data.context is not None:
        frame = pd.concat([frame, data.context[split.test].reset_index(drop=True)], axis=1)
    return frame


def _local_days(time: pd.Series, timezone: str) -> pd.Series:
    return pd.to_datetime(time, utc=True).dt.tz_convert(timezone).dt.date


class Events:
    """Event prediction: a calibrated probability per row, thresholded for alerts."""

    name = "event"
    metric = "pr_auc"
    lower_is_better = False
    prediction = "probability"  # the holdout column the champion rule compares
    estimator = learner.ESTIMATOR
    threshold_rule = "best F1 on the validation fold"

    def split(self, data: TrainingSet) -> Split:
        return time_ordered_split(data)

    def predict(self, model: Any, features: pd.DataFrame) -> np.ndarray:
        return model.predict_proba(features)[:, 1]

    def fit(self, data: TrainingSet, progress: Callable[[str], None]) -> Fitted:
        split = self.split(data)
        features, label = data.features, data.label.to_numpy()
        test_features, test_label = features[split.test], label[split.test]
        event = learner.fit_event_model(features, label, data.time, split.train, data.embargo, progress)
        score = self.predict(event.model, test_features)
        top = _top_features(event.model, test_features, test_label, "average_precision", progress)
        baseline_score = data.baseline_score.to_numpy()[split.test]
        windows = operating_windows(features, label, split.train, split.test, data.settings)
        holdout = _holdout(
            data,
            split,
            {
                "outcome": test_label,
                "probability": score,
                "alert": score >= event.threshold,
                "baseline_score": baseline_score,
            },
        )
        return Fitted.of(
            event,
            split,
            metrics={
                **ranking_metrics(test_label, score, "holdout_"),
                **learner.alert_metrics(test_label, score, event.threshold, "holdout_"),
                **event.validation,
                "threshold": event.threshold,
            },
            baseline=ranking_metrics(test_label, baseline_score, "baseline_"),
            top_features=top,
            holdout=holdout,
            windows=[w.record() for w in windows],
        )

    def decide(
        self, data: TrainingSet, module: Any, score: np.ndarray, other: np.ndarray | None, **names: Any
    ) -> champion.Decision:
        split = self.split(data)
        days = _local_days(data.time[split.test], data.timezone).to_numpy()
        return champion.decide(
            data.label.to_numpy()[split.test],
            score,
            filled(data.baseline_score.to_numpy()[split.test]),
            other,
            groups=days,
            rows_name=module.ROWS_NAME,
            positives_name=module.POSITIVES_NAME,
            **names,
        )

    def daily(self, holdout: pd.DataFrame, timezone: str) -> list[dict[str, Any]]:
        """Per local day of the holdout: problem cases, the cases the probabilities expected, and alerts."""
        frame = holdout.assign(day=_local_days(holdout["time"], timezone))
        days = frame.groupby("day", sort=True).agg(
            actual=("outcome", "sum"), expected=("probability", "sum"), flagged=("alert", "sum")
        )
        return [
            {
                "day": str(day),
                "actual": float(r.actual),
                "expected": float(r.expected),
                "baseline": None,
                "flagged": int(r.flagged),
            }
            for day, r in days.iterrows()
        ]


class ExpectedValues:
    """Expected values: a regression of what a row should measure, its misses as anomalies."""

    name = "expected_value"
    metric = "rmse"
    lower_is_better = True
    prediction = "expected"
    estimator = learner.REGRESSION_ESTIMATOR
    threshold_rule = f"anomaly beyond {ANOMALY_SIGMAS:g} x the validation fold's RMSE"

    def split(self, data: TrainingSet) -> Split:
        return time_ordered_split(data, both_outcomes=False)

    def predict(self, model: Any, features: pd.DataFrame) -> np.ndarray:
        return np.asarray(model.predict(features), dtype=float)

    def fit(self, data: TrainingSet, progress: Callable[[str], None]) -> Fitted:
        split = self.split(data)
        features, actual = data.features, data.label.to_numpy(dtype=float)
        test_features, test_actual = features[split.test], actual[split.test]
        fitted = learner.fit_expected_model(features, actual, data.time, split.train, data.embargo, progress)
        expected = self.predict(fitted.model, test_features)
        # The typical miss: the fold's RMSE, or the training rows' own (optimistic) without a fold.
        typical = fitted.validation.get("validation_rmse") or float(
            np.sqrt(np.mean((actual[split.train] - self.predict(fitted.model, features[split.train])) ** 2))
        )
        residual = test_actual - expected
        # Waste is what an energy manager acts on: an anomaly is use above expected (a shortfall is
        # usually a stop, which the production and downtime pages show).
        anomaly = residual > ANOMALY_SIGMAS * typical
        excess = np.where(anomaly, residual, 0.0)
        holdout = _holdout(
            data,
            split,
            {
                "outcome": test_actual,
                "expected": expected,
                "residual": residual,
                "anomaly": anomaly,
                "baseline_score": data.baseline_score.to_numpy(dtype=float)[split.test],
            },
        )
        co2 = float("nan")
        if "kg_co2e_per_unit" in holdout:
            co2 = float(np.nansum(excess * holdout["kg_co2e_per_unit"].to_numpy(dtype=float)))
        top = _top_features(fitted.model, test_features, test_actual, "neg_root_mean_squared_error", progress)
        return Fitted.of(
            fitted,
            split,
            metrics={
                **regression_metrics(test_actual, expected, "holdout_"),
                **fitted.validation,
                "typical_miss": typical,
                "holdout_anomalies": float(anomaly.sum()),
                # As many would cross the line by chance if the misses were normal: the count to beat.
                "holdout_anomalies_by_chance": float(len(residual) * norm.sf(ANOMALY_SIGMAS)),
                "holdout_anomaly_excess": float(excess.sum()),
                "holdout_anomaly_co2_kg": co2,
                "holdout_days": float(_local_days(holdout["time"], data.timezone).nunique()),
            },
            baseline=regression_metrics(test_actual, data.baseline_score.to_numpy()[split.test], "baseline_"),
            top_features=top,
            holdout=holdout,
        )

    # The champion rule's evidence: whole local days are the bootstrap's blocks (champion.decide_on_errors).
    policy: dict[str, Any] = {}

    def groups(self, data: TrainingSet, split: Split) -> np.ndarray:
        return _local_days(data.time[split.test], data.timezone).to_numpy()

    def decide(
        self, data: TrainingSet, module: Any, score: np.ndarray, other: np.ndarray | None, **names: Any
    ) -> champion.Decision:
        split = self.split(data)
        return champion.decide_on_errors(
            data.label.to_numpy(dtype=float)[split.test],
            score,
            filled(data.baseline_score.to_numpy()[split.test]),
            other,
            groups=self.groups(data, split),
            rows_name=module.ROWS_NAME,
            unit=data.unit,
            **self.policy,
            **names,
        )

    def daily(self, holdout: pd.DataFrame, timezone: str) -> list[dict[str, Any]]:
        """Per local day of the holdout: measured, expected and baseline totals, and anomalous rows."""
        frame = holdout.assign(
            day=_local_days(holdout["time"], timezone), baseline=filled(holdout["baseline_score"])
        )
        days = frame.groupby("day", sort=True).agg(
            actual=("outcome", "sum"),
            expected=("expected", "sum"),
            baseline=("baseline", "sum"),
            flagged=("anomaly", "sum"),
        )
        return [
            {
                "day": str(day),
                "actual": float(r.actual),
                "expected": float(r.expected),
                "baseline": float(r.baseline),
                "flagged": int(r.flagged),
            }
            for day, r in days.iterrows()
        ]


# Remaining life is capped (the usual practice since NASA's turbofan benchmark): early in a unit's life
# nothing tells 300 cycles left from 200, and no model should be scored on telling them apart.
RUL_CAP = 125


def phm_score(actual: np.ndarray, predicted: np.ndarray) -> float:
    """NASA's PHM08 score as a mean per row: d = predicted - actual; exp(d / 10) - 1 when late (d > 0),
    exp(-d / 13) - 1 when early. Smaller is better; 0 is perfect."""
    d = np.asarray(predicted, dtype=float) - np.asarray(actual, dtype=float)
    return float(np.mean(np.where(d > 0, np.expm1(d / 10), np.expm1(-d / 13)))) if len(d) else float("nan")


CUT_DRAWS = 50  # seeded draws of one cycle per held-out unit, averaged (one draw of ~10 units is noisy)


def rmse_at_random_cycle(units: np.ndarray, actual: np.ndarray, predicted: np.ndarray) -> float:
    """RMSE at one cycle per unit, drawn at random (seeded) and averaged over :data:`CUT_DRAWS` draws: how
    NASA's turbofan test sets are scored (each test unit's record is cut at a random cycle, and scored
    there), as near as a holdout of whole units allows."""
    if not len(units):
        return float("nan")
    rng = np.random.default_rng(0)
    codes, _ = pd.factorize(pd.Series(units))
    order = np.argsort(codes, kind="stable")
    starts = np.searchsorted(codes[order], np.arange(codes.max() + 1))
    sizes = np.bincount(codes)
    errors = (np.asarray(predicted, dtype=float) - np.asarray(actual, dtype=float))[order]
    draws = [errors[starts + rng.integers(0, sizes)] for _ in range(CUT_DRAWS)]
    return float(np.mean([np.sqrt(np.mean(d**2)) for d in draws]))


def _units(data: TrainingSet, mask: np.ndarray) -> np.ndarray:
    return data.context["unit_id"].astype(str).to_numpy()[mask]


class RemainingLife(ExpectedValues):
    """Remaining useful life: a regression of the cycles a unit has left, held out by whole units (its rows
    carry their unit's failure time, so the expected values' time cut never splits a unit)."""

    name = "remaining_life"
    prediction = "predicted"
    threshold_rule = "none: the remaining life itself is the answer"
    # Whole units are the evidence; ASHRAE's bias bound is for energy baselines (a life has no such norm).
    policy: dict[str, Any] = {
        "groups_name": "units",
        "min_groups": champion.MIN_HOLDOUT_UNITS,
        "max_bias": None,
    }

    def groups(self, data: TrainingSet, split: Split) -> np.ndarray:
        return _units(data, split.test)

    def predict(self, model: Any, features: pd.DataFrame) -> np.ndarray:
        return np.clip(np.asarray(model.predict(features), dtype=float), 0, RUL_CAP)

    def fit(self, data: TrainingSet, progress: Callable[[str], None]) -> Fitted:
        split = self.split(data)
        features, actual = data.features, data.label.to_numpy(dtype=float)
        test_features, test_actual = features[split.test], actual[split.test]
        train_units, test_units = _units(data, split.train), _units(data, split.test)
        progress(
            f"{len(set(train_units))} failed units to learn from, {len(set(test_units))} held out "
            "(the last to fail)"
        )
        fitted = learner.fit_expected_model(features, actual, data.time, split.train, data.embargo, progress)
        predicted = self.predict(fitted.model, test_features)
        baseline_score = filled(data.baseline_score.to_numpy(dtype=float)[split.test])
        holdout = _holdout(
            data,
            split,
            {"outcome": test_actual, "predicted": predicted, "baseline_score": baseline_score},
        )
        top = _top_features(fitted.model, test_features, test_actual, "neg_root_mean_squared_error", progress)
        return Fitted.of(
            fitted,
            split,
            metrics={
                **regression_metrics(test_actual, predicted, "holdout_"),
                **fitted.validation,
                "holdout_phm_score": phm_score(test_actual, predicted),
                "holdout_rmse_at_random_cycle": rmse_at_random_cycle(test_units, test_actual, predicted),
            },
            baseline={
                **regression_metrics(test_actual, baseline_score, "baseline_"),
                "baseline_phm_score": phm_score(test_actual, baseline_score),
                "baseline_rmse_at_random_cycle": rmse_at_random_cycle(
                    test_units, test_actual, baseline_score
                ),
            },
            top_features=top,
            holdout=holdout,
        )

    def daily(self, holdout: pd.DataFrame, timezone: str) -> list[dict[str, Any]]:
        """No day-by-day view: a unit's cycles all carry its failure day, so a day's sums would mix units
        of every age. The holdout is read per unit (the decision's bootstrap) and in operation."""
        return []


EVENTS = Events()
EXPECTED_VALUES = ExpectedValues()
REMAINING_LIFE = RemainingLife()
FAMILIES = {family.name: family for family in (EVENTS, EXPECTED_VALUES, REMAINING_LIFE)}

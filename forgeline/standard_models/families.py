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
- :data:`ANOMALIES`: does this machine behave unlike its normal running? An unsupervised detector with an
  alarm line, scored against labelled incidents where a client has them: precision at k (the champion
  rule's measure), the incidents a sustained alarm warned of (how long before, and what chance would give)
  and PR-AUC, beside a rolling 3-sigma chart given the same alarm budget.
- :data:`FORECASTS`: how much of each product on each of the next seven days? The fold's best simple
  forecast with a boosted correction if it clearly helps, on quantities scaled by the product's mean, scored
  by MASE (the champion rule's measure) and sMAPE a week and a day ahead beside seasonal naive.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import norm

from forgeline.i18n import N_, later
from forgeline.standard_models import champion, detector, forecaster, learner
from forgeline.standard_models.base import (
    NotEnoughData,
    Split,
    TrainingSet,
    filled,
    precision_at_k,
    ranking_metrics,
    regression_metrics,
    time_ordered_split,
)
from forgeline.standard_models.detector import ALARM_BUDGET, SensorAnomalyDetector
from forgeline.standard_models.windows import operating_windows

log = logging.getLogger("forgeline.standard_models")

TOP_FEATURES = 10
ALARMS_LISTED = 20  # anomalies: the holdout's strongest alarms, listed for review
# Holdout rows re-scored for permutation importance (bounded: its cost grows with the model; 40 features x 3
# repeats on 20,000 rows of a 450-round model took 40 s).
IMPORTANCE_ROWS = 10_000
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
    incidents: list[dict[str, Any]] = field(default_factory=list)  # the holdout's incidents (anomalies)
    alarms: list[dict[str, Any]] = field(default_factory=list)  # its strongest alarms, for review (anomalies)

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
    features = learner.inputs(model, features)  # the columns the model kept
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


def _daily(holdout: pd.DataFrame, timezone: str, **sums: str) -> list[dict[str, Any]]:
    """Per local day of the holdout, the published day (``actual``, ``expected``, ``baseline``, ``flagged``):
    each the day's sum of the holdout column ``sums`` names for it, None where a family has none."""
    frame = holdout.assign(day=_local_days(holdout["time"], timezone))
    days = frame.groupby("day", sort=True).agg(**{name: (column, "sum") for name, column in sums.items()})
    return [
        {
            "day": str(day),
            **{
                name: None if name not in sums else int(r[name]) if name == "flagged" else float(r[name])
                for name in ("actual", "expected", "baseline", "flagged")
            },
        }
        for day, r in days.iterrows()
    ]


class Events:
    """Event prediction: a calibrated probability per row, thresholded for alerts."""

    name = "event"
    metric = "pr_auc"
    lower_is_better = False
    prediction = "probability"  # the holdout column the champion rule compares
    estimator = learner.ESTIMATOR
    threshold_rule = "best F1 on the validation fold"
    learner_description = learner.__doc__ or ""  # how the model is fitted and tuned (the model card's)

    def split(self, data: TrainingSet) -> Split:
        return time_ordered_split(data)

    def predict(self, model: Any, features: pd.DataFrame) -> np.ndarray:
        return model.predict_proba(learner.inputs(model, features))[:, 1]

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
        return _daily(holdout, timezone, actual="outcome", expected="probability", flagged="alert")


class ExpectedValues:
    """Expected values: a regression of what a row should measure, its misses as anomalies."""

    name = "expected_value"
    metric = "rmse"
    lower_is_better = True
    prediction = "expected"
    estimator = learner.REGRESSION_ESTIMATOR
    threshold_rule = f"anomaly beyond {ANOMALY_SIGMAS:g} x the validation fold's RMSE"
    learner_description = learner.REGRESSION_DESCRIPTION

    def split(self, data: TrainingSet) -> Split:
        return time_ordered_split(data, both_outcomes=False)

    def predict(self, model: Any, features: pd.DataFrame) -> np.ndarray:
        return np.asarray(model.predict(learner.inputs(model, features)), dtype=float)

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
        frame = holdout.assign(baseline=filled(holdout["baseline_score"]))
        return _daily(
            frame, timezone, actual="outcome", expected="expected", baseline="baseline", flagged="anomaly"
        )


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
        return np.clip(np.asarray(model.predict(learner.inputs(model, features)), dtype=float), 0, RUL_CAP)

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


def _sustained_alarms(scored: pd.DataFrame, alarm: str, sustained: int) -> pd.DataFrame:
    """The rows where a warning stands: from the ``sustained``-th consecutive alarmed row of a machine (its
    rows in time order, a run broken by a quiet row or by a gap longer than 1.5 of its usual steps, such as
    a repair left out) to the end of that run, each with its run's number (``run``)."""
    frame = scored.sort_values(["machine_id", "time"], kind="stable")
    on = frame[alarm].to_numpy(dtype=bool)
    machine = frame["machine_id"].to_numpy()
    time = pd.to_datetime(frame["time"], utc=True).to_numpy("datetime64[ns]").astype("int64")
    same = np.concatenate([[False], machine[1:] == machine[:-1]])
    step = np.diff(time, prepend=time[:1])
    usual = float(np.median(step[same])) if same.any() else 0.0
    going = same & np.concatenate([[False], on[:-1]]) & (step <= 1.5 * usual)
    rows = np.arange(len(frame))
    run = np.maximum.accumulate(np.where(on & ~going, rows, 0))
    length = np.where(on, rows - run + 1, 0)
    return frame.assign(run=run).loc[length >= sustained, ["machine_id", "time", "run"]]


def warnings(
    episodes: pd.DataFrame, scored: pd.DataFrame, alarm: str, lead: pd.Timedelta, sustained: int
) -> pd.DataFrame:
    """Each incident episode with whether a sustained alarm of ``scored`` (rows timed when their readings
    were all in) was raised on its machine in the ``lead`` up to it (``warned``), and the hours from when the
    last such warning was first raised to the incident (``warning_h``: never flattered by an earlier,
    unrelated warning)."""
    raised = _sustained_alarms(scored, alarm, sustained)
    warned, hours = [], []
    for machine_id, at in episodes[["machine_id", "reported_at"]].itertuples(index=False):
        mine = raised[raised["machine_id"] == machine_id]
        before = mine[(mine["time"] >= at - lead) & (mine["time"] <= at)]
        warned.append(bool(len(before)))
        last = before[before["run"] == before["run"].iloc[-1]] if len(before) else before
        hours.append((at - last["time"].min()).total_seconds() / 3600 if len(last) else float("nan"))
    return episodes.assign(warned=warned, warning_h=hours)


CHANCE_SHIFTS = 20  # circular shifts of each machine's alarms that estimate what chance would warn of


def chance_of_warning(
    episodes: pd.DataFrame, scored: pd.DataFrame, alarm: str, lead: pd.Timedelta, sustained: int
) -> float:
    """How many of ``episodes`` the same alarms would have warned of at random times: each machine's alarm
    series shifted round in time by :data:`CHANCE_SHIFTS` evenly spaced offsets, the warnings counted and
    averaged. Shifting keeps the alarms' own clustering (an alarm is seldom alone), which a per-row
    independence formula would ignore and so understate chance many times over."""
    if episodes.empty or scored.empty:
        return 0.0
    frame = scored.sort_values(["machine_id", "time"], kind="stable").reset_index(drop=True)
    on = frame[alarm].to_numpy(dtype=bool)
    sizes = frame.groupby("machine_id", sort=False).size()
    counts = []
    for shift in range(1, CHANCE_SHIFTS + 1):
        moved = np.empty_like(on)
        start = 0
        for size in sizes:
            moved[start : start + size] = np.roll(
                on[start : start + size], round(shift * size / (CHANCE_SHIFTS + 1))
            )
            start += size
        counts.append(
            int(warnings(episodes, frame.assign(**{alarm: moved}), alarm, lead, sustained)["warned"].sum())
        )
    return float(np.mean(counts))


class Anomalies(Events):
    """Anomaly detection: an unsupervised score per machine and interval, with an alarm line learnt from
    normal running; labelled incidents (failures, breakdown stops) only judge it."""

    name = "anomaly"
    # Precision at k, k the alarm budget's share of the holdout: of the intervals a plant would look at,
    # how many came before an incident. PR-AUC ranks every interval of an incident's lead window, most of
    # which still look normal (the trouble shows in its last hours): it is logged beside, not judged on.
    metric = "precision_at_k"
    prediction = "anomaly_score"
    estimator = "SensorAnomalyDetector: PCA T² and residual with an isolation forest, unsupervised"
    threshold_rule = f"alarm above the {1 - ALARM_BUDGET:.0%} quantile of the training period's scores"
    learner_description = detector.__doc__ or ""

    def split(self, data: TrainingSet) -> Split:
        return time_ordered_split(data, both_outcomes=False)

    def predict(self, model: Any, features: pd.DataFrame) -> np.ndarray:
        return np.asarray(model.anomaly_score(features), dtype=float)

    @staticmethod
    def baseline(data: TrainingSet) -> np.ndarray:
        """The 3-sigma chart's score; no excursion where the chart has no limits yet (never an alarm)."""
        return np.nan_to_num(data.baseline_score.to_numpy(dtype=float), nan=0.0)

    @staticmethod
    def unseen(data: TrainingSet, split: Split) -> np.ndarray:
        """Rows the detector never learnt from and whose lead window it could warn in: every row after the
        training part (the holdout, the embargo before it, and the last day, whose labels are not known)."""
        return (pd.to_datetime(data.time, utc=True) > split.cut - data.embargo).to_numpy() & ~split.train

    @staticmethod
    def episodes(data: TrainingSet, split: Split) -> pd.DataFrame:
        """The holdout's incidents, one per episode (incidents on a machine within one lead window of the
        previous one are one: a failure and its breakdown stop): after the training cut, up to the last row,
        on the machines the rows cover. The champion rule's evidence."""
        columns = ["machine_id", "reported_at", "kind"]
        if data.incidents is None or data.incidents.events.empty or data.context is None:
            return pd.DataFrame(columns=columns)
        found = data.incidents.events.assign(
            machine_id=data.incidents.events["machine_id"].astype(str),
            reported_at=pd.to_datetime(data.incidents.events["reported_at"], utc=True),
        )
        machines = set(data.context["machine_id"].astype(str))
        found = found[found["machine_id"].isin(machines)].sort_values(
            ["machine_id", "reported_at"], kind="stable"
        )
        gap = found.groupby("machine_id")["reported_at"].diff()
        found = found[gap.isna() | (gap > pd.Timedelta(data.incidents.lead))]
        last = pd.to_datetime(data.time, utc=True).max()
        return found[(found["reported_at"] > split.cut) & (found["reported_at"] <= last)][
            columns
        ].reset_index(drop=True)

    def judged(
        self, data: TrainingSet, split: Split, alarm: np.ndarray, baseline_alarm: np.ndarray
    ) -> tuple[pd.DataFrame, dict[str, float]]:
        """The holdout's incident episodes, each warned of or not by the detector's and the baseline's
        sustained alarms (over every row it never learnt from), and how many each would warn of by chance."""
        unseen = self.unseen(data, split)
        scored = pd.DataFrame(
            {
                "machine_id": data.context["machine_id"].astype(str).to_numpy()[unseen]
                if data.context is not None
                else "",
                "time": pd.to_datetime(data.time, utc=True).to_numpy()[unseen],
                "outcome": data.label.to_numpy()[unseen],
                "alarm": alarm,
                "baseline_alarm": baseline_alarm,
            }
        )
        episodes = self.episodes(data, split)
        # No incident record at all (a builder that has none): nothing to warn of, every count is 0.
        lead = pd.Timedelta(data.incidents.lead) if data.incidents is not None else pd.Timedelta(0)
        sustained = data.incidents.sustained if data.incidents is not None else 1
        mine = warnings(episodes, scored, "alarm", lead, sustained)
        theirs = warnings(episodes, scored, "baseline_alarm", lead, sustained)
        chance = {
            "holdout_incidents_warned_by_chance": chance_of_warning(
                episodes, scored, "alarm", lead, sustained
            ),
            "baseline_incidents_warned_by_chance": chance_of_warning(
                episodes, scored, "baseline_alarm", lead, sustained
            ),
        }
        judged = mine.assign(
            baseline_warned=theirs["warned"].to_numpy(), baseline_warning_h=theirs["warning_h"]
        )
        return judged, chance

    def fit(self, data: TrainingSet, progress: Callable[[str], None]) -> Fitted:
        split = self.split(data)
        features, label = data.features, data.label.to_numpy()
        normal = split.train & (label == 0)
        progress(
            f"learning normal running from {int(normal.sum()):,} training intervals "
            f"({int((split.train & (label == 1)).sum()):,} in an incident's lead window left out)"
        )
        model = SensorAnomalyDetector().fit(features[normal])
        progress(
            f"detector fitted: {model.components_kept_} principal component(s) of "
            f"{len(model.used_features_)} features, alarm line {model.threshold_:.2f}; scoring the holdout"
        )
        unseen = self.unseen(data, split)
        score_unseen = self.predict(model, features[unseen])
        baseline_all = self.baseline(data)
        # The baseline's chart gets the same budget of alarms on normal training running as the detector.
        baseline_line = float(np.quantile(baseline_all[normal], 1 - ALARM_BUDGET)) if normal.any() else np.inf
        # A chart that never leaves zero has no alarm line: it alarms on nothing, not on everything.
        baseline_line = baseline_line if baseline_line > 0 else np.inf
        incidents, chance = self.judged(
            data, split, score_unseen >= model.threshold_, baseline_all[unseen] >= baseline_line
        )
        in_test = split.test[unseen]
        score, test_label = score_unseen[in_test], label[split.test]
        baseline_score = baseline_all[split.test]
        alarm, baseline_alarm = score >= model.threshold_, baseline_score >= baseline_line
        holdout = _holdout(
            data,
            split,
            {
                "outcome": test_label,
                "anomaly_score": score,
                "alarm": alarm,
                "baseline_score": baseline_score,
                "baseline_alarm": baseline_alarm,
            },
        )
        warned = incidents[incidents["warned"]]
        metrics = {
            "holdout_alert_rate": float(alarm.mean()) if len(alarm) else 0.0,
            "threshold": model.threshold_,
            "holdout_incidents": float(len(incidents)),
            "holdout_incidents_warned": float(len(warned)),
            "holdout_incidents_warned_by_chance": chance["holdout_incidents_warned_by_chance"],
            "holdout_warning_h": float(warned["warning_h"].median()) if len(warned) else float("nan"),
            "holdout_positive_share": float(test_label.mean()) if len(test_label) else float("nan"),
        }
        baseline = {
            "baseline_alert_rate": float(baseline_alarm.mean()) if len(baseline_alarm) else 0.0,
            "baseline_threshold": baseline_line,
            "baseline_incidents_warned": float(incidents["baseline_warned"].sum()),
            "baseline_incidents_warned_by_chance": chance["baseline_incidents_warned_by_chance"],
        }
        # Precision, recall and rankings only where the holdout holds both outcomes: without incidents an
        # alarm is neither right nor wrong, and a precision of 0 would say it was wrong.
        labelled = 0 < test_label.sum() < len(test_label)
        if labelled:
            metrics |= learner.alert_metrics(test_label, score, model.threshold_, "holdout_")
            metrics |= ranking_metrics(test_label, score, "holdout_")
            metrics["holdout_precision_at_k"] = precision_at_k(test_label, score, share=ALARM_BUDGET)
            baseline |= learner.alert_metrics(test_label, baseline_score, baseline_line, "baseline_")
            baseline |= ranking_metrics(test_label, baseline_score, "baseline_")
            baseline["baseline_precision_at_k"] = precision_at_k(
                test_label, baseline_score, share=ALARM_BUDGET
            )
        return Fitted(
            model=model,
            params=dict(model.get_params()),
            search=[],
            note=""
            if labelled
            else "no labelled incident falls in the holdout: its alarms are unchecked, for review only",
            split=split,
            metrics=metrics,
            baseline=baseline,
            top_features=self.moved(model, features[split.test], alarm, score),
            holdout=holdout,
            alarms=self.strongest(model, features[split.test], holdout),
            incidents=[
                {
                    "machine_id": str(row.machine_id),
                    "reported_at": pd.Timestamp(row.reported_at).isoformat(),
                    "kind": str(row.kind),
                    "warned": bool(row.warned),
                    "warning_h": None if pd.isna(row.warning_h) else float(row.warning_h),
                    "baseline_warned": bool(row.baseline_warned),
                    "baseline_warning_h": None
                    if pd.isna(row.baseline_warning_h)
                    else float(row.baseline_warning_h),
                }
                for row in incidents.itertuples(index=False)
            ],
        )

    @staticmethod
    def strongest(model: Any, features: pd.DataFrame, holdout: pd.DataFrame) -> list[dict[str, Any]]:
        """The holdout's :data:`ALARMS_LISTED` highest-scored alarms, each with the features that moved most
        in it: what a consultant reviews first, above all where no incident can check the detector."""
        alarmed = np.flatnonzero(holdout["alarm"].to_numpy())
        top = alarmed[
            np.argsort(-holdout["anomaly_score"].to_numpy()[alarmed], kind="stable")[:ALARMS_LISTED]
        ]
        if not len(top):
            return []
        moved = model.contributions(features.iloc[top])
        listed = []
        for position, (_, row) in zip(top, moved.iterrows(), strict=True):
            distances = row.sort_values(ascending=False, kind="stable")
            listed.append(
                {
                    "machine_id": str(holdout["machine_id"].iloc[position])
                    if "machine_id" in holdout
                    else "",
                    "time": pd.Timestamp(holdout["time"].iloc[position]).isoformat(),
                    "score": float(holdout["anomaly_score"].iloc[position]),
                    "moved": ", ".join(f"{name} {value:.0%}" for name, value in distances.head(3).items()),
                }
            )
        return listed

    @staticmethod
    def moved(
        model: Any, features: pd.DataFrame, alarm: np.ndarray, score: np.ndarray
    ) -> list[dict[str, Any]]:
        """The features behind the alarms (the top 1 % of scores if none): their mean share of the alarms'
        distance from normal running (the detector's contribution plot). Where to look first."""
        rows = alarm
        if not alarm.any() and len(score):
            rows = score >= np.quantile(score, 1 - ALARM_BUDGET)
        if not rows.any():
            return []
        moved = model.contributions(features[rows]).mean()
        moved = moved.sort_values(ascending=False, kind="stable")
        return [
            {"feature": str(name), "importance": float(value), "rank": rank + 1}
            for rank, (name, value) in enumerate(moved.head(TOP_FEATURES).items())
        ]

    def decide(
        self, data: TrainingSet, module: Any, score: np.ndarray, other: np.ndarray | None, **names: Any
    ) -> champion.Decision:
        split = self.split(data)
        label = data.label.to_numpy()[split.test]
        if not 0 < label.sum() < len(label):
            message = N_(
                "{who} is not made champion: no labelled incident (failure, breakdown stop) falls in its "
                "holdout, so nothing checks its alarms; they are shown for review"
            )
            return champion.decided(
                False,
                later(message, who=champion.version_words(names.get("version"))),
                {"rows": float(len(label)), "positives": 0.0},
            )
        return champion.decide(
            label,
            score,
            self.baseline(data)[split.test],
            other,
            groups=_local_days(data.time[split.test], data.timezone).to_numpy(),
            rows_name=module.ROWS_NAME,
            positives_name=module.POSITIVES_NAME,
            positives=len(self.episodes(data, split)),
            min_positives=champion.MIN_HOLDOUT_INCIDENTS,
            metric=partial(precision_at_k, share=ALARM_BUDGET),
            metric_name=self.metric,
            **names,
        )

    def daily(self, holdout: pd.DataFrame, timezone: str) -> list[dict[str, Any]]:
        """Per local day of the holdout: intervals in an incident's lead window (what should alarm), the
        baseline's alarms and the detector's."""
        return _daily(holdout, timezone, actual="outcome", baseline="baseline_alarm", flagged="alarm")


# Forecasts: a week ahead, each day of it (horizons 1 to HORIZON_DAYS); the model learns the quantity divided
# by the product's mean daily quantity up to the forecast's origin (+ 1: a product never made yet divides by
# 1), the feature LEVEL. Its whole history, not a recent window: a product made in campaigns has a recent
# level of 0 between them, and a campaign's first day would weigh hundreds of times its due.
HORIZON_DAYS = 7
LEVEL = "product_mean"


def forecast_scale(level: Any) -> np.ndarray:
    """What a forecast row's quantities are divided by: the product's mean daily quantity so far, + 1."""
    return np.nan_to_num(np.asarray(level, dtype=float), nan=0.0) + 1.0


def _smape(actual: np.ndarray, forecast: np.ndarray) -> float:
    """Symmetric MAPE: the mean of 2|e| / (|y| + |ŷ|) as a share (0 is perfect, 2 the worst), over the rows
    where either is not 0 (a day with nothing made and nothing forecast says nothing of the forecast)."""
    total = np.abs(actual) + np.abs(forecast)
    rows = total > 0
    return float(np.mean(2 * np.abs(actual - forecast)[rows] / total[rows])) if rows.any() else float("nan")


def forecast_metrics(
    actual: np.ndarray, forecast: np.ndarray, scale: np.ndarray, horizon: np.ndarray, prefix: str
) -> dict[str, float]:
    """MASE and sMAPE over the week ahead (every horizon: the headline) and the day ahead (horizon 1), and
    RMSE in the quantity's unit. ``scale``: each row's product's MASE denominator."""
    forecast = filled(forecast)
    figures = {}
    every = np.ones(len(actual), bool)
    for suffix, rows in (
        ("", every),
        ("_day_ahead", horizon == 1),
        ("_7_days_ahead", horizon == HORIZON_DAYS),
    ):
        error = np.abs(actual[rows] - forecast[rows])
        figures[f"{prefix}mase{suffix}"] = float(np.mean(error / scale[rows])) if rows.any() else float("nan")
        figures[f"{prefix}smape{suffix}"] = _smape(actual[rows], forecast[rows])
    figures[f"{prefix}rmse"] = float(np.sqrt(np.mean((actual - forecast) ** 2))) if len(actual) else np.nan
    return figures


class Forecasts(ExpectedValues):
    """Forecasts per product and day: a regression of the quantity, each row a product, a target day and a
    horizon, scored by MASE against seasonal naive (whole target days are the bootstrap's blocks)."""

    name = "forecast"
    metric = "mase"
    prediction = "forecast"
    estimator = "the fold's best simple forecast, with a LightGBM (LGBMRegressor, L1) correction if it helps"
    threshold_rule = "none: the forecast itself is the answer"
    learner_description = forecaster.__doc__ or ""
    policy: dict[str, Any] = {"max_bias": None, "absolute": True, "measure": "MASE"}

    def split(self, data: TrainingSet) -> Split:
        """The time-ordered split, with training targets purged for a week before the cut: a holdout row's
        forecast was made up to 7 days before its day, and the model must not know the days in between."""
        split = time_ordered_split(data, both_outcomes=False)
        times = pd.to_datetime(data.time, utc=True)
        train = split.train & (times <= split.cut - pd.Timedelta(days=HORIZON_DAYS)).to_numpy()
        if not train.any():
            raise NotEnoughData(
                f"no training day a week before the holdout ({split.cut:%Y-%m-%d}); deliver a longer history."
            )
        return Split(train=train, test=split.test, cut=split.cut)

    def predict(self, model: Any, features: pd.DataFrame) -> np.ndarray:
        scaled = np.clip(np.asarray(model.predict(features), dtype=float), 0, None)
        return scaled * forecast_scale(features[LEVEL])

    def mase_scales(self, data: TrainingSet, split: Split) -> np.ndarray:
        """Each holdout row's MASE denominator: its product's mean absolute change from the same weekday a
        week before, over the training days (each day once: horizon 1). A product with none (new, or never
        changing) takes the median of the others, else 1."""
        context = data.context if data.context is not None else pd.DataFrame(index=data.label.index)
        train = split.train & (data.features[forecaster.HORIZON].to_numpy() == 1)
        change = np.abs(data.label.to_numpy(dtype=float) - data.baseline_score.to_numpy(dtype=float))
        change = pd.DataFrame(
            {"product": context["product_id"].to_numpy()[train], "change": change[train]}
        ).dropna()
        scales = change.groupby("product")["change"].mean()
        scales = scales[scales > 0]
        fallback = float(scales.median()) if len(scales) else 1.0
        return context["product_id"][split.test].map(scales).fillna(fallback).to_numpy(dtype=float)

    def fit(self, data: TrainingSet, progress: Callable[[str], None]) -> Fitted:
        split = self.split(data)
        features, actual = data.features, data.label.to_numpy(dtype=float)
        test_features, test_actual = features[split.test], actual[split.test]
        scaled = actual / forecast_scale(features[LEVEL])
        context = data.context if data.context is not None else pd.DataFrame()
        progress(
            f"{context['product_id'][split.train].nunique()} product(s) to learn from, forecasts of "
            f"{int(split.test.sum()):,} product-days and horizons held out"
        )
        # The simple forecast that did best on the fold is the base; boosting learns its residual and is kept
        # only if it lowers the fold's error clearly too (forecaster.py).
        _, fold = learner.validation_fold(data.time, split.train, data.embargo)
        base = forecaster.choose_base(features, scaled, fold if fold.any() else split.train)
        residual = scaled - forecaster.ProductForecaster(base).base_forecast(features)
        fitted = learner.fit_expected_model(
            features, residual, data.time, split.train, data.embargo, progress, absolute=True
        )
        alone = float(np.mean(np.abs(residual[fold]))) if fold.any() else float("nan")
        boosted = fitted.validation.get("validation_mae", float("nan"))
        # False without a fold (too few rows) or without a clear gain.
        corrected = bool(boosted < (1 - forecaster.CORRECTION_GAIN) * alone)
        named = forecaster.BASES[base]
        choice = (
            f"{named}, corrected by gradient boosting (validation MAE {boosted:.3f} vs {alone:.3f} without, "
            "scaled)"
            if corrected
            else f"{named}, not corrected: gradient boosting did not lower the validation MAE by "
            f"{forecaster.CORRECTION_GAIN:.0%} ({boosted:.3f} vs {alone:.3f} without, scaled)"
        )
        progress(f"base forecast chosen on the validation fold: {choice}")
        fitted = replace(
            fitted,
            model=forecaster.ProductForecaster(base, fitted.model if corrected else None).fit(features),
            params={**fitted.params, "base": base, "boosting_correction": corrected},
            note="; ".join(
                n
                for n in (
                    fitted.note,
                    f"forecasts {data.description.get('label', 'the quantity')} with {choice}",
                )
                if n
            ),
        )
        forecast = self.predict(fitted.model, test_features)
        baseline_score = filled(data.baseline_score.to_numpy(dtype=float)[split.test])
        scale = self.mase_scales(data, split)
        horizon = test_features[forecaster.HORIZON].to_numpy()
        holdout = _holdout(
            data,
            split,
            {"outcome": test_actual, "forecast": forecast, "baseline_score": baseline_score, "scale": scale},
        )
        # The learner's fold figures are on the scaled quantity: named so, never read as units.
        validation = {
            k if k == "validation_rows" else k.replace("validation_", "validation_scaled_"): v
            for k, v in fitted.validation.items()
        }
        validation |= {"validation_scaled_mae_base": alone, "boosting_correction": float(corrected)}
        top = _top_features(
            fitted.model, test_features, scaled[split.test], "neg_mean_absolute_error", progress
        )
        return Fitted.of(
            fitted,
            split,
            metrics={
                **forecast_metrics(test_actual, forecast, scale, horizon, "holdout_"),
                **validation,
                "holdout_products": float(context["product_id"][split.test].nunique()),
                "holdout_days": float(_local_days(holdout["time"], data.timezone).nunique()),
            },
            baseline=forecast_metrics(test_actual, baseline_score, scale, horizon, "baseline_"),
            top_features=top,
            holdout=holdout,
        )

    def decide(
        self, data: TrainingSet, module: Any, score: np.ndarray, other: np.ndarray | None, **names: Any
    ) -> champion.Decision:
        """The champion rule on scaled errors: the mean absolute error of quantities divided by their
        product's MASE scale is the MASE, so the bootstrap compares MASEs over whole target days."""
        split = self.split(data)
        scale = self.mase_scales(data, split)
        return champion.decide_on_errors(
            data.label.to_numpy(dtype=float)[split.test] / scale,
            np.asarray(score, dtype=float) / scale,
            filled(data.baseline_score.to_numpy()[split.test]) / scale,
            None if other is None else np.asarray(other, dtype=float) / scale,
            groups=self.groups(data, split),
            rows_name=module.ROWS_NAME,
            **self.policy,
            **names,
        )

    def daily(self, holdout: pd.DataFrame, timezone: str) -> list[dict[str, Any]]:
        """Per local day of the holdout, summed over products: the quantity, the forecast made a week before
        (horizon 7, what the week's plan said) and seasonal naive's."""
        week_ahead = holdout[holdout["horizon"] == HORIZON_DAYS]
        frame = week_ahead.assign(baseline=filled(week_ahead["baseline_score"]))
        return _daily(frame, timezone, actual="outcome", expected="forecast", baseline="baseline")


EVENTS = Events()
EXPECTED_VALUES = ExpectedValues()
REMAINING_LIFE = RemainingLife()
ANOMALIES = Anomalies()
FORECASTS = Forecasts()
FAMILIES = {family.name: family for family in (EVENTS, EXPECTED_VALUES, REMAINING_LIFE, ANOMALIES, FORECASTS)}

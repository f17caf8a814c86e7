"""The event-prediction learner: LightGBM, tuned, calibrated and thresholded on a time-ordered fold.

The training part of the time-ordered split is cut once more in time: its latest quarter is the validation
fold, the rest fits the trees (with the training set's embargo before the fold, so no label of the fitting
rows looks into it). On the fold:

- each of four candidate set-ups grows trees until the fold's PR-AUC stops improving (early stopping); the
  best candidate, at its best number of rounds, is kept;
- Platt scaling (a logistic map of the score, scikit-learn's CalibratedClassifierCV) turns the score into
  a probability. It is monotone, so the ranking, and PR-AUC with it, stays exactly as the trees give it;
- the alert threshold is the probability with the best F1 on the fold;
- then the chosen set-up is fitted again on every training row, fold included, and put under that
  calibration and threshold.

With more than 40 candidate features (a plant's parameters, each with its history), the fitting rows
choose first: one quick fit ranks them by the gain they bring, and the 40 strongest are kept, so training
stays bounded however many tags a plant has (the run log and the model's signature name those kept).

The holdout is never seen by any of these choices. Everything is deterministic (LightGBM's deterministic
mode, fixed seeds, one thread): the same data gives the same model to the last bit.
"""
# The app shows the docstring above in the model card: it is written for people.

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial
from time import perf_counter
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, precision_recall_curve

from forgeline.standard_models.base import NotEnoughData

log = logging.getLogger("forgeline.standard_models")

ESTIMATOR = "LightGBM (LGBMClassifier), Platt-calibrated"
# Bumped whenever what this module does changes (the search, calibration, threshold, refit, fallback):
# part of the model set-up digest, so every client's model is trained again with it.
LEARNER_VERSION = 3
VALIDATION_SHARE = 0.25  # the latest quarter of the training rows
MIN_VALIDATION_POSITIVES = 5  # fewer: the fold cannot choose rounds, set-up or threshold (see _fallback)
MAX_ROUNDS = 1_000
EARLY_STOPPING_ROUNDS = 50
FALLBACK_ROUNDS = 200
# A small, bounded search: shallow and deeper trees, with more or less smoothing. Each candidate costs one
# early-stopped fit; four keep training within a minute on a factory-year.
SEARCH: tuple[dict[str, Any], ...] = (
    {"num_leaves": 15, "min_child_samples": 20, "learning_rate": 0.05, "reg_lambda": 1.0},
    {"num_leaves": 63, "min_child_samples": 20, "learning_rate": 0.05, "reg_lambda": 1.0},
    {"num_leaves": 15, "min_child_samples": 100, "learning_rate": 0.05, "reg_lambda": 10.0},
    {"num_leaves": 31, "min_child_samples": 50, "learning_rate": 0.05, "colsample_bytree": 0.7},
)
FIXED_PARAMS: dict[str, Any] = {
    "objective": "binary",
    "n_estimators": MAX_ROUNDS,
    "deterministic": True,
    "force_row_wise": True,
    "random_state": 0,
    "n_jobs": 1,
    "verbose": -1,
}


# Feature selection: past this many candidate features, a quick fit on the fitting rows ranks them by gain
# and the strongest are kept (on KAMP's injection molding, 134 candidates on 5,000 rows overfit).
MAX_FEATURES = 40
SELECTION_ROUNDS = 100


def selected_features(
    make: Callable[..., Any],
    features: pd.DataFrame,
    target: np.ndarray,
    fit: np.ndarray,
    progress: Callable[[str], None],
) -> pd.DataFrame:
    """``features`` with at most MAX_FEATURES columns: all of them if no more, else those with the most
    total gain in a quick fit (the search's first set-up, SELECTION_ROUNDS rounds) on the ``fit`` rows only,
    in their original order. Columns that never split are dropped too, when there are too many."""
    if features.shape[1] <= MAX_FEATURES:
        return features
    quick = make(SEARCH[0], SELECTION_ROUNDS).fit(features[fit], target[fit])
    gain = quick.booster_.feature_importance(importance_type="gain")
    ranked = [i for i in np.argsort(-gain, kind="stable")[:MAX_FEATURES] if gain[i] > 0]
    kept = features.columns[sorted(ranked)] if ranked else features.columns[:MAX_FEATURES]
    progress(
        f"feature selection: kept {len(kept)} of {features.shape[1]} candidate features (most gain in a "
        f"{SELECTION_ROUNDS}-round fit on the fitting rows)"
    )
    return features[kept]


# The columns a fitted model reads, kept on the model itself (saved with it): LightGBM's own
# ``feature_names_in_`` holds its cleaned-up names ("clamp force" becomes "clamp_force").
COLUMNS_ATTRIBUTE = "forgeline_columns_"


def _remember(model: Any, features: pd.DataFrame) -> Any:
    setattr(model, COLUMNS_ATTRIBUTE, [str(c) for c in features.columns])
    return model


def columns_of(model: Any) -> list[str] | None:
    """The feature columns ``model`` reads: those it was fitted on (after feature selection); None for a
    model that does not say (it reads whatever it is given)."""
    names = getattr(model, COLUMNS_ATTRIBUTE, None)
    if names is None:  # fitted before the columns were kept on the model
        names = getattr(model, "feature_names_in_", None)
    return None if names is None else [str(n) for n in names]


def missing_columns(model: Any, features: pd.DataFrame) -> list[str]:
    """The columns ``model`` reads that ``features`` lacks (a champion trained on data since changed)."""
    return [n for n in columns_of(model) or [] if n not in features.columns]


def inputs(model: Any, features: pd.DataFrame) -> pd.DataFrame:
    """The columns of ``features`` that ``model`` reads (feature selection may have kept fewer)."""
    names = columns_of(model)
    return features if names is None else features[names]


@dataclass
class EventModel:
    """A fitted event model: ``model.predict_proba`` gives a calibrated probability."""

    model: Any
    params: dict[str, Any]  # the chosen candidate, its rounds, and the fixed parameters
    threshold: float  # alert when the probability is at least this (best F1 on the validation fold)
    validation: dict[str, float]  # the fold's figures at the chosen set-up and threshold
    search: list[dict[str, Any]] = field(default_factory=list)  # every candidate's figures (logged)
    note: str = ""  # how the fold was used, when it could not be used fully


def validation_fold(time: pd.Series, train: np.ndarray, embargo: timedelta) -> tuple[np.ndarray, np.ndarray]:
    """Split the training rows in time: (fit, validation) masks, with the embargo between them."""
    times = pd.to_datetime(time, utc=True)
    cut = times[train].quantile(1 - VALIDATION_SHARE)
    validation = train & (times > cut).to_numpy()
    fit = train & (times <= cut - embargo).to_numpy()
    return fit, validation


def best_f1_threshold(label: np.ndarray, probability: np.ndarray) -> tuple[float, float]:
    """The probability with the best F1 on these rows, and that F1."""
    precision, recall, thresholds = precision_recall_curve(label, probability)
    total = precision + recall
    f1 = np.divide(2 * precision * recall, total, out=np.zeros_like(precision), where=total > 0)
    best = int(np.argmax(f1[:-1])) if len(thresholds) else 0
    return (float(thresholds[best]) if len(thresholds) else 0.5), float(f1[best])


def alert_metrics(
    label: np.ndarray, probability: np.ndarray, threshold: float, prefix: str
) -> dict[str, float]:
    """F1, precision and recall of alerting at ``threshold``, and the share of rows it alerts on."""
    alert = probability >= threshold
    caught = int((alert & (label == 1)).sum())
    precision = caught / alert.sum() if alert.any() else 0.0
    recall = caught / max(int(label.sum()), 1)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        f"{prefix}f1": float(f1),
        f"{prefix}precision": float(precision),
        f"{prefix}recall": float(recall),
        f"{prefix}alert_rate": float(alert.mean()) if len(alert) else 0.0,
    }


def _classifier(candidate: dict[str, Any], rounds: int | None = None) -> Any:
    from lightgbm import LGBMClassifier

    params = {**FIXED_PARAMS, **candidate}
    if rounds is not None:
        params["n_estimators"] = rounds
    return LGBMClassifier(**params)


def _calibrated(model: Any, features: pd.DataFrame, label: np.ndarray) -> Any:
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.frozen import FrozenEstimator

    return CalibratedClassifierCV(FrozenEstimator(model), method="sigmoid").fit(features, label)


def _swap_estimator(calibrated: Any, estimator: Any) -> None:
    """Put ``estimator`` under a fitted calibration (its calibrated classifiers hold it by attribute)."""
    from sklearn.frozen import FrozenEstimator

    frozen = FrozenEstimator(estimator)
    calibrated.estimator = frozen
    for member in calibrated.calibrated_classifiers_:
        member.estimator = frozen


def fit_event_model(
    features: pd.DataFrame,
    label: np.ndarray,
    time: pd.Series,
    train: np.ndarray,
    embargo: timedelta = timedelta(0),
    progress: Callable[[str], None] = log.info,
) -> EventModel:
    """Fit, tune, calibrate and threshold on the training rows only (see the module docstring)."""
    fit, validation = validation_fold(time, train, embargo)
    fit_positives, validation_positives = int(label[fit].sum()), int(label[validation].sum())
    if fit_positives == 0 or fit_positives == fit.sum():
        raise NotEnoughData(
            f"the fitting part of the training rows ({int(fit.sum()):,}) holds {fit_positives} positive "
            "rows; the model needs both outcomes to learn from. Collect a longer history or more events."
        )
    if validation_positives < MIN_VALIDATION_POSITIVES or validation_positives == validation.sum():
        # No selection either: a gain ranking on so few positive cases would mostly be noise.
        return _fallback(features, label, train, validation_positives, progress)
    features = selected_features(_classifier, features, label, fit, progress)

    fit_x, fit_y = features[fit], label[fit]
    val_x, val_y = features[validation], label[validation]
    chosen, search = _search(
        _classifier,
        (fit_x, fit_y, val_x, val_y),
        "average_precision",
        lambda model, rounds: float(
            average_precision_score(val_y, model.predict_proba(val_x, num_iteration=rounds)[:, 1])
        ),
        "validation_pr_auc",
        "PR-AUC",
        progress,
    )
    candidate = SEARCH[chosen]
    rounds = search[chosen]["rounds"]
    model = _classifier(candidate, rounds).fit(fit_x, fit_y)
    calibrated = _calibrated(model, val_x, val_y)
    probability = calibrated.predict_proba(val_x)[:, 1]
    threshold, _ = best_f1_threshold(val_y, probability)
    # Refit on every training row: the latest quarter is the most like what comes next (on KAMP die casting
    # the holdout PR-AUC went from 0.72 to 0.76). The calibration and threshold learned on the fold, from
    # scores the fold model had not seen, are kept: the refit has the same set-up and rounds.
    _swap_estimator(calibrated, _classifier(candidate, rounds).fit(features[train], label[train]))
    figures = {
        "validation_pr_auc": float(average_precision_score(val_y, probability)),
        **alert_metrics(val_y, probability, threshold, "validation_"),
        "validation_rows": float(validation.sum()),
        "validation_positives": float(validation_positives),
    }
    progress(
        f"chose candidate {chosen + 1} ({_describe(candidate)}, {rounds} rounds); alert threshold "
        f"{threshold:.3f} (validation F1 {figures['validation_f1']:.3f})"
    )
    return EventModel(
        model=_remember(calibrated, features),
        params={**FIXED_PARAMS, **candidate, "n_estimators": rounds, "calibration": "sigmoid"},
        threshold=threshold,
        validation=figures,
        search=search,
    )


def _fallback(
    features: pd.DataFrame,
    label: np.ndarray,
    train: np.ndarray,
    validation_positives: int,
    progress: Callable[[str], None],
) -> EventModel:
    """Too few positive cases in the validation fold to choose anything on it: the first candidate with a
    fixed number of rounds on all training rows, uncalibrated, its threshold the best F1 on the training
    rows themselves (optimistic; the note says so, and the model card carries it)."""
    note = (
        f"the validation fold holds {validation_positives} positive case(s), fewer than "
        f"{MIN_VALIDATION_POSITIVES}: no early stopping, search or calibration; the threshold was chosen on "
        "the training rows (optimistic)"
    )
    progress(f"{note}; fitting {FALLBACK_ROUNDS} rounds")
    candidate = SEARCH[0]
    model = _classifier(candidate, FALLBACK_ROUNDS).fit(features[train], label[train])
    probability = model.predict_proba(features[train])[:, 1]
    threshold, _ = best_f1_threshold(label[train], probability)
    return EventModel(
        model=_remember(model, features),
        params={**FIXED_PARAMS, **candidate, "n_estimators": FALLBACK_ROUNDS, "calibration": "none"},
        threshold=threshold,
        validation={},
        note=note,
    )


# -- expected values (regression) ------------------------------------------------------------------------
REGRESSION_ESTIMATOR = "LightGBM (LGBMRegressor)"
REGRESSION_DESCRIPTION = """The regression learner: LightGBM, tuned on a time-ordered fold.

The latest quarter of the training rows is the validation fold (for a remaining life: the units that
failed last before the holdout's). Each of four candidate set-ups (the event learner's) grows trees until
the fold's squared error stops improving; the best candidate, at its best number of rounds, is then
fitted again on every training row, fold included. Past 40 candidate features, a quick fit on the
fitting rows keeps the 40 strongest first (as for events). The fold's error is kept as the typical
size of a miss (an energy baseline counts an interval beyond three of them as an anomaly). The holdout is
never seen by any of these choices, and the same data gives the same model to the last bit.
"""
MIN_VALIDATION_ROWS = 48  # fewer: no fold to choose on (see fit_expected_model)


@dataclass
class ExpectedModel:
    """A fitted regression: ``model.predict`` gives the expected value."""

    model: Any
    params: dict[str, Any]
    validation: dict[str, float]  # the fold's RMSE, MAE and rows at the chosen set-up
    search: list[dict[str, Any]] = field(default_factory=list)
    note: str = ""


def _regressor(candidate: dict[str, Any], rounds: int | None = None, objective: str = "regression") -> Any:
    from lightgbm import LGBMRegressor

    params = {**FIXED_PARAMS, "objective": objective, **candidate}
    if rounds is not None:
        params["n_estimators"] = rounds
    return LGBMRegressor(**params)


def _rmse(actual: np.ndarray, expected: np.ndarray) -> float:
    return float(np.sqrt(np.mean((actual - expected) ** 2))) if len(actual) else float("nan")


def fit_expected_model(
    features: pd.DataFrame,
    target: np.ndarray,
    time: pd.Series,
    train: np.ndarray,
    embargo: timedelta = timedelta(0),
    progress: Callable[[str], None] = log.info,
    absolute: bool = False,
) -> ExpectedModel:
    """Fit and tune a regression on the training rows only (see :data:`REGRESSION_DESCRIPTION`).
    ``absolute``: on absolute errors instead of squared ones (LightGBM's L1 objective, early-stopped and
    chosen on the fold's MAE): the median, not the mean, for a forecast scored by MASE."""
    objective, metric, measure = ("regression_l1", "l1", "MAE") if absolute else ("regression", "l2", "RMSE")
    make = partial(_regressor, objective=objective)
    fit, validation = validation_fold(time, train, embargo)
    # Too few rows for a fold: the training rows choose the features instead.
    few = validation.sum() < MIN_VALIDATION_ROWS or fit.sum() < MIN_VALIDATION_ROWS
    features = selected_features(make, features, target, train if few else fit, progress)
    if few:
        note = (
            f"the training rows ({int(train.sum()):,}) are too few for a validation fold of "
            f"{MIN_VALIDATION_ROWS} rows: no early stopping or search"
        )
        progress(f"{note}; fitting {FALLBACK_ROUNDS} rounds")
        model = make(SEARCH[0], FALLBACK_ROUNDS).fit(features[train], target[train])
        return ExpectedModel(
            model=_remember(model, features),
            params={**FIXED_PARAMS, "objective": objective, **SEARCH[0], "n_estimators": FALLBACK_ROUNDS},
            validation={},
            note=note,
        )
    fit_x, fit_y = features[fit], target[fit]
    val_x, val_y = features[validation], target[validation]

    def error(actual: np.ndarray, expected: np.ndarray) -> float:
        return float(np.mean(np.abs(actual - expected))) if absolute else _rmse(actual, expected)

    chosen, search = _search(
        make,
        (fit_x, fit_y, val_x, val_y),
        metric,
        lambda model, rounds: error(val_y, model.predict(val_x, num_iteration=rounds)),
        f"validation_{measure.lower()}",
        measure,
        progress,
        higher_is_better=False,
    )
    candidate, rounds = SEARCH[chosen], search[chosen]["rounds"]
    fold_model = make(candidate, rounds).fit(fit_x, fit_y)
    expected = fold_model.predict(val_x)
    figures = {
        "validation_rmse": _rmse(val_y, expected),
        "validation_mae": float(np.mean(np.abs(val_y - expected))),
        "validation_rows": float(validation.sum()),
    }
    progress(
        f"chose candidate {chosen + 1} ({_describe(candidate)}, {rounds} rounds; validation {measure} "
        f"{figures[f'validation_{measure.lower()}']:.3f}); refitting on all {int(train.sum()):,} training "
        "rows"
    )
    return ExpectedModel(
        model=_remember(make(candidate, rounds).fit(features[train], target[train]), features),
        params={**FIXED_PARAMS, "objective": objective, **candidate, "n_estimators": rounds},
        validation=figures,
        search=search,
    )


def _search(
    make: Callable[[dict[str, Any]], Any],
    fold: tuple[Any, Any, Any, Any],
    eval_metric: str,
    measure: Callable[[Any, int], float],
    figure: str,
    label: str,
    progress: Callable[[str], None],
    higher_is_better: bool = True,
) -> tuple[int, list[dict[str, Any]]]:
    """Each candidate of SEARCH early-stopped on the fold (``eval_metric``), measured there at its best
    rounds; the best one's index (ties go to the earlier, simpler candidate) and every candidate's figures."""
    import lightgbm

    fit_x, fit_y, val_x, val_y = fold
    search: list[dict[str, Any]] = []
    started = perf_counter()
    for number, candidate in enumerate(SEARCH, start=1):
        model = make(candidate)
        model.fit(
            fit_x,
            fit_y,
            eval_X=(val_x,),
            eval_y=(val_y,),
            eval_metric=eval_metric,
            callbacks=[lightgbm.early_stopping(EARLY_STOPPING_ROUNDS, first_metric_only=True, verbose=False)],
        )
        rounds = int(model.best_iteration_ or MAX_ROUNDS)
        search.append({**candidate, "rounds": rounds, figure: measure(model, rounds)})
        elapsed = perf_counter() - started
        progress(
            f"candidate {number}/{len(SEARCH)} ({_describe(candidate)}): validation {label} "
            f"{search[-1][figure]:.3f} after {rounds} rounds; about "
            f"{elapsed / number * (len(SEARCH) - number):.0f} s left"
        )
    sign = 1 if higher_is_better else -1
    chosen = max(range(len(search)), key=lambda i: (round(sign * search[i][figure], 6), -i))
    return chosen, search


def _describe(candidate: dict[str, Any]) -> str:
    return ", ".join(f"{k} {v}" for k, v in candidate.items())

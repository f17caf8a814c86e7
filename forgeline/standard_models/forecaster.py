"""The forecast family's model: per horizon, the simple forecast that did best on a time-ordered validation
fold, corrected by gradient boosting only where the correction earns its place on the same fold.

The simple forecasts (:data:`BASES`, computed by the builder from the origin's past only) are the ones
forecasters compare first: the latest day (persistence: a product made in campaigns runs on as it ran
yesterday), the last 7 days' mean, and the seasonal-index forecast (that mean times how the target's
weekday compared with the 28-day mean over the last four weeks). For each horizon of 1 to 7 days the one
with the smallest mean absolute error on the fold is the base. LightGBM then learns the base's residual from
every feature, on absolute errors (LightGBM's L1 objective: a residual's median, not its mean, which a
campaign's first day would drag; the learner's own search and early stopping,
:mod:`~forgeline.standard_models.learner`). A
few hundred product-days are easily over-fitted, so the correction is kept only when it lowers the fold's
mean absolute error (the errors MASE averages); else the base forecasts stand alone. The run log and the
version's caveat say which.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, RegressorMixin

HORIZON = "horizon_days"  # the feature holding each row's horizon (1 to 7 days)
PROFILE = "seasonal_index_forecast_scaled"
# The builder's simple forecasts (features, scaled like the quantity), in the order ties are broken.
BASES = {
    PROFILE: "the seasonal-index forecast",
    "mean_7d_scaled": "the last 7 days' mean",
    "latest_scaled": "the latest day (persistence)",
}
# What the set-up digest records of this model: a change retrains.
SETUP = "per-horizon base: persistence, 7-day mean or seasonal index; L1-boosted correction if lower MAE; v3"


def choose_bases(features: pd.DataFrame, target: np.ndarray, rows: np.ndarray, horizons: int) -> list[str]:
    """For each horizon 1..``horizons``, the base with the smallest mean absolute error on ``rows`` (the
    first of :data:`BASES` where none has a row)."""
    chosen = []
    horizon = features[HORIZON].to_numpy()
    for h in range(1, horizons + 1):
        mine = rows & (horizon == h)
        errors = {
            name: float(np.mean(np.abs(target[mine] - np.nan_to_num(features[name].to_numpy()[mine]))))
            for name in BASES
            if mine.any()
        }
        chosen.append(min(errors, key=errors.__getitem__) if errors else next(iter(BASES)))
    return chosen


class ProductForecaster(RegressorMixin, BaseEstimator):
    """The scaled quantity: each row's base forecast (``bases[horizon - 1]``, a feature column) plus
    ``correction``'s prediction of its residual (if any).

    Fitted by :meth:`~forgeline.standard_models.families.Forecasts.fit` (which chooses the bases and the
    correction on the validation fold); ``fit`` here only records the feature names.
    """

    def __init__(self, bases: list[str] | None = None, correction: Any = None) -> None:
        self.bases = bases
        self.correction = correction

    def fit(self, features: pd.DataFrame, target: Any = None) -> ProductForecaster:
        self.feature_names_in_ = np.asarray([str(c) for c in features.columns], dtype=object)
        self.n_features_in_ = len(self.feature_names_in_)
        return self

    def base(self, features: pd.DataFrame) -> np.ndarray:
        bases = self.bases or [PROFILE]
        horizon = np.clip(features[HORIZON].to_numpy(dtype=float).astype(int), 1, len(bases))
        chosen = np.asarray(bases, dtype=object)[horizon - 1]
        values = np.zeros(len(features))
        for name in set(bases):
            rows = chosen == name
            values[rows] = np.nan_to_num(features[name].to_numpy(dtype=float)[rows], nan=0.0)
        return values

    def predict(self, features: pd.DataFrame) -> np.ndarray:
        base = self.base(features)
        if self.correction is None:
            return base
        return base + np.asarray(self.correction.predict(features), dtype=float)

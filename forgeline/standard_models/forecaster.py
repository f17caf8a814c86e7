"""The forecast family's model: the simple forecast that did best on a time-ordered validation fold,
corrected by gradient boosting only where the correction clearly earns its place on the same fold.

The simple forecasts (computed by the builder from the origin's past only) are the ones
forecasters compare first: the latest day (persistence: a product made in campaigns runs on as it ran
yesterday), the last 7 days' mean, and the seasonal-index forecast (that mean times how the target's
weekday compared with the 28-day mean over the last four weeks). The one with the smallest mean absolute
error on the fold, over every horizon, is the base (one for the whole week: a choice per horizon on a few
hundred rows follows noise). LightGBM then learns the base's residual from every feature, on absolute
errors (its L1 objective: a residual's median, not its mean, which a campaign's first day would drag), with
the same four candidate set-ups as every LightGBM model here, each grown until the fold's error stops
improving. A few hundred product-days are easily over-fitted, so the correction is kept only when it lowers
the fold's mean absolute error (the errors MASE averages) by 2 % or more; else the base forecast stands
alone. The run log and "This version" below say which.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, RegressorMixin

from forgeline.standard_models.learner import inputs

HORIZON = "horizon_days"  # the feature holding each row's horizon (1 to 7 days)
PROFILE = "seasonal_index_forecast_scaled"
# The builder's simple forecasts (features, scaled like the quantity), in the order ties are broken.
BASES = {
    PROFILE: "the seasonal-index forecast",
    "mean_7d_scaled": "the last 7 days' mean",
    "latest_scaled": "the latest day (persistence)",
}
CORRECTION_GAIN = 0.02  # the share of the fold's error a correction must save to be kept
# What the set-up digest records of this model: a change retrains.
SETUP = "one base: persistence, 7-day mean or seasonal index; L1-boosted correction if 2 % lower MAE; v4"


def choose_base(features: pd.DataFrame, target: np.ndarray, rows: np.ndarray) -> str:
    """The base with the smallest mean absolute error on ``rows`` (the first of :data:`BASES` if none)."""
    if not rows.any():
        return next(iter(BASES))
    errors = {
        name: float(np.mean(np.abs(target[rows] - np.nan_to_num(features[name].to_numpy()[rows]))))
        for name in BASES
    }
    return min(errors, key=errors.__getitem__)


class ProductForecaster(RegressorMixin, BaseEstimator):
    """The scaled quantity: the ``base`` forecast (a feature column) plus ``correction``'s prediction of its
    residual (if any).

    Fitted by :meth:`~forgeline.standard_models.families.Forecasts.fit` (which chooses the base and the
    correction on the validation fold); ``fit`` here only records the feature names.
    """

    def __init__(self, base: str = PROFILE, correction: Any = None) -> None:
        self.base = base
        self.correction = correction

    def fit(self, features: pd.DataFrame, target: Any = None) -> ProductForecaster:
        self.feature_names_in_ = np.asarray([str(c) for c in features.columns], dtype=object)
        self.n_features_in_ = len(self.feature_names_in_)
        return self

    def base_forecast(self, features: pd.DataFrame) -> np.ndarray:
        return np.nan_to_num(features[self.base].to_numpy(dtype=float), nan=0.0)

    def predict(self, features: pd.DataFrame) -> np.ndarray:
        base = self.base_forecast(features)
        if self.correction is None:
            return base
        return base + np.asarray(self.correction.predict(inputs(self.correction, features)), dtype=float)

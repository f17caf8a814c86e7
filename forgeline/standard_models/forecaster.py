"""The forecast family's model: a seasonal-index forecast, corrected by gradient boosting only where the
correction earns its place on a time-ordered validation fold.

The seasonal-index forecast is the classic one: the product's last 7 days' mean, times how its weekday
compared with its 28-day mean over the last four weeks (:data:`PROFILE`, computed by the builder from the
origin's past only). LightGBM then learns its residual from every feature (the learner's own search and
early stopping, :mod:`~forgeline.standard_models.learner`). A product mix that follows its own recent
pattern leaves the boosting nothing it can generalise, and a few hundred product-days are easily
over-fitted: the correction is kept only when it lowers the mean absolute error on the fold (the errors
MASE averages), else the seasonal-index forecast stands alone, and the model card says which.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, RegressorMixin

PROFILE = "seasonal_index_forecast_scaled"  # the builder's feature: the quantity it expects, scaled
SETUP = (
    "seasonal index x 7-day mean, boosted correction kept on a lower validation MAE; v1"  # a change retrains
)


class SeasonalIndexForecaster(RegressorMixin, BaseEstimator):
    """The scaled quantity: :data:`PROFILE` plus ``correction``'s prediction of its residual (if any).

    Fitted by :meth:`~forgeline.standard_models.families.Forecasts.fit` (which decides the correction on
    the validation fold); ``fit`` here only records the feature names, for a correction fitted elsewhere.
    """

    def __init__(self, correction: Any = None) -> None:
        self.correction = correction

    def fit(self, features: pd.DataFrame, target: Any = None) -> SeasonalIndexForecaster:
        self.feature_names_in_ = np.asarray([str(c) for c in features.columns], dtype=object)
        self.n_features_in_ = len(self.feature_names_in_)
        return self

    def predict(self, features: pd.DataFrame) -> np.ndarray:
        base = np.nan_to_num(features[PROFILE].to_numpy(dtype=float), nan=0.0)
        if self.correction is None:
            return base
        return base + np.asarray(self.correction.predict(features), dtype=float)

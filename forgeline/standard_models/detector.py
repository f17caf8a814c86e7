"""The unsupervised learner: a detector of unusual sensor intervals, trained on normal running only.

It combines the two checks a process engineer knows from multivariate statistical process control with an
isolation forest:

- Hotelling's T² on a principal-component model of the standardized features: the interval is far from the
  usual operating point, along the directions the sensors normally vary together;
- the residual, the directions T² leaves out, each in its own variance (a Mahalanobis distance across
  them, where MSPC's Q would weigh them alike): the sensors no longer move together the way they usually
  do (a relationship broke: oil heating up while the current stays flat), which no single tag's chart
  shows;
- an isolation forest's path length: the interval is easy to set apart from the rest, whatever its shape
  (several operating regimes, such as day and night shifts, are no problem to it).

Each statistic is divided by its own limit, its (1 - ``alarm_budget``) quantile over the training rows,
and the score is the largest of the three ratios: 1.0 is the edge of normal running for the statistic
that objects most. An alarm is raised at ``threshold_``, the score's own (1 - ``alarm_budget``) quantile
over the training rows: on data like the training period, about ``alarm_budget`` of the intervals raise
one. Features are standardized by their training median and interquartile range (robust to the outliers
the detector is there to find), and clipped at 20 spreads; a missing value counts as the median. A
feature known on fewer than half of the training rows (a sensor fitted later, or mostly silent) is left
out: its normal is unknown.

Training rows that lie in a labelled incident's lead window are left out by the caller: the detector learns
normal running, and labelled incidents only score it. Deterministic for a given ``random_state``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.decomposition import PCA
from sklearn.ensemble import IsolationForest

DETECTOR_VERSION = 1  # raise when the detector's computation changes: it retrains every client's version
ALARM_BUDGET = 0.01  # the share of normal intervals that may raise an alarm (1 in 100)
EXPLAINED_VARIANCE = 0.90  # principal components kept: enough to explain this share of the variance
FOREST_TREES = 100
VARIANCE_FLOOR = 1e-3  # of the mean variance per direction (see _statistics)
MIN_KNOWN = 0.5  # a feature must be known on this share of the training rows to be used
# Standardized values are clipped here: a feature that barely varied in training (a melt weight that never
# changed within a minute) would otherwise be thousands of spreads off at its first change, and drown
# every other feature in T², the residual and the forest alike.
Z_CLIP = 20.0
# The figures a change of which retrains (the model set-up's digest).
SETUP = {
    "detector": DETECTOR_VERSION,
    "alarm_budget": ALARM_BUDGET,
    "explained_variance": EXPLAINED_VARIANCE,
    "trees": FOREST_TREES,
    "variance_floor": VARIANCE_FLOOR,
    "min_known": MIN_KNOWN,
    "z_clip": Z_CLIP,
}
STATISTICS = ("t2", "q", "isolation")


def _robust_scale(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each column's median and spread (its IQR as a normal standard deviation; its standard deviation when
    the IQR is 0, as for a tag that is mostly constant; 1 when both are 0), over its known values."""
    centers, scales = [], []
    for column in values.T:
        known = column[np.isfinite(column)]
        center = float(np.median(known)) if len(known) else 0.0
        spread = float(np.subtract(*np.percentile(known, [75, 25]))) / 1.349 if len(known) > 1 else 0.0
        if spread <= 0 and len(known) > 1:
            spread = float(np.std(known))
        centers.append(center)
        scales.append(spread if spread > 0 else 1.0)
    return np.array(centers), np.array(scales)


class SensorAnomalyDetector(BaseEstimator):
    """T² and Q of a principal-component model, and an isolation forest, as one anomaly score (see the
    module docstring). ``anomaly_score`` is higher for more unusual rows; ``threshold_`` is the alarm line."""

    def __init__(
        self,
        alarm_budget: float = ALARM_BUDGET,
        explained_variance: float = EXPLAINED_VARIANCE,
        n_estimators: int = FOREST_TREES,
        random_state: int = 0,
    ) -> None:
        self.alarm_budget = alarm_budget
        self.explained_variance = explained_variance
        self.n_estimators = n_estimators
        self.random_state = random_state

    def fit(self, X: pd.DataFrame, y: Any = None) -> SensorAnomalyDetector:
        frame = pd.DataFrame(X)
        if len(frame) < 10:
            raise ValueError(f"{len(frame)} training rows: a detector of normal running needs at least 10")
        self.feature_names_in_ = np.asarray([str(c) for c in frame.columns], dtype=object)
        self.n_features_in_ = frame.shape[1]
        known = np.isfinite(frame.to_numpy(dtype=float)).mean(axis=0)
        self.used_ = known >= MIN_KNOWN
        if not self.used_.any():
            raise ValueError("no feature is known on half of the training rows: nothing to learn normal from")
        self.used_features_ = [
            str(n) for n, used in zip(self.feature_names_in_, self.used_, strict=True) if used
        ]
        values = frame.to_numpy(dtype=float)[:, self.used_]
        self.center_, self.scale_ = _robust_scale(values)
        z = self._standardized(values)
        components = min(z.shape)
        self.pca_ = PCA(n_components=components, svd_solver="full", random_state=self.random_state).fit(z)
        ratio = np.cumsum(self.pca_.explained_variance_ratio_)
        self.components_kept_ = int(min(len(ratio), np.searchsorted(ratio, self.explained_variance) + 1))
        self.forest_ = IsolationForest(
            n_estimators=self.n_estimators, random_state=self.random_state, n_jobs=1
        ).fit(z)
        raw = self._statistics(z)
        quantile = 1 - self.alarm_budget
        self.limits_ = np.array([max(float(np.quantile(s, quantile)), 1e-12) for s in raw])
        self.threshold_ = float(np.quantile(self._combined(raw), quantile))
        return self

    def _standardized(self, values: np.ndarray) -> np.ndarray:
        z = (values - self.center_) / self.scale_
        return np.clip(np.nan_to_num(z, nan=0.0, posinf=Z_CLIP, neginf=-Z_CLIP), -Z_CLIP, Z_CLIP)

    def _statistics(self, z: np.ndarray) -> list[np.ndarray]:
        k = self.components_kept_
        scores = self.pca_.transform(z)
        # Each direction in its own units: a relationship between sensors that normally holds tightly (a
        # direction of little variance) counts as much broken as a big swing along the usual ones. The
        # floor keeps a direction of no variance at all (a constant, a tag that copies another) finite.
        variance = self._variance()
        t2 = np.sum(scores[:, :k] ** 2 / variance[:k], axis=1)
        q = np.sum(scores[:, k:] ** 2 / variance[k:], axis=1)
        isolation = -self.forest_.score_samples(z)
        return [t2, q, isolation]

    def _variance(self) -> np.ndarray:
        """Each principal direction's variance, floored (see :data:`VARIANCE_FLOOR`)."""
        return np.maximum(
            self.pca_.explained_variance_, VARIANCE_FLOOR * self.pca_.explained_variance_.mean()
        )

    def _combined(self, raw: list[np.ndarray]) -> np.ndarray:
        return np.max(
            np.column_stack([s / limit for s, limit in zip(raw, self.limits_, strict=True)]), axis=1
        )

    def _values(self, X: pd.DataFrame) -> np.ndarray:
        frame = pd.DataFrame(X)
        names = [str(c) for c in frame.columns]
        if names != list(self.feature_names_in_):
            frame = frame.set_axis(names, axis=1).reindex(columns=list(self.feature_names_in_))
        return frame.to_numpy(dtype=float)[:, self.used_]

    def anomaly_score(self, X: pd.DataFrame) -> np.ndarray:
        """Per row: the largest of T², Q and the isolation score, each over its training limit."""
        return self._combined(self._statistics(self._standardized(self._values(X))))

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """The anomaly score (what MLflow's pyfunc flavour serves); an alarm is a score at ``threshold_``."""
        return self.anomaly_score(X)

    def statistics(self, X: pd.DataFrame) -> pd.DataFrame:
        """Per row: each statistic over its limit (which of them objects: ``t2``, ``q``, ``isolation``)."""
        raw = self._statistics(self._standardized(self._values(X)))
        return pd.DataFrame(
            {name: s / limit for name, s, limit in zip(STATISTICS, raw, self.limits_, strict=True)}
        )

    def contributions(self, X: pd.DataFrame) -> pd.DataFrame:
        """Per row, each feature's share of what raised it: the contribution plot of multivariate SPC.

        T² and the residual are each Σ_k t_k² / λ_k over their own principal directions, which is
        ||D^½ z||² with D^½ = Pᵀ Λ^-½ P: the squares of D^½ z are never negative and add up to the statistic
        exactly. Each statistic's contributions are taken over its limit, and only the statistics at or
        beyond their limit count (both, for a row only the isolation forest objects to: the forest has no
        decomposition, and the principal-component view is the nearest explanation). It names the sensor
        behind a broken relationship, which a feature's own distance from its median does not show."""
        z = self._standardized(self._values(X))
        scores = (z - self.pca_.mean_) @ self.pca_.components_.T
        scaled = scores / np.sqrt(self._variance())
        k = self.components_kept_
        parts = []
        for directions in (slice(0, k), slice(k, None)):
            parts.append((scaled[:, directions] @ self.pca_.components_[directions]) ** 2)
        ratios = [p.sum(axis=1) / limit for p, limit in zip(parts, self.limits_[:2], strict=True)]
        objecting = [r >= 1 for r in ratios]
        neither = ~(objecting[0] | objecting[1])
        weighted = sum(
            p / limit * (o | neither)[:, None]
            for p, limit, o in zip(parts, self.limits_[:2], objecting, strict=True)
        )
        total = weighted.sum(axis=1, keepdims=True)
        shares = np.divide(weighted, total, out=np.zeros_like(weighted), where=total > 0)
        return pd.DataFrame(shares, columns=self.used_features_)

    def deviations(self, X: pd.DataFrame) -> pd.DataFrame:
        """Per row and feature: how many typical spreads it is from the training median (what moved)."""
        return pd.DataFrame(np.abs(self._standardized(self._values(X))), columns=self.used_features_)

"""Recommended operating windows: for the process settings that drive defects, the range with the lowest
defect rate, chosen on the earlier data and checked on the later.

For each setting (``TrainingSet.settings``: what a plant can set, with its unit), on the training part of
the time-ordered split only:

- the setting's values are cut at their deciles; every run of adjacent deciles holding at least
  ``MIN_INSIDE_SHARE`` of the rows (a window a plant can actually run in, not a lucky pocket) is a
  candidate if its defect rate is below the rate outside it. The lowest rate among them is partly luck,
  so the widest candidate whose rate lies within that best rate's 95 % interval is recommended; one that
  starts at the lowest decile reads "under", one that ends at the highest "or above". It is applied as
  the same half-open bins the choice counted, so a tied set point is in or out, never both;
- its defect rate inside and outside, each with a Wilson 95 % interval, and Fisher's exact test of the
  difference (scipy); a window is ``confident`` when p < ``CONFIDENT_P`` and the rate inside is lower;
- the settings whose windows differ most clearly (smallest p-value, on these earlier rows) are kept, at
  most ``MAX_SETTINGS``: the holdout plays no part in choosing them;
- then the same window is applied to the holdout (later cycles, never seen by the choice): the rates there
  say whether it held.

The sentence is what a consultant reads to the client, e.g. "keep mold_temperature between 212 and 218 °C:
defect rate 0.8 % (95 % CI 0.6–1.1 %) vs 3.1 % outside, n = 4,210 cycles; on later cycles 0.9 % vs 2.8 %".
An association, not a proof of cause: the app says so beside the windows.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

MAX_SETTINGS = 5  # windows for at most this many settings, the clearest first
MIN_INSIDE_SHARE = 0.3
MIN_ROWS = 200  # fewer rows with a value (or fewer than MIN_DEFECTS defects): no window is claimed
MIN_DEFECTS = 10
CONFIDENT_P = 0.01
QUANTILES = np.linspace(0, 1, 11)


@dataclass
class OperatingWindow:
    rank: int  # 1 = the clearest difference (smallest p-value on the earlier data)
    parameter: str
    unit: str
    low: float | None  # None: open below (the window reaches the lowest values)
    high: float | None  # None: open above; else the window stops just under it
    inside_rate: float
    inside_ci_low: float
    inside_ci_high: float
    outside_rate: float
    outside_ci_low: float
    outside_ci_high: float
    n_inside: int
    n_outside: int
    p_value: float
    confident: bool
    later_inside_rate: float | None  # the same window on the holdout (None: no holdout rows inside/outside)
    later_outside_rate: float | None
    n_later: int
    holds_later: bool | None
    sentence: str

    def record(self) -> dict[str, Any]:
        return asdict(self)


def _rate(defects: int, rows: int) -> tuple[float, float, float]:
    from scipy.stats import binomtest  # here: publish imports this module for its columns only

    if rows == 0:
        return float("nan"), float("nan"), float("nan")
    interval = binomtest(defects, rows).proportion_ci(confidence_level=0.95, method="wilson")
    return defects / rows, float(interval.low), float(interval.high)


def _best_window(values: np.ndarray, label: np.ndarray) -> tuple[float, float] | None:
    """The window to recommend, as [low, high) with -inf/inf for open ends, the same half-open bins the
    choice counted (a tied set point falls in one bin only); see the module docstring."""
    edges = np.unique(np.quantile(values, QUANTILES))
    if len(edges) < 3:  # (almost) constant: nothing to choose
        return None
    bins = np.clip(np.searchsorted(edges, values, side="right") - 1, 0, len(edges) - 2)
    rows = np.bincount(bins, minlength=len(edges) - 1)
    defects = np.bincount(bins, weights=label, minlength=len(edges) - 1)
    row_sums, defect_sums = np.concatenate([[0], np.cumsum(rows)]), np.concatenate([[0], np.cumsum(defects)])
    candidates = []  # (rows inside, defects inside, i, j)
    for i in range(len(rows)):
        for j in range(i, len(rows)):
            inside = int(row_sums[j + 1] - row_sums[i])
            if not MIN_INSIDE_SHARE * len(values) <= inside < len(values):
                continue
            defects_inside = int(defect_sums[j + 1] - defect_sums[i])
            # Only a window with fewer defects inside than outside is worth recommending.
            if defects_inside / inside < (label.sum() - defects_inside) / (len(values) - inside):
                candidates.append((inside, defects_inside, i, j))
    if not candidates:
        return None
    # The lowest rate is partly luck: any window whose rate lies within the best one's 95 % interval is
    # as good, and the widest of them is the easiest to run in (and the least tuned to noise).
    best = min(candidates, key=lambda c: (c[1] / c[0], -c[0]))
    upper = _rate(best[1], best[0])[2]
    _, _, i, j = max((c for c in candidates if c[1] / c[0] <= upper), key=lambda c: (c[0], -c[1] / c[0]))
    return (-np.inf if i == 0 else float(edges[i])), (np.inf if j == len(rows) - 1 else float(edges[j + 1]))


def _percent(rate: float) -> str:
    return f"{rate:.1%}"


def operating_windows(
    features: pd.DataFrame,
    label: np.ndarray,
    train: np.ndarray,
    test: np.ndarray,
    settings: dict[str, str],
) -> list[OperatingWindow]:
    """Windows for the settings whose window differs most clearly on the earlier rows (smallest p-value),
    at most MAX_SETTINGS; the later rows only check them."""
    from scipy.stats import fisher_exact

    windows = []
    for name in settings:
        values = pd.to_numeric(features[name], errors="coerce").to_numpy(dtype=float)
        known = ~np.isnan(values)
        fit = train & known
        if fit.sum() < MIN_ROWS or label[fit].sum() < MIN_DEFECTS:
            continue
        window = _best_window(values[fit], label[fit])
        if window is None:
            continue
        low, high = window
        inside = (values >= low) & (values < high)
        n_in, n_out = int((fit & inside).sum()), int((fit & ~inside).sum())
        d_in, d_out = int(label[fit & inside].sum()), int(label[fit & ~inside].sum())
        rate_in, rate_out = _rate(d_in, n_in), _rate(d_out, n_out)
        if not rate_in[0] < rate_out[0]:
            continue
        p_value = float(fisher_exact([[d_in, n_in - d_in], [d_out, n_out - d_out]])[1])
        confident = p_value < CONFIDENT_P
        later = test & known
        n_later_in, n_later_out = int((later & inside).sum()), int((later & ~inside).sum())
        later_in = label[later & inside].mean() if n_later_in else None
        later_out = label[later & ~inside].mean() if n_later_out else None
        holds = None if later_in is None or later_out is None else bool(later_in < later_out)
        unit = settings[name]
        suffix = f" {unit}" if unit else ""
        where = (
            f"under {high:.4g}{suffix}"
            if low == -np.inf
            else f"at {low:.4g}{suffix} or above"
            if high == np.inf
            else f"from {low:.4g} to under {high:.4g}{suffix}"
        )
        sentence = (
            f"keep {name} {where}: defect rate "
            f"{_percent(rate_in[0])} (95 % CI {_percent(rate_in[1])}–{_percent(rate_in[2])}) vs "
            f"{_percent(rate_out[0])} outside, n = {n_in:,} cycles inside"
        )
        if holds is not None:
            sentence += f"; on later cycles {_percent(later_in)} vs {_percent(later_out)}"
            sentence += "" if holds else " (it did not hold there: do not act on it yet)"
        if not confident:
            sentence += " (not significant: a hint, not a finding)"
        windows.append(
            OperatingWindow(
                rank=0,
                parameter=name,
                unit=unit,
                low=None if low == -np.inf else low,
                high=None if high == np.inf else high,
                inside_rate=rate_in[0],
                inside_ci_low=rate_in[1],
                inside_ci_high=rate_in[2],
                outside_rate=rate_out[0],
                outside_ci_low=rate_out[1],
                outside_ci_high=rate_out[2],
                n_inside=n_in,
                n_outside=n_out,
                p_value=p_value,
                confident=confident,
                later_inside_rate=None if later_in is None else float(later_in),
                later_outside_rate=None if later_out is None else float(later_out),
                n_later=int(later.sum()),
                holds_later=holds,
                sentence=sentence,
            )
        )
    windows.sort(key=lambda w: (w.p_value, w.parameter))
    for rank, window in enumerate(windows[:MAX_SETTINGS], start=1):
        window.rank = rank
    return windows[:MAX_SETTINGS]

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

import json
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from forgeline.i18n import N_, Stored, as_number, as_percent, later, use_language, word

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
    sentence: str  # in English
    # The sentence as its message and values (JSON; forgeline/i18n.py), worded where read ("" when unknown)
    wording: str = ""

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


def _figure(value: float, unit: str = "") -> Stored:
    """A window's bound as written before (four significant digits), with its unit (data, as mapped)."""
    shown = f"{value:.4g}"
    digits = len(shown.split(".")[1]) if "." in shown and "e" not in shown else 0
    figure = as_number(float(shown), digits)
    return later(N_("{value} {unit}"), value=figure, unit=unit) if unit else figure


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
        checked = test & known
        n_later_in, n_later_out = int((checked & inside).sum()), int((checked & ~inside).sum())
        later_in = label[checked & inside].mean() if n_later_in else None
        later_out = label[checked & ~inside].mean() if n_later_out else None
        holds = None if later_in is None or later_out is None else bool(later_in < later_out)
        unit = settings[name]
        where = (
            later(N_("under {high}"), high=_figure(high, unit))
            if low == -np.inf
            else later(N_("at {low} or above"), low=_figure(low, unit))
            if high == np.inf
            else later(N_("from {low} to under {high}"), low=_figure(low), high=_figure(high, unit))
        )
        said = later(
            N_(
                "keep {parameter} {where}: defect rate {inside} (95 % CI {low}–{high}) vs {outside} outside, "
                "n = {n} cycles inside"
            ),
            parameter=name,
            where=where,
            inside=as_percent(rate_in[0]),
            low=as_percent(rate_in[1]),
            high=as_percent(rate_in[2]),
            outside=as_percent(rate_out[0]),
            n=as_number(n_in),
        )
        if holds is not None:
            said = later(
                N_("{sentence}; on later cycles {inside} vs {outside}"),
                sentence=said,
                inside=as_percent(later_in),
                outside=as_percent(later_out),
            )
            if not holds:
                said = later(N_("{sentence} (it did not hold there: do not act on it yet)"), sentence=said)
        if not confident:
            said = later(N_("{sentence} (not significant: a hint, not a finding)"), sentence=said)
        with use_language("en"):
            sentence = word(said)
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
                n_later=int(checked.sum()),
                holds_later=holds,
                sentence=sentence,
                wording=json.dumps(said, ensure_ascii=False),
            )
        )
    windows.sort(key=lambda w: (w.p_value, w.parameter))
    for rank, window in enumerate(windows[:MAX_SETTINGS], start=1):
        window.rank = rank
    return windows[:MAX_SETTINGS]

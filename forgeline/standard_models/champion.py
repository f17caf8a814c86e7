"""The champion rule, and the registry's record of which version was champion, when, why and by whom.

A challenger (a newly trained version) becomes ``champion`` only when, on the same holdout rows:

- the holdout holds at least :data:`MIN_HOLDOUT_POSITIVES` positive cases (defects, failures): with
  fewer, one case more or less moves PR-AUC more than the differences a client would act on;
- it beats the naive baseline by more than chance: the lower bound of the bootstrap confidence interval
  of (challenger - baseline) is above zero;
- it beats the current champion the same way, when there is one that can score that holdout.

:func:`compare` is a paired bootstrap: every resample weighs the same rows (or, with ``groups``, the same
whole days) for both scores, so what varies is the data, never the pairing. :func:`decide` applies the
rule and says why in one sentence a consultant can read to the client.

The record lives in the registry itself, so it works on a remote tracking server and goes with the
registered model: the alias ``champion``; a bounded alias history (JSON in the registered-model tag
:data:`HISTORY_TAG`); per version, the policy's decision (:func:`record_decision`) and why it became
champion. :func:`set_champion` is idempotent and converges when a stop came between its steps.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score

from forgeline.i18n import N_, Stored, as_number, later, use_language, word

log = logging.getLogger("forgeline.standard_models")

CHAMPION_ALIAS = "champion"
# Fewer positive cases than this in the holdout and no version is made champion automatically (the app
# warns below the same number). 20 keeps one case's weight in PR-AUC to a few hundredths.
MIN_HOLDOUT_POSITIVES = 20
# Expected values (an energy baseline): days of holdout needed, so weekdays and weekends both count more
# than once.
MIN_HOLDOUT_DAYS = 14
# Remaining useful life: units are the evidence (a unit's cycles rise and fall together), and below this
# many held-out failed units one unit's luck decides the comparison.
MIN_HOLDOUT_UNITS = 5
# Anomalies: labelled incidents in the holdout (each labels a day of intervals before it: the rows are not
# the evidence, the incidents are).
MIN_HOLDOUT_INCIDENTS = 5
MAX_NMBE = 0.10  # ASHRAE Guideline 14's bound on an hourly baseline's bias (NMBE)
CONFIDENCE = 0.90
N_BOOT = 500
MAX_N_BOOT = 5_000
# The bootstrap uses at most this many holdout rows (a seeded sample of rows, or of whole groups): beyond
# it the interval is that of a sample this size, a little wider than the whole holdout's (conservative);
# the difference itself is always measured on every row.
MAX_BOOTSTRAP_ROWS = 50_000
_CELLS_PER_BLOCK = 2_000_000  # resamples x rows weighed at once (bounded memory: ~16 MB per array)

HISTORY_TAG = "forgeline.champion_history"  # registered-model tag: JSON list of events, oldest first
HISTORY_EVENTS = 20  # events kept, at most
# MLflow validates registry tag values up to 100,000 characters, but its SQL schema declares
# registered_model_tags.value VARCHAR(5000) (PostgreSQL enforces it on a tracking server): stay under.
HISTORY_MAX_CHARS = 4_000
HISTORY_REASON_CHARS = 240  # a reason as kept in the history (the version's own tag keeps it whole)
DECISION_TAG = "forgeline.champion_decision"  # version tag: the policy's sentence for this version
# version tag: the same sentence as its message and values (JSON; forgeline/i18n.py), worded when read
DECISION_WORDING_TAG = "forgeline.champion_decision_wording"
PROMOTE_TAG = "forgeline.champion_promote"  # version tag: "true" / "false", the policy's verdict
FIGURES_TAG = "forgeline.champion_figures"  # version tag: JSON of the decision's figures
CHAMPION_REASON_TAG = "forgeline.champion_reason"  # version tag: when, by whom and why it became champion

METRIC_LABELS = {
    "pr_auc": N_("PR-AUC"),
    "roc_auc": N_("ROC-AUC"),
    "rmse": N_("RMSE"),
    "precision_at_k": N_("Precision at k"),
    "mase": N_("MASE"),
}


# -- the paired bootstrap ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Comparison:
    """``challenger - other`` on the same rows, with its bootstrap confidence interval."""

    challenger: float  # the metric of each score on every holdout row
    other: float
    difference: float
    low: float  # the interval's bounds (nan when too few resamples held a positive case)
    high: float
    confidence: float
    resamples: int  # resamples that held a positive case (the others have no metric)
    rows: int  # rows the bootstrap drew from (all, or MAX_BOOTSTRAP_ROWS of them)


class _RankedScore:
    """One score's ranking of the holdout rows, prepared once for every resample's average precision.

    Only thresholds holding a positive case add to average precision; each row is put in the cell of the
    first such threshold at or below its score (rows under the last one are left out), positives apart
    from the others. A resample's precision at each of those thresholds then needs only its weight in each
    cell (one bincount, or for whole groups one matrix product), not a sort of every row.
    """

    def __init__(self, label: np.ndarray, score: np.ndarray, codes: np.ndarray | None) -> None:
        distinct, rank = np.unique(-score, return_inverse=True)  # 0 = the highest score
        steps = np.flatnonzero(np.bincount(rank, weights=label, minlength=len(distinct)) > 0)
        segment = np.searchsorted(steps, rank)  # the first threshold with a positive at or below the row
        self.cells = 2 * (len(steps) + 1)
        self.cell = (2 * segment + label).astype(np.int64)  # even: any row's weight; odd: a positive's
        self.codes = codes
        self.group_cells: np.ndarray | None = None  # rows of each group in each cell
        if codes is not None:
            groups = int(codes.max()) + 1
            if groups * self.cells <= _CELLS_PER_BLOCK:
                flat = np.bincount(codes * self.cells + self.cell, minlength=groups * self.cells)
                self.group_cells = flat.reshape(groups, self.cells).astype(float)

    def average_precision(self, draws: np.ndarray) -> np.ndarray:
        """sklearn's ``average_precision_score(label, score, sample_weight=w)`` for each resample, where
        ``w`` counts how often each row was drawn (``draws``: the rows, or groups, drawn; one line each)."""
        count = len(draws)
        offsets = np.arange(count)[:, None] * self.cells
        if self.codes is None:
            cells = self.cell[draws]
            cells += offsets
            sums = np.bincount(cells.ravel(), minlength=count * self.cells)
        elif self.group_cells is not None:
            sums = _drawn(draws, len(self.group_cells)) @ self.group_cells
        else:  # many groups: weigh each row by its group's draws
            weights = _drawn(draws, int(self.codes.max()) + 1)[:, self.codes]
            codes = (self.cell[None, :] + offsets).ravel()
            sums = np.bincount(codes, weights=weights.ravel(), minlength=count * self.cells)
        sums = np.asarray(sums, dtype=float).reshape(count, self.cells // 2, 2)[:, :-1]  # last: below all
        gained = sums[:, :, 1]
        tps = np.cumsum(gained, axis=1)
        seen = np.cumsum(sums.sum(axis=2), axis=1)
        precision = np.divide(tps, seen, out=np.zeros_like(tps), where=seen > 0)
        positives = tps[:, -1] if tps.shape[1] else np.zeros(count)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(positives > 0, (gained * precision).sum(axis=1) / positives, np.nan)


def _drawn(draws: np.ndarray, units: int) -> np.ndarray:
    """How often each unit (row or group) was drawn, one line per resample."""
    count = len(draws)
    flat = (draws + np.arange(count)[:, None] * units).ravel()
    return np.bincount(flat, minlength=count * units).reshape(count, units).astype(float)


def _metric_batch(
    metric: Callable[..., float],
    label: np.ndarray,
    score: _RankedScore | np.ndarray,
    draws: np.ndarray,
    codes: np.ndarray | None,
) -> np.ndarray:
    if isinstance(score, _RankedScore):
        return score.average_precision(draws)
    weights = _drawn(draws, len(label) if codes is None else int(codes.max()) + 1)
    weights = weights if codes is None else weights[:, codes]
    out = np.full(len(draws), np.nan)
    for i, w in enumerate(weights):  # any other sklearn metric: one call per resample (slower)
        if (w * label).sum() > 0 and (w * (1 - label)).sum() > 0:
            out[i] = metric(label, score, sample_weight=w)
    return out


def _bounded_rows(n: int, codes: np.ndarray | None, rng: np.random.Generator) -> np.ndarray | None:
    """The rows the bootstrap draws from when the holdout is longer than MAX_BOOTSTRAP_ROWS (else None):
    a seeded sample of rows, or of whole groups (never part of a day)."""
    if n <= MAX_BOOTSTRAP_ROWS:
        return None
    if codes is None:
        return np.sort(rng.choice(n, MAX_BOOTSTRAP_ROWS, replace=False))
    sizes = np.bincount(codes)
    shuffled = rng.permutation(len(sizes))
    kept = shuffled[: max(1, int(np.searchsorted(np.cumsum(sizes[shuffled]), MAX_BOOTSTRAP_ROWS, "right")))]
    return np.flatnonzero(np.isin(codes, kept))


def _as_array(values: Any, name: str, length: int | None = None) -> np.ndarray:
    array = np.asarray(values, dtype=float)
    if array.ndim != 1 or (length is not None and len(array) != length):
        raise ValueError(f"{name}: one value per holdout row expected, got shape {array.shape}")
    if not np.isfinite(array).all():
        raise ValueError(f"{name}: {int((~np.isfinite(array)).sum())} value(s) are not finite numbers")
    return array


def compare(
    label: Any,
    challenger_score: Any,
    other_score: Any,
    groups: Any = None,
    metric: Callable[..., float] = average_precision_score,
    n_boot: int = N_BOOT,
    confidence: float = CONFIDENCE,
    seed: int = 0,
) -> Comparison:
    """Paired bootstrap of ``metric(challenger) - metric(other)`` on the same holdout rows.

    Each resample draws rows with replacement, or with ``groups`` (e.g. each row's day) whole groups: rows
    of one day are not independent, and resampling them apart would make the interval too narrow. The
    interval is the percentile interval of the resampled differences, centred on the difference measured
    on every row. Deterministic for a given ``seed``. ``metric`` is an sklearn metric taking
    ``sample_weight``; the default, average precision (PR-AUC), is computed for many resamples at once.
    """
    y = _as_array(label, "label")
    if not np.isin(y, (0, 1)).all():
        raise ValueError("label: 0 or 1 expected for every holdout row")
    mine = _as_array(challenger_score, "challenger_score", len(y))
    theirs = _as_array(other_score, "other_score", len(y))
    if not 1 <= n_boot <= MAX_N_BOOT:
        raise ValueError(f"n_boot: between 1 and {MAX_N_BOOT:,} resamples, not {n_boot}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence: a share between 0 and 1, not {confidence}")
    codes = None
    if groups is not None:
        codes = pd.factorize(pd.Series(np.asarray(groups)), use_na_sentinel=False)[0]
        if len(codes) != len(y):
            raise ValueError(f"groups: one per holdout row expected, got {len(codes)} for {len(y)} rows")

    challenger, other = float(metric(y, mine)), float(metric(y, theirs))
    rng = np.random.default_rng(seed)
    rows = _bounded_rows(len(y), codes, rng)
    shift = 0.0
    if rows is not None:
        y, mine, theirs = y[rows], mine[rows], theirs[rows]
        codes = pd.factorize(codes[rows])[0] if codes is not None else None
        # The sample's spread around the whole holdout's difference.
        shift = (challenger - other) - (float(metric(y, mine)) - float(metric(y, theirs)))

    differences = []
    units = len(y) if codes is None else int(codes.max()) + 1
    # The default metric is computed for many resamples at once (sklearn takes one weighting per call: a
    # sort and about a millisecond of checks each, seconds for hundreds of resamples); checked against
    # sklearn in tests/test_champion.py.
    fast = metric is average_precision_score
    first = _RankedScore(y, mine, codes) if fast else mine
    second = _RankedScore(y, theirs, codes) if fast else theirs
    # Resamples weighed at once: bounded by the draws (resamples x units) and cell sums (resamples x cells).
    cells = max(first.cells, second.cells) if fast else len(y)
    block = max(1, _CELLS_PER_BLOCK // max(units, cells))
    for start in range(0, n_boot, block):
        # Rows (or whole groups) drawn with replacement; both scores are judged on the same draws.
        draws = rng.integers(0, units, size=(min(block, n_boot - start), units))
        differences.append(
            _metric_batch(metric, y, first, draws, codes) - _metric_batch(metric, y, second, draws, codes)
        )
    resampled = np.concatenate(differences)
    valid = resampled[np.isfinite(resampled)]
    low = high = math.nan
    if len(valid) >= n_boot / 2:  # else the resamples say little: no interval (never promoted on it)
        tail = (1 - confidence) / 2
        low, high = (float(q) + shift for q in np.quantile(valid, [tail, 1 - tail]))
    return Comparison(
        challenger=challenger,
        other=other,
        difference=challenger - other,
        low=low,
        high=high,
        confidence=confidence,
        resamples=len(valid),
        rows=len(y),
    )


# -- the rule --------------------------------------------------------------------------------------------
@dataclass
class Decision:
    """Whether the challenger becomes champion, why (one sentence with the figures, in English), the
    figures, and the sentence as its message and values (``wording``, forgeline/i18n.py ``later``) to word
    in the reader's language."""

    promote: bool
    reason: str
    figures: dict[str, float] = field(default_factory=dict)
    wording: Stored | None = None


def decided(promote: bool, wording: Stored, figures: dict[str, float]) -> Decision:
    """A decision whose sentence is ``wording``: the English ``reason`` is worded from it."""
    with use_language("en"):
        return Decision(promote, word(wording), figures, wording)


def _signed(value: float) -> Stored:
    return as_number(value, 3, signed=True)


def _amount(value: float, digits: int, unit: str = "", signed: bool = False) -> Stored:
    """A figure with its unit (the unit is data: kWh, cycles as the client's mapping writes it)."""
    figure = as_number(value, digits, signed=signed)
    return later(N_("{value} {unit}"), value=figure, unit=unit) if unit else figure


def _interval(
    c: Comparison, improvement: bool = False, signed: Callable[[float], Stored] = _signed
) -> Stored:
    if math.isnan(c.low):
        message = (
            N_("improvement {difference}, too few resamples with a positive case for an interval")
            if improvement
            else N_("difference {difference}, too few resamples with a positive case for an interval")
        )
        return later(message, difference=_signed(c.difference))
    message = (
        N_("improvement {difference}, {confidence} % CI {low}\u2026{high}")
        if improvement
        else N_("difference {difference}, {confidence} % CI {low}\u2026{high}")
    )
    return later(
        message,
        difference=signed(c.difference),
        confidence=as_number(round(c.confidence * 100), 0),
        low=signed(c.low),
        high=signed(c.high),
    )


def version_words(version: str | int | None) -> Stored:
    return (
        later(N_("this version")) if version is None else later(N_("version {version}"), version=str(version))
    )


def decide(
    label: Any,
    challenger: Any,
    baseline: Any,
    champion: Any = None,
    groups: Any = None,
    champion_version: str | int | None = None,
    metric_name: str = "pr_auc",
    *,
    metric: Callable[..., float] = average_precision_score,
    version: str | int | None = None,
    champion_note: str | Stored | None = None,
    rows_name: str = N_("holdout rows"),
    positives_name: str = N_("positive cases"),
    positives: int | None = None,
    min_positives: int = MIN_HOLDOUT_POSITIVES,
    n_boot: int = N_BOOT,
    confidence: float = CONFIDENCE,
    seed: int = 0,
) -> Decision:
    """Apply the champion rule to scores of the same holdout rows (see the module docstring).

    ``challenger``, ``baseline`` and ``champion`` are scores (higher = riskier), one per holdout row.
    ``champion=None``: there is no champion, or it cannot score this holdout (``champion_note`` then says
    why, e.g. "its features are no longer built", and the reason repeats it). ``version`` names the
    challenger, ``rows_name`` and ``positives_name`` what the rows and positives are for the client
    ("holdout cycles", "defects"). Average precision (PR-AUC) is the metric the rule compares.
    ``positives``: the evidence when it is not the positive rows (incidents, each labelling many rows),
    needed at least ``min_positives`` times.
    """
    y = _as_array(label, "label")
    rows = len(y)
    positives = int(y.sum()) if positives is None else int(positives)
    name = METRIC_LABELS.get(metric_name, metric_name)

    def run(other: Any) -> Comparison:
        # The same seed: every comparison draws the same resamples (paired across all three scores).
        return compare(
            y, challenger, other, groups, metric=metric, n_boot=n_boot, confidence=confidence, seed=seed
        )

    versus_baseline = run(baseline)
    versus_champion = run(champion) if champion is not None else None
    thin = None
    if positives < min_positives:
        thin = later(
            N_(
                "its holdout holds only {positives} {positives_name} (the policy needs at least {needed} for "
                "a fair comparison)"
            ),
            positives=as_number(positives),
            positives_name=later(positives_name),
            needed=as_number(min_positives),
        )
    return _verdict(
        versus_baseline,
        versus_champion,
        {"rows": float(rows), "positives": float(positives), "min_positives": float(min_positives)},
        score=later(
            N_("{metric} {value}"), metric=later(name), value=as_number(versus_baseline.challenger, 3)
        ),
        value=lambda v: as_number(v, 3),
        held=later(
            N_("on {rows} {rows_name} with {positives} {positives_name}"),
            rows=as_number(rows),
            rows_name=later(rows_name),
            positives=as_number(positives),
            positives_name=later(positives_name),
        ),
        rows_part=later(N_("on {rows} {rows_name}"), rows=as_number(rows), rows_name=later(rows_name)),
        thin=thin,
        who=version_words(version),
        champion_version=champion_version,
        champion_note=champion_note,
    )


def compare_errors(
    actual: Any,
    challenger: Any,
    other: Any,
    groups: Any = None,
    n_boot: int = N_BOOT,
    confidence: float = CONFIDENCE,
    seed: int = 0,
    absolute: bool = False,
) -> Comparison:
    """Paired bootstrap of ``RMSE(other) - RMSE(challenger)`` (``absolute``: of the mean absolute errors,
    which on scaled values are MASEs): how much smaller the challenger's typical miss is, on the same rows
    (or whole ``groups``, e.g. days). Positive means the challenger is better.

    Each resample's figure comes from per-unit sums of squared (or absolute) errors, so many resamples cost
    one matrix product. ``Comparison.challenger`` and ``.other`` are the two figures on every row.
    """
    y = _as_array(actual, "actual")
    mine = _as_array(challenger, "challenger", len(y))
    theirs = _as_array(other, "other", len(y))
    if not 1 <= n_boot <= MAX_N_BOOT:
        raise ValueError(f"n_boot: between 1 and {MAX_N_BOOT:,} resamples, not {n_boot}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence: a share between 0 and 1, not {confidence}")
    codes = np.arange(len(y))
    if groups is not None:
        codes = pd.factorize(pd.Series(np.asarray(groups)), use_na_sentinel=False)[0]
        if len(codes) != len(y):
            raise ValueError(f"groups: one per holdout row expected, got {len(codes)} for {len(y)} rows")
    units = int(codes.max()) + 1 if len(codes) else 0
    count = np.bincount(codes, minlength=units).astype(float)
    # Squared errors and the root of their mean (RMSE), or absolute errors and their mean as it is.
    loss, root = (np.abs, np.asarray) if absolute else (np.square, np.sqrt)
    mine_loss = np.bincount(codes, weights=loss(y - mine), minlength=units)
    theirs_loss = np.bincount(codes, weights=loss(y - theirs), minlength=units)
    figure_mine = float(root(mine_loss.sum() / max(count.sum(), 1)))
    figure_theirs = float(root(theirs_loss.sum() / max(count.sum(), 1)))
    rng = np.random.default_rng(seed)
    differences = []
    block = max(1, _CELLS_PER_BLOCK // max(units, 1))
    for start in range(0, n_boot, block):
        weights = _drawn(rng.integers(0, units, size=(min(block, n_boot - start), units)), units)
        n = weights @ count
        differences.append(root(weights @ theirs_loss / n) - root(weights @ mine_loss / n))
    resampled = np.concatenate(differences)
    tail = (1 - confidence) / 2
    low, high = (float(q) for q in np.quantile(resampled, [tail, 1 - tail]))
    return Comparison(
        challenger=figure_mine,
        other=figure_theirs,
        difference=figure_theirs - figure_mine,
        low=low,
        high=high,
        confidence=confidence,
        resamples=len(resampled),
        rows=len(y),
    )


def decide_on_errors(
    actual: Any,
    challenger: Any,
    baseline: Any,
    champion: Any = None,
    groups: Any = None,
    champion_version: str | int | None = None,
    *,
    version: str | int | None = None,
    champion_note: str | Stored | None = None,
    rows_name: str = N_("holdout rows"),
    unit: str = "",
    groups_name: str = "days",
    min_groups: int = MIN_HOLDOUT_DAYS,
    max_bias: float | None = MAX_NMBE,
    n_boot: int = N_BOOT,
    confidence: float = CONFIDENCE,
    seed: int = 0,
    absolute: bool = False,
    measure: str = "RMSE",
) -> Decision:
    """The champion rule for regressions (an energy baseline, a remaining life, a forecast): RMSE instead of
    PR-AUC (``absolute``: the mean absolute error, called ``measure``; a forecast passes quantities divided
    by their MASE scale, so it is the MASE), smaller is better, and the evidence needed is ``min_groups`` of
    ``groups`` in the holdout — the days (:data:`MIN_HOLDOUT_DAYS`) or the units
    (:data:`MIN_HOLDOUT_UNITS`) the bootstrap resamples whole. ``max_bias``: the NMBE beyond which (and
    beyond the baseline's) a version is refused; None: no bound."""
    y = _as_array(actual, "actual")
    days = len(pd.unique(pd.Series(np.asarray(groups)))) if groups is not None else 0

    def run(other: Any) -> Comparison:
        return compare_errors(
            y, challenger, other, groups, n_boot=n_boot, confidence=confidence, seed=seed, absolute=absolute
        )

    versus_baseline = run(baseline)
    versus_champion = run(champion) if champion is not None else None
    # A baseline that runs high or low misstates every saving: beyond ASHRAE Guideline 14's ±10 % NMBE
    # (and more biased than the naive baseline), a lower RMSE does not make it champion.
    mean = float(np.mean(y)) if len(y) else 0.0
    nmbe = float((y - _as_array(challenger, "challenger", len(y))).sum() / (len(y) * mean)) if mean else 0.0
    naive = float((y - _as_array(baseline, "baseline", len(y))).sum() / (len(y) * mean)) if mean else 0.0
    bias = None
    if max_bias is not None and abs(nmbe) > max_bias and abs(nmbe) > abs(naive):
        bias = later(
            N_(
                "it runs {nmbe} % low over the holdout (NMBE; the policy allows ±{allowed} %, or no more "
                "than the baseline's {naive} %)"
            )
            if nmbe > 0
            else N_(
                "it runs {nmbe} % high over the holdout (NMBE; the policy allows ±{allowed} %, or no more "
                "than the baseline's {naive} %)"
            ),
            nmbe=as_number(abs(nmbe) * 100, 1),
            allowed=as_number(max_bias * 100, 0),
            naive=as_number(abs(naive) * 100, 1),
        )
    thin = None
    if days < min_groups:
        needed = as_number(min_groups)
        if groups_name == "days":
            message = N_(
                "its holdout spans only {n} day(s) (the policy needs at least {needed} for a fair comparison)"
            )
        elif groups_name == "units":
            message = N_(
                "its holdout holds only {n} unit(s) (the policy needs at least {needed} for a fair "
                "comparison)"
            )
        else:  # the groups' name as given
            message = N_(
                "its holdout holds only {n} {groups}(s) (the policy needs at least {needed} for a fair "
                "comparison)"
            )
        thin = later(message, n=as_number(days), needed=needed, groups=groups_name.removesuffix("s"))
    return _verdict(
        versus_baseline,
        versus_champion,
        {
            "rows": float(len(y)),
            groups_name: float(days),
            f"min_{groups_name}": float(min_groups),
            "nmbe": nmbe,
            "baseline_nmbe": naive,
        },
        score=later(
            N_("{metric} {value}"), metric=later(measure), value=_amount(versus_baseline.challenger, 2, unit)
        ),
        value=lambda v: _amount(v, 2, unit),
        held=later(
            N_("on {rows} {rows_name} over {days} days")
            if groups_name == "days"
            else N_("on {rows} {rows_name} over {days} units")
            if groups_name == "units"
            else N_("on {rows} {rows_name} over {days} {groups}"),
            rows=as_number(len(y)),
            rows_name=later(rows_name),
            days=as_number(days),
            groups=groups_name,
        ),
        rows_part=later(N_("on {rows} {rows_name}"), rows=as_number(len(y)), rows_name=later(rows_name)),
        thin=thin,
        who=version_words(version),
        champion_version=champion_version,
        champion_note=champion_note,
        improvement=True,
        signed=lambda v: _amount(v, 2, unit, signed=True),
        bias=bias,
    )


def _verdict(
    versus_baseline: Comparison,
    versus_champion: Comparison | None,
    evidence: dict[str, float],
    *,
    score: Stored,
    value: Callable[[float], Stored],
    held: Stored,
    rows_part: Stored,
    thin: Stored | None,
    who: Stored,
    champion_version: str | int | None,
    champion_note: str | Stored | None,
    improvement: bool = False,
    signed: Callable[[float], Stored] = _signed,
    bias: Stored | None = None,
) -> Decision:
    """The rule itself, shared by every metric: evidence enough, then clearly better than the baseline and
    than the current champion (the lower bounds of both intervals above zero). One sentence says why, kept
    as its message and values (``Decision.wording``) and worded in English (``Decision.reason``)."""
    figures: dict[str, float] = {
        **evidence,
        "confidence": versus_baseline.confidence,
        "challenger": versus_baseline.challenger,
        "baseline": versus_baseline.other,
        "vs_baseline": versus_baseline.difference,
        "vs_baseline_low": versus_baseline.low,
        "vs_baseline_high": versus_baseline.high,
        "champion": versus_champion.other if versus_champion else math.nan,
        "vs_champion": versus_champion.difference if versus_champion else math.nan,
        "vs_champion_low": versus_champion.low if versus_champion else math.nan,
        "vs_champion_high": versus_champion.high if versus_champion else math.nan,
    }
    if champion_version is not None:
        figures["champion_version"] = float(champion_version) if str(champion_version).isdigit() else math.nan

    def interval(c: Comparison) -> Stored:
        return _interval(c, improvement, signed)

    baseline_part = later(
        N_("{value} for the baseline ({interval})"),
        value=value(versus_baseline.other),
        interval=interval(versus_baseline),
    )
    champion_label = (
        later(N_("the current champion (version {version})"), version=str(champion_version))
        if champion_version
        else later(N_("the champion"))
    )
    if versus_champion is not None:
        champion_part = later(
            N_("{value} for {champion} ({interval})"),
            value=value(versus_champion.other),
            champion=champion_label,
            interval=interval(versus_champion),
        )
    elif champion_note:
        note = champion_note if isinstance(champion_note, dict) else later(champion_note)
        champion_part = later(N_("no comparison with {champion}: {note}"), champion=champion_label, note=note)
    else:
        champion_part = later(N_("there was no champion before it"))
    parts = {"who": who, "score": score, "baseline": baseline_part, "held": held}

    if thin is not None:
        message = N_("{who} is not made champion automatically: {thin}; {score} vs {baseline}, {rows}")
        return decided(False, later(message, **parts, thin=thin, rows=rows_part), figures)
    if bias is not None:
        message = N_("{who} is not made champion: {bias}; {score} vs {baseline}, {held}")
        return decided(False, later(message, **parts, bias=bias), figures)
    beats_baseline = not math.isnan(versus_baseline.low) and versus_baseline.low > 0
    beats_champion = versus_champion is None or (
        not math.isnan(versus_champion.low) and versus_champion.low > 0
    )
    if beats_baseline and beats_champion:
        message = (
            N_("{who} becomes champion: {score} vs {champion} and {baseline}, {held}")
            if versus_champion is not None
            else N_("{who} becomes champion: {score} vs {baseline}, {held}; {champion}")
        )
        return decided(True, later(message, **parts, champion=champion_part), figures)
    if not beats_baseline:
        if versus_champion is None:
            message = N_("{who} is not made champion: {score} vs {baseline} is not clearly better, {held}")
            return decided(False, later(message, **parts), figures)
        message = N_(
            "{who} is not made champion: {score} vs {baseline} is not clearly better, {held}; {value} for "
            "{champion}, which stays champion"
        )
        wording = later(message, **parts, value=value(versus_champion.other), champion=champion_label)
        return decided(False, wording, figures)
    message = N_(
        "{who} is not made champion: {score} vs {versus} is not clearly better, though it beats {baseline}, "
        "{held}; {champion} stays champion"
    )
    return decided(False, later(message, **parts, versus=champion_part, champion=champion_label), figures)


# -- the registry's record -------------------------------------------------------------------------------
def _not_found(exc: Exception) -> bool:
    return getattr(exc, "error_code", "") == "RESOURCE_DOES_NOT_EXIST"


def current_champion(client: Any, registered: str) -> str | None:
    """The version the alias ``champion`` names (None: no champion, or no such registered model)."""
    from mlflow.exceptions import MlflowException

    try:
        aliases = client.get_registered_model(registered).aliases or {}
    except MlflowException as exc:
        if _not_found(exc):
            return None
        raise
    version = aliases.get(CHAMPION_ALIAS)
    return None if version is None else str(version)


def version_problem(client: Any, registered: str, version: str | int) -> str | None:
    """Why ``version`` cannot be champion (it does not exist, or its run did not finish), or None."""
    from mlflow.exceptions import MlflowException

    try:
        found = client.get_model_version(registered, str(version))
    except MlflowException as exc:
        if _not_found(exc):
            return f"{registered} has no version {version}"
        raise
    if not found.run_id:
        return None  # registered from outside a run: nothing to check
    try:
        status = client.get_run(found.run_id).info.status
    except MlflowException as exc:
        if not _not_found(exc):
            raise
        status = "MISSING"
    if status != "FINISHED":
        return (
            f"version {version} of {registered} comes from run {found.run_id}, which did not finish "
            f"({status})"
        )
    return None


def champion_history(client: Any, registered: str) -> list[dict[str, Any]]:
    """The champion alias's history, oldest first: {at (UTC ISO), version, previous, reason, by, action}."""
    from mlflow.exceptions import MlflowException

    try:
        text = (client.get_registered_model(registered).tags or {}).get(HISTORY_TAG)
    except MlflowException as exc:
        if _not_found(exc):
            return []
        raise
    if not text:
        return []
    try:
        events = json.loads(text)
    except ValueError:
        log.warning(
            "%s: the champion history tag %s is not JSON; starting it again.", registered, HISTORY_TAG
        )
        return []
    return [e for e in events if isinstance(e, dict) and "version" in e] if isinstance(events, list) else []


def _bounded(events: Sequence[dict[str, Any]]) -> str:
    """The history as the tag keeps it: the newest HISTORY_EVENTS events that fit in HISTORY_MAX_CHARS."""
    kept = list(events)[-HISTORY_EVENTS:]
    while True:
        text = json.dumps(kept, ensure_ascii=False, separators=(",", ":"))
        if len(text) <= HISTORY_MAX_CHARS or len(kept) <= 1:
            return text
        kept = kept[1:]


def _short(reason: str) -> str:
    return reason if len(reason) <= HISTORY_REASON_CHARS else reason[: HISTORY_REASON_CHARS - 1] + "\u2026"


def set_champion(
    client: Any,
    registered: str,
    version: str | int,
    reason: str,
    by: str,
    action: str = "promote",
    at: datetime | None = None,
) -> bool:
    """Make ``version`` champion and record it; returns whether anything changed.

    The event goes into the history first, then the version's tag, then the alias moves: a stop in between
    is completed by calling again (the event already written is not written twice). Setting the champion
    to the version it already is adds no event. ``action`` is "promote" or "rollback" (which
    :func:`previous_champion` reads). Refuses a version that does not exist or whose run did not finish.
    """
    version = str(version)
    problem = version_problem(client, registered, version)
    if problem:
        raise ValueError(f"{problem}: it cannot be champion.")
    current = current_champion(client, registered)
    history = champion_history(client, registered)
    last = history[-1] if history else None
    recorded = last is not None and str(last.get("version")) == version
    if current == version and recorded:
        return False
    if not recorded:
        when = (at or datetime.now(UTC)).astimezone(UTC).isoformat(timespec="seconds")
        previous = current if current != version else (str(last["version"]) if last else None)
        event = {"at": when, "version": version, "previous": previous, "reason": _short(reason), "by": by}
        client.set_registered_model_tag(
            registered, HISTORY_TAG, _bounded([*history, {**event, "action": action}])
        )
        client.set_model_version_tag(registered, version, CHAMPION_REASON_TAG, f"{when} by {by}: {reason}")
    if current != version:
        client.set_registered_model_alias(registered, CHAMPION_ALIAS, version)
        log.info("%s: champion is version %s (was %s): %s", registered, version, current or "none", reason)
    return True


def previous_champion(client: Any, registered: str) -> str | None:
    """The version a rollback returns to: the champion before the current one took over, as the history
    tells it (a rollback undoes the step before it, so rolling back twice goes two champions back).
    Versions deleted since, or whose run did not finish, are skipped. None when there is none."""
    stack: list[str] = []
    for event in champion_history(client, registered):
        version, previous = str(event["version"]), event.get("previous")
        if not stack and previous:
            stack.append(str(previous))
        if event.get("action") == "rollback" and stack and stack[-1] == str(previous):
            stack.pop()
        if not stack or stack[-1] != version:
            stack.append(version)
    current = current_champion(client, registered)
    for candidate in reversed(stack):
        if candidate != current and version_problem(client, registered, candidate) is None:
            return candidate
    return None


def record_decision(client: Any, registered: str, version: str | int, decision: Decision) -> None:
    """Keep the policy's decision on the version (every version, promoted or not): sentence, verdict,
    figures (nan as null)."""
    figures = {
        k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in decision.figures.items()
    }
    client.set_model_version_tag(registered, str(version), DECISION_TAG, decision.reason)
    if decision.wording is not None:
        wording = json.dumps(decision.wording, ensure_ascii=False)
        client.set_model_version_tag(registered, str(version), DECISION_WORDING_TAG, wording)
    client.set_model_version_tag(registered, str(version), FIGURES_TAG, json.dumps(figures, sort_keys=True))
    # The verdict last: it marks the decision complete (a stop before it has the rule applied again).
    client.set_model_version_tag(registered, str(version), PROMOTE_TAG, str(decision.promote).lower())


def decision_words(tags: dict[str, str] | None) -> str:
    """A version's recorded decision in the current language (its stored message), else as recorded (a
    version decided before decisions were stored as messages: English); '-' when none was recorded."""
    tags = tags or {}
    stored = tags.get(DECISION_WORDING_TAG)
    if stored:
        try:
            return word(json.loads(stored))
        except ValueError:
            pass
    return tags.get(DECISION_TAG, "-")


def policy_objections(client: Any, registered: str, version: str | int) -> list[str]:
    """Why the policy would not have made ``version`` champion (empty: it would have, as far as is known).

    The decision recorded when it was trained says it; a version trained before decisions were recorded is
    judged on what its run logged (holdout positives, the headline metric against the baseline's).
    """
    from forgeline.standard_models import PRIMARY_METRIC  # here: the package imports this module

    found = client.get_model_version(registered, str(version))
    tags = found.tags or {}
    if PROMOTE_TAG in tags:
        return (
            [] if tags[PROMOTE_TAG] == "true" else [tags.get(DECISION_TAG) or "the policy did not promote it"]
        )
    metrics = client.get_run(found.run_id).data.metrics if found.run_id else {}
    objections = []
    positives = metrics.get("positives_test")
    if positives is not None and positives < MIN_HOLDOUT_POSITIVES:
        objections.append(
            f"its holdout holds only {int(positives)} positive cases (the policy needs at least "
            f"{MIN_HOLDOUT_POSITIVES})"
        )
    mine, baseline = metrics.get(f"holdout_{PRIMARY_METRIC}"), metrics.get(f"baseline_{PRIMARY_METRIC}")
    if mine is not None and baseline is not None and mine <= baseline:
        label = METRIC_LABELS.get(PRIMARY_METRIC, PRIMARY_METRIC)
        objections.append(f"it does not beat its baseline ({label} {mine:.3f} vs {baseline:.3f})")
    return objections

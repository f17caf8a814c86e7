"""Models in operation: the champion scores every row it never trained on, and its accuracy is tracked
week by week against the outcomes as they arrive, with drift flagged.

Each run rebuilds the client's training set from its core tables, so every row after the champion's
training cut (its holdout, and everything delivered since) is scored again by the champion's own model.
The outcomes of those rows are in the same data: as new deliveries bring them, the weeks fill in. Nothing
is kept between runs but the model itself, so a re-run gives the same figures and a corrected delivery
corrects them. This is the evidence of smart-factory level 4: a model in operation, its accuracy tracked.

Drift, per local week (Monday to Sunday):

- events: the week's problem cases against the number the calibrated probabilities expected (their sum).
  Their difference, in standard deviations of that count, beyond :data:`DRIFT_Z` means the model no
  longer describes the process: it under- or over-states the risk. The variance is Σ p(1 - p) times how
  much longer the runs of problem rows are than single rows (a failure labels the day before it:
  :func:`_design_effect`), and a week with fewer than :data:`MIN_EXPECTED_CASES` cases either way is not
  judged;
- expected values: the week's NMBE beyond ±:data:`DRIFT_NMBE` (ASHRAE Guideline 14's limit for a
  baseline that savings are measured with): the model runs high or low. For an energy baseline this is
  also what a lasting saving (or waste) looks like; the sentence says both.

- anomalies: the week's share of intervals away from incidents (outside any incident's lead window) that
  raised an alarm, against the detector's budget (the share of normal training intervals above its alarm
  line); beyond :data:`ALARM_DRIFT` times the budget the process (or a sensor) runs unlike the period the
  detector learnt, and its alarms stop meaning much;
- forecasts: the week's quantity against what the forecasts made a week before said (the week-ahead
  plan: horizon 7), summed over products; the week drifts when they miss the total by more than
  :data:`DRIFT_FORECAST_BIAS` of it (demand moved away from its own past). The next seven days' forecasts are
  listed with the latest scores, without an outcome;
- remaining life: the week's failed units, their cycles' remaining life against the champion's; the week
  drifts when the model's life runs high or low by more than :data:`DRIFT_LIFE_BIAS` of the true one
  (high is the dangerous side: a unit replaced too late), judged with at least :data:`MIN_WEEK_UNITS`
  failed units. A unit's rows fall in the week it failed, when their outcome became known. Units still
  running are scored at their latest cycle and listed with the latest scores, without an outcome.

Only weeks with outcomes on at least :data:`MIN_WEEK_DAYS` local days are judged (remaining life: units).
The weeks up to the end of the data the champion was trained and chosen on are its holdout; ``live_rows``
counts the rows after. Each run scores the last :data:`TRACKED_WEEKS` weeks again, so a long-kept champion
costs the same.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from types import ModuleType
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score

from forgeline.i18n import N_, Stored, as_number, later, use_language, word
from forgeline.standard_models import learner
from forgeline.standard_models.base import TrainingSet
from forgeline.standard_models.champion import MAX_NMBE
from forgeline.standard_models.detector import ALARM_BUDGET
from forgeline.standard_models.families import (
    ANOMALIES,
    EVENTS,
    FORECASTS,
    HORIZON_DAYS,
    REMAINING_LIFE,
    Events,
)

log = logging.getLogger("forgeline.standard_models")

DRIFT_Z = 3.0
DRIFT_NMBE = MAX_NMBE  # ASHRAE Guideline 14's bound, as the champion rule applies it
MIN_WEEK_DAYS = 5  # a week with fewer local days of outcomes (the current one, a gap) is shown, never judged
MIN_EXPECTED_CASES = 5.0  # events: fewer expected (and observed) cases say too little for a normal test
SCORE_ROWS = 2_000  # the latest scored rows published with their scores (the live view)
MIN_WEEK_UNITS = 3  # remaining life: fewer failed units in a week say too little about a bias
DRIFT_LIFE_BIAS = 0.25  # remaining life: the share of the true remaining life the model may run high or low
ALARM_DRIFT = 3.0  # anomalies: a week alarming on more than this many times the budget's share drifts
DRIFT_FORECAST_BIAS = 0.25  # forecasts: the share of a week's quantity the week-ahead plan may miss it by
TRACKED_WEEKS = 26  # weeks scored again on each run, at most: a long-kept champion costs the same each run


@dataclass
class OperatingWeek:
    """One local week of the champion's scores against outcomes."""

    week: str  # the Monday, local date (ISO)
    model_version: str
    rows: int
    live_rows: int  # rows delivered after the data the champion was trained and chosen on
    actual: float  # problem cases (events) or the measured total (expected values)
    predicted: float  # the cases the probabilities expected, or the expected total
    metric: float | None  # PR-AUC (events, when the week holds both outcomes) or RMSE
    drift: bool
    sentence: str  # in English
    wording: str  # the sentence as its message and values (JSON; forgeline/i18n.py), worded where read


def _week_sentence(family_name: str, row: pd.Series, unit: str) -> tuple[bool, Stored]:
    """Whether the week drifted, and what it says in plain words (a message and its values, worded where
    read: forgeline/i18n.py)."""
    days, actual, predicted = int(row["days"]), float(row["actual"]), float(row["predicted"])
    judged = days >= MIN_WEEK_DAYS
    if family_name == REMAINING_LIFE.name:
        units, rows = int(row["units"]), int(row["rows"])
        bias = (predicted - actual) / actual if actual else 0.0
        drift = units >= MIN_WEEK_UNITS and abs(bias) > DRIFT_LIFE_BIAS
        failed = (
            later(N_("1 unit failed; over its {rows} cycles"), rows=as_number(rows))
            if units == 1
            else later(
                N_("{units} units failed; over their {rows} cycles"),
                units=as_number(units),
                rows=as_number(rows),
            )
        )
        text = later(
            N_(
                "{failed} the predicted remaining life missed by {rmse} cycles (RMSE), and predicted "
                "{share} % more life than was left in total"
            )
            if bias > 0
            else N_(
                "{failed} the predicted remaining life missed by {rmse} cycles (RMSE), and predicted "
                "{share} % less life than was left in total"
            ),
            failed=failed,
            rmse=as_number(float(row["rmse"]), 1),
            share=as_number(abs(bias) * 100, 0),
        )
        if drift:
            text = later(
                N_("{text}: the model runs late: units would be replaced after they fail")
                if bias > 0
                else N_("{text}: the model runs early: life left unused"),
                text=text,
            )
        return drift, text
    if family_name == ANOMALIES.name:
        # The budget is a share of normal running: alarms in the day before an incident are not held
        # against it.
        normal = int(row["normal_rows"])
        share = float(row["false_alarms"]) / max(normal, 1)
        drift = judged and normal > 0 and share > ALARM_DRIFT * ALARM_BUDGET
        text = later(
            N_(
                "{alarms} alarm(s) on {rows} intervals; away from incidents {false} on {normal} ({share} %, "
                "against a budget of {budget} %); {before} interval(s) lay in the day before an incident"
            ),
            alarms=as_number(int(predicted)),
            rows=as_number(int(row["rows"])),
            false=as_number(int(row["false_alarms"])),
            normal=as_number(normal),
            share=as_number(share * 100, 1),
            budget=as_number(ALARM_BUDGET * 100, 0),
            before=as_number(int(actual)),
        )
        if drift:
            text = later(
                N_("{text}: the machines run unlike the period the detector learnt (or a sensor changed)"),
                text=text,
            )
        return drift, text
    if family_name == FORECASTS.name:
        bias = (predicted - actual) / actual if actual else 0.0
        drift = judged and actual > 0 and abs(bias) > DRIFT_FORECAST_BIAS
        text = later(
            N_("{actual} {unit} where the forecasts made a week before said {predicted} {unit}"),
            actual=as_number(actual),
            predicted=as_number(predicted),
            unit=unit,
        )
        if drift:
            text = later(
                N_(
                    "{text}: {share} % over the quantity (demand moved away from its own past, or a "
                    "product's mix changed)"
                )
                if bias > 0
                else N_(
                    "{text}: {share} % under the quantity (demand moved away from its own past, or a "
                    "product's mix changed)"
                ),
                text=text,
                share=as_number(abs(bias) * 100, 0),
            )
        return drift, text
    if family_name == EVENTS.name:
        spread = float(np.sqrt(row["variance"]))
        z = (actual - predicted) / spread if spread else 0.0
        drift = judged and max(actual, predicted) >= MIN_EXPECTED_CASES and abs(z) > DRIFT_Z
        text = later(
            N_("{n} problem case where the model expected {expected}")
            if actual == 1
            else N_("{n} problem cases where the model expected {expected}"),
            n=as_number(int(actual)),
            expected=as_number(predicted, 1),
        )
        if drift:
            text = later(
                N_("{text}: the model under-states the risk ({z} standard deviations)")
                if z > 0
                else N_("{text}: the model over-states the risk ({z} standard deviations)"),
                text=text,
                z=as_number(abs(z), 1),
            )
        return drift, text
    # NMBE as ASHRAE defines it: (measured - predicted) / measured; > 0 when the model predicts low.
    nmbe = (actual - predicted) / actual if actual else 0.0
    drift = judged and abs(nmbe) > DRIFT_NMBE
    text = (
        later(
            N_("{actual} {unit} used where the model expected {predicted} {unit}"),
            actual=as_number(actual),
            predicted=as_number(predicted),
            unit=unit,
        )
        if unit
        else later(
            N_("{actual} used where the model expected {predicted}"),
            actual=as_number(actual),
            predicted=as_number(predicted),
        )
    )
    if drift:
        # Said against the expectation (what a reader compares with); NMBE, against the use, is the test.
        gap = abs(actual - predicted) / predicted if predicted else 0.0
        text = later(
            N_(
                "{text}: {gap} % more than expected (NMBE {nmbe} %): waste, or a change the model has not "
                "learnt"
            )
            if nmbe > 0
            else N_(
                "{text}: {gap} % less than expected (NMBE {nmbe} %): a saving, or a change the model has not "
                "learnt"
            ),
            text=text,
            gap=as_number(gap * 100, 0),
            nmbe=as_number(nmbe * 100, 0, signed=True),
        )
    return drift, text


def _design_effect(outcome: np.ndarray, series: np.ndarray) -> float:
    """How much more a week's count varies than independent rows would (at least 1): the mean length of
    the runs of consecutive problem rows in each series (a machine's rows in time order).

    Positive rows come in runs (a failure labels the day before it on its machine: runs of 24 hours), and
    a count of clusters of m rows varies about m times as much as Σ p(1 - p) says. It is taken from the
    outcomes' own structure, never from the model's misses, so a miscalibrated model cannot widen the
    band it is judged against.
    """
    order = np.argsort(series, kind="stable")  # each series' rows together, still in time order
    outcome, series = outcome[order], series[order]
    positive = outcome == 1
    starts = positive & ~np.concatenate([[False], positive[:-1] & (series[1:] == series[:-1])])
    runs = int(starts.sum())
    return max(1.0, float(positive.sum()) / runs) if runs else 1.0


def track(
    module: ModuleType,
    data: TrainingSet,
    model: Any,
    version: str,
    cut: pd.Timestamp,
    timezone: str,
    trained_until: pd.Timestamp | None = None,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The champion ``model`` (version ``version``, trained on rows up to ``cut``, chosen on rows up to
    ``trained_until``) on the later rows of the last :data:`TRACKED_WEEKS` weeks: its weeks
    (:class:`OperatingWeek` records) and its latest :data:`SCORE_ROWS` scores with their keys.

    A row's outcome is known once its label can no longer change (the training set's embargo: a failure
    within 24 h is known 24 h later); later rows are scored and published without one, and count in no
    week yet."""
    family = module.FAMILY
    times = pd.to_datetime(data.time, utc=True)
    since = max(pd.Timestamp(cut), times.max() - pd.Timedelta(weeks=TRACKED_WEEKS))
    later = (times > since).to_numpy()
    if family is FORECASTS and data.context is not None:
        # Each product-day once: the forecast the week-ahead plan made of it (horizon 7).
        later &= (data.context["horizon"] == HORIZON_DAYS).to_numpy()
    if not later.any():
        return [], []
    names = list(learner.inputs(model, data.features.head(0)).columns)
    prediction = family.predict(model, data.features.loc[later, names])
    time = times[later].reset_index(drop=True)
    known = (time <= times.max() - data.embargo).to_numpy() if data.embargo else np.ones(len(time), bool)
    outcome = np.where(known, data.label.to_numpy(dtype=float)[later], np.nan)
    # Local calendar on naive local times: normalising an aware time fails where DST starts at midnight.
    local = time.dt.tz_convert(timezone).dt.tz_localize(None)
    day = local.dt.normalize()
    week = (day - pd.to_timedelta(day.dt.dayofweek, unit="D")).dt.date.astype(str)
    keys = data.context.loc[later].reset_index(drop=True) if data.context is not None else None
    # The series whose rows run together: a machine's, a unit's (remaining life) or a product's (forecasts).
    series_key = {REMAINING_LIFE: "unit_id", FORECASTS: "product_id"}.get(family, "machine_id")
    machine = keys[series_key].astype(str) if keys is not None and series_key in keys else ""
    frame = pd.DataFrame(
        {
            "week": week.to_numpy(),
            "day": day.to_numpy(),
            "series": machine,
            "live": (time > trained_until).to_numpy() if trained_until is not None else False,
            "outcome": outcome,
            "prediction": prediction,
            # Anomalies: the week's alarms are what is compared (their scores are not probabilities).
            "alarm": prediction >= getattr(model, "threshold_", np.inf),
            "variance": prediction * (1 - prediction) if family is EVENTS else 0.0,
        }
    )[known]
    inflation = (
        _design_effect(frame["outcome"].to_numpy(), frame["series"].to_numpy()) if family is EVENTS else 1.0
    )
    weeks = []
    for name, rows in frame.groupby("week", sort=True):
        summary = pd.Series(
            {
                "days": rows["day"].nunique(),
                "units": rows["series"].nunique(),
                "rows": len(rows),
                "rmse": float(np.sqrt(np.mean((rows["outcome"] - rows["prediction"]) ** 2))),
                "actual": rows["outcome"].sum(),
                "predicted": rows["alarm"].sum() if family is ANOMALIES else rows["prediction"].sum(),
                "variance": rows["variance"].sum() * inflation,
                "normal_rows": int((rows["outcome"] == 0).sum()),
                "false_alarms": int((rows["alarm"] & (rows["outcome"] == 0)).sum()),
            }
        )
        metric: float | None = float(summary["rmse"])
        if isinstance(family, Events):
            both = 0 < rows["outcome"].sum() < len(rows)
            metric = float(average_precision_score(rows["outcome"], rows["prediction"])) if both else None
        drift, said = _week_sentence(family.name, summary, data.unit)
        with use_language("en"):
            sentence = word(said)
        weeks.append(
            asdict(
                OperatingWeek(
                    week=str(name),
                    model_version=str(version),
                    rows=len(rows),
                    live_rows=int(rows["live"].sum()),
                    actual=float(summary["actual"]),
                    predicted=float(summary["predicted"]),
                    metric=metric,
                    drift=drift,
                    sentence=sentence,
                    wording=json.dumps(said, ensure_ascii=False),
                )
            )
        )
    latest = pd.DataFrame({"time": time.to_numpy(), "score": prediction, "outcome": outcome})
    if keys is not None:
        latest = pd.concat([latest, keys.drop(columns=["kg_co2e_per_unit"], errors="ignore")], axis=1)
    if family is FORECASTS:
        # A day whose quantity is in the data but not settled is neither judged nor a forecast to act on:
        # the forecasts listed without an outcome are the week ahead only.
        latest = latest[~np.isnan(outcome)]
    if data.pending is not None and len(data.pending):
        # Rows no outcome will come for until later (units still running): scored, never judged yet.
        pending = data.pending.drop(columns=["kg_co2e_per_unit"], errors="ignore")
        waiting = pd.DataFrame(
            {
                "time": pd.to_datetime(pending["time"], utc=True).to_numpy(),
                "score": family.predict(model, pending[names]),
                "outcome": np.nan,
            }
        )
        context = [c for c in latest.columns if c not in waiting.columns]
        waiting = pd.concat([waiting, pending[context].reset_index(drop=True)], axis=1).tail(SCORE_ROWS)
        # Always listed, whatever their times (a test file may carry older made-up times than the failures):
        # the known rows fill what is left of SCORE_ROWS, so the cut below keeps every waiting row.
        latest = pd.concat(
            [latest.sort_values("time", kind="stable").tail(SCORE_ROWS - len(waiting)), waiting]
        )
    latest = latest.sort_values("time", kind="stable").tail(SCORE_ROWS)
    scores = [
        {
            "model_version": str(version),
            "time": t.isoformat(),
            "score": float(s),
            "outcome": None if np.isnan(o) else float(o),
            "key": key,
        }
        for t, s, o, key in zip(
            pd.to_datetime(latest["time"], utc=True),
            latest["score"],
            latest["outcome"],
            _keys(latest.drop(columns=["time", "score", "outcome"])),
            strict=True,
        )
    ]
    return weeks, scores


def _keys(frame: pd.DataFrame) -> list[str]:
    """What each scored row is (``machine_id=M1``, ``site_id=S1``), from the training set's context."""
    if frame.empty or not len(frame.columns):
        return [""] * len(frame)
    return [
        ", ".join(f"{c}={v}" for c, v in zip(frame.columns, values, strict=True) if pd.notna(v))
        for values in frame.itertuples(index=False, name=None)
    ]

"""What every standard model shares: a time-ordered holdout, a naive baseline, MLflow tracking and the
registry's ``champion`` alias.

A standard model only says how to turn a client's core tables into a :class:`TrainingSet` (features,
label, time, and a naive baseline score computed without looking ahead). Everything else — the split,
the metrics, logging, registration — happens here, the same way for every model and client.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, roc_auc_score

from forgeline.i18n import Stored

log = logging.getLogger("forgeline.standard_models")

HOLDOUT_SHARE = 0.3  # the last 30 % of the time range is the holdout
# Training uses at most this many rows, the latest before the holdout: a factory-year of cycles (millions)
# would cost a minute and gigabytes per fit on one core, and the recent past is what the process runs
# like now. The holdout is never cut (beyond a frame's sample, below).
MAX_TRAINING_ROWS = 500_000
# A frame of more cells (rows × columns) than this reaches pandas as an even sample: a factory-year of
# cycles with their history features (29 M shots, 50 columns) would take 12 GB. The process needs several
# times the frame while DuckDB hands it over, and two clients train at once in the program's process.
# Measured on an M-program client (2.9 M cycles, 47 columns), peak RSS and fit: 0.96 M rows 2.5 GB;
# 0.48 M rows 1.77 GB, 38 s; 0.24 M rows (this cap) 1.23 GB, 14 s. Training keeps its latest
# MAX_TRAINING_ROWS before the split; the holdout is the sample's rows after it.
MAX_FRAME_CELLS = 12_000_000
ALERT_RATE = 0.05  # "if we flagged the riskiest 5 % of rows, how many problems would we catch?"


class NotEnoughData(ValueError):
    """The client's data cannot support an honest evaluation of this model (the message says why)."""


@dataclass
class Incidents:
    """Labelled incidents an anomaly detector is scored against (was each warned of, how long before); it
    never learns from them."""

    events: pd.DataFrame  # machine_id, reported_at, kind
    lead: timedelta  # an alarm up to this long before an incident warned of it
    sustained: int = 1  # consecutive alarmed rows of a machine that make a warning


@dataclass
class TrainingSet:
    """One model's input, in time order: one row per cycle (or machine-hour), leakage-free."""

    features: pd.DataFrame
    # Events: 1 = the problem the model predicts (defect, failure within the horizon). Expected values:
    # the measured value (e.g. kWh in the hour).
    label: pd.Series
    time: pd.Series  # when the row's outcome became known (orders the split)
    baseline_score: pd.Series  # a naive score from the past only, higher = riskier
    baseline_name: str | Stored  # a stored message (forgeline/i18n.py ``later``) is worded where shown
    # Rows this close before the split are dropped from training: their label looks into the holdout.
    embargo: timedelta = timedelta(0)
    description: dict[str, Any] = field(default_factory=dict)
    # Feature columns a plant can set (process parameters), with their unit: they get operating windows.
    settings: dict[str, str] = field(default_factory=dict)
    unit: str = ""  # expected values: the label's unit ("kWh")
    timezone: str = "UTC"  # the client's: days (bootstrap blocks, holdout days) are its local days
    # Per-row values that are not features, kept beside the holdout predictions (e.g. the kg CO2e per kWh
    # in force, to put an anomaly's excess energy in CO2).
    context: pd.DataFrame | None = None
    # Rows whose outcome nobody knows yet (a unit still running): never trained or judged on, only scored
    # in operation. The feature columns, the context's keys, ``time`` (when the row was observed) and
    # ``baseline`` (the naive score).
    pending: pd.DataFrame | None = None
    # Anomalies: the labelled incidents the label comes from; they only score the detector.
    incidents: Incidents | None = None

    def fingerprint(self, up_to: pd.Timestamp | None = None) -> str:
        """A stable hash of what the model learns from (its features but their history, label, time; the
        history is a function of them); with ``up_to``, of the rows known by then only (to tell whether
        newer data only added rows)."""
        from forgeline.standard_models.features import is_history_column

        # History features are left out: they are functions of the earlier rows' features, which are in,
        # and DuckDB's window sums vary in their last bit with the partition's size. A new day changed
        # earlier rows' recent means so: six-decimal rounding flipped 488 of 46 k of them on an M-program
        # client, float32 still one (a feature near zero), and its failure model retrained on every new day.
        kept = [c for c in self.features.columns if not is_history_column(c)]
        frame = self.features[kept].assign(
            _label=self.label.to_numpy(), _time=self.time.astype("int64").to_numpy()
        )
        if up_to is not None:
            frame = frame.loc[(self.time <= up_to).to_numpy()]
        # The builders compute order-independently (see each module's SQL); floats hashed as float32 (7
        # digits, far beyond any sensor; binary boundaries, which decimal readings rarely meet, where six
        # decimals' boundaries are met by means of few-decimal readings) and + 0.0 (-0.0 hashes unlike 0.0)
        # are the safety net: a flip only retrains once more, never less.
        floats = frame.select_dtypes("float").columns
        frame[floats] = frame[floats].astype("float32") + np.float32(0.0)
        hashed = pd.util.hash_pandas_object(frame.reindex(sorted(frame.columns), axis=1), index=False)
        digest = hashlib.sha256(hashed.to_numpy().tobytes())
        digest.update(",".join(sorted(map(str, self.features.columns))).encode())
        return digest.hexdigest()[:32]


def look_ahead_columns(earlier: TrainingSet, later: TrainingSet, cut: pd.Timestamp) -> list[str]:
    """The columns (features, and ``baseline``) whose values for rows up to ``cut`` changed once data after
    ``cut`` arrived: a feature computed leakage-free from the past comes out the same whatever follows.

    ``earlier`` is the same builder run on the data cut at ``cut`` (a time that ends its rows' buckets, an
    hour's start for hourly rows, so every row up to it is complete). Rows are lined up by their time and
    the training set's context keys (machine, cycle, site), not by position: ``["(rows)"]`` when a row up
    to the cut exists on one side only (a builder that drops rows lacking a future value). Labels are not
    compared: a horizon's label looks ahead by design.
    """

    def rows(data: TrainingSet) -> pd.DataFrame:
        frame = data.features.assign(baseline=data.baseline_score.to_numpy())
        frame.columns = [str(c) for c in frame.columns]
        keys = (
            data.context.drop(columns=["kg_co2e_per_unit"], errors="ignore")
            if data.context is not None
            else None
        )
        frame["_time"] = pd.to_datetime(data.time, utc=True).to_numpy()
        if keys is not None:
            # As text: a category on one side and text on the other are the same keys.
            frame = pd.concat([frame, keys.astype(str).add_prefix("_key_").reset_index(drop=True)], axis=1)
        frame = frame.loc[(frame["_time"] <= cut).to_numpy()]
        by = [c for c in frame.columns if c == "_time" or c.startswith("_key_")]
        return frame.sort_values(by, kind="stable").reset_index(drop=True)

    before, after = rows(earlier), rows(later)
    by = [c for c in before.columns if c == "_time" or c.startswith("_key_")]
    if len(before) != len(after) or not before[by].equals(after[by]):
        return ["(rows)"]
    changed = []
    for column in [c for c in before.columns if c in after.columns and c not in by]:
        old, new = before[column].astype(object), after[column].astype(object)
        same = (old == new) | (before[column].isna() & after[column].isna()).to_numpy()
        if not bool(same.all()):
            changed.append(column)
    return changed


@dataclass
class Split:
    train: np.ndarray  # boolean masks over the training set's rows
    test: np.ndarray
    cut: pd.Timestamp


def time_ordered_split(
    data: TrainingSet,
    holdout_share: float = HOLDOUT_SHARE,
    max_training_rows: int = MAX_TRAINING_ROWS,
    both_outcomes: bool = True,
) -> Split:
    """Train on the earlier part (its latest ``max_training_rows``), test on the later part; never a random
    split (rows are not independent). ``both_outcomes``: each part must hold positive and negative rows
    (events); else each must only hold rows (expected values). Rows within the embargo of the data's end
    are in neither: their label looks past the data (a failure within 24 h of the last hour is not known
    yet), and scoring them as negatives would misstate the holdout."""
    times = pd.to_datetime(data.time, utc=True)
    cut = times.quantile(1 - holdout_share)
    test = ((times > cut) & (times <= times.max() - data.embargo)).to_numpy()
    train = (times <= cut - data.embargo).to_numpy()
    if train.sum() > max_training_rows:
        rows = np.flatnonzero(train)
        latest = rows[np.argsort(times.to_numpy()[rows], kind="stable")[-max_training_rows:]]
        train = np.zeros_like(train)
        train[latest] = True
    y = data.label.to_numpy()
    for name, mask in (("training", train), ("holdout", test)):
        if not both_outcomes:
            if mask.sum() == 0:
                raise NotEnoughData(
                    f"the {name} part (up to/after {cut:%Y-%m-%d %H:%M}) holds no rows; collect a longer "
                    "history."
                )
            continue
        positives = int(y[mask].sum())
        if mask.sum() == 0 or positives == 0 or positives == mask.sum():
            raise NotEnoughData(
                f"the {name} part ({int(mask.sum()):,} rows up to/after {cut:%Y-%m-%d %H:%M}) holds "
                f"{positives} positive rows; a fair evaluation needs both outcomes in each part. "
                "Collect a longer history or more events."
            )
    return Split(train=train, test=test, cut=cut)


@dataclass
class Frame:
    """A training frame as read from the warehouse, and how it was sampled (``every``: 1 = all rows)."""

    rows: pd.DataFrame
    delivered_rows: int
    every: int

    def described(self) -> str:
        if self.every == 1:
            return f"all {self.delivered_rows:,} rows"
        return (
            f"{len(self.rows):,} of {self.delivered_rows:,} rows: about one in {self.every}, chosen by a "
            "hash of each row's key (the same rows every run), spread evenly over time"
        )


def read_frame(
    con: Any, sql: str, parameters: Any = None, *, sample_by: str, max_cells: int = MAX_FRAME_CELLS
) -> Frame:
    """The rows of ``sql`` (its features already computed in DuckDB over every row, in its order), at most
    about ``max_cells`` cells (rows × columns) of them: beyond, an even sample, chosen by a hash of the
    ``sample_by`` columns (a row's key: never its features, whose window sums vary in their last bit as
    data grows, which would move earlier rows in and out of the sample). Counting first is cheap (DuckDB
    drops the unused feature columns and windows of a count; a LIMIT 0 only binds)."""
    delivered = int(con.execute(f"select count(*) from ({sql})", parameters).fetchone()[0])
    columns = len(con.execute(f"select * from ({sql}) limit 0", parameters).description)
    every = max(1, -(-delivered * columns // max_cells))
    if every > 1:
        sql = f"select * from ({sql}) as frame where hash({sample_by}) % {every} = 0"
    return Frame(rows=con.execute(sql, parameters).df(), delivered_rows=delivered, every=every)


def has_table(con: Any, schema: str, table: str) -> bool:
    """Whether the warehouse has ``schema.table`` (core tables written by hand in tests may lack some)."""
    return bool(
        con.execute(
            "select 1 from information_schema.tables where table_schema = ? and table_name = ?",
            [schema, table],
        ).fetchall()
    )


def cycle_parameter_names(con: Any) -> list[str]:
    """The process parameters (cycle tags) the client delivers, sorted: they become feature columns."""
    return [
        row[0]
        for row in con.execute(
            "select distinct parameter_name from core.fct_cycle_parameters "
            "where parameter_name is not null order by 1"
        ).fetchall()
    ]


def holiday_calendar(country: str, years: Iterable[int]) -> Any:
    """The country's public holidays over ``years`` (the `holidays` library: lunar and substitute holidays
    included), a date → name mapping; None for a country the library does not know."""
    import holidays

    try:
        return holidays.country_holidays(country, years=sorted(set(years)))
    except NotImplementedError:
        return None


def sql_literal(text: str) -> str:
    """A SQL string literal (for names that become columns of a builder's SQL)."""
    return "'" + text.replace("'", "''") + "'"


def filled(score: np.ndarray) -> np.ndarray:
    """A score with its gaps (a baseline with no past yet) at its mean: ranked in the middle, not first."""
    score = np.asarray(score, dtype=float)
    known = score[np.isfinite(score)]
    return np.nan_to_num(score, nan=float(known.mean()) if len(known) else 0.0)


def ranking_metrics(y_true: np.ndarray, score: np.ndarray, prefix: str) -> dict[str, float]:
    """PR-AUC (the headline: defects and failures are rare), ROC-AUC and recall at a fixed alert rate."""
    score = filled(score)
    flagged = max(1, int(round(len(score) * ALERT_RATE)))
    top = np.argsort(-score, kind="stable")[:flagged]
    positives = max(1, int(y_true.sum()))
    return {
        f"{prefix}pr_auc": float(average_precision_score(y_true, score)),
        f"{prefix}roc_auc": float(roc_auc_score(y_true, score)),
        f"{prefix}recall_at_5pct_alerts": float(y_true[top].sum() / positives),
        f"{prefix}precision_at_5pct_alerts": float(y_true[top].mean()),
    }


def precision_at_k(
    y_true: np.ndarray, score: np.ndarray, sample_weight: np.ndarray | None = None, share: float = 0.01
) -> float:
    """The share of problem rows among the ``share`` highest-scored rows (by weight, at least one row): how
    often the alarms a plant can afford to look at are right. Takes ``sample_weight`` as sklearn's metrics
    do, so the champion rule's bootstrap can resample it."""
    y = np.asarray(y_true, dtype=float)
    weight = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, dtype=float)
    order = np.argsort(-filled(score), kind="stable")
    y, weight = y[order], weight[order]
    total = np.cumsum(weight)
    if not len(total) or total[-1] <= 0:
        return float("nan")
    top = int(np.searchsorted(total, share * total[-1], side="left")) + 1  # rows up to the share's weight
    taken = weight[:top].sum()
    return float((y[:top] * weight[:top]).sum() / taken) if taken > 0 else float("nan")


def regression_metrics(actual: np.ndarray, expected: np.ndarray, prefix: str) -> dict[str, float]:
    """RMSE (the headline), CV(RMSE) and NMBE as ASHRAE Guideline 14 defines them (shares of the mean
    measured value; NMBE = Σ(measured - predicted) / (n x mean): > 0 when the model predicts low), and MAE."""
    expected = filled(expected)
    error = actual - expected
    mean = float(np.mean(actual)) if len(actual) else float("nan")
    rmse = float(np.sqrt(np.mean(error**2)))
    return {
        f"{prefix}rmse": rmse,
        f"{prefix}cv_rmse": rmse / mean if mean else float("nan"),
        f"{prefix}nmbe": float(error.sum() / (len(actual) * mean)) if mean else float("nan"),
        f"{prefix}mae": float(np.mean(np.abs(error))),
    }


@dataclass
class ModelResult:
    """One trained standard model of one client: what publish writes to ``meta.model_results``."""

    model_name: str
    registered_model: str
    task: str
    metric_name: str
    model_metric: float
    baseline_name: str
    baseline_metric: float
    beats_baseline: bool
    model_version: str
    is_champion: bool  # champion in the snapshot that publishes it (the alias moves right after publishing)
    mlflow_run_id: str
    n_train: int
    n_test: int
    n_test_positives: int | None  # defects or failures in the holdout (events): few means a noisy comparison
    trained_at: datetime
    top_features: list[dict[str, Any]] = field(default_factory=list)
    reused: bool = False  # True when the training data was unchanged and the earlier run was kept
    # Alerting at the threshold chosen on the validation fold, scored on the holdout (None: older runs).
    threshold: float | None = None
    holdout_f1: float | None = None
    holdout_precision: float | None = None
    holdout_recall: float | None = None
    champion_decision: str = ""  # why this version is (or is not) champion, in a sentence (English)
    # The English texts above (champion_decision, baseline_name) as their messages and values, to word in
    # the reader's language (JSON {column: stored message}, forgeline/i18n.py ``later``); "" when unknown.
    wording: str = ""
    learner_note: str = (
        ""  # the learner's caveat or choice for this version (the model card's "This version")
    )
    operating_windows: list[dict[str, Any]] = field(default_factory=list)  # see windows.py
    family: str = "event"  # see families.py: event, expected_value, remaining_life, anomaly or forecast
    unit: str = ""  # expected values: the unit of the predicted value and of RMSE
    holdout_cv_rmse: float | None = None
    holdout_nmbe: float | None = None
    anomalies: int | None = None  # expected values: holdout hours far from expected (families.py)
    anomaly_excess: float | None = None  # their use above expected, in ``unit``
    anomaly_co2_kg: float | None = None  # that excess in kg CO2e at the emission factor in force
    # Per holdout day: measured and predicted totals, the baseline's, and rows flagged (alerts, anomalies).
    holdout_daily: list[dict[str, Any]] = field(default_factory=list)
    # The champion in operation (operation.py): its weeks against outcomes, and its latest scores.
    operation_weekly: list[dict[str, Any]] = field(default_factory=list)
    scores: list[dict[str, Any]] = field(default_factory=list)
    # Remaining life: NASA's PHM08 score (mean per cycle, smaller is better) and held-out failed units.
    holdout_phm_score: float | None = None
    baseline_phm_score: float | None = None
    holdout_units: int | None = None
    # … and the RMSE at one random cycle per held-out unit (as NASA's test sets are cut; families.py).
    holdout_rmse_at_random_cycle: float | None = None
    baseline_rmse_at_random_cycle: float | None = None
    # Anomalies: the holdout's labelled incidents, those an alarm warned of within the lead window (the
    # detector's and the baseline's), the median warning in hours, and the share of intervals alarmed.
    holdout_incidents: int | None = None
    holdout_incidents_warned: int | None = None
    baseline_incidents_warned: int | None = None
    holdout_warning_h: float | None = None
    holdout_alarm_rate: float | None = None
    # … how many the same alarms shifted to random times would have warned of (the figure to beat)
    holdout_incidents_warned_by_chance: float | None = None
    baseline_incidents_warned_by_chance: float | None = None
    baseline_alarm_precision: float | None = None  # the share of the baseline's alarms before an incident
    # … and each of those incidents: machine, when, warned of or not and how many hours before (and the
    # baseline's), as families.Anomalies.incidents records them.
    incidents: list[dict[str, Any]] = field(default_factory=list)
    # … and the holdout's strongest alarms, for review: machine, time, score, the features that moved most.
    alarms: list[dict[str, Any]] = field(default_factory=list)
    # Forecasts: sMAPE over the week ahead (the headline MASE's rows), and MASE and sMAPE a day ahead, the
    # model's and seasonal naive's, and the products held out.
    holdout_smape: float | None = None
    baseline_smape: float | None = None
    holdout_mase_day_ahead: float | None = None
    baseline_mase_day_ahead: float | None = None
    holdout_smape_day_ahead: float | None = None
    baseline_smape_day_ahead: float | None = None
    holdout_mase_7_days_ahead: float | None = None  # the forecasts made a full week before (the chart's)
    baseline_mase_7_days_ahead: float | None = None
    holdout_products: int | None = None


def utc_now() -> datetime:
    return datetime.now(UTC)

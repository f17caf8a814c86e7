"""The event learner on seeded data with a planted cause: the holdout never steers it, the same data gives
the same model, calibration keeps the ranking, and a fold too thin to choose on says so."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import average_precision_score

from forgeline.standard_models import learner
from forgeline.standard_models.base import NotEnoughData

pytestmark = pytest.mark.models


def planted(n: int = 6_000, seed: int = 3) -> tuple[pd.DataFrame, np.ndarray, pd.Series]:
    """A defect is likely when temperature exceeds 228 (about 5 % of rows), rare otherwise."""
    rng = np.random.default_rng(seed)
    features = pd.DataFrame(
        {
            "temperature": rng.normal(220, 5, n),
            "pressure": rng.normal(80, 4, n),
            "product": pd.Categorical(rng.choice(["A", "B"], n)),
        }
    )
    hot = features["temperature"].to_numpy() > 228
    label = np.where(hot, rng.random(n) < 0.9, rng.random(n) < 0.01).astype(int)
    time = pd.Series(pd.date_range("2026-01-01", periods=n, freq="min", tz="UTC"))
    return features, label, time


def training_mask(n: int, share: float = 0.7) -> np.ndarray:
    return np.arange(n) < int(n * share)


def test_the_holdout_never_steers_the_model_its_tuning_or_its_threshold() -> None:
    features, label, time = planted()
    train = training_mask(len(label))
    first = learner.fit_event_model(features, label, time, train)
    shuffled = label.copy()
    shuffled[~train] = 1 - shuffled[~train]  # every holdout outcome reversed
    second = learner.fit_event_model(features, shuffled, time, train)
    assert first.threshold == second.threshold
    assert first.params == second.params
    np.testing.assert_array_equal(first.model.predict_proba(features), second.model.predict_proba(features))


def test_the_same_data_gives_the_same_model_and_the_planted_cause_is_found() -> None:
    features, label, time = planted()
    train = training_mask(len(label))
    model = learner.fit_event_model(features, label, time, train)
    again = learner.fit_event_model(features, label, time, train)
    np.testing.assert_array_equal(model.model.predict_proba(features), again.model.predict_proba(features))
    assert len(model.search) == len(learner.SEARCH)
    # Under the fold's calibration: the chosen set-up refitted on every training row, fold included.
    chosen = {k: v for k, v in model.params.items() if k not in learner.FIXED_PARAMS and k != "calibration"}
    refit = learner._classifier(chosen, model.params["n_estimators"]).fit(features[train], label[train])
    raw = model.model.calibrated_classifiers_[0].estimator.predict_proba(features)
    np.testing.assert_array_equal(raw, refit.predict_proba(features))
    assert all(c["rounds"] >= 1 and 0 <= c["validation_pr_auc"] <= 1 for c in model.search)
    assert 0 < model.threshold < 1 and model.note == ""
    holdout = model.model.predict_proba(features[~train])[:, 1]
    assert average_precision_score(label[~train], holdout) > 0.7
    figures = learner.alert_metrics(label[~train], holdout, model.threshold, "holdout_")
    assert figures["holdout_f1"] > 0.7 and 0 < figures["holdout_alert_rate"] < 0.2


def test_calibration_keeps_the_ranking_and_gives_probabilities() -> None:
    features, label, time = planted()
    train = training_mask(len(label))
    model = learner.fit_event_model(features, label, time, train)
    raw = model.model.calibrated_classifiers_[0].estimator.predict_proba(features[~train])[:, 1]
    calibrated = model.model.predict_proba(features[~train])[:, 1]
    order_raw = np.argsort(raw, kind="stable")
    assert (np.diff(calibrated[order_raw]) >= -1e-12).all()  # monotone in the raw score
    assert average_precision_score(label[~train], raw) == pytest.approx(
        average_precision_score(label[~train], calibrated)
    )
    # Calibrated: the mean probability is close to the observed rate on the later rows.
    assert abs(calibrated.mean() - label[~train].mean()) < 0.03


def test_a_validation_fold_too_thin_to_choose_on_says_so() -> None:
    features, label, time = planted()
    train = training_mask(len(label))
    fit, validation = learner.validation_fold(time, train, timedelta(0))
    thin = label.copy()
    thin[np.flatnonzero(validation & (thin == 1))[2:]] = 0  # two positive cases left in the fold
    model = learner.fit_event_model(features, thin, time, train)
    assert "2 positive case(s)" in model.note and model.params["calibration"] == "none"
    assert model.search == [] and 0 < model.threshold <= 1


def test_no_positive_case_to_learn_from_is_named() -> None:
    features, label, time = planted()
    train = training_mask(len(label))
    fit, _ = learner.validation_fold(time, train, timedelta(0))
    empty = np.where(fit, 0, label)
    with pytest.raises(NotEnoughData, match="0 positive rows"):
        learner.fit_event_model(features, empty, time, train)


def test_the_validation_fold_is_the_latest_training_rows_with_the_embargo() -> None:
    _, label, time = planted()
    train = training_mask(len(label))
    fit, validation = learner.validation_fold(time, train, timedelta(hours=2))
    assert not (fit & validation).any() and not ((fit | validation) & ~train).any()
    assert time[validation].min() - time[fit].max() >= pd.Timedelta(hours=2)
    assert validation.sum() == pytest.approx(learner.VALIDATION_SHARE * train.sum(), rel=0.01)


def test_operating_windows_are_chosen_on_earlier_rows_and_checked_on_later_ones() -> None:
    from forgeline.standard_models.windows import operating_windows

    features, label, time = planted()
    train = training_mask(len(label))
    settings = {"temperature": "°C", "pressure": "MPa"}
    windows = operating_windows(features, label, train, ~train, settings)
    by_name = {w.parameter: w for w in windows}
    hot = by_name["temperature"]
    assert 226 <= hot.high <= 228.5 and hot.low is None and hot.confident and hot.holds_later
    assert hot.sentence.startswith("keep temperature under 22") and hot.unit == "°C" and hot.rank == 1
    assert hot.inside_ci_low <= hot.inside_rate <= hot.inside_ci_high < hot.outside_rate
    assert "°C: defect rate" in hot.sentence and "on later cycles" in hot.sentence
    assert "pressure" not in by_name or not by_name["pressure"].confident  # noise: no finding

    # The relation reversed on later rows: the window chosen earlier is reported as not holding.
    flipped = label.copy()
    flipped[~train] = (features["temperature"].to_numpy()[~train] < 224).astype(int)
    [reversed_window] = operating_windows(features, flipped, train, ~train, {"temperature": "°C"})
    assert reversed_window.holds_later is False and "did not hold" in reversed_window.sentence
    # Product and context columns are not settings: no window for them.
    assert operating_windows(features, label, train, ~train, {}) == []


def test_no_window_is_recommended_where_no_range_does_better_than_the_rest() -> None:
    from forgeline.standard_models.windows import operating_windows

    rng = np.random.default_rng(5)
    n = 4_000
    features = pd.DataFrame({"noise": rng.normal(size=n)})
    label = (rng.random(n) < 0.05).astype(int)
    train = training_mask(n)
    for window in operating_windows(features, label, train, ~train, {"noise": ""}):
        assert window.inside_rate < window.outside_rate  # never a window worse than outside it
    constant = pd.DataFrame({"noise": np.ones(n)})
    assert operating_windows(constant, label, train, ~train, {"noise": ""}) == []


def test_a_window_on_set_points_holds_exactly_the_levels_it_was_chosen_on() -> None:
    """A setting run at three levels (1 %, 20 % and 5 % defects): the window is the best level, applied as
    the bins that chose it, never widened into the worst level next to it."""
    from forgeline.standard_models.windows import operating_windows

    rng = np.random.default_rng(9)
    n = 9_000
    level = rng.choice([0.0, 1.0, 2.0], n)
    rate = np.select([level == 0, level == 1], [0.01, 0.20], 0.05)
    label = (rng.random(n) < rate).astype(int)
    train = training_mask(n)
    [window] = operating_windows(pd.DataFrame({"p": level}), label, train, ~train, {"p": "bar"})
    assert window.sentence.startswith("keep p under 1 bar") and window.inside_rate < 0.02
    assert window.n_inside == int(((level == 0) & train).sum())


def test_a_frame_too_big_for_pandas_arrives_as_the_same_even_sample_every_time() -> None:
    """A factory-year of cycles with history features would not fit in memory: beyond MAX_FRAME_CELLS the
    frame is an even, repeatable sample, still in time order, with features computed over every row."""
    import duckdb

    from forgeline.standard_models.base import read_frame

    con = duckdb.connect()
    sql = (
        "select range as cycle, timestamp '2026-01-01' + to_seconds(range) as started_at, "
        "sum(range) over (order by range rows between 9 preceding and current row) as last_ten "
        "from range(100000) order by started_at"
    )
    whole = read_frame(con, sql, sample_by="cycle", max_cells=600_000)  # 3 columns
    assert whole.every == 1 and len(whole.rows) == 100_000

    sampled = read_frame(con, sql, sample_by="cycle", max_cells=30_000)
    assert sampled.every == 10 and sampled.delivered_rows == 100_000
    assert 9_000 <= len(sampled.rows) <= 11_000
    assert sampled.rows["started_at"].is_monotonic_increasing
    # Features are those of the whole frame (the window saw every row), and the sample spans all of it.
    row = sampled.rows.iloc[len(sampled.rows) // 2]
    assert row["last_ten"] == sum(range(int(row["cycle"]) - 9, int(row["cycle"]) + 1))
    deciles = np.histogram(sampled.rows["cycle"], bins=10, range=(0, 100_000))[0]
    assert deciles.min() > 0.8 * deciles.mean()
    again = read_frame(con, sql, sample_by="cycle", max_cells=30_000)
    assert again.rows["cycle"].tolist() == sampled.rows["cycle"].tolist()
    # Chosen by the key, not the features: a window sum's last bit (it varies as data grows) moves no row.
    nudged = read_frame(
        con,
        sql.replace(" as last_ten", " * 1.000000000000001 as last_ten"),
        sample_by="cycle",
        max_cells=30_000,
    )
    assert nudged.rows["cycle"].tolist() == sampled.rows["cycle"].tolist()
    assert "about one in 10" in sampled.described()


def test_the_fingerprint_ignores_the_last_bit_a_window_sum_varies_in_and_sees_a_real_change() -> None:
    """DuckDB's window aggregates add in an order that depends on the partition's size, so a new day
    changes an earlier row's history features in their last bit; that must not read as changed training
    data (it retrained a model on every new day). History features are functions of the earlier rows'
    features, which the fingerprint holds; other floats are hashed as float32."""
    from forgeline.standard_models.base import TrainingSet
    from forgeline.standard_models.features import history_name

    means = np.array([12.3456785, 0.1234565, 101.0000005, -0.0])
    normal = np.array([0.6572994975214925, 1e-9, -3.0, 2.5])

    def training_set(values: np.ndarray, history: np.ndarray) -> TrainingSet:
        time = pd.Series(pd.date_range("2026-10-01", periods=len(values), freq="h", tz="UTC"))
        zeros = pd.Series(np.zeros(len(values)))
        features = pd.DataFrame({"mean": values, history_name("pressure", "vs_normal"): history})
        return TrainingSet(features, zeros.astype("int64"), time, zeros, "none")

    def last_bit(values: np.ndarray) -> np.ndarray:
        return np.array([np.nextafter(v, np.inf) if v else 0.0 for v in values])

    same = training_set(means, normal).fingerprint()
    assert training_set(last_bit(means), normal).fingerprint() == same
    assert training_set(means, last_bit(normal) * (1 + 1e-12)).fingerprint() == same
    assert training_set(means * (1 + 1e-5), normal).fingerprint() != same

"""The demand forecast on a seeded synthetic plant with a known truth: products made in campaigns (a level
that holds for weeks, then moves), Saturdays at half, Sundays shut (no record at all), and day-to-day noise
that a single day a week before carries in full. Real DuckDB, LightGBM and MLflow (SQLite store)."""

from __future__ import annotations

import shutil
from datetime import UTC, date, datetime, timedelta

import duckdb
import numpy as np
import pandas as pd
import pytest

from forgeline.auth import set_login
from forgeline.clients import ClientConfig, save_mapping_text
from forgeline.publish import RunInfo, publish_client
from forgeline.quality import GateResult
from forgeline.settings import REPO_ROOT, Settings
from forgeline.standard_models import build_training_set, train_client_models
from forgeline.standard_models.base import NotEnoughData, TrainingSet, look_ahead_columns
from forgeline.standard_models.champion import compare_errors
from forgeline.standard_models.families import HORIZON_DAYS, LEVEL

pytestmark = pytest.mark.models

SEED = 5
CLIENT = "synthetic-planner"
TIMEZONE = "Asia/Seoul"
START = date(2026, 6, 1)  # a Monday
DAYS = 119  # 17 weeks: the last day is a Saturday
PRODUCTS = ["BRKT-A", "BRKT-B", "HINGE-C"]
CAMPAIGN_DAYS = (14, 35)
NOISE = 0.3  # lognormal day-to-day noise


def synthetic_counts(days: int = DAYS) -> pd.DataFrame:
    """Units made per product and day. Truth: each product runs campaigns of 2 to 5 weeks at a level drawn
    from 0 (mould off), 150 or 400 a day; Saturday makes half, Sunday has no record; each day's count is the
    level times lognormal noise (sd 0.3)."""
    rng = np.random.default_rng(SEED)
    rows = []
    for product in PRODUCTS:
        level, left = 0.0, 0
        for offset in range(days):
            day = START + timedelta(days=offset)
            if left == 0:
                level, left = float(rng.choice([0.0, 150.0, 400.0])), int(rng.integers(*CAMPAIGN_DAYS))
            left -= 1
            noise = rng.lognormal(0, NOISE)
            if day.weekday() == 6:
                continue  # shut: no record at all for any product
            half = 0.5 if day.weekday() == 5 else 1.0
            rows.append((product, day, int(round(level * half * noise))))
    return pd.DataFrame(rows, columns=["product_id", "production_date", "total_count"])


def write_core(settings: Settings, counts: pd.DataFrame) -> None:
    settings.warehouse_dir.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(settings.warehouse_path(CLIENT)))
    try:
        con.execute("CREATE SCHEMA IF NOT EXISTS core")
        con.execute(
            "CREATE OR REPLACE TABLE core.fct_production_counts AS SELECT 'L1' AS machine_id, * FROM counts"
        )
        con.execute(
            "CREATE OR REPLACE TABLE core.fct_work_orders (product_id VARCHAR, planned_quantity BIGINT, "
            "due_at TIMESTAMPTZ, released_at TIMESTAMPTZ)"
        )
        con.execute(
            "CREATE OR REPLACE TABLE core.fct_cycles (product_id VARCHAR, production_date DATE, "
            "part_count BIGINT)"
        )
        con.execute("CREATE OR REPLACE TABLE core.dim_sites AS SELECT 'S1' AS site_id, 'KR' AS country")
    finally:
        con.close()


def make_client(settings: Settings, counts: pd.DataFrame | None = None) -> ClientConfig:
    write_core(settings, synthetic_counts() if counts is None else counts)
    return ClientConfig(id=CLIENT, name="합성정밀", timezone=TIMEZONE, models=["demand_forecast"])


def test_rows_are_product_days_and_horizons_with_the_next_week_pending(workspace: Settings) -> None:
    config = make_client(workspace)
    data = build_training_set(workspace, config, "demand_forecast")
    assert data.description["series"] == "counts" and data.unit == "units"
    local = data.time.dt.tz_convert(TIMEZONE)
    assert not (local.dt.dayofweek == 6).any()  # a day without any record is never a target
    assert sorted(data.context["horizon"].unique()) == list(range(1, HORIZON_DAYS + 1))
    assert (data.features["horizon_days"] == data.context["horizon"]).all()
    # Seasonal naive: the same weekday a week before.
    counts = synthetic_counts().set_index(["product_id", "production_date"])["total_count"]
    row = data.context.assign(day=local.dt.date).iloc[-1]
    week_before = counts[(row["product_id"], row["day"] - timedelta(days=7))]
    assert data.baseline_score.iloc[-1] == week_before
    # The week after the last day (a Saturday), Sunday left out: six days per product, horizons 1 to 6 +1.
    pending = data.pending
    assert pending is not None and len(pending) == 6 * len(PRODUCTS)
    assert sorted(pending["horizon"].unique()) == [2, 3, 4, 5, 6, 7]
    assert (pending[LEVEL] >= 0).all() and pending["time"].min() > data.time.max()


def _cut(settings: Settings, before: date) -> None:
    con = duckdb.connect(str(settings.warehouse_path(CLIENT)))
    try:
        con.execute("DELETE FROM core.fct_production_counts WHERE production_date >= ?", [before])
    finally:
        con.close()


def test_features_are_leakage_free_and_a_planted_look_ahead_is_caught(workspace: Settings) -> None:
    config = make_client(workspace)
    later = build_training_set(workspace, config, "demand_forecast")
    shutil.copy(workspace.warehouse_path(CLIENT), workspace.warehouse_path(CLIENT).with_suffix(".full"))
    before = START + timedelta(days=100)
    _cut(workspace, before)
    earlier = build_training_set(workspace, config, "demand_forecast")
    cut = pd.Timestamp(before, tz=TIMEZONE).tz_convert("UTC")
    assert len(earlier.label) < len(later.label)
    assert look_ahead_columns(earlier, later, cut) == []

    def with_look_ahead(data: TrainingSet) -> TrainingSet:
        # The product's quantity on the day after the target: known only a day later.
        key = data.context["product_id"] + "/" + data.context["horizon"].astype(str)
        planted = data.features.assign(next_day=data.label.groupby(key.to_numpy()).shift(-1).to_numpy())
        return TrainingSet(
            planted, data.label, data.time, data.baseline_score, data.baseline_name, context=data.context
        )

    assert look_ahead_columns(with_look_ahead(earlier), with_look_ahead(later), cut) == ["next_day"]


def test_a_short_history_is_refused_with_what_each_source_holds(workspace: Settings) -> None:
    config = make_client(workspace, synthetic_counts(days=40))
    held = (
        r"units made \(production counts, by production day\): 40 day\(s\) from 2026-06-01 to 2026-07-10, 35"
    )
    with pytest.raises(NotEnoughData, match=held):
        build_training_set(workspace, config, "demand_forecast")


def test_the_forecast_beats_seasonal_naive_a_week_and_a_day_ahead(workspace: Settings) -> None:
    config = make_client(workspace)
    gate = GateResult(client_id=CLIENT, passed=True, checked_at=datetime.now(UTC).isoformat())
    [result] = train_client_models(workspace, config, gate)
    assert (result.family, result.metric_name, result.unit) == ("forecast", "mase", "units")
    # A day's noise is carried in full by the same weekday a week before; the model averages it out.
    assert result.model_metric < 0.9 * result.baseline_metric
    assert result.holdout_mase_day_ahead < result.baseline_mase_day_ahead
    # sMAPE is reported, not asserted: with a mould off, each zero day forecast above zero counts 200 %.
    assert 0 <= result.holdout_smape <= 2 and 0 <= result.baseline_smape <= 2
    assert result.holdout_products == len(PRODUCTS)
    assert result.is_champion and "becomes champion: MASE" in result.champion_decision
    assert result.holdout_daily and all(d["expected"] is not None for d in result.holdout_daily)
    # In operation: the next week's forecasts (no outcome yet) follow the week-ahead plan's scored days.
    waiting = [s for s in result.scores if s["outcome"] is None]
    assert len(waiting) == 6 * len(PRODUCTS)  # the week ahead, not the unsettled last day
    assert all("product_id=" in s["key"] and s["score"] >= 0 for s in waiting)
    assert result.operation_weekly and all(
        "forecasts made a week before" in w["sentence"] for w in result.operation_weekly
    )

    [again] = train_client_models(workspace, config, gate)
    assert again.reused and again.model_version == result.model_version


def test_the_absolute_error_bootstrap_compares_mean_absolute_errors() -> None:
    actual = np.array([10.0, 10.0, 10.0, 10.0])
    mine, theirs = actual + np.array([1, -1, 1, -1]), actual + np.array([3, -3, 0, 0])
    compared = compare_errors(actual, mine, theirs, absolute=True, n_boot=50)
    assert (compared.challenger, compared.other) == (1.0, 1.5)
    squared = compare_errors(actual, mine, theirs, n_boot=50)
    assert squared.other == pytest.approx(np.sqrt(18 / 4))


@pytest.mark.app
def test_the_models_page_reads_the_forecast_to_a_planner(
    workspace: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Published like any run, the forecast shows MASE beside seasonal naive, the holdout day by day, the
    weeks in operation and the next days' forecasts, to the client's own login."""
    from streamlit.testing.v1 import AppTest

    config = make_client(workspace)
    gate = GateResult(client_id=CLIENT, passed=True, checked_at=datetime.now(UTC).isoformat())
    [result] = train_client_models(workspace, config, gate)
    save_mapping_text(
        workspace,
        CLIENT,
        f"id: {CLIENT}\nname: 합성정밀\ntimezone: {TIMEZONE}\nmodels: [demand_forecast]\n",
    )
    set_login(workspace, "planner", "planner-password", "client", "합성정밀", CLIENT)
    publish_client(workspace, config, RunInfo("run-1", datetime.now(UTC), "published", True), None, [result])
    monkeypatch.setenv("FORGELINE_HOME", str(workspace.home))
    at = AppTest.from_file(str(REPO_ROOT / "apps" / "forgeline_app.py"), default_timeout=60).run()
    at.text_input(key="username").input("planner")
    at.text_input(key="password").input("planner-password")
    at = at.button[0].click().run()
    at.switch_page("app_pages/client/models.py").run()
    assert not at.exception and not at.error, [e.value for e in [*at.exception, *at.error]]
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["MASE (holdout)"] == f"{result.model_metric:.2f}"
    text = "\n".join(m.value for m in at.markdown)
    assert "Averaged over forecasts made 1 to 7 days ahead" in text and "A day ahead the MASE is" in text
    assert "Made a full week ahead" in text
    assert "The next days' forecasts" in text
    charts = [c.key for c in at.get("plotly_chart")]
    assert {"model_holdout_demand_forecast", "model_operation_demand_forecast"} <= set(charts)
    plan = next(f.value for f in at.dataframe if "forecast (units)" in f.value.columns)
    assert set(plan["product"]) == set(PRODUCTS) and len(plan) == 6 * len(PRODUCTS)  # the week ahead only


def test_a_plant_shut_on_public_holidays_gets_no_forecast_for_them(workspace: Settings) -> None:
    import holidays

    counts = synthetic_counts()
    korean = holidays.country_holidays("KR", years=[2026])
    config = make_client(workspace, counts[~counts["production_date"].map(korean.__contains__)])
    data = build_training_set(workspace, config, "demand_forecast")
    # The data ends on Wednesday 23 September, before 추석 (24–26) and a Sunday: the week ahead is the
    # three working days after them, never the holidays a plant that shuts on them would not work.
    assert data.pending is not None
    days = set(pd.to_datetime(data.pending["time"], utc=True).dt.tz_convert(TIMEZONE).dt.date)
    assert days == {date(2026, 9, 28), date(2026, 9, 29), date(2026, 9, 30)}

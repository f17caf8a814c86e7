"""Remaining useful life on the demo's seeded pump rig (``dongbang-rig``), onboarded by its mapping only: a
C-MAPSS-like text file (pump, cycle, sensors; no timestamps, no failure column) and a file of pumps still on
test. Truth: bearing temperature and vibration climb as a pump nears its failure ((age / life)^3), the
ambient temperature is noise. Real ingest, dbt, GX, LightGBM, MLflow, Prefect and the app."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import duckdb
import numpy as np
import pytest

from forgeline.clients import get_client
from forgeline.demo import demo_mapping_text, synthetic
from forgeline.quality import GateResult
from forgeline.settings import Settings
from forgeline.standard_models import build_training_set, train_client_models
from forgeline.standard_models.base import NotEnoughData, TrainingSet
from forgeline.standard_models.families import RUL_CAP
from forgeline.standard_models.remaining_useful_life import AGE

pytestmark = [pytest.mark.models, pytest.mark.dbt]

CLIENT = "dongbang-rig"
SCALE = "small"
FAILED_UNITS, RUNNING_UNITS = synthetic.RIG_FAILED_UNITS[SCALE], synthetic.RIG_RUNNING_UNITS
RUNNING = [f"ON-TEST-{k}" for k in range(1, RUNNING_UNITS + 1)]


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory, onboard: Callable[..., Settings]) -> Settings:
    """The demo's pump rig, onboarded by its mapping file only (demo/clients/dongbang-rig)."""
    from forgeline.settings import get_settings

    settings = get_settings(tmp_path_factory.mktemp("rig"))
    onboard(settings, CLIENT, demo_mapping_text(CLIENT), synthetic.rig_exports(SCALE))
    return settings


def query(settings: Settings, sql: str) -> list[tuple]:
    con = duckdb.connect(str(settings.warehouse_path(CLIENT)), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_a_run_to_failure_declaration_makes_each_units_last_cycle_its_failure(rig: Settings) -> None:
    [(failed, running)] = query(
        rig,
        "select count(*) filter (where has_failed), count(*) filter (where not has_failed) "
        "from core.dim_run_units",
    )
    assert (failed, running) == (FAILED_UNITS, RUNNING_UNITS)
    [(mismatched,)] = query(
        rig,
        "select count(*) from core.dim_run_units where has_failed and failed_at <> last_cycle_at",
    )
    assert mismatched == 0


def test_the_training_set_holds_failed_units_whole_and_scores_the_running_ones(rig: Settings) -> None:
    config = get_client(rig, CLIENT)
    data = build_training_set(rig, config, "remaining_useful_life")
    assert data.unit == "cycles" and data.label.max() == RUL_CAP and data.label.min() == 0
    assert {"bearing_temperature", "vibration__recent_mean", "vibration__recent_trend", AGE} <= set(
        data.features.columns
    )
    # Each failed unit's rows carry its failure time: the holdout never takes half a unit.
    assert (data.context.groupby("unit_id")["unit_id"].size() > 0).all()
    assert data.context.assign(t=data.time).groupby("unit_id")["t"].nunique().eq(1).all()
    assert data.pending is not None and sorted(data.pending["unit_id"]) == RUNNING
    # The first unit to fail has no earlier life to go by; every later one has the mean life before it.
    assert data.baseline_score.notna().mean() > 0.9


def test_features_never_read_a_units_later_cycles_and_a_planted_look_ahead_is_caught(
    rig: Settings, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """A unit cut at cycle k (as if still running) must get, at k, exactly the features and baseline it has
    at k in the full record: the time-cut check cannot see inside a unit, so this check does."""
    import shutil

    config = get_client(rig, CLIENT)
    full = build_training_set(rig, config, "remaining_useful_life")
    unit, k = "PUMP-20", 77
    copy = tmp_path_factory.mktemp("cut") / "warehouse.duckdb"
    shutil.copy(rig.warehouse_path(CLIENT), copy)
    try:
        con = duckdb.connect(str(rig.warehouse_path(CLIENT)))
        con.execute(f"delete from core.fct_cycles where unit_id = '{unit}' and unit_cycle > {k}")
        con.execute(
            f"update core.dim_run_units set has_failed = false, failed_at = null where unit_id = '{unit}'"
        )
        con.close()
        cut = build_training_set(rig, config, "remaining_useful_life")
    finally:
        shutil.copy(copy, rig.warehouse_path(CLIENT))

    def look_ahead(cut: TrainingSet, full: TrainingSet) -> list[str]:
        """Columns whose value at cycle k differs between the unit cut at k and its full record."""
        before = cut.pending.loc[cut.pending["unit_id"] == unit].iloc[0]
        mask = ((full.context["unit_id"] == unit) & (full.features[AGE] == k)).to_numpy()
        after = full.features[mask].iloc[0].to_dict() | {"baseline": full.baseline_score[mask].iloc[0]}
        return [c for c in after if not np.isclose(float(before[c]), float(after[c]), equal_nan=True)]

    assert look_ahead(cut, full) == []

    def with_cycles_to_last_record(data: TrainingSet) -> TrainingSet:
        # A feature a careless builder could compute: cycles from this one to the unit's last record.
        # For a finished record it is the remaining life itself; for a running unit it is 0.
        last = data.features.groupby(data.context["unit_id"].to_numpy())[AGE].transform("max")
        features = data.features.assign(to_last_record=(last - data.features[AGE]).to_numpy())
        pending = data.pending.assign(to_last_record=0.0) if data.pending is not None else None
        return TrainingSet(
            features,
            data.label,
            data.time,
            data.baseline_score,
            data.baseline_name,
            context=data.context,
            pending=pending,
        )

    assert look_ahead(with_cycles_to_last_record(cut), with_cycles_to_last_record(full)) == ["to_last_record"]


def test_units_that_share_an_id_are_refused_with_what_to_do(
    rig: Settings, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Two files numbering their units from 1 would merge two units under one id: refused, not learnt."""
    import shutil

    config = get_client(rig, CLIENT)
    copy = tmp_path_factory.mktemp("shared") / "warehouse.duckdb"
    shutil.copy(rig.warehouse_path(CLIENT), copy)
    try:
        con = duckdb.connect(str(rig.warehouse_path(CLIENT)))
        con.execute("update core.fct_cycles set unit_id = 'PUMP-1' where unit_id = 'PUMP-2'")
        con.execute(  # as dbt would rebuild it: the merged unit fails at its last cycle
            "update core.dim_run_units set failed_at = (select max(started_at) from core.fct_cycles "
            "where unit_id = 'PUMP-1') where unit_id = 'PUMP-1'"
        )
        con.close()
        with pytest.raises(NotEnoughData, match=r"repeat a cycle number \(PUMP-1\).*unique in mapping.yml"):
            build_training_set(rig, config, "remaining_useful_life")
    finally:
        shutil.copy(copy, rig.warehouse_path(CLIENT))


def test_the_model_learns_the_planted_wear_and_beats_the_mean_life(rig: Settings) -> None:
    config = get_client(rig, CLIENT)
    gate = GateResult(client_id=CLIENT, passed=True, checked_at=datetime.now(UTC).isoformat())
    [result] = train_client_models(rig, config, gate)
    assert (result.family, result.metric_name, result.unit) == ("remaining_life", "rmse", "cycles")
    assert result.holdout_units is not None and result.holdout_units >= 5
    assert result.model_metric < 0.6 * result.baseline_metric
    assert result.holdout_phm_score < result.baseline_phm_score
    assert result.holdout_rmse_at_random_cycle < 0.6 * result.baseline_rmse_at_random_cycle
    top = [f["feature"] for f in result.top_features[:3]]
    assert any(name.startswith(("bearing_temperature", "vibration")) for name in top), top
    assert not any(name.startswith("ambient") for name in top[:2]), top
    assert result.is_champion, result.champion_decision
    assert "units" in result.champion_decision
    # The running units are scored in operation, without an outcome yet.
    waiting = [s for s in result.scores if s["outcome"] is None]
    assert sorted(s["key"].split(",")[0] for s in waiting) == [f"unit_id={u}" for u in RUNNING]
    # Pump k on test stops 30 x k cycles before the end of its life: the planted wear tells how far it is.
    for score in waiting:
        k = int(score["key"].split(",")[0].removeprefix("unit_id=ON-TEST-"))
        assert abs(score["score"] - min(synthetic.RIG_RUNNING_CUT * k, RUL_CAP)) < 20, (k, score["score"])
    assert result.operation_weekly and all("failed" in w["sentence"] for w in result.operation_weekly)


@pytest.mark.app
def test_the_whole_engagement_publishes_it_and_the_client_reads_it(
    rig: Settings, prefect_harness: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real flow (ingest, dbt, the GX gate, training, publish) on the rig, then the client's page."""
    from streamlit.testing.v1 import AppTest

    from flows.engagement import engagement_flow
    from forgeline.auth import demo_password, ensure_demo_logins
    from forgeline.settings import REPO_ROOT

    outcome = engagement_flow(CLIENT, home=str(rig.home))
    assert outcome.status == "published", outcome
    ensure_demo_logins(rig, [get_client(rig, CLIENT)])
    monkeypatch.setenv("FORGELINE_HOME", str(rig.home))
    at = AppTest.from_file(str(REPO_ROOT / "apps" / "forgeline_app.py"), default_timeout=60).run()
    at.text_input(key="username").input(CLIENT)
    at.text_input(key="password").input(demo_password(CLIENT))
    at = at.button[0].click().run()
    at.switch_page("app_pages/client/models.py").run()
    assert not at.exception and not at.error, [e.value for e in [*at.exception, *at.error]]
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["RMSE (holdout)"].endswith(" cycles")
    text = "\n".join(m.value for m in at.markdown)
    assert "units that failed last" in text and "PHM score" in text and "one random cycle" in text
    assert "predicted remaining life missed by" in text  # the champion in operation, week by week
    assert any(e.label.startswith("Latest scores") for e in at.expander)
    text = "\n".join(m.value for m in at.markdown)
    assert "Units still running" in text
    [units] = [f.value for f in at.dataframe if "unit" in f.value.columns]
    assert sorted(u.split(",")[0] for u in units["unit"]) == [f"unit {u}" for u in RUNNING]
    latest = next(f.value for f in at.dataframe if "what" in f.value.columns)
    left = latest[f"cycles left, capped at {RUL_CAP} (blank: still running)"]
    assert (left == "").sum() == RUNNING_UNITS and not left.isna().any()  # blank, never "None"
    assert latest["what"].str.contains(r"unit PUMP-\d+, cycle \d+, machine RIG-1").any()

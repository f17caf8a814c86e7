"""The champion policy: the paired bootstrap and the rule (fast), the registry's record and the CLI's
`forgeline models` commands on a real MLflow SQLite store (models tier)."""

from __future__ import annotations

import json
import shutil
import time
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score
from typer.testing import CliRunner

from forgeline import i18n
from forgeline.changes import last_completed_run, record_completed_run
from forgeline.cli import app
from forgeline.publish import RunInfo, current_snapshot, publish_client
from forgeline.reports import words
from forgeline.settings import Settings, get_settings
from forgeline.standard_models import champion as ch
from forgeline.standard_models.store import ensure_mlflow_store, experiment_name, tracking_client

runner = CliRunner()
CLIENT = "acme-press"
MODEL = "defect_prediction"
REGISTERED = f"{CLIENT}__{MODEL}"


def holdout(n: int = 2_000, rate: float = 0.1, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Labels, a score that separates them well, and a weak one."""
    rng = np.random.default_rng(seed)
    label = (rng.random(n) < rate).astype(int)
    strong = rng.normal(0, 1, n) + 2.0 * label
    weak = rng.normal(0, 1, n) + 0.4 * label
    return label, strong, weak


# -- the bootstrap and the rule ------------------------------------------------------------------------
def test_the_batched_average_precision_is_sklearns_for_every_resample() -> None:
    rng = np.random.default_rng(3)
    label = (rng.random(500) < 0.1).astype(float)
    score = np.round(rng.random(500) + 0.3 * label, 2)  # ties on purpose
    codes = rng.integers(0, 12, 500)
    for groups in (None, codes):
        ranked = ch._RankedScore(label, score, groups)
        units = 500 if groups is None else 12
        draws = rng.integers(0, units, (6, units))
        weights = ch._drawn(draws, units)
        weights = weights if groups is None else weights[:, groups]
        expected = [average_precision_score(label, score, sample_weight=w) for w in weights]
        np.testing.assert_allclose(ranked.average_precision(draws), expected, rtol=0, atol=1e-12)


def _version_4_against_3() -> tuple[np.ndarray, np.ndarray, ch.Decision]:
    """A clearly better version 4 against champion version 3, on 2,000 holdout cycles."""
    label, strong, weak = holdout()
    decision = ch.decide(
        label,
        strong,
        weak * 0.5,
        champion=weak,
        champion_version=3,
        version=4,
        rows_name=ch.N_("holdout cycles"),
        positives_name=ch.N_("defects"),
    )
    return label, strong, decision


def test_a_clearly_better_score_is_promoted_with_the_figures_in_one_sentence() -> None:
    label, strong, decision = _version_4_against_3()
    assert decision.promote
    figures = decision.figures
    assert figures["vs_champion_low"] > 0 and figures["vs_baseline_low"] > 0
    assert figures["positives"] == label.sum() and figures["rows"] == 2_000
    assert figures["challenger"] == pytest.approx(average_precision_score(label, strong))
    assert decision.reason.startswith("version 4 becomes champion: PR-AUC ")
    assert "the current champion (version 3" in decision.reason and "90 % CI" in decision.reason
    assert f"on 2,000 holdout cycles with {int(label.sum())} defects" in decision.reason


def test_the_decision_is_stored_as_a_message_and_read_in_the_readers_language() -> None:
    """The sentence is kept as its message and values: the English reason is worded from it, a Korean reader
    reads it in Korean (figures in the same digits), and a snapshot without the wording shows its English."""
    label, strong, decision = _version_4_against_3()
    assert decision.wording is not None
    with i18n.use_language("en"):
        assert i18n.word(decision.wording) == decision.reason
    with i18n.use_language("ko"):
        korean = i18n.word(decision.wording)
    assert korean.startswith("버전 4이(가) 챔피언이 됩니다: PR-AUC ")
    assert "현재 챔피언(버전 3)" in korean and "90% 신뢰구간" in korean and "검증 사이클 2,000개" in korean
    assert f"{decision.figures['challenger']:.3f}" in korean
    stored = pd.DataFrame(
        {
            "champion_decision": [decision.reason],
            "baseline_name": ["hours since the last repair"],
            "wording": [json.dumps({"champion_decision": decision.wording})],
        }
    )
    with i18n.use_language("ko"):
        shown = words.worded_models(stored).iloc[0]
        assert shown["champion_decision"] == korean
        assert shown["baseline_name"] == "hours since the last repair"  # no stored message: as published
        # A snapshot published before the wording (no column, or an empty one) shows its English.
        old = words.worded_models(stored.drop(columns=["wording"])).iloc[0]
        assert old["champion_decision"] == decision.reason
        emptied = words.worded_models(stored.assign(wording=[""])).iloc[0]
        assert emptied["champion_decision"] == decision.reason


def test_a_challenger_equal_to_the_champion_plus_noise_is_not_promoted() -> None:
    label, strong, weak = holdout()
    noisy = strong + np.random.default_rng(9).normal(0, 0.05, len(strong))
    decision = ch.decide(label, noisy, weak, champion=strong, champion_version=3, version=4)
    assert not decision.promote
    assert decision.figures["vs_champion_low"] <= 0 <= decision.figures["vs_champion_high"]
    assert "not clearly better" in decision.reason and "stays champion" in decision.reason


def test_a_challenger_that_does_not_clearly_beat_the_baseline_is_not_promoted() -> None:
    label, strong, _ = holdout()
    decision = ch.decide(label, strong, strong + 0.01)  # the baseline ranks the rows the same way
    assert not decision.promote and "for the baseline" in decision.reason


def test_too_few_positives_are_refused_with_the_count() -> None:
    label, strong, weak = holdout(n=400, rate=0.02)
    positives = int(label.sum())
    assert positives < ch.MIN_HOLDOUT_POSITIVES
    decision = ch.decide(label, strong, weak, version=2, positives_name="defects")
    assert not decision.promote
    assert f"only {positives} defects" in decision.reason
    assert f"at least {ch.MIN_HOLDOUT_POSITIVES}" in decision.reason


def test_no_champion_and_a_champion_that_cannot_score_are_said() -> None:
    label, strong, weak = holdout()
    assert "there was no champion before it" in ch.decide(label, strong, weak).reason
    noted = ch.decide(
        label, strong, weak, champion_version=2, champion_note="its features are no longer built"
    )
    assert noted.promote and "its features are no longer built" in noted.reason


def test_the_bootstrap_is_deterministic_and_seeded() -> None:
    label, strong, weak = holdout()
    first = ch.compare(label, strong, weak, seed=1)
    assert ch.compare(label, strong, weak, seed=1) == first
    assert ch.compare(label, strong, weak, seed=2) != first
    assert first.low < first.difference < first.high


def test_groups_are_resampled_as_whole_blocks() -> None:
    """Each group holds 20 copies of one row: resampling rows pretends there are 20 times more independent
    cases than there are (an interval about sqrt(20) times too narrow); resampling whole groups does not."""
    label, strong, weak = holdout(n=150, rate=0.25, seed=5)
    copies = np.repeat(np.arange(150), 20)
    rows = ch.compare(label[copies], strong[copies], weak[copies])
    blocks = ch.compare(label[copies], strong[copies], weak[copies], groups=copies)
    alone = ch.compare(label, strong, weak)
    assert blocks.difference == rows.difference == pytest.approx(alone.difference)
    assert (blocks.high - blocks.low) > 3 * (rows.high - rows.low)
    assert (blocks.high - blocks.low) == pytest.approx(alone.high - alone.low, rel=0.35)
    days = np.repeat(np.arange(40), 50)
    # A resample of whole days weighs every row of a day alike.
    draws = np.random.default_rng(0).integers(0, 40, (3, 40))
    weights = ch._drawn(draws, 40)[:, days]
    assert all(len(set(w[days == d])) == 1 for w in weights for d in range(40))


def test_other_sklearn_metrics_and_long_holdouts_are_bounded() -> None:
    label, strong, weak = holdout(n=600)
    auc = ch.compare(label, strong, weak, metric=roc_auc_score, n_boot=50)
    assert auc.difference == pytest.approx(roc_auc_score(label, strong) - roc_auc_score(label, weak))
    label, strong, weak = holdout(n=100_000, rate=0.05)
    started = time.perf_counter()
    long = ch.compare(label, strong, weak, groups=np.arange(100_000) // 1_000)
    elapsed = time.perf_counter() - started
    assert long.rows <= ch.MAX_BOOTSTRAP_ROWS and long.low < long.difference < long.high
    assert elapsed < 5  # well under a second on a quiet core; generous for a shared CI machine
    with pytest.raises(ValueError, match="not finite"):
        ch.compare(label, np.full(len(label), np.nan), weak)


# -- the registry's record -----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def store_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One store built once (MLflow's migrations take seconds); each test copies it into its workspace."""
    settings = get_settings(tmp_path_factory.mktemp("store"))
    ensure_mlflow_store(settings)
    return settings.mlflow_dir


@pytest.fixture
def registry(workspace: Settings, store_template: Path):  # noqa: ANN201 - an MlflowClient
    shutil.copytree(store_template, workspace.mlflow_dir)
    ensure_mlflow_store(workspace)  # the copy's locations rebased into this workspace
    return tracking_client(workspace)


def add_version(client, positives: int = 87, pr_auc: float = 0.61, finished: bool = True) -> str:  # noqa: ANN001
    experiment = client.get_experiment_by_name(experiment_name(CLIENT))
    experiment_id = (
        experiment.experiment_id if experiment else client.create_experiment(experiment_name(CLIENT))
    )
    run = client.create_run(experiment_id, tags={"model_name": MODEL})
    for key, value in {
        "holdout_pr_auc": pr_auc,
        "baseline_pr_auc": 0.22,
        "positives_test": positives,
    }.items():
        client.log_metric(run.info.run_id, key, value)
    client.set_terminated(run.info.run_id, "FINISHED" if finished else "FAILED")
    if REGISTERED not in {m.name for m in client.search_registered_models()}:
        client.create_registered_model(REGISTERED)
    version = client.create_model_version(
        REGISTERED, f"{run.info.artifact_uri}/model", run_id=run.info.run_id
    )
    return str(version.version)


@pytest.mark.models
def test_set_champion_history_and_rollback_round_trip(registry) -> None:  # noqa: ANN001
    v1, v2, v3 = (add_version(registry) for _ in range(3))
    assert (
        ch.current_champion(registry, REGISTERED) is None
        and ch.previous_champion(registry, REGISTERED) is None
    )
    assert ch.set_champion(registry, REGISTERED, v1, "first", "forgeline run")
    assert ch.set_champion(registry, REGISTERED, v2, "better", "forgeline run")
    assert ch.set_champion(registry, REGISTERED, v3, "better again", "kim")
    assert ch.current_champion(registry, REGISTERED) == v3
    history = ch.champion_history(registry, REGISTERED)
    assert [(e["version"], e["previous"], e["by"]) for e in history] == [
        (v1, None, "forgeline run"),
        (v2, v1, "forgeline run"),
        (v3, v2, "kim"),
    ]
    assert datetime.fromisoformat(history[0]["at"]).tzinfo is not None
    tags = registry.get_model_version(REGISTERED, v3).tags
    assert tags[ch.CHAMPION_REASON_TAG].endswith("by kim: better again")
    # A rollback undoes one step; a second one goes one champion further back.
    assert ch.previous_champion(registry, REGISTERED) == v2
    ch.set_champion(registry, REGISTERED, v2, "v3 misfires", "kim", action="rollback")
    assert ch.previous_champion(registry, REGISTERED) == v1
    ch.set_champion(registry, REGISTERED, v1, "v2 too", "kim", action="rollback")
    assert ch.current_champion(registry, REGISTERED) == v1
    assert ch.previous_champion(registry, REGISTERED) is None
    # The history goes with the registered model: deleting it removes the record.
    registry.delete_registered_model(REGISTERED)
    assert (
        ch.champion_history(registry, REGISTERED) == [] and ch.current_champion(registry, REGISTERED) is None
    )


@pytest.mark.models
def test_set_champion_is_idempotent_bounded_and_refuses_unfinished_versions(registry) -> None:  # noqa: ANN001
    v1 = add_version(registry)
    assert ch.set_champion(registry, REGISTERED, v1, "first", "kim")
    assert not ch.set_champion(registry, REGISTERED, v1, "again", "kim")
    assert len(ch.champion_history(registry, REGISTERED)) == 1
    # A stop after the event was written, before the alias moved: calling again only moves the alias.
    v2 = add_version(registry)
    event = {"at": "2026-11-24T00:00:00+00:00", "version": v2, "previous": v1, "reason": "r", "by": "kim"}
    registry.set_registered_model_tag(
        REGISTERED, ch.HISTORY_TAG, json.dumps([*ch.champion_history(registry, REGISTERED), event])
    )
    assert ch.set_champion(registry, REGISTERED, v2, "r", "kim")
    assert (
        ch.current_champion(registry, REGISTERED) == v2
        and len(ch.champion_history(registry, REGISTERED)) == 2
    )
    # Bounded: many long reasons keep the tag under the SQL column's 5,000 characters, newest kept.
    for i in range(40):
        ch.set_champion(registry, REGISTERED, v1 if i % 2 else v2, f"{i} " + "x" * 1_000, "kim")
    text = registry.get_registered_model(REGISTERED).tags[ch.HISTORY_TAG]
    kept = json.loads(text)
    assert len(text) <= ch.HISTORY_MAX_CHARS and 1 < len(kept) <= ch.HISTORY_EVENTS
    assert kept[-1]["reason"].startswith("39 ")
    failed = add_version(registry, finished=False)
    with pytest.raises(ValueError, match="did not finish"):
        ch.set_champion(registry, REGISTERED, failed, "no", "kim")
    with pytest.raises(ValueError, match="has no version 99"):
        ch.set_champion(registry, REGISTERED, "99", "no", "kim")


@pytest.mark.models
def test_a_recorded_decision_is_what_the_policy_objects(registry) -> None:  # noqa: ANN001
    label, strong, weak = holdout(n=400, rate=0.02)
    few = add_version(registry)
    ch.record_decision(registry, REGISTERED, few, ch.decide(label, strong, weak, version=few))
    assert "at least 20" in ch.policy_objections(registry, REGISTERED, few)[0]
    assert json.loads(registry.get_model_version(REGISTERED, few).tags[ch.FIGURES_TAG])["champion"] is None
    label, strong, weak = holdout()
    good = add_version(registry)
    ch.record_decision(registry, REGISTERED, good, ch.decide(label, strong, weak, version=good))
    assert ch.policy_objections(registry, REGISTERED, good) == []
    # Trained before decisions were recorded: judged on its run's metrics.
    older = add_version(registry, positives=8, pr_auc=0.1)
    objections = ch.policy_objections(registry, REGISTERED, older)
    assert "only 8 positive cases" in objections[0] and "does not beat its baseline" in objections[1]


# -- the CLI -------------------------------------------------------------------------------------------
def published_with(settings: Settings, champion_version: str, other_version: str) -> str:
    """A published snapshot of the client showing one model row, and the last-run record naming it."""
    settings.warehouse_dir.mkdir(parents=True, exist_ok=True)
    duckdb.connect(str(settings.warehouse_path(CLIENT))).close()
    from forgeline.clients import get_client

    row = {
        "model_name": MODEL,
        "registered_model": REGISTERED,
        "task": "binary",
        "metric_name": "pr_auc",
        "model_metric": 0.6,
        "baseline_name": "recent rate",
        "baseline_metric": 0.2,
        "beats_baseline": True,
        "model_version": other_version,
        "is_champion": other_version == champion_version,
        "mlflow_run_id": "r",
        "n_train": 10,
        "n_test": 5,
        "n_test_positives": 30,
        "trained_at": datetime.now(UTC),
    }
    run = RunInfo(
        run_id="20261124T000000000000Z", started_at=datetime.now(UTC), status="published", gate_passed=True
    )
    snapshot = publish_client(settings, get_client(settings, CLIENT), run, pd.DataFrame(), [row]).name
    record_completed_run(settings, CLIENT, "fp", {"snapshot": snapshot, "models": [row]}, "landing")
    return snapshot


def champion_flags(settings: Settings) -> list[tuple[str, bool]]:
    con = duckdb.connect(str(current_snapshot(settings, CLIENT)), read_only=True)
    try:
        return con.execute("SELECT model_version, is_champion FROM meta.model_results").fetchall()
    finally:
        con.close()


@pytest.mark.models
def test_promote_rollback_and_list_through_the_cli(workspace: Settings, registry) -> None:  # noqa: ANN001
    assert runner.invoke(app, ["add-client", CLIENT]).exit_code == 0
    v1, v2 = add_version(registry), add_version(registry)
    ch.set_champion(registry, REGISTERED, v1, "first", "forgeline run")
    ch.set_champion(registry, REGISTERED, v2, "better", "forgeline run")
    first_snapshot = published_with(workspace, champion_version=v2, other_version=v2)

    rolled = runner.invoke(
        app, ["models", "rollback", CLIENT, MODEL, "--reason", "v2 misfires", "--by", "kim"]
    )
    assert rolled.exit_code == 0, rolled.output
    assert f"version {v1} is champion (was {v2})" in rolled.output and "Published" in rolled.output
    assert ch.current_champion(registry, REGISTERED) == v1
    assert champion_flags(workspace) == [(v2, False)]  # the app shows it at once
    con = duckdb.connect(str(current_snapshot(workspace, CLIENT)), read_only=True)
    try:
        [(shown,)] = con.execute("SELECT champion_decision FROM meta.model_results").fetchall()
    finally:
        con.close()
    assert shown == f"version {v1} made champion by hand (rollback by kim): v2 misfires"  # not the policy's
    record = last_completed_run(workspace, CLIENT)
    assert record is not None and record.outcome["snapshot"] != first_snapshot  # a quiet run stays skipped
    assert record.outcome["models"][0]["is_champion"] is False

    again = runner.invoke(app, ["models", "rollback", CLIENT, MODEL, "--reason", "more"])
    assert again.exit_code == 1 and "no earlier champion in its history" in again.output

    promoted = runner.invoke(
        app, ["models", "promote", CLIENT, MODEL, v2, "--reason", "fixed", "--by", "lee"]
    )
    assert promoted.exit_code == 0, promoted.output
    assert champion_flags(workspace) == [(v2, True)]
    same = runner.invoke(app, ["models", "promote", CLIENT, MODEL, v2, "--reason", "again"])
    assert same.exit_code == 0 and "champion already" in same.output

    listed = runner.invoke(app, ["models", "list", CLIENT], env={"COLUMNS": "250"})
    assert listed.exit_code == 0, listed.output
    assert "★ champion" in listed.output and "0.610 vs 0.220" in listed.output
    assert "champion history" in listed.output and "v2 misfires" in listed.output and "lee" in listed.output


@pytest.mark.models
def test_the_cli_refuses_what_it_cannot_do_and_asks_before_overriding_the_policy(
    workspace: Settings,
    registry,  # noqa: ANN001
) -> None:
    assert runner.invoke(app, ["add-client", CLIENT]).exit_code == 0
    good = add_version(registry)
    few = add_version(registry, positives=8)
    failed = add_version(registry, finished=False)

    unknown = runner.invoke(app, ["models", "promote", CLIENT, "nope_model", good, "--reason", "x"])
    assert unknown.exit_code == 1 and "has no registered model 'nope_model'" in unknown.output
    missing = runner.invoke(app, ["models", "promote", CLIENT, MODEL, "42", "--reason", "x"])
    assert missing.exit_code == 1 and f"{REGISTERED} has no version 42" in missing.output
    unfinished = runner.invoke(app, ["models", "promote", CLIENT, MODEL, failed, "--reason", "x"])
    assert unfinished.exit_code == 1 and "did not finish (FAILED)" in unfinished.output
    no_reason = runner.invoke(app, ["models", "promote", CLIENT, MODEL, good, "--reason", " "])
    assert no_reason.exit_code == 2
    none_yet = runner.invoke(app, ["models", "rollback", CLIENT, MODEL, "--reason", "x"])
    assert none_yet.exit_code == 1 and "has no champion to roll back from" in none_yet.output

    # Against the policy (8 positives): a warning, then a prompt; no answer or "n" refuses.
    refused = runner.invoke(
        app, ["models", "promote", CLIENT, MODEL, few, "--reason", "client asks"], input="n\n"
    )
    assert refused.exit_code == 1 and "only 8 positive cases" in refused.output and "--yes" in refused.output
    assert ch.current_champion(registry, REGISTERED) is None
    confirmed = runner.invoke(
        app, ["models", "promote", CLIENT, MODEL, few, "--reason", "client asks"], input="y\n"
    )
    assert confirmed.exit_code == 0, confirmed.output
    assert "needed no change" in confirmed.output  # nothing published yet: nothing to re-publish
    assert runner.invoke(app, ["models", "promote", CLIENT, MODEL, good, "--reason", "ok"]).exit_code == 0
    assert ch.current_champion(registry, REGISTERED) == good

    from forgeline.locking import client_lock

    with client_lock(workspace, CLIENT):  # a run writes the client: one line, exit 75
        busy = runner.invoke(app, ["models", "promote", CLIENT, MODEL, few, "--reason", "x", "--yes"])
    assert busy.exit_code == 75 and "Busy" in busy.output
    assert ch.current_champion(registry, REGISTERED) == good

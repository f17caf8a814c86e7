"""Fast tier: pooled benchmarks (forgeline/program/benchmarks.py) on real DuckDB snapshots of made-up
clients: consent, k-anonymity, differencing between releases, the ledger, a client's position, and purge."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import duckdb
import pandas as pd
import pytest

from forgeline import i18n
from forgeline.program import benchmarks, consent
from forgeline.publish import CURRENT_POINTER
from forgeline.reports import words
from forgeline.settings import Settings

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def publish_fake(
    settings: Settings, client_id: str, defect_rate: float, process: str = "die casting"
) -> None:
    """A client with a mapping and a published snapshot holding one day of inspections at ``defect_rate``."""
    folder = settings.client_dir(client_id)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "mapping.yml").write_text(
        f"id: {client_id}\nname: {client_id.upper()} Co.\nprocess: {process}\n", encoding="utf-8"
    )
    published = settings.published_dir(client_id)
    published.mkdir(parents=True, exist_ok=True)
    snapshot = published / "run-1.duckdb"
    snapshot.unlink(missing_ok=True)
    con = duckdb.connect(str(snapshot))
    con.execute("create schema marts")
    con.execute(
        "create table marts.defect_rate_daily as select 'M1' as machine_id, "
        "date '2026-10-01' as production_date, 100000 as inspected_count, "
        "cast(round(? * 100000) as bigint) as defect_count, ? as defect_rate",
        [defect_rate, defect_rate],
    )
    con.close()
    (published / CURRENT_POINTER).write_text(snapshot.name, encoding="utf-8")


def join(settings: Settings, rates: dict[str, float]) -> None:
    for client_id, rate in rates.items():
        publish_fake(settings, client_id, rate)
        consent.record(settings, client_id, given=True, by="plant manager (signed form)")


def released(settings: Settings) -> pd.DataFrame:
    """The cells released now, with their figures (what a consultant sees)."""
    store = benchmarks.read_store(settings.benchmarks_path)
    cells = store["cells"][store["cells"]["status"] == "released"]
    return cells.merge(store["releases"], on=["release_id", "cell", "metric"]).sort_values(["cell", "metric"])


def figures(settings: Settings) -> list[tuple]:
    frame = released(settings)
    return list(frame[["cell", "metric", "n", "p25", "p50", "p75"]].itertuples(index=False, name=None))


RATES = {"ace-cast": 0.011, "best-cast": 0.024, "core-cast": 0.037, "dawn-cast": 0.052, "echo-cast": 0.093}


def test_fewer_than_k_consenting_factories_release_nothing(workspace: Settings) -> None:
    join(workspace, dict(list(RATES.items())[:4]))
    publish_fake(workspace, "quiet-cast", 0.5)  # delivers, never consents
    summary = benchmarks.build(workspace, now=T0)
    assert (summary.consenting, summary.released) == (4, 0)
    store = benchmarks.read_store(workspace.benchmarks_path)
    assert set(store["cells"]["status"]) == {"suppressed"}
    assert store["cells"]["reason"].str.contains("fewer than 5").all()
    assert store["releases"].empty
    # Each waiting client is told why its figure is not pooled yet; the non-consenting one is nowhere.
    assert set(store["pending"]["client_id"]) == set(list(RATES)[:4])
    assert b"quiet-cast" not in workspace.benchmarks_path.read_bytes()


def test_five_factories_release_quartiles_that_are_no_factorys_value(workspace: Settings) -> None:
    join(workspace, RATES)
    benchmarks.build(workspace, now=T0)
    shown = released(workspace)
    assert shown["cell"].tolist() == ["all factories"]  # the other cells hold the same five: not again
    assert (shown["metric"] == "defect_rate").all() and (shown["n"] == 5).all()
    store = benchmarks.read_store(workspace.benchmarks_path)
    twins = store["cells"][store["cells"]["cell"] != "all factories"]
    assert twins["reason"].str.fullmatch("the same factories as the 'all factories' benchmark").all()
    for row in shown.itertuples():
        assert row.p25 < row.p50 < row.p75
        assert not {row.p25, row.p50, row.p75} & set(RATES.values())  # never one factory's figure
        assert round(row.p50, 3) == row.p50  # rounded to 0.1 percentage point
    # The ledger names the five contributors of each release, and nothing else of them.
    store = benchmarks.read_store(workspace.benchmarks_path)
    assert set(store["contributions"]["contributor"]) == set(RATES)
    assert not set(RATES.values()) & set(store["releases"][["p25", "p50", "p75"]].to_numpy().ravel())


def test_one_factory_joining_changes_no_published_figure(workspace: Settings) -> None:
    """The differencing attack: benchmarks before and after one client joins must not reveal it."""
    join(workspace, RATES)
    benchmarks.build(workspace, now=T0)
    before = figures(workspace)

    join(workspace, {"fox-cast": 0.9})  # an extreme value would move every quartile
    benchmarks.build(workspace, now=T0 + timedelta(days=1))
    assert figures(workspace) == before
    store = benchmarks.read_store(workspace.benchmarks_path)
    assert "fox-cast" not in set(store["contributions"]["contributor"])
    waiting = store["pending"][store["pending"]["client_id"] == "fox-cast"]
    assert set(waiting["cell"]) == {"all factories", "process: die casting", "size: 1–9 machines"}
    assert waiting["reason"].str.contains("once 5 factories have joined or left|by fewer than 5").all()
    # The reason is stored as its message too: a Korean reader reads it in Korean.
    with i18n.use_language("ko"):
        korean = [words.stored_part(row, "reason") for row in waiting.itertuples(index=False)]
    assert all(("공장 5곳" in k or "5곳 미만" in k) and "factories" not in k for k in korean), korean

    # Five changes since the release: the cell is released again, with every contributor.
    join(workspace, {"gold-cast": 0.03, "hill-cast": 0.04, "iron-cast": 0.02, "jade-cast": 0.05})
    benchmarks.build(workspace, now=T0 + timedelta(days=2))
    after = released(workspace)
    assert (after["n"] == 10).all()
    assert figures(workspace) != before


def test_one_factory_leaving_suppresses_its_cells_until_five_have_changed(workspace: Settings) -> None:
    join(workspace, {**RATES, "fox-cast": 0.06})
    benchmarks.build(workspace, now=T0)
    assert (released(workspace)["n"] == 6).all()

    consent.record(workspace, "fox-cast", given=False, by="plant manager")
    benchmarks.build(workspace, now=T0 + timedelta(days=1))
    store = benchmarks.read_store(workspace.benchmarks_path)
    assert released(workspace).empty  # 5 remain, but a release of them would tell fox-cast apart
    assert store["cells"]["reason"].str.contains("a contributor left|by fewer than 5 factories").all()

    join(workspace, {"gold-cast": 0.03, "hill-cast": 0.04, "iron-cast": 0.02})
    benchmarks.build(workspace, now=T0 + timedelta(days=2))
    assert released(workspace).empty  # 3 joined + 1 left: 4 changes since the last release
    join(workspace, {"jade-cast": 0.05})
    benchmarks.build(workspace, now=T0 + timedelta(days=3))
    assert (released(workspace)["n"] == 9).all()  # 5 changes: no pair of releases isolates one factory


def test_consent_is_recorded_with_who_and_when_and_can_be_withdrawn(workspace: Settings) -> None:
    assert not consent.has_consented(workspace, "ace-cast")
    given = consent.record(workspace, "ace-cast", given=True, by="김민수 공장장 (signed form)")
    assert consent.record(workspace, "ace-cast", given=True, by="someone else") == given  # not repeated
    consent.record(workspace, "ace-cast", given=False, by="ace-cast (app login)")
    kept = consent.decisions(workspace, "ace-cast")
    assert [(d.given, d.by) for d in kept] == [
        (True, "김민수 공장장 (signed form)"),
        (False, "ace-cast (app login)"),
    ]
    assert all(d.scope == "benchmarks" and d.at.tzinfo is not None for d in kept)
    assert not consent.has_consented(workspace, "ace-cast")
    assert "김민수" in workspace.consent_path("ace-cast").read_text(encoding="utf-8")  # readable, UTF-8


@pytest.mark.parametrize(
    ("value", "better", "expected"),
    [(0.9, "higher", 1), (0.6, "higher", 2), (0.45, "higher", 3), (0.1, "higher", 4), (0.1, "lower", 1)],
)
def test_a_clients_band_reads_the_metrics_good_direction(value: float, better: str, expected: int) -> None:
    assert benchmarks.band(value, 0.4, 0.5, 0.7, better) == expected


def test_forgetting_a_purged_client_leaves_no_trace_and_no_difference_to_read(workspace: Settings) -> None:
    join(workspace, {**RATES, "fox-cast": 0.06})
    benchmarks.build(workspace, now=T0)
    for folder in (workspace.client_dir("fox-cast"), workspace.published_dir("fox-cast")):
        for path in sorted(folder.rglob("*"), reverse=True):
            path.unlink() if path.is_file() else path.rmdir()
        folder.rmdir()
    workspace.consent_path("fox-cast").unlink()

    benchmarks.forget(workspace, "fox-cast")
    assert b"fox-cast" not in workspace.benchmarks_path.read_bytes()
    store = benchmarks.read_store(workspace.benchmarks_path)
    assert store["releases"][["p25", "p50", "p75"]].isna().all().all()  # the figures it went into are gone
    assert released(workspace).empty  # the 5 left are not released: that would isolate the purged one


def test_two_benchmarks_that_differ_by_one_factory_are_not_both_released(workspace: Settings) -> None:
    """Differencing across cells: every factory (6) against die casting (5) would tell the stamper apart."""
    join(workspace, RATES)
    publish_fake(workspace, "press-one", 0.2, process="metal stamping")
    consent.record(workspace, "press-one", given=True, by="plant manager")
    benchmarks.build(workspace, now=T0)
    assert released(workspace)["cell"].tolist() == ["all factories"]
    store = benchmarks.read_store(workspace.benchmarks_path)
    casting = store["cells"][store["cells"]["cell"] == "process: die casting"].iloc[0]
    assert casting["status"] == "suppressed" and "by fewer than 5 factories" in casting["reason"]
    # The consultant reads which benchmark; a waiting client never reads another cell's name.
    assert "'all factories'" in casting["reason"]
    assert not store["pending"]["reason"].str.contains("'").any()
    assert not store["pending"]["wording"].str.contains("all factories").any()
    with i18n.use_language("ko"):
        told = [words.stored_part(row, "reason") for row in store["pending"].itertuples(index=False)]
    assert "다른 벤치마크" in " ".join(told) and "'" not in " ".join(told)


def test_a_release_never_differs_by_one_factory_from_any_earlier_one(workspace: Settings) -> None:
    """Over time in one benchmark: A, then A and five more, then A and one outlier must not be released,
    since A alone was (the pair would isolate the outlier)."""
    join(workspace, RATES)
    benchmarks.build(workspace, now=T0)
    more = {
        f"{name}-cast": 0.03 + i / 100 for i, name in enumerate(["kilo", "lima", "mike", "nova", "oscar"])
    }
    join(workspace, more)
    benchmarks.build(workspace, now=T0 + timedelta(days=1))
    assert (released(workspace)["n"] == 10).all()
    for client_id in more:
        consent.record(workspace, client_id, given=False, by="plant manager")
    join(workspace, {"fox-cast": 0.9})
    benchmarks.build(workspace, now=T0 + timedelta(days=2))
    store = benchmarks.read_store(workspace.benchmarks_path)
    assert released(workspace).empty
    assert store["cells"]["reason"].str.contains("an earlier release of this benchmark|by fewer than 5").all()


def test_two_benchmarks_of_different_cells_and_times_never_isolate_one_factory(workspace: Settings) -> None:
    """Across cells and time: every factory released on five casters; later die casting would hold the same
    five plus one outlier caster, and must stay suppressed for as long as that earlier release stands."""
    join(workspace, RATES)
    benchmarks.build(workspace, now=T0)
    for i, name in enumerate(["p1", "p2", "p3", "p4", "p5"]):
        publish_fake(workspace, f"{name}-press", 0.05 + i / 100, process="metal stamping")
        consent.record(workspace, f"{name}-press", given=True, by="plant manager")
    join(workspace, {"fox-cast": 0.9})
    for day in (1, 2):
        benchmarks.build(workspace, now=T0 + timedelta(days=day))
        store = benchmarks.read_store(workspace.benchmarks_path)
        casting = store["cells"][store["cells"]["cell"] == "process: die casting"].iloc[0]
        assert casting["status"] == "suppressed", casting["reason"]


def test_one_factorys_new_figure_does_not_show_as_a_change_of_the_benchmark(workspace: Settings) -> None:
    """The same five contributors: a release is refreshed only every REFRESH_DAYS, so a change of one
    factory's figure between two builds is never the only difference between two releases."""
    join(workspace, RATES)
    benchmarks.build(workspace, now=T0)
    before = figures(workspace)
    publish_fake(workspace, "echo-cast", 0.30)
    benchmarks.build(workspace, now=T0 + timedelta(days=1))
    assert figures(workspace) == before
    benchmarks.build(workspace, now=T0 + timedelta(days=benchmarks.REFRESH_DAYS))
    assert figures(workspace) != before and (released(workspace)["n"] == 5).all()


def test_an_unreadable_contributor_keeps_its_benchmark_standing(workspace: Settings) -> None:
    join(workspace, RATES)
    benchmarks.build(workspace, now=T0)
    before = figures(workspace)
    (workspace.published_dir("echo-cast") / "run-1.duckdb").write_bytes(b"not a database")
    benchmarks.build(workspace, now=T0 + timedelta(days=40))
    assert figures(workspace) == before  # not a leaver: nothing to suppress, nothing new to release


def test_only_contributors_get_a_position_computed_from_what_they_pooled(workspace: Settings) -> None:
    join(workspace, RATES)
    benchmarks.build(workspace, now=T0)
    join(workspace, {"fox-cast": 0.001})  # waits: it gets no band to probe the quartiles with
    benchmarks.build(workspace, now=T0 + timedelta(days=1))
    positions = benchmarks.read_store(workspace.benchmarks_path)["positions"]
    assert set(positions["client_id"]) == set(RATES)
    bands = dict(zip(positions["client_id"], positions["band"], strict=True))
    assert bands["ace-cast"] == 1 and bands["echo-cast"] == 4  # lowest defect rate best, highest worst


def test_a_consent_decision_after_the_last_build_makes_the_store_stale(workspace: Settings) -> None:
    assert not benchmarks.stale(workspace)  # nobody decided: nothing to build
    join(workspace, RATES)
    assert benchmarks.stale(workspace)  # decisions, no store yet
    benchmarks.build(workspace, now=T0)
    assert not benchmarks.stale(workspace)
    consent.record(workspace, "ace-cast", given=False, by="plant manager")
    assert benchmarks.stale(workspace)  # a withdrawal takes effect at the next run, even an unchanged one

"""Fast tier: the consultant workbench (forgeline/program/findings.py) on a real DuckDB store and real DuckDB
snapshots of a made-up client: the lifecycle and its rules, evidence checked against the snapshot, the
history, the API a report calls, access through apps/data.py, and a purge's forgetting."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import date

import duckdb
import pytest

from forgeline.auth import AccessDenied, User
from forgeline.program import findings
from forgeline.program.findings import Conflict, EvidenceError, FindingError
from forgeline.publish import CURRENT_POINTER
from forgeline.settings import Settings

ACME, OTHER = "acme-press", "busy-cast"
KPI = {"kind": "kpi_chart", "kpi": "oee", "start": "2026-10-01", "end": "2026-10-05"}
MODEL = {"kind": "model_result", "model_name": "defect_prediction", "model_version": "3"}
WINDOW = {"kind": "operating_window", "model_name": "defect_prediction", "parameter": "mold_temp"}
GAP = {"kind": "level_gap", "rule_id": "collected_automatically"}


def publish_fake(settings: Settings, client_id: str, run: str = "run-1", model_version: str = "3") -> None:
    """A published snapshot holding what evidence reads: OEE of two machines on four of five days (the 3rd
    missing), a defect model's result and one window, and the level evidence (one rule met, one missed)."""
    published = settings.published_dir(client_id)
    published.mkdir(parents=True, exist_ok=True)
    snapshot = published / f"{run}.duckdb"
    con = duckdb.connect(str(snapshot))
    con.execute("create schema marts; create schema meta")
    con.execute(
        "create table meta.run as select ? as run_id, ? as data_run_id, ? as client_id", [run, run, client_id]
    )
    con.execute(
        """create table marts.oee_daily as
        select ? as client_id, m as machine_id, m as machine_name, d::date as production_date,
               28800.0 as planned_time_s,
               28800.0 * a as run_time_s, 1000 as total_count, 990 as good_count,
               a as availability, 0.9 as performance, 0.99 as quality, a * 0.9 * 0.99 as oee
        from (values ('M1', 0.8), ('M2', 0.6)) machines(m, a),
             (values ('2026-10-01'), ('2026-10-02'), ('2026-10-04'), ('2026-10-05')) days(d)""",
        [client_id],
    )
    con.execute(
        "create table meta.model_results as select 'defect_prediction' as model_name, ? as model_version, "
        "'pr_auc' as metric_name, 0.61 as model_metric, 'recent defect rate' as baseline_name, "
        "0.20 as baseline_metric, true as is_champion, 'champion: beats the baseline' as champion_decision, "
        "'' as unit",
        [model_version],
    )
    con.execute(
        "create table meta.operating_windows as select 'defect_prediction' as model_name, 1 as rank, "
        "'mold_temp' as parameter, '°C' as unit, 180.0 as low, 190.0 as high, 0.01 as inside_rate, "
        "0.05 as outside_rate, true as holds_later, 'keep mold_temp from 180 to under 190 °C' as sentence"
    )
    con.execute(
        """create table meta.level_evidence as select * from (values
        (1, 'basic', 'counts_recorded', 'counts recorded for 20 days', 'recorded_days', 'days', 'days', 30.0,
         20.0, true, 'record counts'),
        (2, 'monitoring', 'collected_automatically', 'collected automatically for 20 days', 'automatic_days',
         'days collected', 'days', 4.0, 20.0, false, 'connect the PLC'))
        t(level, level_name, rule_id, says, measure, meaning, kind, value, at_least, passed, step)"""
    )
    con.execute("create table meta.level as select 1 as level, '2026.11-1' as rules_version")
    con.close()
    (published / CURRENT_POINTER).write_text(snapshot.name, encoding="utf-8")


@pytest.fixture
def program(workspace: Settings) -> Settings:
    publish_fake(workspace, ACME)
    publish_fake(workspace, OTHER)
    return workspace


def draft(settings: Settings, client_id: str = ACME, by: str = "kim") -> findings.Finding:
    return findings.write(
        settings,
        client_id,
        kind="finding",
        title="M2 runs 60 % of its planned time",
        body="Its stops follow mould changes.",
        evidence=[KPI, MODEL, WINDOW, GAP],
        by=by,
    )


def test_a_finding_goes_from_draft_through_review_to_the_client_and_keeps_its_history(
    program: Settings,
) -> None:
    first = draft(program)
    assert (first.status, first.version, first.author) == ("draft", 1, "kim")
    assert first.written_at.utcoffset().total_seconds() == 0  # UTC
    assert findings.findings_for(program, ACME) == []  # nothing delivered yet
    with pytest.raises(FindingError, match="another consultant reviews it"):
        findings.review(program, ACME, first.finding_id, version=1, by="kim")
    with pytest.raises(FindingError, match="only a reviewed version is delivered"):
        findings.deliver(program, ACME, first.finding_id, version=1, by="lee")
    asked = findings.review(
        program, ACME, first.finding_id, version=1, by="lee", approve=False, note="cite MTTR"
    )
    assert asked.status == "draft"
    reviewed = findings.review(program, ACME, first.finding_id, version=1, by="lee")
    assert (reviewed.status, reviewed.reviewed_by) == ("reviewed", "lee")
    delivered = findings.deliver(program, ACME, first.finding_id, version=1, by="lee")
    assert (delivered.status, delivered.delivered_by) == ("delivered", "lee")

    # An edit of a delivered finding is a new draft; the client keeps version 1 until version 2 is delivered.
    second = findings.revise(
        program,
        ACME,
        first.finding_id,
        based_on=1,
        kind="recommendation",
        title="Plan M2's mould changes",
        body=first.body,
        evidence=[KPI],
        by="lee",
    )
    assert (second.status, second.version, second.author, second.created_by) == ("draft", 2, "lee", "kim")
    (shown,) = findings.findings_for(program, ACME)
    assert (shown.version, shown.title, shown.latest_version) == (1, first.title, 2)
    assert [f.version for f in findings.findings_for(program, ACME, statuses=("draft",))] == [2]
    with pytest.raises(FindingError, match="lee wrote version 2"):
        findings.review(program, ACME, first.finding_id, version=2, by="lee")  # the last author
    findings.review(program, ACME, first.finding_id, version=2, by="kim")
    findings.deliver(program, ACME, first.finding_id, version=2, by="kim")
    assert [f.version for f in findings.findings_for(program, ACME)] == [2]

    history = findings.history(program, ACME, first.finding_id)
    assert [(h.version, h.action, h.by) for h in history] == [
        (1, "written", "kim"),
        (1, "changes_requested", "lee"),
        (1, "reviewed", "lee"),
        (1, "delivered", "lee"),
        (2, "written", "lee"),
        (2, "reviewed", "kim"),
        (2, "delivered", "kim"),
    ]
    assert history[1].note == "cite MTTR"
    assert history[4].changed == ("kind", "title", "evidence")
    assert all(h.at.utcoffset().total_seconds() == 0 for h in history)
    assert findings.finding(program, ACME, first.finding_id, version=1).title == first.title


def test_the_lifecycle_refuses_stale_edits_reviews_without_evidence_and_edits_after_withdrawal(
    program: Settings,
) -> None:
    first = draft(program)
    findings.revise(
        program,
        ACME,
        first.finding_id,
        based_on=1,
        kind="finding",
        title="t",
        body="b",
        evidence=[],
        by="lee",
    )
    with pytest.raises(Conflict, match="is at version 2"):  # another consultant's edit came first
        findings.revise(
            program,
            ACME,
            first.finding_id,
            based_on=1,
            kind="finding",
            title="x",
            body="y",
            evidence=[],
            by="kim",
        )
    with pytest.raises(FindingError, match="at least one piece of evidence"):
        findings.review(program, ACME, first.finding_id, version=2, by="kim")
    with pytest.raises(FindingError, match="needs a note"):
        findings.review(program, ACME, first.finding_id, version=2, by="kim", approve=False)
    with pytest.raises(FindingError, match="title"):
        findings.write(program, ACME, kind="finding", title=" ", body="b", evidence=[], by="kim")
    with pytest.raises(FindingError, match="kind"):
        findings.write(program, ACME, kind="memo", title="t", body="b", evidence=[], by="kim")

    delivered = draft(program)
    findings.review(program, ACME, delivered.finding_id, version=1, by="lee")
    findings.deliver(program, ACME, delivered.finding_id, version=1, by="lee")
    with pytest.raises(FindingError, match="why"):
        findings.withdraw(program, ACME, delivered.finding_id, by="lee", reason="")
    gone = findings.withdraw(program, ACME, delivered.finding_id, by="lee", reason="the counts were wrong")
    assert (gone.status, gone.withdrawn_by) == ("withdrawn", "lee")
    assert findings.findings_for(program, ACME) == []  # a withdrawn finding leaves the client
    with pytest.raises(FindingError, match="withdrawn by lee"):
        findings.revise(
            program,
            ACME,
            delivered.finding_id,
            based_on=1,
            kind="finding",
            title="t",
            body="b",
            evidence=[],
            by="kim",
        )
    assert findings.history(program, ACME, delivered.finding_id)[-1].note == "the counts were wrong"


@pytest.mark.parametrize(
    ("evidence", "message"),
    [
        ({**KPI, "start": "2025-01-01", "end": "2025-01-31"}, "runs from 2026-10-01 to 2026-10-05"),
        ({**KPI, "start": "2026-10-05", "end": "2026-10-01"}, "starts .* after it ends"),
        ({**KPI, "kpi": "uptime"}, "unknown KPI 'uptime'"),
        ({**KPI, "machine": "M9"}, "names no machine 'M9'; it holds M1, M2"),
        ({**KPI, "kpi": "energy_kwh"}, "holds no energy readings"),
        ({**KPI, "kpi": "defect_rate"}, "holds no inspection results"),
        ({**MODEL, "model_version": "2"}, "hold defect_prediction version 3, not version 2"),
        (
            {**MODEL, "model_name": "demand_forecast"},
            "no model 'demand_forecast'; they hold defect_prediction",
        ),
        ({**WINDOW, "parameter": "speed"}, "no window for 'speed'; it has windows for mold_temp"),
        ({**GAP, "rule_id": "counts_recorded"}, "meets rule counts_recorded .* it is no gap"),
        ({**GAP, "rule_id": "made_up"}, "holds no rule 'made_up'"),
        ({"kind": "level_gap"}, "not complete: level_gap.rule_id: Field required"),
    ],
)
def test_evidence_the_snapshot_does_not_hold_is_refused_with_what_it_holds(
    program: Settings, evidence: dict, message: str
) -> None:
    with pytest.raises(EvidenceError, match=message):
        findings.write(program, ACME, kind="finding", title="t", body="b", evidence=[evidence], by="kim")
    assert not program.workbench_path.exists()  # nothing written


def test_evidence_is_rendered_from_the_snapshot_and_checked_again_at_delivery(program: Settings) -> None:
    first = draft(program)
    chart, model, window, gap = first.evidence
    assert (
        chart.description == "OEE, 1 October 2026 to 5 October 2026, day by day"
        and chart.checked_run == "run-1"
    )
    view = findings.evidence_view(program, ACME, chart)
    assert view.unit == "share" and len(view.days) == 5  # every day of the period...
    assert view.days["value"].isna().tolist() == [False, False, True, False, False]  # ...the gap a gap
    assert view.days["value"].iloc[0] == pytest.approx((0.8 * 0.9 * 0.99 + 0.6 * 0.9 * 0.99) / 2)
    assert findings.evidence_view(program, ACME, model).figures["baseline"] == "0.200 (recent defect rate)"
    assert findings.evidence_view(program, ACME, window).figures["window"] == "180 to under 190 °C"
    assert findings.evidence_view(program, ACME, gap).figures["needs"] == "20"
    findings.review(program, ACME, first.finding_id, version=1, by="lee")

    publish_fake(program, ACME, run="run-2", model_version="4")  # a later run trained version 4
    with pytest.raises(EvidenceError, match="version 4, not version 3"):
        findings.deliver(program, ACME, first.finding_id, version=1, by="lee")
    stale = findings.evidence_view(program, ACME, model)  # what it rested on, and that it moved on
    assert (
        not stale.current and "As published in run run-1" in stale.note and stale.figures["model"] == "0.610"
    )


def _reshape(settings: Settings, client_id: str, sql: str, args: list | None = None) -> None:
    """Change the client's current fake snapshot in place (a test's own data)."""
    path = settings.published_dir(client_id) / "run-1.duckdb"
    con = duckdb.connect(str(path))
    try:
        con.execute(sql, args or [])
    finally:
        con.close()


def test_kpi_evidence_is_the_reports_own_rollup_of_the_clients_rows_only(program: Settings) -> None:
    from forgeline.reports.content import read_content
    from forgeline.reports.period import Period

    # Machines whose counts and quality differ, and another client's rows in the same file (never counted).
    _reshape(
        program,
        ACME,
        "update marts.oee_daily set total_count = 500, good_count = 450, quality = 0.9, "
        "oee = availability * 0.9 * 0.9 where machine_id = 'M2'",
    )
    _reshape(
        program,
        ACME,
        "insert into marts.oee_daily "
        "select 'stranger' as client_id, * exclude (client_id) from marts.oee_daily",
    )
    days = findings.evidence_view(program, ACME, findings.check_evidence(program, ACME, KPI)).days
    snapshot = program.published_dir(ACME) / "run-1.duckdb"
    report = read_content(snapshot, ACME, Period(date(2026, 10, 1), date(2026, 10, 5)), [])
    assert days["value"].tolist() == pytest.approx(report.daily["oee"].tolist(), nan_ok=True)
    assert days["value"].iloc[0] == pytest.approx(0.7 * 0.9 * 1440 / 1500)  # A x P x Q, as benchmarks
    assert days["value"].iloc[0] != pytest.approx((0.8 * 0.9 * 0.99 + 0.6 * 0.9 * 0.9) / 2)  # not a mean
    good = findings.check_evidence(program, ACME, {**KPI, "kpi": "good_units"})
    assert good.figures["over the period"] == "5,760 units"  # (990 + 450) x 4 days, the stranger's not
    assert good.figures["highest day"] == "1,440 units"


def test_oee_and_quality_are_not_evidence_for_a_client_that_never_records_a_reject(program: Settings) -> None:
    _reshape(program, ACME, "update marts.oee_daily set good_count = total_count")
    offered = findings.evidence_choices(program, ACME).kpis
    assert "oee" not in offered and "quality" not in offered and "availability" in offered
    with pytest.raises(EvidenceError, match="never record a reject"):
        findings.check_evidence(program, ACME, KPI)


def test_a_finding_delivered_early_on_the_1st_in_seoul_counts_in_that_month(program: Settings) -> None:
    from datetime import UTC, datetime

    _reshape(program, ACME, "alter table meta.run add column timezone varchar default 'Asia/Seoul'")
    found = findings.write(
        program,
        ACME,
        kind="finding",
        title="t",
        body="b",
        evidence=[MODEL],
        by="kim",
        now=datetime(2026, 10, 31, 20, 0, tzinfo=UTC),  # 2026-11-01 05:00 in Seoul
    )
    november = (date(2026, 11, 1), date(2026, 11, 30))
    october = (date(2026, 10, 1), date(2026, 10, 31))
    assert [
        f.finding_id for f in findings.findings_for(program, ACME, statuses=("draft",), period=november)
    ] == [found.finding_id]
    assert findings.findings_for(program, ACME, statuses=("draft",), period=october) == []


@dataclass(frozen=True)
class Month:
    """A period as a report passes it (forgeline/reports' Period): start and end dates, both in."""

    start: date
    end: date


def test_findings_for_a_period_and_the_store_takes_concurrent_writers(program: Settings) -> None:
    threads = [threading.Thread(target=draft, args=(program, ACME, f"c{i}")) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    written = findings.findings_for(program, ACME, statuses=("draft",))
    assert sorted(f.author for f in written) == ["c0", "c1", "c2", "c3"]  # none lost to another
    october = (date(2026, 10, 1), date(2026, 10, 31))
    assert len(findings.findings_for(program, ACME, statuses=("draft",), period=october)) == 4  # its KPI
    assert len(findings.findings_for(program, ACME, statuses=("draft",), period=Month(*october))) == 4
    later = (date(2020, 1, 1), date(2020, 1, 31))
    assert findings.findings_for(program, ACME, statuses=("draft",), period=later) == []
    with pytest.raises(ValueError, match="unknown status"):
        findings.findings_for(program, ACME, statuses=("sent",))


def test_a_client_login_reads_only_its_own_delivered_findings_and_writes_none(
    program: Settings,
) -> None:
    from apps import data

    consultant, reviewer = User("kim", "Kim", "consultant"), User("lee", "Lee", "consultant")
    manager, client = User("pm", "PM", "program_manager"), User("acme", "Acme", "client", ACME)
    mine = data.write_finding(consultant, ACME, kind="finding", title="Mine", body="b", evidence=[KPI])
    data.review_finding(reviewer, ACME, mine.finding_id, version=1, approve=True, note="internal note")
    data.deliver_finding(reviewer, ACME, mine.finding_id, version=1)
    data.write_finding(consultant, ACME, kind="finding", title="A draft", body="b", evidence=[KPI])
    theirs = data.write_finding(consultant, OTHER, kind="finding", title="Theirs", body="b", evidence=[KPI])

    assert [f.title for f in data.findings(client, ACME)] == ["Mine"]
    assert [f.title for f in data.findings(client, ACME, ("draft", "reviewed"))] == ["Mine"]  # asks in vain
    for read in (
        lambda: data.findings(client, OTHER),
        lambda: data.finding(client, OTHER, theirs.finding_id),
        lambda: data.finding_history(client, ACME, mine.finding_id),  # reviews and notes are internal
        lambda: data.evidence_view(client, OTHER, theirs.evidence[0]),
        lambda: data.evidence_choices(client, ACME),
        lambda: data.write_finding(client, ACME, kind="finding", title="t", body="b", evidence=[KPI]),
        lambda: data.withdraw_finding(manager, ACME, mine.finding_id, reason="no"),
        lambda: data.review_finding(manager, ACME, mine.finding_id, version=1, approve=True),
    ):
        with pytest.raises(AccessDenied):
            read()
    with pytest.raises(LookupError):  # another client's finding under one's own client: never found
        data.finding(consultant, ACME, theirs.finding_id)
    assert {f.title for f in data.findings(manager, ACME)} == {"Mine", "A draft"}  # a manager reads


def test_forget_leaves_no_byte_of_the_client_and_keeps_the_others(program: Settings) -> None:
    draft(program, ACME)
    kept = draft(program, OTHER)
    assert findings.count(program, ACME) == (1, 1)
    findings.forget(program, ACME)
    assert findings.count(program, ACME) == (0, 0)
    data = program.workbench_path.read_bytes()
    assert ACME.encode() not in data and b"M2 runs" in data  # the other's finding says the same
    assert findings.finding(program, OTHER, kept.finding_id).title == kept.title
    assert not list(program.workbench_path.parent.glob(".*partial*"))


def test_the_cli_lists_a_clients_findings_and_shows_one_with_its_history(program: Settings) -> None:
    from typer.testing import CliRunner

    from forgeline.cli import app

    first = draft(program)
    findings.review(program, ACME, first.finding_id, version=1, by="lee", approve=False, note="cite MTTR")
    runner = CliRunner()
    listed = runner.invoke(app, ["findings", ACME], terminal_width=200)
    assert listed.exit_code == 0 and first.finding_id in listed.output and "draft" in listed.output
    assert "No delivered findings" in runner.invoke(app, ["findings", ACME, "--delivered"]).output
    one = runner.invoke(app, ["findings", ACME, first.finding_id], terminal_width=200)
    assert (
        one.exit_code == 0
        and "OEE, 1 October 2026 to 5 October 2026" in one.output
        and "cite MTTR" in one.output
    )
    assert runner.invoke(app, ["findings", OTHER, first.finding_id]).exit_code == 1  # not the other's


def test_a_save_while_another_holds_the_store_says_to_try_again(
    program: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from filelock import FileLock

    before = findings.stamp(program)
    draft(program)
    assert findings.stamp(program) != before  # a report cache keyed on it sees the write
    monkeypatch.setattr(findings, "LOCK_WAIT_S", 0.1)
    program.workbench_lock_path.parent.mkdir(parents=True, exist_ok=True)
    held = FileLock(program.workbench_lock_path)
    done = threading.Event()
    release = threading.Event()

    def hold() -> None:
        with held:
            done.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    done.wait(10)
    try:
        with pytest.raises(findings.Busy, match="Another consultant is saving.*try again"):
            draft(program)
    finally:
        release.set()
        holder.join()

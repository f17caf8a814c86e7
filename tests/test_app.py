"""The Streamlit app under AppTest, on the published snapshots of a real program run.

Checks the login gate, that a consultant can open every page for every client, and that a client
login never sees another client's data: not on any page, not through session state or query params,
and not through the data module.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date

import duckdb
import pytest
from google.protobuf import text_format
from streamlit.testing.v1 import AppTest

from apps import ui
from forgeline.auth import AccessDenied, User, demo_password, issue_session
from forgeline.clients import ClientConfig, list_clients
from forgeline.publish import current_snapshot
from forgeline.reports.period import Period
from forgeline.settings import REPO_ROOT, Settings

pytestmark = pytest.mark.app

APP = REPO_ROOT / "apps" / "forgeline_app.py"
HOME = "app_pages/client/home.py"
CLIENT_PAGES = [
    HOME,
    "app_pages/client/kpis.py",
    "app_pages/client/level.py",
    "app_pages/client/benchmarks.py",
    "app_pages/client/data_quality.py",
    "app_pages/client/models.py",
    "app_pages/client/reports.py",
]
OVERVIEW = "app_pages/program/overview.py"
COHORT_PAGE = "app_pages/program/cohort.py"
PICKER = "_client_picker"


@pytest.fixture(scope="module")
def program(program_run: Settings) -> Settings:
    return program_run


@pytest.fixture(scope="module")
def clients(program: Settings) -> list[ClientConfig]:
    configs = list_clients(program)
    assert len(configs) >= 2, "the isolation checks need a program with several clients"
    return configs


@pytest.fixture
def open_app(program: Settings, monkeypatch: pytest.MonkeyPatch) -> Callable[[], AppTest]:
    monkeypatch.setenv("FORGELINE_HOME", str(program.home))
    return lambda: AppTest.from_file(str(APP), default_timeout=60).run()


def log_in(at: AppTest, username: str, password: str) -> AppTest:
    at.text_input(key="username").input(username)
    at.text_input(key="password").input(password)
    return at.button[0].click().run()


def page_text(at: AppTest) -> str:
    """Everything the page shows: element protos (UTF-8), table contents and chart data."""
    parts: list[str] = []

    def walk(node: object) -> None:
        proto = getattr(node, "proto", None)
        if proto is not None:
            parts.append(text_format.MessageToString(proto, as_utf8=True))
        for child in getattr(node, "children", {}).values():
            walk(child)

    walk(at.main)
    walk(at.sidebar)
    parts += [frame.value.to_csv() for frame in at.dataframe]
    parts += [json.dumps(json.loads(c.proto.spec), ensure_ascii=False) for c in at.get("plotly_chart")]
    return "\n".join(parts)


def column_labels(frame: object) -> dict[str, str]:
    """A shown table's column headers (its column config), by column."""
    config = json.loads(frame.proto.columns or "{}")  # type: ignore[attr-defined]  # an AppTest Dataframe
    return {column: shown.get("label", column) for column, shown in config.items()}


def assert_ok(at: AppTest, where: str) -> None:
    assert not at.exception, f"{where}: {[e.value for e in at.exception]}"
    assert not at.error, f"{where}: {[e.value for e in at.error]}"


def test_only_the_login_page_before_login(open_app: Callable[[], AppTest]) -> None:
    at = open_app()
    assert_ok(at, "login page")
    assert [t.value for t in at.title] == ["Forgeline"]
    assert at.text_input(key="username") and at.text_input(key="password")
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page(CLIENT_PAGES[0])


@pytest.mark.parametrize(
    ("username", "password"),
    [("consultant", "wrong-password"), ("nobody", "forgeline-demo"), ("consultant", "")],
)
def test_wrong_credentials_are_refused_without_saying_which(
    open_app: Callable[[], AppTest], username: str, password: str
) -> None:
    at = log_in(open_app(), username, password)
    assert [e.value for e in at.error] == ["Username or password is not correct."]
    assert "user" not in at.session_state
    assert [t.value for t in at.title] == ["Forgeline"]


def test_consultant_opens_every_page_for_every_client(
    open_app: Callable[[], AppTest], clients: list[ClientConfig]
) -> None:
    at = log_in(open_app(), "consultant", demo_password("consultant"))
    assert_ok(at, "overview")
    assert [t.value for t in at.title] == ["Program overview"]
    text = page_text(at)
    assert all(c.name in text for c in clients)

    for page in CLIENT_PAGES:
        at.switch_page(page).run()
        assert set(at.selectbox(key=PICKER).options) == {c.name for c in clients}
        for config in clients:
            at.selectbox(key=PICKER).select(config.id).run()
            assert_ok(at, f"{page} for {config.id}")
            assert config.name in page_text(at), f"{page} does not show {config.id}"
    # The chosen client stays chosen across pages.
    at.switch_page(CLIENT_PAGES[0]).run()
    assert at.selectbox(key=PICKER).value == clients[-1].id


def _weighted_oee(program: Settings, client_id: str, start: object, end: object) -> dict[str, float | None]:
    """OEE and its factors over a period straight from the snapshot, weighted by time and counts (Σ run ÷
    Σ planned, Σ performance × run ÷ Σ run, Σ good ÷ Σ made), quality only where rejects are recorded."""
    con = duckdb.connect(str(current_snapshot(program, client_id)), read_only=True)
    try:
        rows = con.execute(
            "SELECT * FROM marts.oee_daily WHERE planned_time_s > 0 AND production_date BETWEEN ? AND ?",
            [start, end],
        ).df()
        recorded = con.execute("SELECT count(*) FROM marts.oee_daily WHERE good_count < total_count")
        recorded = recorded.fetchone()
    finally:
        con.close()
    timed = rows[rows["availability"].notna()]
    run = rows[rows["performance"].notna()]
    availability = timed["run_time_s"].sum() / timed["planned_time_s"].sum() if len(timed) else None
    performance = (
        (run["performance"] * run["run_time_s"]).sum() / run["run_time_s"].sum() if len(run) else None
    )
    quality = rows["good_count"].sum() / rows["total_count"].sum() if recorded[0] and len(rows) else None
    parts = (availability, performance, quality)
    oee = None if None in parts else availability * performance * quality
    return {"OEE": oee, "Availability": availability, "Performance": performance, "Quality": quality}


def test_home_and_kpis_show_time_weighted_figures_or_not_measured(
    open_app: Callable[[], AppTest], program: Settings, clients: list[ClientConfig]
) -> None:
    from apps.kpi_view import delta_text
    from forgeline.reports.content import data_span, default_periods

    for client_id in ("sejin-diecast", "hanbit-press"):  # rejects recorded; counts without any reject
        current, before = default_periods(current_snapshot(program, client_id), client_id)
        expected = _weighted_oee(program, client_id, current.start, current.end)
        at = log_in(open_app(), client_id, demo_password(client_id))
        assert_ok(at, f"{client_id} home")
        assert [t.value for t in at.title] == ["Home"]  # a client login lands on its own Home
        assert f"{current.label()} against {before.label()}" in [s.value for s in at.subheader]
        metrics = {m.label: m.value for m in at.metric}
        for label, value in expected.items():
            assert metrics[label] == ("not measured" if value is None else f"{value:.1%}"), (client_id, label)
        at.switch_page("app_pages/client/kpis.py").run()
        assert_ok(at, f"{client_id} KPIs")
        assert {m.label: m.value for m in at.metric}["OEE"] == metrics["OEE"]  # the same default period
        assert [t.label for t in at.tabs] == ["Whole factory", "Per machine"]
        if client_id == "hanbit-press":
            assert any("a quality of 100 % would be a guess" in c.value for c in at.caption)
    assert expected["Quality"] is None and expected["Availability"] is not None  # hanbit-press measured

    # A chosen period is compared with the same number of days before it, with arrows.
    first, last = data_span(current_snapshot(program, "hanbit-press"), "hanbit-press")
    middle = first + (last - first) // 2
    at.date_input(key="kpi_period").set_value((middle, last)).run()
    assert_ok(at, "a chosen period")
    half = _weighted_oee(program, "hanbit-press", middle, last)
    assert {m.label: m.value for m in at.metric}["Availability"] == f"{half['Availability']:.1%}"
    assert any(m.delta for m in at.metric)
    assert delta_text(None, None) is None
    # Days without data are gaps in every daily line, never joined.
    spec = json.loads(next(c for c in at.get("plotly_chart") if c.key == "kpi_oee_daily").proto.spec)
    assert all(trace.get("connectgaps") is False for trace in spec["data"])


@pytest.mark.parametrize("page", CLIENT_PAGES)
def test_a_client_login_sees_only_its_own_client(
    open_app: Callable[[], AppTest], clients: list[ClientConfig], page: str
) -> None:
    for me in clients:
        others = [c for c in clients if c.id != me.id]
        at = log_in(open_app(), me.id, demo_password(me.id))
        # Tricks that must not widen what the login sees.
        at.session_state["client_id"] = others[0].id
        at.query_params["client"] = others[0].id
        at.switch_page(page).run()
        assert_ok(at, f"{me.id} on {page}")
        assert PICKER not in [s.key for s in at.selectbox], "a client login gets no client picker"
        text = page_text(at)
        assert me.name in text
        for other in others:
            assert other.id not in text, f"{me.id} sees {other.id} on {page}"
            assert other.name not in text, f"{me.id} sees {other.name} on {page}"


def test_data_module_refuses_other_clients(
    program: Settings, clients: list[ClientConfig], monkeypatch: pytest.MonkeyPatch
) -> None:
    from apps import data

    monkeypatch.setenv("FORGELINE_HOME", str(program.home))
    me, other = clients[0], clients[1]
    user = User(username=me.id, display_name=me.name, role="client", client_id=me.id)
    readers = [
        data.oee_daily,
        data.defect_rate_daily,
        data.defect_pareto,
        data.energy_daily,
        data.maintenance_kpis,
        data.gate_results,
        data.model_results,
        data.model_features,
        data.table_profile,
        data.load_batches,
        data.run_info,
        data.data_docs_link,
        data.client,
        data.level,
        data.level_evidence,
        data.level_history,
        data.data_span,
        data.default_periods,
        lambda u, c: data.period_figures(u, c, Period(date(2026, 1, 1), date(2026, 1, 31))),
    ]
    for reader in readers:
        with pytest.raises(AccessDenied):
            reader(user, other.id)
    assert [c.id for c in data.clients(user)] == [me.id]
    assert data.program_overview(user)["client_id"].tolist() == [me.id]
    for reader in (data.benchmark_position, data.value_ledger, data.consent_decisions):
        with pytest.raises(AccessDenied):
            reader(user, other.id)
    with pytest.raises(AccessDenied):
        data.record_consent(user, other.id, given=False)
    with pytest.raises(AccessDenied):
        data.benchmark_cells(user)  # a client sees its own band, never the benchmarks' figures
    mine = data.cohort(user)  # never offered to a client; had a page asked, it holds only the client
    assert set(mine.clients["client_id"]) == {me.id}
    assert set(mine.readiness["client_id"]) <= {me.id} and set(mine.history["client_id"]) <= {me.id}
    assert data.run_info(user, me.id)["client_id"] == me.id

    consultant = User(username="consultant", display_name="Consultant", role="consultant")
    assert set(data.program_overview(consultant)["client_id"]) == {c.id for c in clients}


def test_a_refused_read_shows_an_error_not_a_traceback(
    open_app: Callable[[], AppTest], clients: list[ClientConfig], monkeypatch: pytest.MonkeyPatch
) -> None:
    from apps import ui

    me, other = clients[0], clients[1]
    at = log_in(open_app(), me.id, demo_password(me.id))
    # Simulate a page bug that asks for another client: data.py must refuse, the app must say so.
    monkeypatch.setattr(ui, "choose_client", lambda user: other.model_copy(update={"name": "?"}))
    for page in CLIENT_PAGES:
        at.switch_page(page).run()
        assert not at.exception, page
        assert [e.value for e in at.error] == ["This login may not see that client's data."], page
        assert other.name not in page_text(at), page


def test_only_the_data_module_opens_snapshot_files() -> None:
    for path in (REPO_ROOT / "apps").rglob("*.py"):
        if path.name != "data.py":
            assert "duckdb" not in path.read_text(encoding="utf-8"), f"{path} reads data itself"


def test_model_results_show_the_model_against_its_baseline_with_its_card(
    open_app: Callable[[], AppTest], program: Settings
) -> None:
    at = log_in(open_app(), "hanbit-press", demo_password("hanbit-press"))
    at.switch_page("app_pages/client/models.py").run()
    assert_ok(at, "hanbit-press models")
    con = duckdb.connect(str(current_snapshot(program, "hanbit-press")), read_only=True)
    try:
        model, baseline = con.execute(
            "SELECT model_metric, baseline_metric FROM meta.model_results "
            "WHERE model_name = 'failure_prediction'"
        ).fetchone()
    finally:
        con.close()
    # The failure model's card (the press line's anomaly detector has its own, also in PR-AUC).
    assert f"{model:.3f}" in [m.value for m in at.metric if m.label == "PR-AUC (holdout)"]
    assert f"{baseline:.3f}" in [m.value for m in at.metric if m.label == "Baseline"]
    assert any(m.help == "Naive baseline: hours since the last repair." for m in at.metric)
    assert any(e.label.startswith("Model card") for e in at.expander)
    assert ":func:" not in page_text(at) and "``" not in page_text(at)  # the card reads as prose
    assert any("Naive baseline: hours since the machine's last repair" in m.value for m in at.markdown)


def test_the_energy_baseline_shows_its_fit_its_anomalies_and_the_holdout_day_by_day(
    open_app: Callable[[], AppTest], program: Settings
) -> None:
    con = duckdb.connect(str(current_snapshot(program, "gwangyang-steel")), read_only=True)
    try:
        rmse, cv_rmse, anomalies = con.execute(
            "SELECT model_metric, holdout_cv_rmse, anomalies FROM meta.model_results "
            "WHERE model_name = 'energy_baseline'"
        ).fetchone()
        days = con.execute("SELECT count(*) FROM meta.model_holdout_daily").fetchone()[0]
        weeks = con.execute("SELECT count(*) FROM meta.model_operation_weekly").fetchone()[0]
    finally:
        con.close()
    assert days > 0 and weeks > 0
    at = log_in(open_app(), "gwangyang-steel", demo_password("gwangyang-steel"))
    at.switch_page("app_pages/client/models.py").run()
    assert_ok(at, "gwangyang-steel models")
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["RMSE (holdout)"] == f"{rmse:,.2f} kWh"
    text = page_text(at)
    assert f"{cv_rmse:.1%}" in text and "(CV(RMSE))" in text
    assert ("typical misses" in text) if anomalies else ("No interval of the holdout" in text)
    assert "model_holdout_energy_baseline" in [c.key for c in at.get("plotly_chart")]
    # The champion in operation: its weeks against the outcomes, and its latest scores.
    assert "In operation" in text and "against the outcomes known so far" in text
    assert "model_operation_energy_baseline" in [c.key for c in at.get("plotly_chart")]
    assert any(e.label.startswith("Latest scores") for e in at.expander)


def test_an_anomaly_detector_shows_the_incidents_it_warned_of_or_says_nothing_checks_it(
    open_app: Callable[[], AppTest], program: Settings
) -> None:
    con = duckdb.connect(str(current_snapshot(program, "hanbit-press")), read_only=True)
    try:
        precision, incidents, warned = con.execute(
            "SELECT model_metric, holdout_incidents, holdout_incidents_warned FROM meta.model_results "
            "WHERE model_name = 'sensor_anomalies'"
        ).fetchone()
    finally:
        con.close()
    at = log_in(open_app(), "hanbit-press", demo_password("hanbit-press"))
    at.switch_page("app_pages/client/models.py").run()
    assert_ok(at, "hanbit-press models")
    assert f"{precision:.3f}" in [m.value for m in at.metric if m.label == "Precision at k (holdout)"]
    text = page_text(at)
    assert f"**{int(warned)} of the {int(incidents)}** incidents recorded in the holdout" in text
    assert "By chance means the same alarms shifted to random times" in text
    assert "What moved most in the alarms" in text
    assert any(e.label == f"The holdout's {int(incidents)} incidents, newest first" for e in at.expander)
    assert "model_holdout_sensor_anomalies" in [c.key for c in at.get("plotly_chart")]

    # The melting furnace delivers no failure log: its alarms are for review, and the page says so.
    at = log_in(open_app(), "daesung-melting", demo_password("daesung-melting"))
    at.switch_page("app_pages/client/models.py").run()
    assert_ok(at, "daesung-melting models")
    text = page_text(at)
    assert "nothing checks these alarms" in text and "Not champion." in text
    assert [m.value for m in at.metric if m.label == "Precision at k (holdout)"] == ["–"]
    assert "nan" not in [m.value for m in at.metric]
    assert any(e.label.endswith("strongest alarms, for review") for e in at.expander)
    # No empty model-vs-baseline chart where there is nothing to compare.
    assert "model_vs_baseline_sensor_anomalies" not in [c.key for c in at.get("plotly_chart")]


def test_model_results_show_the_champion_decision_the_alert_threshold_and_operating_windows(
    open_app: Callable[[], AppTest], program: Settings, clients: list[ClientConfig]
) -> None:
    with_windows = []
    for config in clients:
        con = duckdb.connect(str(current_snapshot(program, config.id)), read_only=True)
        try:
            sentences = [r[0] for r in con.execute("SELECT sentence FROM meta.operating_windows").fetchall()]
            query = "SELECT champion_decision, holdout_recall FROM meta.model_results"
            decided = con.execute(query).fetchall()
            decisions = [r[0] for r in decided]
            recall = decided[0][1] if decided else None
        finally:
            con.close()
        if sentences:
            with_windows.append((config.id, sentences, decisions, recall))
    assert with_windows, "the demo program's defect models published no operating window"
    client_id, sentences, decisions, recall = with_windows[0]
    at = log_in(open_app(), client_id, demo_password(client_id))
    at.switch_page("app_pages/client/models.py").run()
    assert_ok(at, f"{client_id} models")
    text = page_text(at)
    assert "Recommended operating windows" in text and sentences[0][1:] in text
    assert decisions[0][1:] in text
    # A threshold that catches nothing on the holdout is said so, not as "0.0 % of alerts right".
    caught = "Alerting when the predicted probability is at least"
    nothing = "would have been caught: the model ranks cycles"
    assert (caught in text) if recall else (nothing in text and caught not in text)
    assert any(key.startswith("model_windows_") for key in (c.key for c in at.get("plotly_chart")) if key)


def test_a_client_sees_its_level_with_the_evidence_and_the_next_step(
    open_app: Callable[[], AppTest], clients: list[ClientConfig]
) -> None:
    from forgeline.program.levels import SHIPPED_RULES, load_rules

    rules, _ = load_rules(SHIPPED_RULES)
    config = next(c for c in clients if c.id == "sejin-diecast")
    at = log_in(open_app(), config.id, demo_password(config.id))
    at.switch_page("app_pages/client/level.py").run()
    assert_ok(at, "level page")
    text = page_text(at)
    assert "Level shown by the data" in text
    # Every rule is listed with what the data shows, and the version of the rules applied.
    for level in rules.levels:
        for rule in level.rules:
            assert rule.says in text, rule.id
    assert rules.version in text
    assert "Recommended next" in text and "*Benefit:*" in text  # ranked from its own data
    others = [c for c in clients if c.id != config.id]
    assert not any(c.name in text or c.id in text for c in others)


def test_a_program_manager_lands_on_the_cohort_dashboard(
    open_app: Callable[[], AppTest], clients: list[ClientConfig]
) -> None:
    from forgeline.program.cohort import SHIPPED_TARGETS, load_targets

    targets, _ = load_targets(SHIPPED_TARGETS)
    at = log_in(open_app(), "manager", demo_password("manager"))
    assert_ok(at, "cohort dashboard")
    assert [t.value for t in at.title] == ["Cohort dashboard"]
    text = page_text(at)
    assert all(c.name in text for c in clients)
    for target in targets.targets:
        assert target.says in text
    assert len(at.get("plotly_chart")) == 3  # the distribution, the levels over runs, the readiness grid
    table = at.dataframe[0].value
    assert set(table["name"]) == {c.name for c in clients}
    assert table["level"].str.fullmatch(r"L[0-5]|–").all()

    # Filters narrow every figure to the chosen process.
    sejin = next(c for c in clients if c.id == "sejin-diecast")
    at.multiselect(key="cohort_process").select(sejin.process).run()
    assert_ok(at, "filtered cohort")
    assert set(at.dataframe[0].value["name"]) == {c.name for c in clients if c.process == sejin.process}

    # The manager reads a client's evidence too, but onboards nobody.
    at.switch_page("app_pages/client/level.py").run()
    assert_ok(at, "level page as the program manager")
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page("app_pages/engagement/onboarding.py")


def test_a_client_login_gets_no_program_page(
    open_app: Callable[[], AppTest], clients: list[ClientConfig]
) -> None:
    me = clients[0]
    at = log_in(open_app(), me.id, demo_password(me.id))
    for page in (COHORT_PAGE, OVERVIEW):
        with pytest.raises(ValueError, match="Could not find a navigation page"):
            at.switch_page(page)


def test_a_client_reads_data_quality_in_plain_words_and_a_consultant_gets_the_detail(
    open_app: Callable[[], AppTest], program: Settings
) -> None:
    page = "app_pages/client/data_quality.py"
    at = log_in(open_app(), "sejin-diecast", demo_password("sejin-diecast"))
    at.switch_page(page).run()
    assert_ok(at, "data quality as the client")
    text = page_text(at)
    assert "quality checks" in text and "casting_2019Q1.parquet" in text  # its own file, by name
    for internal in ("expect_", "raw.", "_load_batches", "fct_", "core.", "Data Docs", str(program.home)):
        assert internal not in text, internal
    at = log_in(open_app(), "consultant", demo_password("consultant"))
    at.switch_page(page).run()
    at.selectbox(key=PICKER).select("sejin-diecast").run()
    text = page_text(at)
    assert "expect_" in text and "Data Docs" in text
    assert str(program.home) not in text  # no server path, a consultant's neither (serve-tools links)


def test_a_client_sees_its_benchmark_band_and_decides_on_pooling_itself(
    open_app: Callable[[], AppTest], program: Settings, clients: list[ClientConfig]
) -> None:
    from forgeline.program import benchmarks, consent

    store = benchmarks.read_store(program.benchmarks_path)
    released = store["cells"][store["cells"]["status"] == "released"]
    assert len(released), "the demo's consenting clients give at least one benchmark"
    members = set(
        store["contributions"].loc[
            store["contributions"]["release_id"].isin(released["release_id"]), "contributor"
        ]
    )
    me = next(c for c in clients if c.id in members)
    at = log_in(open_app(), me.id, demo_password(me.id))
    at.switch_page("app_pages/client/benchmarks.py").run()
    assert_ok(at, "benchmarks page")
    text = page_text(at)
    assert "Pooled: consent given" in text
    [chart] = at.get("plotly_chart")  # where it stands: its band in each benchmark it went into
    assert "top 25 %" in chart.proto.spec and "all factories" in chart.proto.spec
    for other in clients:
        if other.id != me.id:
            assert other.id not in text and other.name not in text
    # Released quartiles are the consultant's: the client sees its band and its own figures only.
    from forgeline.publish import current_snapshot

    mine = benchmarks.snapshot_figures(current_snapshot(program, me.id), me.id, me.process)
    own = {benchmarks.shown(v, benchmarks.METRICS[m]) for m, v in mine.values.items()}
    for row in store["releases"][store["releases"]["release_id"].isin(released["release_id"])].itertuples():
        for quartile in (row.p25, row.p50, row.p75):
            figure = benchmarks.shown(quartile, benchmarks.METRICS[row.metric])
            assert figure in own or figure not in text, figure

    # Withdrawing takes its figures out at once; giving consent again brings the same benchmark back.
    before = released[["cell", "metric", "release_id"]].to_dict("records")
    at.checkbox[0].check().run()
    next(b for b in at.button if b.label == "Stop pooling my figures").click().run()
    assert_ok(at, "withdrawn")
    assert not consent.has_consented(program, me.id)
    assert consent.decisions(program, me.id)[-1].by.endswith(f"({me.id}, app login)")
    after = benchmarks.read_store(program.benchmarks_path)
    assert not set(after["cells"].loc[after["cells"]["status"] == "released", "release_id"]) & {
        r["release_id"] for r in before
    }
    assert not at.checkbox[0].value  # a fresh box after the decision: the next one needs a new tick
    at.checkbox[0].check().run()
    next(b for b in at.button if b.label == "Pool my figures").click().run()
    assert consent.has_consented(program, me.id)
    again = benchmarks.read_store(program.benchmarks_path)["cells"]
    assert again[again["status"] == "released"][["cell", "metric", "release_id"]].to_dict("records") == before


def test_a_consultant_sees_the_benchmarks_figures_but_cannot_decide_for_a_client(
    open_app: Callable[[], AppTest], clients: list[ClientConfig]
) -> None:
    at = log_in(open_app(), "consultant", demo_password("consultant"))
    at.switch_page(COHORT_PAGE).run()
    assert_ok(at, "cohort as consultant")
    assert "Pooled benchmarks" in page_text(at)
    at.switch_page("app_pages/client/benchmarks.py").run()
    assert_ok(at, "benchmarks page as consultant")
    assert not [b for b in at.button if "pooling" in b.label.lower() or "pool my" in b.label.lower()]
    assert "forgeline consent" in page_text(at)


def test_the_cohort_page_refuses_a_client_login_even_when_run_directly(
    program: Settings, clients: list[ClientConfig], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FORGELINE_HOME", str(program.home))
    me = clients[0]
    at = AppTest.from_file(str(REPO_ROOT / "apps" / COHORT_PAGE), default_timeout=60)
    user = User(username=me.id, display_name=me.name, role="client", client_id=me.id)
    at.session_state[ui.SESSION_KEY] = issue_session(program, user)  # a real session of the client
    at.run()
    assert [e.value for e in at.error] == [
        "The cohort dashboard is for the program's managers and consultants."
    ]
    assert not at.dataframe and not at.get("plotly_chart")


WORKBENCH = "app_pages/engagement/workbench.py"


def test_the_workbench_takes_a_finding_through_review_to_its_client_only(
    open_app: Callable[[], AppTest], program: Settings, clients: list[ClientConfig]
) -> None:
    from forgeline.auth import set_login
    from forgeline.program import findings

    set_login(program, "reviewer", "reviewer-password", "consultant", "Reviewer")
    me = next(c for c in clients if c.id == "daehan-molding")  # KPIs, a model, windows and level gaps
    title = "S12 runs a fraction of its planned time"

    # A consultant writes it with two pieces of evidence picked from the snapshot, previewed first.
    at = log_in(open_app(), "consultant", demo_password("consultant"))
    at.switch_page(WORKBENCH).run()
    at.selectbox(key=PICKER).select(me.id).run()
    new = f"wb_{me.id}_new_"
    assert at.get("plotly_chart"), "the KPI chart's preview"
    at.button(key=f"{new}attach").click().run()
    at.selectbox(key=f"{new}ev_kind").select("operating_window").run()
    at.button(key=f"{new}attach").click().run()
    at.text_input(key=f"{new}title").input(title)
    at.text_area(key=f"{new}body").input("Its stops follow mould changes; keep the window below.")
    at.button(key=f"{new}save").click().run()
    assert_ok(at, "workbench after saving")
    assert [s.value for s in at.success] == ["Saved as a draft (version 1)."]
    assert any("reviewer is never its author" in i.value for i in at.info)  # no approve for its author
    assert not [b for b in at.button if b.label == "Approve"]

    # Another consultant approves and delivers it; the history says who did what.
    at = log_in(open_app(), "reviewer", "reviewer-password")
    at.switch_page(WORKBENCH).run()
    at.selectbox(key=PICKER).select(me.id).run()
    (draft,) = findings.findings_for(program, me.id, statuses=("draft",))
    finding_id = draft.finding_id
    at.selectbox(key="wb_pick").select(finding_id).run()
    at.text_input(key=f"wb_note_{finding_id}").input("checked against the OEE mart")
    at.button(key=f"wb_approve_{finding_id}").click().run()
    at.button(key=f"wb_deliver_{finding_id}").click().run()
    assert_ok(at, "workbench after delivery")
    assert [s.value for s in at.success] == ["Version 1 delivered: the client sees it now."]
    history = at.dataframe[-1].value
    assert history[["what", "by"]].values.tolist() == [
        ["written", "consultant"],
        ["reviewed", "reviewer"],
        ["delivered", "reviewer"],
    ]

    # The client sees it on its level page with the chart, never the review note; no other client does.
    at = log_in(open_app(), me.id, demo_password(me.id))
    at.switch_page("app_pages/client/level.py").run()
    assert_ok(at, "level page with findings")
    text = page_text(at)
    assert "Findings from your consultants" in text and title in text and "operating window of" in text
    assert "checked against the OEE mart" not in text and "reviewer" not in text
    assert any((c.key or "").startswith("delivered_") for c in at.get("plotly_chart"))
    at.switch_page(HOME).run()  # and on its Home, new, with the way to its evidence
    assert_ok(at, "home with findings")
    assert f":blue-badge[new] **{title}**" in page_text(at)
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page(WORKBENCH)
    other = next(c for c in clients if c.id != me.id)
    at = log_in(open_app(), other.id, demo_password(other.id))
    at.switch_page("app_pages/client/level.py").run()
    assert title not in page_text(at)


def test_the_program_pages_and_the_workbench_speak_korean(
    open_app: Callable[[], AppTest], clients: list[ClientConfig], monkeypatch: pytest.MonkeyPatch
) -> None:
    """With Korean chosen, a consultant's program pages and Workbench read in Korean; names stay as given."""
    monkeypatch.setenv("FORGELINE_LANG", "ko")
    at = log_in(open_app(), "consultant", demo_password("consultant"))
    assert_ok(at, "overview in Korean")
    assert [t.value for t in at.title] == ["프로그램 개요"]
    assert [m.label for m in at.metric] == ["고객사", "게시됨", "게이트 통과", "챔피언 모델"]
    assert [s.value for s in at.subheader] == ["게시된 전체 기간의 OEE", "게이트 검증 항목"]
    labels = column_labels(at.dataframe[0])
    assert (labels["client_id"], labels["last_run"]) == ("고객사", "최근 실행")
    assert labels["oee"] == "OEE (설비종합효율)"
    text = page_text(at)
    assert all(c.name in text for c in clients)  # names are data: never translated
    assert "Program overview" not in text and "Average OEE" not in text

    at.switch_page(COHORT_PAGE).run()
    assert_ok(at, "cohort in Korean")
    assert [t.value for t in at.title] == ["참여 기업 현황판"]
    assert "목표" in page_text(at) and at.metric[0].label == "평가된 고객사"

    me = next(c for c in clients if c.id == "daehan-molding")
    at.switch_page(WORKBENCH).run()
    at.selectbox(key=PICKER).select(me.id).run()
    assert_ok(at, "workbench in Korean")
    new = f"wb_{me.id}_new_"
    assert [t.value for t in at.title] == ["작업대"]
    assert at.selectbox(key=f"{new}ev_kind").label == "첨부할 근거 종류"
    assert at.selectbox(key=f"{new}ev_kind").value == "kpi_chart"  # the codes stay the widget's values
    assert at.radio(key=f"{new}kind").label == "구분" and at.radio(key=f"{new}kind").options == [
        "진단",
        "권고",
    ]
    assert at.text_input(key=f"{new}title").label == "제목"
    assert at.button(key=f"{new}attach").label == "이 근거 첨부"
    assert at.button(key=f"{new}save").label == "초안 저장"
    at.button(key=f"{new}attach").click().run()
    at.text_input(key=f"{new}title").input("S12 가동 시간 부족")
    at.text_area(key=f"{new}body").input("금형 교체 뒤 정지가 길어집니다.")
    at.button(key=f"{new}save").click().run()
    assert_ok(at, "workbench after saving in Korean")
    assert [s.value for s in at.success] == ["초안으로 저장했습니다(버전 1)."]
    assert any("작성자는 자기 버전을 검토할 수 없습니다" in i.value for i in at.info)
    assert "이력" in [s.value for s in at.subheader]
    history = at.dataframe[-1]
    assert column_labels(history)["what"] == "내용" and column_labels(history)["by"] == "처리자"
    assert history.value["what"].tolist() == ["작성"]  # the store's action "written", in Korean


# -- logins and sessions ----------------------------------------------------------------------------
ACCOUNT_PAGE = "app_pages/account.py"


def test_a_revoked_session_writes_nothing_through_a_widget_callback(
    open_app: Callable[[], AppTest], program: Settings, clients: list[ClientConfig]
) -> None:
    """Streamlit runs a button's callback before the page's script, so before the session is checked
    again: the write itself checks it (apps/data.py require_live)."""
    from forgeline.auth import set_login
    from forgeline.program import findings

    set_login(program, "probe-revoked", "probe-password", "consultant", "Probe")
    me = clients[0]
    title = "Written after this login became a client's"
    at = log_in(open_app(), "probe-revoked", "probe-password")
    at.switch_page(WORKBENCH).run()
    at.selectbox(key=PICKER).select(me.id).run()
    new = f"wb_{me.id}_new_"
    at.button(key=f"{new}attach").click().run()
    at.text_input(key=f"{new}title").input(title)
    at.text_area(key=f"{new}body").input("Never saved.")
    # Meanwhile the operator makes it a client's login: its session ends.
    set_login(program, "probe-revoked", "probe-password", "client", "Probe", client_id=me.id)
    at.button(key=f"{new}save").click().run()
    assert title not in [f.title for f in findings.findings_for(program, me.id, statuses=findings.STATUSES)]
    assert [t.value for t in at.title] == ["Forgeline"] and at.text_input(key="username")


def test_repeated_failed_logins_are_refused_without_a_check(
    open_app: Callable[[], AppTest], program: Settings
) -> None:
    from forgeline.auth import MAX_FAILURES_PER_LOGIN, set_login

    set_login(program, "probe-throttle", "the-right-password", "client", "Probe", client_id="sejin-diecast")
    for _ in range(MAX_FAILURES_PER_LOGIN):
        at = log_in(open_app(), "probe-throttle", "a-wrong-password")
        assert [e.value for e in at.error] == ["Username or password is not correct."]
    at = log_in(open_app(), "probe-throttle", "the-right-password")
    assert [e.value for e in at.error] == ["Too many failed logins. Try again in 15 minutes."]
    assert "user" not in at.session_state and [t.value for t in at.title] == ["Forgeline"]


def test_the_password_page_counts_wrong_current_passwords_like_failed_logins(
    open_app: Callable[[], AppTest], program: Settings
) -> None:
    from forgeline.auth import MAX_FAILURES_PER_LOGIN, authenticate, set_login

    set_login(program, "probe-guess", "first-password", "client", "Probe", client_id="sejin-diecast")
    at = log_in(open_app(), "probe-guess", "first-password")
    at.switch_page(ACCOUNT_PAGE).run()
    for i in range(MAX_FAILURES_PER_LOGIN + 1):  # a stolen session guessing the current password
        at.text_input(key="pw_current").input(f"guess-{i}-password")
        at.text_input(key="pw_new").input("second-password")
        at.text_input(key="pw_again").input("second-password")
        next(b for b in at.button if b.label == "Change password").click().run()
    assert [e.value for e in at.error] == ["Too many failed logins. Try again in 15 minutes."]
    assert authenticate(program, "probe-guess", "first-password") is not None


def test_a_login_changes_its_password_and_a_consultant_resets_it(
    open_app: Callable[[], AppTest], program: Settings
) -> None:
    from forgeline.auth import authenticate, set_login

    set_login(program, "probe-password", "first-password", "client", "Probe", client_id="sejin-diecast")
    probe = log_in(open_app(), "probe-password", "first-password")
    probe.switch_page(ACCOUNT_PAGE).run()
    assert_ok(probe, "password page")
    assert not probe.selectbox  # a client resets nobody's password
    probe.text_input(key="pw_current").input("first-password")
    probe.text_input(key="pw_new").input("second-password")
    probe.text_input(key="pw_again").input("second-password")
    next(b for b in probe.button if b.label == "Change password").click().run()
    assert [s.value for s in probe.success] == ["Password changed. Your other sessions have ended."]
    assert authenticate(program, "probe-password", "second-password") is not None
    probe.switch_page(CLIENT_PAGES[0]).run()
    assert_ok(probe, "after the change")  # this tab's session goes on with the new password

    consultant = log_in(open_app(), "consultant", demo_password("consultant"))
    consultant.switch_page(ACCOUNT_PAGE).run()
    assert_ok(consultant, "password page as consultant")
    logins = consultant.selectbox(key="reset_login").options
    assert any(o.startswith("probe-password") for o in logins) and not any(
        o.startswith("consultant") for o in logins
    )
    consultant.selectbox(key="reset_login").select("probe-password")
    consultant.text_input(key="reset_new").input("third-password")
    next(b for b in consultant.button if b.label == "Reset password").click().run()
    assert [s.value for s in consultant.success] == [
        "The password of probe-password is reset; its sessions have ended."
    ]
    assert authenticate(program, "probe-password", "third-password") is not None
    # The reset ended the probe's session: its next page view asks for a login.
    probe.switch_page(CLIENT_PAGES[1]).run()
    assert [t.value for t in probe.title] == ["Forgeline"] and probe.text_input(key="username")


def test_an_uploaded_export_is_checked_against_the_mapping_and_only_then_delivered(
    program: Settings, clients: list[ClientConfig], monkeypatch: pytest.MonkeyPatch
) -> None:
    from apps import data

    monkeypatch.setenv("FORGELINE_HOME", str(program.home))
    me = User(username="hanbit-press", display_name="Hanbit", role="client", client_id="hanbit-press")
    landing = program.landing_dir("hanbit-press")
    export = (landing / "maintenance_log.csv").read_bytes()
    before = sorted(p.name for p in landing.iterdir())

    sent = data.upload_export(me, "hanbit-press", "maintenance_log.csv", export)  # the same export again
    assert sent.delivered and "next nightly run" in sent.summary
    assert sent.rows.get("maintenance events") == 11
    wrong = data.upload_export(me, "hanbit-press", "holidays.xlsx", b"x")
    assert not wrong.delivered and "not one of the exports agreed" in wrong.summary
    broken = data.upload_export(me, "hanbit-press", "maintenance_log_2.csv", b"a;b\n\x00\x01\n")
    assert not broken.delivered and broken.problems
    assert sorted(p.name for p in landing.iterdir()) == before  # nothing refused reached the landing folder
    for result in (sent, wrong, broken):
        for text in (result.summary, *result.problems):
            assert str(program.home) not in text and "/" not in text.replace("N/A", ""), text

    other = next(c for c in clients if c.id != "hanbit-press")
    with pytest.raises(AccessDenied):
        data.upload_export(me, other.id, "x.csv", b"")
    manager = User(username="manager", display_name="Manager", role="program_manager")
    with pytest.raises(AccessDenied):
        data.upload_export(manager, "hanbit-press", "maintenance_log.csv", export)

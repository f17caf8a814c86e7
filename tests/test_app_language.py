"""The app in Korean and English under AppTest, on the published snapshots of a real program run.

The switch is on the login page and on every page after it; a choice made before login becomes the
login's, kept in users.yml, so a reload (a new session with the same login) speaks it again; the whole run
speaks it, widget callbacks included (Streamlit runs them before the script, in a thread without the
language the script sets).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from streamlit.testing.v1 import AppTest

from apps import ui
from forgeline import i18n
from forgeline.auth import issue_session, logins, set_login
from forgeline.publish import current_snapshot
from forgeline.reports.content import default_periods
from forgeline.settings import REPO_ROOT, Settings

pytestmark = pytest.mark.app

APP = REPO_ROOT / "apps" / "forgeline_app.py"
CLIENT = "sejin-diecast"  # rejects recorded: every KPI of the OEE group is measured
SWITCH = "_language_switch"
PASSWORD = "probe-password"


@pytest.fixture
def open_app(program_run: Settings, monkeypatch: pytest.MonkeyPatch) -> Callable[[], AppTest]:
    monkeypatch.setenv("FORGELINE_HOME", str(program_run.home))
    monkeypatch.delenv("FORGELINE_LANG", raising=False)
    return lambda: AppTest.from_file(str(APP), default_timeout=60).run()


@pytest.fixture
def probe(program_run: Settings) -> str:
    """A client login of its own: its language choice never leaks into the demo logins other tests use."""
    set_login(program_run, "probe-language", PASSWORD, "client", "Probe", client_id=CLIENT)
    return "probe-language"


def assert_ok(at: AppTest, where: str) -> None:
    assert not at.exception, f"{where}: {[e.value for e in at.exception]}"
    assert not at.error, f"{where}: {[e.value for e in at.error]}"


def log_in(at: AppTest, username: str) -> AppTest:
    at.text_input(key="username").input(username)
    at.text_input(key="password").input(PASSWORD)
    return at.button[0].click().run()


def stored_language(program: Settings, username: str) -> str | None:
    return next(u.language for u in logins(program) if u.username == username)


def test_korean_picked_before_login_is_the_logins_language_on_every_page_and_after_a_reload(
    open_app: Callable[[], AppTest], program_run: Settings, probe: str
) -> None:
    at = open_app()
    assert at.radio(key=SWITCH).value == "en"  # the program's default (FORGELINE_LANG unset: English)
    at.radio(key=SWITCH).set_value("ko").run()
    assert_ok(at, "login page in Korean")
    assert [b.label for b in at.button] == ["로그인"] and at.text_input(key="username").label == "아이디"

    at = log_in(at, probe)
    assert_ok(at, "Home in Korean")
    assert stored_language(program_run, probe) == "ko"  # the choice made before login is the login's
    assert [t.value for t in at.title] == ["홈"]
    with i18n.use_language("ko"):
        now, before = default_periods(current_snapshot(program_run, CLIENT), CLIENT)
        heading = f"{now.label()} (비교: {before.label()})"
    assert heading in [s.value for s in at.subheader]
    labels = [m.label for m in at.metric]
    # The report's KPI words (forgeline/reports/words.py), never an English leftover.
    assert {"OEE (설비종합효율)", "시간가동률", "성능가동률", "양품률"} <= set(labels)
    assert not {"Availability", "Performance", "Quality", "Level your data shows"} & set(labels)
    assert at.radio(key=SWITCH).value == "ko"  # the switch is on every page after login too
    assert [b.label for b in at.sidebar.button] == ["로그아웃"]

    at.switch_page("app_pages/client/kpis.py").run()
    assert_ok(at, "KPIs in Korean")
    assert [t.label for t in at.tabs] == ["공장 전체", "설비별"]
    assert at.date_input(key="kpi_period").label == "기간"
    assert {"OEE (설비종합효율)", "시간가동률"} <= {m.label for m in at.metric}
    assert not any("against" in h.value for h in at.header)

    # A reload, a new tab: a new session with the same login (the cookie's token) speaks Korean again.
    user = next(u for u in logins(program_run) if u.username == probe)
    again = AppTest.from_file(str(APP), default_timeout=60)
    again.session_state[ui.SESSION_KEY] = issue_session(program_run, user)
    again.run()
    assert_ok(again, "reload")
    assert [t.value for t in again.title] == ["홈"] and again.radio(key=SWITCH).value == "ko"

    # Switching back after login is the login's new choice, in this tab at once and in the next session.
    again.radio(key=SWITCH).set_value("en").run()
    assert [t.value for t in again.title] == ["Home"] and stored_language(program_run, probe) == "en"
    third = AppTest.from_file(str(APP), default_timeout=60)
    third.session_state[ui.SESSION_KEY] = issue_session(program_run, user)
    third.run()
    assert [t.value for t in third.title] == ["Home"]


def test_every_client_page_opens_in_korean(open_app: Callable[[], AppTest], probe: str) -> None:
    at = open_app()
    at.radio(key=SWITCH).set_value("ko").run()
    at = log_in(at, probe)
    for page, title in {
        "app_pages/client/kpis.py": "KPI",
        "app_pages/client/level.py": "스마트공장 수준",
        "app_pages/client/benchmarks.py": "우리 데이터와 벤치마크",
        "app_pages/client/data_quality.py": "데이터 품질",
        "app_pages/client/models.py": "모델 결과",
        "app_pages/client/reports.py": "보고서",
        "app_pages/client/upload.py": "새 데이터 보내기",
        "app_pages/account.py": "비밀번호",
    }.items():
        at.switch_page(page).run()
        assert_ok(at, page)
        assert [t.value for t in at.title] == [title], page


def test_a_widget_callback_speaks_the_tabs_language() -> None:
    """Streamlit runs a callback before the script, where the entrypoint's use_language is not in force:
    ui.speaking gives it the tab's language (unwrapped, it speaks the default)."""

    def script() -> None:
        import streamlit as st

        from apps import ui
        from forgeline.i18n import _

        def said(key: str) -> None:
            st.session_state[key] = _("not measured")

        st.session_state[ui.LANG_KEY] = "ko"
        st.button("wrapped", key="wrapped", on_click=ui.speaking(said), args=("wrapped_said",))
        st.button("bare", key="bare", on_click=said, args=("bare_said",))

    at = AppTest.from_function(script).run()
    at.button(key="wrapped").click().run()
    at.button(key="bare").click().run()
    assert at.session_state["wrapped_said"] == "측정 안 됨"
    assert at.session_state["bare_said"] == "not measured"  # why every callback is wrapped


def published_cards(program: Settings, client: str) -> list[str]:
    """The model cards (the models' documentation and a version's learner note), shown in English in an
    expander: the only English the model page has left."""
    import duckdb

    from forgeline.standard_models import model_card

    con = duckdb.connect(str(current_snapshot(program, client)), read_only=True)
    try:
        cards = con.execute("SELECT model_name, learner_note FROM meta.model_results").fetchall()
    finally:
        con.close()
    return [card for card in (model_card(name, note or "") for name, note in cards) if card]


def test_the_model_results_read_in_korean(open_app: Callable[[], AppTest], program_run: Settings) -> None:
    """Every model family's readings, warnings, tables and chart series on the model page speak Korean, and
    so do the sentences the models store (the champion rule's decision, the weeks in operation, the
    operating windows): the model cards are the only English left."""
    set_login(program_run, "probe-models", PASSWORD, "consultant", "Probe")
    at = open_app()
    at.radio(key=SWITCH).set_value("ko").run()
    at = log_in(at, "probe-models")
    english = (
        "holdout",
        "Held out",
        "The champion (version",
        "A typical miss",
        "The detector raised",
        "Averaged over forecasts",
        "Alerting when",
        "problem cases",
        "Latest scores",
        "Units still running",
        "becomes champion",
        "made champion",
        "for the baseline",
        "where the model expected",
        "used where",
        "units failed",
        "alarm(s) on",
        "keep ",
    )
    read = []
    for client in ("sejin-diecast", "hanbit-press", "dongbang-rig", "gwangyang-steel"):
        at.session_state["client_id"] = client
        at.switch_page("app_pages/client/models.py").run()
        assert_ok(at, f"models of {client} in Korean")
        assert [t.value for t in at.title] == ["모델 결과"], client
        text = "\n".join(
            [m.value for m in at.markdown]
            + [c.value for c in at.caption]
            + [w.value for w in at.warning]
            + [e.label for e in at.expander]
        )
        assert "검증 구간" in text, client
        for card in published_cards(program_run, client):  # English by design (see above)
            text = text.replace(card, "")
        leftovers = [phrase for phrase in english if phrase in text]
        assert not leftovers, f"{client}: {leftovers}"
        read.append(text)
    everything = "\n".join(read)
    for korean in ("통상 오차", "챔피언", "잔여 수명"):  # the energy, event and remaining-life readings
        assert korean in everything
    # The champion rule's decision and the weeks in operation, stored as messages, read in Korean.
    assert "챔피언이 됩니다" in everything or "챔피언이 되지 않습니다" in everything
    assert "모델 예상은" in everything or "고장 났고" in everything

"""The Onboarding page: a consultant turns a factory's sample export into a saved mapping, without code.

Plain tests check the page's logic (``apps/onboarding.py``); AppTest drives the page in the app (a client
login never gets it); the browser test serves the app and onboards a CP949 export in headless Chromium.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from apps import onboarding as ob
from apps import ui
from forgeline.auth import User, issue_session, set_login
from forgeline.clients import load_client_config, save_mapping_text
from forgeline.i18n import use_language
from forgeline.settings import REPO_ROOT, Settings, get_settings

APP = REPO_ROOT / "apps" / "forgeline_app.py"
PAGE_FILE = REPO_ROOT / "apps" / "app_pages" / "engagement" / "onboarding.py"
PAGE = "app_pages/engagement/onboarding.py"
CONSULTANT = ("consultant", "forgeline-demo")
CLIENT_LOGIN = ("demo-plant", "demo-plant-pw")
REFUSAL = "Onboarding is for consultants: a client login may not change mappings."

# A 생산일보 export as Korean MES/ERP systems write it: CP949, Korean headers.
EXPORT_NAME = "생산일보_2026-03.csv"
EXPORT = (
    "일자,설비,품번,생산수량,불량수량,불량유형\n"
    "2026-03-02,사출1호기,P-100,1200,12,미성형\n"
    "2026-03-02,사출2호기,P-200,980,5,버\n"
    "2026-03-03,사출1호기,P-100,1150,0,\n"
    "2026-03-03,사출2호기,P-200,1010,8,치수불량\n"
).encode("cp949")
ENERGY = (
    "일시,전력량(kWh)\n2026-03-02 00:00,120.5\n2026-03-02 00:15,118.0\n2026-03-02 00:30,121.25\n".encode()
)


def _program(settings: Settings) -> Settings:
    """A workspace with one client (with its login) and the consultant login."""
    save_mapping_text(settings, "demo-plant", "id: demo-plant\nname: 데모공장\nsources: []\n")
    set_login(settings, *CONSULTANT, "consultant", "Consultant")
    set_login(settings, *CLIENT_LOGIN, "client", "데모공장", client_id="demo-plant")
    return settings


# -- the page's logic ----------------------------------------------------------------------------------------
def _draft() -> tuple[dict, dict]:
    text, notes = ob.initial_text("test-plant", "테스트공장", ((EXPORT_NAME, EXPORT),), None)
    assert not notes
    doc = ob.load_doc(text)
    (source,) = doc["sources"]
    return doc, source


def test_the_draft_comes_from_inspect_and_validates(workspace: Settings) -> None:
    doc, source = _draft()
    assert (doc["id"], doc["name"]) == ("test-plant", "테스트공장")
    assert ob.source_matches(source["files"], EXPORT_NAME)
    assert "production_counts.total_count" in ob.column_targets(source, "생산수량")
    config, problems = ob.validate(ob.dump_doc(doc), "test-plant")
    assert config is not None and not problems


def test_widget_edits_write_the_yaml(workspace: Settings) -> None:
    doc, source = _draft()
    ob.set_column_targets(
        source,
        "불량유형",
        [*ob.column_targets(source, "불량유형"), "production_counts.defect_code"],
        ["미성형"],
    )
    suggested = ob.column_maps(source, "불량유형")["defect_types"]  # from the column dictionary, if known
    assert set(suggested) <= {"미성형"} and set(suggested.values()) <= set(ob.codes_of("defect_types"))
    ob.set_column_map(source, "불량유형", "defect_types", {"미성형": "SHORT_SHOT", "버": "FLASH"})
    ob.set_column_format(source, "일자", "%Y-%m-%d")
    ob.set_column_targets(source, "불량수량", ["production_counts.reject_count"], [])
    assert ob.column_targets(source, "불량수량") == ["production_counts.reject_count"]

    config, problems = ob.validate(ob.dump_doc(doc), "test-plant")
    assert not problems, problems
    feed = config.source(source["name"]).feeds["production_counts"]
    assert feed.fields["defect_code"].map == {"미성형": "SHORT_SHOT", "버": "FLASH"}
    assert feed.fields["production_date"].format == "%Y-%m-%d"
    assert "defect_count" not in config.source(source["name"]).feeds["quality_results"].fields

    # A wide column becomes a tag; its unit is checked live and written on the tag.
    ob.set_column_targets(source, "생산수량", ["production_counts.total_count", "cycles.#tag"], [])
    ob.set_column_unit(source, "생산수량", "개")
    assert ob.column_unit(source, "생산수량") == "개"
    assert ob.unit_feedback("개", ["cycles.#tag"]) == (True, "→ a plain number (dimensionless)")
    ok, message = ob.unit_feedback("bar", ["production_counts.planned_time_s"])
    assert not ok and "kind 'time'" in message
    assert not ob.unit_feedback("xyz", [])[0]
    # cycles then lacks its required start time: the problem names the line and the key.
    config, problems = ob.validate(ob.dump_doc(doc), "test-plant")
    assert config is None
    ((line, message),) = problems
    assert line.isdigit() and message.startswith(f"sources[{source['name']}].feeds.cycles: map the required")
    ob.set_column_targets(source, "생산수량", ["production_counts.total_count"], [])
    assert ob.validate(ob.dump_doc(doc), "test-plant")[0] is not None


def test_columns_read_by_expressions_are_named() -> None:
    source = {
        "name": "stops",
        "feeds": {
            "downtime_events": {
                "fields": {"machine_id": "설비", "started_at": {"expr": "일자 || ' ' || 시작"}},
                "where": "설비 <> '-'",
            }
        },
    }
    assert ob.column_in_expressions(source, "시작") == ["downtime_events.started_at"]
    assert ob.column_in_expressions(source, "설비") == ["downtime_events where"]
    assert ob.column_targets(source, "설비") == ["downtime_events.machine_id"]


def test_validation_names_the_line(workspace: Settings) -> None:
    assert ob.validate("id: test-plant\nname: [", "test-plant")[1][0][0] == "2"
    assert ob.validate("id: other\nname: x\n", "test-plant")[1] == [
        ("1", "id: the mapping says 'other'; this client's id is 'test-plant'")
    ]
    # In Korean too, the mapping's closing advice is not taken for a problem of its own.
    with use_language("ko"):
        problems = ob.validate("id: test-plant\nname: x\nmystery: 1\n", "test-plant")[1]
        wrong_id = ob.validate("id: other\nname: x\n", "test-plant")[1]
    assert [line for line, _message in problems] == ["3"] and "mystery" in problems[0][1]
    assert wrong_id == [("1", "id: 매핑에는 'other'로 적혀 있지만 이 고객사의 ID는 'test-plant'입니다")]


def test_samples_stay_in_the_clients_folder(workspace: Settings) -> None:
    folder = ob.samples_dir(workspace, "test-plant", "0123abcd0123")
    assert folder.is_relative_to(workspace.client_dir("test-plant"))
    assert not folder.is_relative_to(workspace.landing_dir("test-plant"))
    first = ob.store_samples(folder, (("a.csv", b"x\n1\n"), ("b.csv", b"y\n2\n")))
    assert [p.name for p in first] == ["a.csv", "b.csv"]
    assert [p.name for p in ob.store_samples(folder, (("b.csv", b"y\n3\n"),))] == ["b.csv"]
    assert sorted(p.name for p in folder.iterdir()) == ["b.csv"]
    assert ob.safe_name("C:\\exports\\생산일보.csv") == "생산일보.csv"
    with pytest.raises(ValueError):
        ob.samples_dir(workspace, "test-plant", "../x")


def test_value_map_editor_edits() -> None:
    rows = ob.map_rows(["미성형", "버"], {"버": "FLASH"})
    edits = {"edited_rows": {0: {"code": "SHORT_SHOT"}}, "added_rows": [{"value": "기포", "code": "VOID"}]}
    assert ob.apply_editor_edits(rows, edits) == {"미성형": "SHORT_SHOT", "버": "FLASH", "기포": "VOID"}
    assert ob.apply_editor_edits(rows, {"deleted_rows": [1]}) == {}


# -- AppTest ---------------------------------------------------------------------------------------------
@pytest.fixture
def open_app(workspace: Settings) -> Callable[[], AppTest]:
    _program(workspace)
    return lambda: AppTest.from_file(str(APP), default_timeout=120).run()


def _log_in(at: AppTest, username: str, password: str) -> AppTest:
    at.text_input(key="username").input(username)
    at.text_input(key="password").input(password)
    return at.button[0].click().run()


def _assert_ok(at: AppTest, where: str) -> None:
    assert not at.exception, f"{where}: {[e.value for e in at.exception]}"
    assert not at.error, f"{where}: {[e.value for e in at.error]}"


@pytest.mark.app
def test_a_consultant_onboards_a_new_client(open_app: Callable[[], AppTest], workspace: Settings) -> None:
    at = _log_in(open_app(), *CONSULTANT)
    at.switch_page(PAGE).run()
    _assert_ok(at, "onboarding")
    assert [t.value for t in at.title] == ["Onboarding"]
    assert at.selectbox(key="onb_client").value == "__new__"
    assert at.selectbox(key="onb_client").options == ["New client…", "데모공장 (demo-plant)"]

    at.text_input(key="onb_new_id").input("test-plant")
    at.text_input(key="onb_new_name").input("테스트공장").run()
    at.file_uploader(key="onb_files").set_value((EXPORT_NAME, EXPORT, "text/csv")).run()
    _assert_ok(at, "after upload")
    inspect = at.dataframe[0].value
    assert inspect["column"].tolist() == ["일자", "설비", "품번", "생산수량", "불량수량", "불량유형"]
    assert "production_counts.total_count" in inspect.set_index("column").loc["생산수량", "proposed"]
    assert any("encoding cp949" in c.value for c in at.caption)
    rows = {m.label: m.value for m in at.metric}
    assert rows["production_counts"] == "4 rows"
    samples = list((workspace.client_dir("test-plant") / "samples").rglob(EXPORT_NAME))
    assert len(samples) == 1 and samples[0].read_bytes() == EXPORT
    assert not workspace.landing_dir("test-plant").exists()

    # A widget writes the YAML: 불량유형 also feeds the common defect code, with a value map.
    feeds = next(m for m in at.multiselect if m.label == "Feeds (불량유형)")
    feeds.set_value([*feeds.value, "production_counts.defect_code"]).run()
    _assert_ok(at, "after adding the defect code")
    assert "defect_code: {column: 불량유형" in at.text_area(key="onb_yaml").value
    assert at.data_editor[0].value["value"].tolist() == ["미성형", "버", "치수불량"]
    # Another file later: it gets its own drafted source, and the edit above stays.
    at.file_uploader(key="onb_files").set_value(
        [(EXPORT_NAME, EXPORT, "text/csv"), ("전력_2026-03.csv", ENERGY, "text/csv")]
    ).run()
    _assert_ok(at, "after a second file")
    mapping = at.text_area(key="onb_yaml").value
    assert "defect_code: {column: 불량유형" in mapping and "전력_*.csv" in mapping
    assert {m.label for m in at.metric} >= {"production_counts", "energy_readings"}
    # A unit that is no unit: shown at once, and the preview refuses the mapping until it is fixed.
    feeds = next(m for m in at.multiselect if m.label == "Feeds (생산수량)")
    feeds.set_value([*feeds.value, "cycles.#tag"]).run()
    next(t for t in at.text_input if t.label == "Unit (생산수량)").input("xyz").run()
    assert any("'xyz' is not a unit" in c.value for c in at.caption)
    assert at.error and "does not validate" in at.error[0].value
    assert next(b for b in at.button if b.label == "Save mapping").disabled
    feeds = next(m for m in at.multiselect if m.label == "Feeds (생산수량)")
    feeds.set_value([v for v in feeds.value if v != "cycles.#tag"]).run()
    _assert_ok(at, "after removing the tag")

    next(b for b in at.button if b.label == "Save mapping").click().run()
    _assert_ok(at, "after saving")
    path = workspace.client_config_path("test-plant")
    config = load_client_config(path)
    assert config.name == "테스트공장"
    assert config.sources[0].feeds["production_counts"].fields["defect_code"].column == "불량유형"
    assert "forgeline ingest test-plant" in at.success[0].value
    assert at.selectbox(key="onb_client").value == "test-plant"  # an existing client now

    # Saving an edited mapping keeps the earlier version in the client's history.
    editor = at.text_area(key="onb_yaml")
    editor.input(editor.value.replace("name: 테스트공장", "name: 테스트공장 (Test Plant)")).run()
    next(b for b in at.button if b.label == "Save mapping").click().run()
    _assert_ok(at, "after saving again")
    assert "1 earlier version(s)" in at.success[0].value
    assert load_client_config(path).name == "테스트공장 (Test Plant)"
    assert len(list(workspace.mapping_history_dir("test-plant").glob("mapping.*.yml"))) == 1


@pytest.mark.app
def test_an_existing_client_gets_a_source_for_new_files(
    open_app: Callable[[], AppTest], workspace: Settings
) -> None:
    at = _log_in(open_app(), *CONSULTANT)
    at.switch_page(PAGE).run()
    at.selectbox(key="onb_client").select("demo-plant").run()
    at.file_uploader(key="onb_files").set_value((EXPORT_NAME, EXPORT, "text/csv")).run()
    _assert_ok(at, "existing client")
    assert any(i.value.startswith("Drafted source") for i in at.info)
    next(b for b in at.button if b.label == "Save mapping").click().run()
    _assert_ok(at, "after saving")
    config = load_client_config(workspace.client_config_path("demo-plant"))
    assert config.name == "데모공장" and len(config.sources) == 1
    assert "1 earlier version(s)" in at.success[0].value  # the mapping without sources


@pytest.mark.app
def test_a_client_login_never_gets_onboarding(open_app: Callable[[], AppTest], workspace: Settings) -> None:
    at = _log_in(open_app(), *CLIENT_LOGIN)
    _assert_ok(at, "client login")
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page(PAGE)

    # The page itself refuses a client login too, whatever way it is reached.
    page = AppTest.from_file(str(PAGE_FILE), default_timeout=60)
    client = User("demo-plant", "데모공장", "client", "demo-plant")
    page.session_state[ui.SESSION_KEY] = issue_session(workspace, client)  # a real session of the client
    page.run()
    assert not page.exception
    assert [e.value for e in page.error] == [REFUSAL]
    assert not page.title and not page.get("file_uploader")


# -- a real browser --------------------------------------------------------------------------------------
PAGE_TIMEOUT_MS = 30_000


@pytest.fixture
def served_workspace(tmp_path: Path, app_server) -> Iterator[tuple[str, Settings]]:
    """The app served on a fresh workspace holding only the consultant login; stopped after the test."""
    settings = get_settings(tmp_path / "home")
    set_login(settings, *CONSULTANT, "consultant", "Consultant")
    with app_server(settings.home, tmp_path / "server.log") as url:
        yield url, settings


@pytest.mark.browser
def test_onboarding_in_a_browser(
    served_workspace: tuple[str, Settings], tmp_path: Path, chromium_launch: dict
) -> None:
    from playwright.sync_api import expect, sync_playwright

    url, settings = served_workspace
    export = tmp_path / EXPORT_NAME
    export.write_bytes(EXPORT)
    screenshot = Path(os.environ.get("ONBOARDING_SCREENSHOT") or tmp_path / "onboarding.png")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(**chromium_launch)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 3000})
            page.set_default_timeout(PAGE_TIMEOUT_MS)
            page.goto(url)
            page.get_by_role("textbox", name="Username").fill(CONSULTANT[0])
            page.get_by_role("textbox", name="Password").fill(CONSULTANT[1])
            page.get_by_role("button", name="Log in").click()
            page.get_by_role("link", name="Onboarding").click()
            page.get_by_role("heading", name="Onboarding").wait_for()

            page.get_by_role("textbox", name="Client id").fill("test-plant")
            page.get_by_role("textbox", name="Client id").press("Enter")
            page.get_by_role("textbox", name="Client name").fill("테스트공장")
            page.get_by_role("textbox", name="Client name").press("Enter")
            page.get_by_text("Upload one or more exports").wait_for()
            page.locator("input[type=file]").set_input_files(str(export))

            page.get_by_text("encoding cp949", exact=False).wait_for()
            page.get_by_role("heading", name=EXPORT_NAME).wait_for()
            rows = page.get_by_test_id("stMetric").filter(has_text="production_counts")
            expect(rows).to_contain_text("4 rows", timeout=PAGE_TIMEOUT_MS)
            save = page.get_by_role("button", name="Save mapping")
            expect(save).to_be_enabled(timeout=PAGE_TIMEOUT_MS)
            save.click()
            page.get_by_text("Saved", exact=False).first.wait_for()
            expect(page.get_by_test_id("stCode")).to_contain_text("forgeline run test-plant")
            page.screenshot(path=str(screenshot), full_page=True)

            shown = page.inner_text("body")
            for text in (
                "테스트공장 · test-plant",
                "생산일보_2026-03.csv",
                "일자",
                "불량유형",
                "encoding cp949",
            ):
                assert text in shown, text
            assert not page.get_by_test_id("stException").count()
            assert not page.get_by_test_id("stAlertContentError").count()
        finally:
            browser.close()

    path = settings.client_config_path("test-plant")
    config = load_client_config(path)
    assert config.id == "test-plant" and config.name == "테스트공장"
    assert config.sources and "production_counts" in config.sources[0].feeds
    assert screenshot.stat().st_size > 10_000

"""Fast tier: client reports (PDF and Excel) from published snapshots, in Korean and English.

Two clients are published for real (forgeline/publish.py) from small hand-made warehouses: one with a
Korean name, rejects recorded and no energy meters; another without rejects, with energy. The reports are
read back as a person would get them: the PDF's text (pypdf), its pages drawn (pypdfium2), the workbook
(openpyxl).
"""

from __future__ import annotations

import io
import shutil
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import numpy as np
import openpyxl
import pandas as pd
import pypdfium2
import pytest
from pypdf import PdfReader
from typer.testing import CliRunner

from forgeline import i18n
from forgeline.cli import app
from forgeline.clients import ClientConfig
from forgeline.publish import RunInfo, current_snapshot, publish_client
from forgeline.reports import Report, ReportError, _delivered_findings, build_report
from forgeline.reports.content import Finding, default_periods, period_figures, read_content
from forgeline.reports.period import (
    Period,
    PeriodError,
    last_full_month,
    month,
    parse_period,
    period_before,
)
from forgeline.settings import Settings, get_settings

KOREAN = ClientConfig(id="sejin-test", name="세진테스트 (Sejin Test)", industry="die casting")
OTHER = ClientConfig(id="other-plant", name="다른공장 (Other Plant)")
OCTOBER = [date(2026, 10, d) for d in (1, 2, 3, 10, 11)]  # gaps: 4-9, 12-31
NOVEMBER = [date(2026, 11, d) for d in (1, 2, 3)]  # the month after is not full: October is the default


def _oee_row(
    client: str,
    machine: str,
    name: str,
    day: date,
    planned: float,
    run: float,
    total: int,
    good: int,
    performance: float,
) -> dict:
    availability, quality = run / planned, good / total
    return {
        "client_id": client,
        "machine_id": machine,
        "machine_name": name,
        "production_date": day,
        "planned_time_s": planned,
        "run_time_s": run,
        "total_count": total,
        "good_count": good,
        "availability": availability,
        "performance": performance,
        "quality": quality,
        "oee": availability * performance * quality,
    }


def _warehouse(
    settings: Settings, config: ClientConfig, oee: list[dict], defects: list[dict], energy: list[dict]
) -> None:
    settings.warehouse_dir.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(settings.warehouse_path(config.id)))
    con.execute("CREATE SCHEMA marts; CREATE SCHEMA raw")
    frames = {
        "oee_daily": pd.DataFrame(oee),
        "defect_rate_daily": pd.DataFrame(
            defects,
            columns=[
                "client_id",
                "machine_id",
                "production_date",
                "inspected_count",
                "defect_count",
                "defect_rate",
            ],
        ),
        "energy_daily": pd.DataFrame(
            energy,
            columns=[
                "client_id",
                "site_id",
                "reading_date",
                "energy_kwh",
                "good_count",
                "kwh_per_good_unit",
                "emission_factor_kg_per_kwh",
                "co2_kg",
            ],
        ),
    }
    for name, frame in frames.items():
        con.register("frame", frame)
        con.execute(f"CREATE TABLE marts.{name} AS SELECT * FROM frame")
        con.unregister("frame")
    con.execute(
        "CREATE TABLE raw._load_batches (batch_id VARCHAR, client_id VARCHAR, source_file VARCHAR, "
        "rows BIGINT, status VARCHAR)"
    )
    con.execute(
        "INSERT INTO raw._load_batches VALUES ('b1', ?, 'shots_2026-10.csv', 5232, 'loaded')", [config.id]
    )
    con.close()


def _publish(settings: Settings, config: ClientConfig, models: list[dict]) -> None:
    run = RunInfo(
        run_id="20261115T000000000000Z", started_at=datetime.now(UTC), status="published", gate_passed=True
    )
    gate = pd.DataFrame(
        [
            {
                "suite_name": "fct_cycles",
                "table_name": "fct_cycles",
                "success": True,
                "column_name": "cycle_id",
                "expectation_type": "expect_column_values_to_not_be_null",
                "observed": "0 of 10 rows unexpected",
            },
            {
                "suite_name": "fct_cycles",
                "table_name": "fct_cycles",
                "success": False,
                "column_name": "cycle_time_s",
                "expectation_type": "expect_column_values_to_be_between",
                "observed": "3 of 10 rows unexpected",
            },
        ]
    )
    publish_client(settings, config, run, gate, models)


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    settings = get_settings(tmp_path_factory.mktemp("reports"))
    a = KOREAN.id
    oee = [_oee_row(a, "M1", "사출기1호", d, 28800, 21600, 1000, 980, 0.9) for d in OCTOBER + NOVEMBER]
    # A machine that ran one day at 0.1 %: a mean of machine-days drags the plant down, time weighting not.
    oee.append(_oee_row(a, "M2", "사출기2호", date(2026, 10, 2), 600, 0.6, 1, 1, 0.5))
    defects = [
        {
            "client_id": a,
            "machine_id": "M1",
            "production_date": d,
            "inspected_count": 1000,
            "defect_count": 20,
            "defect_rate": 0.02,
        }
        for d in OCTOBER + NOVEMBER
    ]
    _warehouse(settings, KOREAN, oee, defects, [])
    model = {
        "model_name": "defect_prediction",
        "metric_name": "pr_auc",
        "model_metric": 0.99,
        "baseline_metric": 0.3,
        "beats_baseline": True,
        "is_champion": False,
        "n_test": 1570,
        "n_test_positives": 8,
        "family": "event",
    }
    _publish(settings, KOREAN, [model])

    b = OTHER.id
    other_oee = [_oee_row(b, "B-7", "다른프레스", d, 3600, 3000, 50, 50, 0.8) for d in OCTOBER]  # no rejects
    energy = [
        {
            "client_id": b,
            "site_id": "S-other",
            "reading_date": d,
            "energy_kwh": 1200.0,
            "good_count": 50,
            "kwh_per_good_unit": 24.0,
            "emission_factor_kg_per_kwh": 0.4594,
            "co2_kg": 551.28,
        }
        for d in OCTOBER
    ]
    _warehouse(settings, OTHER, other_oee, [], energy)
    _publish(settings, OTHER, [])
    return settings


@dataclass(frozen=True)
class Read:
    report: Report
    text: str
    pdf: pypdfium2.PdfDocument
    book: openpyxl.Workbook

    def cells(self) -> str:
        return "\n".join(
            str(v) for ws in self.book.worksheets for row in ws.iter_rows(values_only=True) for v in row
        )


def _read(report: Report) -> Read:
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(report.pdf)).pages)
    return Read(
        report, text, pypdfium2.PdfDocument(report.pdf), openpyxl.load_workbook(io.BytesIO(report.xlsx))
    )


EVIDENCE = pd.DataFrame(
    {"day": pd.to_datetime(["2026-10-01", "2026-10-02", "2026-10-10"]), "°C": [212, 219, 231]}
)


@pytest.fixture(scope="module")
def korean(published: Settings) -> Read:
    return _read(build_report(published, KOREAN.id, lang="ko", findings=[]))


@pytest.fixture(scope="module")
def english(published: Settings) -> Read:
    finding = Finding(
        title="Mould temperature runs high before defects",
        body="Check the cooling circuit.",
        kind="recommendation",
        evidence="Mould temperature, October",
        chart=EVIDENCE,
        chart_unit="°C",
    )
    return _read(build_report(published, KOREAN.id, lang="en", findings=[finding]))


def test_the_korean_report_names_the_client_period_and_kpis_in_korean(korean: Read) -> None:
    text = korean.text
    assert korean.report.period == month(2026, 10)  # the last full month of the data
    assert "세진테스트 (Sejin Test)" in text and "2026년 10월" in text
    for label in (
        "OEE (설비종합효율)",
        "시간가동률",
        "성능가동률",
        "양품률",
        "불량률",
        "스마트공장 수준과 로드맵",
    ):
        assert label in text
    assert "측정 안 됨" in text and "데이터에 에너지 계량값이 없습니다" in text  # no energy meters
    assert "사출기1호" in korean.cells()  # Korean machine names survive into the workbook
    assert "이 기간에 전달된 진단 결과가 없습니다." in text
    assert "설비 고장을 하루 전에 예측" in text and "Predict machine failures" not in text  # a shipped step


def test_the_english_report_carries_kpis_caveats_plain_data_quality_and_findings(english: Read) -> None:
    text = english.text
    assert "세진테스트 (Sejin Test)" in text and "October 2026" in text
    assert "OEE" in text and "Availability" in text and "not measured" in text
    # OEE weighted by time and counts (the one-day machine weighs its 10 minutes), not a mean of machine-days.
    availability = (5 * 21600 + 0.6) / (5 * 28800 + 600)
    performance = (0.9 * 5 * 21600 + 0.5 * 0.6) / (5 * 21600 + 0.6)
    weighted = availability * performance * (5 * 980 + 1) / (5 * 1000 + 1)
    mean_of_days = (5 * 0.75 * 0.9 * 0.98 + 0.001 * 0.5) / 6
    assert f"{weighted:.1%}" in text and f"{mean_of_days:.1%}" not in text
    # The model's caveats: few problem cases, a near-perfect score, not champion.
    assert "Only 8 problem cases in the test period" in text and "near-perfect" in text
    # Data quality in plain words: no check names, table names or server paths.
    assert "cycles: values of cycle time (s) outside their plausible range" in text
    for leak in ("expect_", "fct_", "marts.", "meta.", "/tmp", str(Path.home())):
        assert leak not in text
    assert "Recommendation: Mould temperature runs high before defects" in text
    assert "Evidence: Mould temperature, October" in text
    assert "No findings delivered" not in text


def test_the_next_steps_reasons_are_worded_in_the_reports_language(korean: Read, english: Read) -> None:
    """Publish stores each recommendation's why, needs and benefit as messages with the client's figures:
    a Korean report words them in Korean, the PDF and the workbook alike; English stays the default."""
    for said in (
        "현재 불량률 기준 손실: 월 608개 불량 (월 검사 수량 30,400개 중 2.0%)",  # a benefit, its figures
        "수준 1의 요건: 생산 수량과 불량 수량을 20일 이상 디지털로 기록",  # a level rule's words
        "필요 사항: 고장이 기록된 정비 일지와 설비의 센서 측정값",
    ):
        assert said in " ".join(korean.text.split("\n")) and said.split(": ")[-1] in korean.cells()
    assert "defective parts a month" not in korean.text and "level 1 needs" not in korean.cells()
    assert "프로그램이 게시한 대로 영어로" not in korean.text  # no English left to apologise for
    benefit = "defect cost at the current rate: 608 defective parts a month (2.0% of 30,400 inspected)"
    assert benefit in " ".join(english.text.split("\n")) and benefit in english.cells()
    assert "level 1 needs: production and defect counts recorded digitally for at least 20 days" in (
        english.cells()
    )


def test_a_snapshot_published_before_the_wording_shows_its_english_reasons(
    published: Settings, tmp_path: Path
) -> None:
    """An older snapshot's recommendations hold only their English: a Korean report shows it, and says so."""
    settings = get_settings(tmp_path / "home")
    source, target = published.published_dir(KOREAN.id), settings.published_dir(KOREAN.id)
    shutil.copytree(source, target)
    con = duckdb.connect(str(current_snapshot(settings, KOREAN.id)))
    con.execute("ALTER TABLE meta.recommendations DROP COLUMN wording")
    con.close()
    read = _read(build_report(settings, KOREAN.id, lang="ko", findings=[]))
    text = " ".join(read.text.split("\n"))
    assert "defect cost at the current rate: 608 defective parts a month" in text
    assert "프로그램이 게시한 대로 영어로" in text
    assert "사이클별 불량 예측" in text  # the shipped titles were always worded from the catalogs


def test_the_charts_are_drawn(english: Read) -> None:
    reader = PdfReader(io.BytesIO(english.report.pdf))
    assert len(reader.pages[1].images) >= 2  # OEE and factors, OEE per machine, defect rate
    page = english.pdf[1].render(scale=0.5).to_pil().convert("L")
    ink = np.asarray(page) < 200
    assert ink.mean() > 0.03, f"the chart page is nearly blank ({ink.mean():.1%} drawn)"
    last = english.pdf[len(english.pdf) - 1].render(scale=0.5).to_pil().convert("L")
    assert (np.asarray(last) < 200).mean() > 0.01  # the finding's evidence chart


def test_the_workbook_has_one_sheet_per_table_with_units_in_the_headers(english: Read, korean: Read) -> None:
    sheets = {ws.title: [c.value for c in ws[1]] for ws in english.book.worksheets}
    assert {
        "Key figures",
        "Daily",
        "Machines",
        "OEE by machine and day",
        "Defects by machine and day",
        "Level evidence",
        "Models",
        "Findings",
    } <= set(sheets)
    assert "Energy by site and day" not in sheets  # no meters: no empty sheet
    assert {"OEE (%)", "Availability (%)", "Quality (%)", "Energy (kWh)"} <= set(sheets["Daily"])
    assert "Planned time (h)" in sheets["Machines"] and "Run time (s)" in sheets["OEE by machine and day"]
    daily = english.book["Daily"]
    days = {row[0].date(): row[1] for row in daily.iter_rows(min_row=2, values_only=True)}
    assert len(days) == 31 and days[date(2026, 10, 5)] is None  # a gap is an empty cell, never 0
    assert korean.book.worksheets[1].title == "일별" and "에너지 (kWh)" in [
        c.value for c in korean.book["일별"][1]
    ]


def test_kpis_not_measured_where_the_data_cannot_support_them(published: Settings) -> None:
    other = read_content(current_snapshot(published, OTHER.id), OTHER.id, None, [])
    assert other.kpi("quality").value is None and other.kpi("oee").value is None  # counts without rejects
    assert other.kpi("availability").value == pytest.approx(3000 / 3600)
    assert other.kpi("energy_kwh").value == pytest.approx(1200 * 5)
    mine = read_content(current_snapshot(published, KOREAN.id), KOREAN.id, month(2026, 10), [])
    assert mine.kpi("energy_kwh").value is None and mine.kpi("mtbf_h").value is None
    assert mine.daily["oee"].notna().sum() == mine.days_with_data == len(OCTOBER)  # other days: gaps, not 0
    # The app's periods read the same roll-ups; a period without data measures nothing dated.
    snapshot = current_snapshot(published, KOREAN.id)
    figures = period_figures(snapshot, KOREAN.id, month(2026, 10))
    assert [(k.key, k.value) for k in figures.kpis] == [(k.key, k.value) for k in mine.kpis]
    assert figures.daily.equals(mine.daily)
    empty = period_figures(snapshot, KOREAN.id, month(2025, 1), daily=False)
    assert not empty.has_data and all(k.value is None for k in empty.kpis if not k.whole_history)
    assert default_periods(snapshot, KOREAN.id) == (mine.period, month(2026, 9))


def test_the_program_overview_rolls_oee_up_by_time_as_the_report_does(
    published: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The consultants' overview shows each client's OEE over all its days, time-weighted by the report's
    own rule: one machine's single day at 0.1 % does not drag the plant down, as a mean of machine-days
    did; a client that records no rejects has no OEE at all, not 100 % quality."""
    from apps import data
    from forgeline.auth import User

    monkeypatch.setenv("FORGELINE_HOME", str(published.home))
    overview = data.program_overview(User("consultant", "Consultant", "consultant")).set_index("client_id")
    snapshot = current_snapshot(published, KOREAN.id)
    whole = period_figures(snapshot, KOREAN.id, Period(OCTOBER[0], NOVEMBER[-1]), daily=False).kpi("oee")
    assert whole is not None and whole.value is not None
    assert overview.loc[KOREAN.id, "oee"] == pytest.approx(whole.value)
    machine_days = [0.75 * 0.9 * 0.98] * len(OCTOBER + NOVEMBER) + [0.001 * 0.5]
    assert whole.value > sum(machine_days) / len(machine_days) + 0.03  # the old mean, dragged down
    assert pd.isna(overview.loc[OTHER.id, "oee"])


def test_a_client_report_holds_nothing_of_another_client(
    published: Settings, english: Read, tmp_path: Path
) -> None:
    # Even a snapshot that somehow held another client's rows shows only its own.
    snapshot = current_snapshot(published, KOREAN.id)
    tampered = tmp_path / "snapshot.duckdb"
    tampered.write_bytes(snapshot.read_bytes())
    con = duckdb.connect(str(tampered))
    con.execute(
        "INSERT INTO marts.oee_daily SELECT * REPLACE ('other-plant' AS client_id, '다른프레스' AS "
        "machine_name) FROM marts.oee_daily"
    )
    con.close()
    content = read_content(tampered, KOREAN.id, month(2026, 10), [])
    assert set(content.tables["oee_daily"]["machine_name"]) == {"사출기1호", "사출기2호"}
    for trace in (OTHER.id, "다른공장", "다른프레스", "B-7", "S-other"):
        assert trace not in english.text and trace not in english.cells()


def test_delivered_findings_come_from_the_workbench_with_their_evidence_chart(
    published: Settings, tmp_path: Path
) -> None:
    """A finding written, reviewed by another consultant and delivered in the real workbench store reaches
    the report with its evidence described and its KPI chart's days; a draft never does."""
    from forgeline.program import findings as workbench

    settings = get_settings(tmp_path / "home")  # its own workbench store, the same published snapshot
    shutil.copytree(published.home, settings.home)
    period = month(2026, 10)
    assert _delivered_findings(settings, KOREAN.id, period) == []
    evidence = [{"kind": "kpi_chart", "kpi": "oee", "start": "2026-10-01", "end": "2026-10-31"}]
    draft = workbench.write(
        settings, KOREAN.id, kind="finding", title="Draft only", body="…", evidence=evidence, by="kim"
    )
    shown = workbench.write(
        settings,
        KOREAN.id,
        kind="recommendation",
        title="Night shifts lose OEE",
        body="**Stops** cluster at night.",
        evidence=evidence,
        by="kim",
    )
    workbench.review(settings, KOREAN.id, shown.finding_id, version=1, by="lee")
    workbench.deliver(settings, KOREAN.id, shown.finding_id, version=1, by="lee")
    [delivered] = _delivered_findings(settings, KOREAN.id, period)
    assert (delivered.title, delivered.kind) == ("Night shifts lose OEE", "recommendation")
    assert "OEE" in delivered.evidence and draft.title != delivered.title
    assert delivered.chart is not None and delivered.chart["value"].notna().any()
    text = _read(build_report(settings, KOREAN.id, period=period, lang="en")).text
    assert "Night shifts lose OEE" in text and "Draft only" not in text
    assert "**" not in text and "Stops cluster at night." in text  # Markdown printed plainly
    assert "days with data: 5" in text  # the evidence's figures, not only its name
    korean = _read(build_report(settings, KOREAN.id, period=period, lang="ko"))
    assert "일별" in korean.text and "데이터가 있는 날: 5" in korean.text and "day by day" not in korean.text
    [row] = list(korean.book["진단 결과"].iter_rows(min_row=2, values_only=True))
    assert "일별" in row[3] and "데이터가 있는 날: 5" in row[3] and "day by day" not in row[3]


def test_a_share_evidence_chart_is_drawn_in_percent(monkeypatch: pytest.MonkeyPatch) -> None:
    from forgeline.reports import charts

    drawn = []
    monkeypatch.setattr(
        charts, "daily_lines", lambda frame, series, share, unit="": drawn.append(share) or b""
    )
    charts.evidence_chart(pd.DataFrame({"day": pd.to_datetime(["2026-10-01"]), "value": [0.8]}), "share")
    charts.evidence_chart(pd.DataFrame({"day": pd.to_datetime(["2026-10-01"]), "value": [3.0]}), "kWh")
    assert drawn == [True, False]


def test_cli_writes_both_files_and_names_what_to_do_when_it_cannot(
    published: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = CliRunner()
    home = ["--home", str(published.home)]
    monkeypatch.chdir(tmp_path)
    done = runner.invoke(
        app, ["report", OTHER.id, "--period", "2026-10-01..2026-10-11", "--lang", "ko", *home]
    )
    assert done.exit_code == 0, done.output
    folder = tmp_path  # by default the current folder: a consultant's copy is not filed for the client
    downloads = published.client_downloads_dir(OTHER.id)
    assert not downloads.exists() or not any(
        p.name.startswith(f"forgeline-{OTHER.id}-2026-10-01") for p in downloads.iterdir()
    )
    files = sorted(folder.iterdir())
    assert [p.name for p in files] == [
        f"forgeline-{OTHER.id}-2026-10-01_2026-10-11-ko.{s}" for s in ("pdf", "xlsx")
    ]
    assert all(str(path) in done.output.replace("\n", "") for path in files)

    def fails(*args: str) -> str:
        result = runner.invoke(app, ["report", *args, *home])
        assert result.exit_code == 1 and "Traceback" not in result.output, result.output
        return " ".join(result.output.split())

    assert "no client nobody-here" in fails("nobody-here") and "forgeline clients" in fails("nobody-here")
    published.client_config_path("new-plant").parent.mkdir(parents=True)
    published.client_config_path("new-plant").write_text("id: new-plant\nname: New\n")
    assert "no published results yet" in fails("new-plant") and "forgeline run new-plant" in fails(
        "new-plant"
    )
    no_data = fails(KOREAN.id, "--period", "2025-01")
    assert "no data in 2025-01" in no_data and "2026-10-01 to 2026-11-03" in no_data
    assert "Write the period as a month" in fails(KOREAN.id, "--period", "last month")
    assert "데이터가 없습니다" in fails(KOREAN.id, "--period", "2025-01", "--lang", "ko")


def test_periods_read_and_default() -> None:
    assert parse_period("2026-02") == Period(date(2026, 2, 1), date(2026, 2, 28))
    assert str(parse_period("2026-10-01..2026-10-15")) == "2026-10-01..2026-10-15"
    with pytest.raises(PeriodError):
        parse_period("2026-10-15..2026-10-01")
    assert last_full_month(date(2026, 9, 20), date(2026, 11, 3)) == month(2026, 10)
    assert last_full_month(date(2026, 9, 20), date(2026, 10, 31)) == month(2026, 10)
    assert last_full_month(date(2026, 11, 2), date(2026, 11, 3)) == month(
        2026, 11
    )  # no full month: the latest
    assert month(2026, 12).end - month(2026, 12).start == timedelta(days=30)
    assert period_before(month(2026, 3)) == month(2026, 2)  # a month: the month before
    assert period_before(parse_period("2026-10-11..2026-10-20")) == parse_period("2026-10-01..2026-10-10")


def test_a_missing_font_is_a_clear_error(published: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    from forgeline.reports import fonts

    fonts.korean_font.cache_clear()
    monkeypatch.setenv("FORGELINE_REPORT_FONT", "/nonexistent/font.ttf")
    try:
        with pytest.raises(ReportError, match="FORGELINE_REPORT_FONT"):
            build_report(published, OTHER.id, findings=[])
    finally:
        fonts.korean_font.cache_clear()


# -- i18n: the catalogs --------------------------------------------------------------------------------
def _catalog(lang: str):  # noqa: ANN202 - babel's Catalog
    from babel.messages.pofile import read_po

    with i18n.catalog_path(lang).open("rb") as handle:
        return read_po(handle, locale=lang)


def test_every_message_of_the_source_has_both_languages() -> None:
    source = {m.id if isinstance(m.id, str) else m.id[0]: m for m in i18n.extract_template() if m.id}
    for lang in i18n.LANGUAGES:
        catalog = _catalog(lang)
        kept = {m.id if isinstance(m.id, str) else m.id[0]: m for m in catalog if m.id}
        assert set(kept) == set(source), (
            f"{lang}: run `python -m forgeline.i18n update` (catalog out of date)"
        )
        for key, message in kept.items():
            forms = [message.string] if isinstance(message.string, str) else list(message.string)
            assert forms and all(forms) and not message.fuzzy, f"{lang}: {key!r} is not translated"
            expected = i18n.format_fields(key)
            assert all(i18n.format_fields(f) == expected for f in forms), (
                f"{lang}: {key!r} changes its fields"
            )


def test_every_shipped_next_step_has_its_words() -> None:
    """The program layer publishes its steps in English; each shipped one is in the catalogs."""
    import yaml

    from forgeline.program.levels import SHIPPED_RULES
    from forgeline.program.recommendations import SOLUTIONS
    from forgeline.reports.words import RULE_SAYS, STEP_TITLES

    shipped = yaml.safe_load(SHIPPED_RULES.read_text(encoding="utf-8"))
    steps = [str(rule["step"]) for level in shipped["levels"] for rule in level["rules"]]
    titles = [s[:1].upper() + s[1:] for s in steps] + [s.title for s in SOLUTIONS]
    assert not [t for t in titles if t not in STEP_TITLES], "add the new step to reports/words.py STEP_TITLES"
    says = [str(rule["says"]) for level in shipped["levels"] for rule in level["rules"]]
    assert not [s for s in says if s not in RULE_SAYS], "add the rule's words to reports/words.py RULE_SAYS"


def test_korean_formats_numbers_dates_and_plurals() -> None:
    with i18n.use_language("ko"):
        assert i18n.month(date(2026, 10, 1)) == "2026년 10월"
        assert i18n.day(date(2026, 10, 1)) == "2026년 10월 1일"
        assert i18n.percent(0.2912) == "29.1%" and i18n.number(12345.678, 1) == "12,345.7"
        assert i18n.ngettext("{n} day", "{n} days", 3).format(n=3) == "3일"
    with i18n.use_language("en"):
        assert (
            i18n.month(date(2026, 10, 1)) == "October 2026"
            and i18n.day(date(2026, 10, 1)) == "1 October 2026"
        )
        assert i18n.ngettext("{n} day", "{n} days", 1).format(n=1) == "1 day"
    with pytest.raises(ValueError, match="ko, en"):
        i18n.check_language("fr")


# -- the app's download ----------------------------------------------------------------------------------
@pytest.mark.app
def test_a_client_downloads_its_own_report_from_the_app(
    published: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from streamlit.testing.v1 import AppTest

    from apps import ui
    from forgeline.auth import User, issue_session, set_login
    from forgeline.settings import REPO_ROOT

    monkeypatch.setenv("FORGELINE_HOME", str(published.home))
    set_login(published, KOREAN.id, f"{KOREAN.id}-password", "client", KOREAN.name, client_id=KOREAN.id)
    at = AppTest.from_file(str(REPO_ROOT / "apps" / "forgeline_app.py"), default_timeout=60)
    user = User(KOREAN.id, KOREAN.name, "client", KOREAN.id)
    at.session_state[ui.SESSION_KEY] = issue_session(published, user)  # a real session of the client
    at.session_state["client_id"] = OTHER.id  # a trick that must not widen what the login sees
    at.run()
    at.switch_page("app_pages/client/reports.py").run()
    assert not at.exception
    at.button(key="report_make").click().run()
    assert not at.exception and not at.warning
    names = [b.proto.label for b in at.get("download_button")]
    # The newest month, in the page's language (the login speaks the default, English).
    assert names == [f"forgeline-{KOREAN.id}-2026-11-en.{s}" for s in ("pdf", "xlsx")]
    assert OTHER.id not in str(at.main) and OTHER.name not in str(at.main)


def test_figures_held_back_after_a_failed_gate_say_so(published: Settings, tmp_path: Path) -> None:
    """The newest delivery failed the gate: the report shows the last good figures and says so."""
    settings = get_settings(tmp_path / "home")
    source = published.published_dir(OTHER.id)
    target = settings.published_dir(OTHER.id)
    target.mkdir(parents=True)
    for path in source.iterdir():
        (target / path.name).write_bytes(path.read_bytes())
    failed = RunInfo(
        "20261120T000000000000Z", datetime.now(UTC), "gate_failed", False, "cycle times out of range"
    )
    settings.warehouse_dir.mkdir(parents=True)
    (settings.warehouse_dir / f"{OTHER.id}.duckdb").write_bytes(
        published.warehouse_path(OTHER.id).read_bytes()
    )
    publish_client(settings, OTHER, failed, None, [])
    text = _read(build_report(settings, OTHER.id, lang="en", findings=[])).text
    assert "did not pass the data-quality checks" in text
    assert "Availability" in text and "83.3%" in text  # the last good run's figures, still shown


def test_the_workbook_stores_text_as_text_and_blanks_oee_without_rejects(published: Settings) -> None:
    from forgeline.reports.content import Finding

    hostile = Finding(title='=HYPERLINK("http://x.example","click")', body="+1+2", evidence="@SUM(A1)")
    book = openpyxl.load_workbook(
        io.BytesIO(build_report(published, OTHER.id, month(2026, 10), "en", findings=[hostile]).xlsx)
    )
    row = [c for c in book["Findings"][2]]
    assert [c.value for c in row[1:]] == [hostile.title, hostile.body, hostile.evidence]
    assert all(c.data_type == "s" and c.quotePrefix for c in row[1:])  # never a formula Excel runs
    sheet = book["OEE by machine and day"]
    header = [c.value for c in sheet[1]]
    rows = list(sheet.iter_rows(min_row=2, values_only=True))
    quality, oee = header.index("Quality (%)"), header.index("OEE (%)")
    assert rows and all(r[quality] is None and r[oee] is None for r in rows)  # not measured, as page 1 says
    assert [r[0] for r in rows] == sorted(r[0] for r in rows)  # by day


def test_the_monthly_schedule_files_last_calendar_month_and_fails_on_a_missing_font(
    published: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from prefect.logging import disable_run_logger

    from flows.reports import client_report
    from forgeline.reports import fonts, report_months
    from forgeline.reports.period import previous_month

    seoul_first = datetime(2026, 10, 31, 21, 0, tzinfo=UTC)  # 1 November 06:00 in Seoul
    assert previous_month(seoul_first, "Asia/Seoul") == month(2026, 10)  # not "the last full month"
    assert previous_month(seoul_first, "UTC") == month(2026, 9)
    # OTHER's data ends on 11 October (never October's last day): the schedule still files October.
    home = str(published.home)
    with disable_run_logger():
        filed = client_report.fn(OTHER.id, "en", "2026-10", home)
        assert [Path(p).name for p in filed] == [
            f"forgeline-{OTHER.id}-2026-10-en.pdf",
            f"forgeline-{OTHER.id}-2026-10-en.xlsx",
        ]
        assert client_report.fn(OTHER.id, "en", "2025-01", home) == []  # no data that month: skipped
        fonts.korean_font.cache_clear()
        monkeypatch.setenv("FORGELINE_REPORT_FONT", "/nonexistent/font.ttf")
        try:
            with pytest.raises(ReportError, match="FORGELINE_REPORT_FONT"):  # a failure, never a skip
                client_report.fn(OTHER.id, "en", "2026-10", home)
        finally:
            fonts.korean_font.cache_clear()
    assert report_months(published, KOREAN.id) == [month(2026, 11), month(2026, 10)]  # months with data only


def test_the_apps_report_shows_a_delivery_at_once_and_filed_reports_are_read_on_download(
    published: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from apps import data
    from forgeline.auth import User
    from forgeline.program import findings as workbench

    settings = get_settings(tmp_path / "home")  # its own workbench store, the same published snapshot
    shutil.copytree(published.home, settings.home)
    monkeypatch.setenv("FORGELINE_HOME", str(settings.home))
    kim = User("kim", "Kim", "consultant")
    before, _ = data.client_report(kim, KOREAN.id, "2026-10", "en")
    found = workbench.write(
        settings,
        KOREAN.id,
        kind="finding",
        title="Delivered after the first download",
        body="…",
        evidence=[{"kind": "kpi_chart", "kpi": "oee", "start": "2026-10-01", "end": "2026-10-31"}],
        by="kim",
    )
    workbench.review(settings, KOREAN.id, found.finding_id, version=1, by="lee")
    workbench.deliver(settings, KOREAN.id, found.finding_id, version=1, by="lee")
    after, _ = data.client_report(kim, KOREAN.id, "2026-10", "en")
    text = lambda pdf: "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)  # noqa: E731
    assert "Delivered after the first download" not in text(before.data)
    assert "Delivered after the first download" in text(after.data)  # not the cached report of before

    filed = settings.client_downloads_dir(KOREAN.id) / f"forgeline-{KOREAN.id}-2026-10-en.pdf"
    filed.parent.mkdir(parents=True, exist_ok=True)
    filed.write_bytes(b"%PDF-filed")
    [listed] = data.filed_reports(kim, KOREAN.id)
    assert listed.name == filed.name and callable(listed.data)  # listed by name, not read
    assert listed.data() == b"%PDF-filed"


def test_a_report_is_written_atomically_both_files_or_neither(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    from forgeline import atomic

    report = Report("acme-press", month(2026, 10), "en", b"%PDF-new", b"xlsx-new")
    folder = tmp_path / "out"
    pdf, xlsx = report.write(folder)
    assert (pdf.read_bytes(), xlsx.read_bytes()) == (b"%PDF-new", b"xlsx-new")
    assert sorted(p.name for p in folder.iterdir()) == sorted([pdf.name, xlsx.name])  # no temporary left
    synced = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        synced.append(fd)
        if len(synced) == 2:  # the workbook's flush fails: nothing may be replaced yet
            raise OSError("disk full")
        real_fsync(fd)

    monkeypatch.setattr(atomic.os, "fsync", fsync)
    newer = Report("acme-press", month(2026, 10), "en", b"%PDF-newer", b"xlsx-newer")
    with pytest.raises(OSError, match="disk full"):
        newer.write(folder)
    assert (pdf.read_bytes(), xlsx.read_bytes()) == (b"%PDF-new", b"xlsx-new")  # the PDF not replaced alone
    assert sorted(p.name for p in folder.iterdir()) == sorted([pdf.name, xlsx.name])

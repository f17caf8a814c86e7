"""Inspecting a new client's files and drafting its mapping (forgeline/mapping/inspect.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from forgeline.clients import parse_client_config
from forgeline.mapping.inspect import (
    Proposal,
    column_dictionary,
    header_key,
    mapped_share,
    propose_mapping,
    sniff,
)

DATASETS = Path(__file__).resolve().parents[2] / "shared" / "datasets"


def _dataset(relative: str) -> Path:
    path = DATASETS / relative
    if not path.exists():
        pytest.skip(f"shared dataset {relative} not available")
    return path


def _feed(proposal: Proposal, entity: str, source: int = 0) -> dict:
    return proposal.config["sources"][source]["feeds"][entity]


def _check(proposal: Proposal) -> dict:
    """The rendered YAML validates; returns it parsed."""
    text = proposal.to_yaml()
    parse_client_config(text)
    return yaml.safe_load(text)


# -- the dictionary --------------------------------------------------------------------------------------


def test_header_key_ignores_case_separators_brackets_and_units() -> None:
    assert header_key("Cycle_Time") == header_key("cycle time") == header_key("CycleTime [s]") == "cycletime"
    assert header_key("비가동시간(분)") == "비가동시간"
    assert header_key("Usage_kWh") == "usage"
    assert header_key("설비 코드") == "설비코드"


def test_dictionary_matches_korean_and_english_synonyms() -> None:
    d = column_dictionary()
    assert d.match("생산수량", "int")[0].concept == "total_count"
    assert d.match("EQUIP_CD", "text")[0].concept == "machine"
    assert d.match("품번", "text")[0].concept == "product"
    assert d.match("PassOrFail", "int")[0].concept == "pass_label"
    assert d.match("STD_DT", "timestamp")[0].concept == "timestamp"
    assert d.match("일생산수량", "int")[0].score < d.match("생산수량", "int")[0].score  # an ending only
    assert not d.match("생산수량", "text")  # counts are numbers
    assert d.code_for("machine_states", "가동") == "running"
    assert d.code_for("machine_states", "정지") == "down"
    assert d.code_for("defect_types", "미성형") == "SHORT_SHOT"
    assert d.code_for("stop_reasons", "설비고장") == "BREAKDOWN"


# -- sniffing small files ----------------------------------------------------------------------------------


def _diary_csv(path: Path) -> Path:
    rows = [
        ["2024년 3월 생산일보 (한국정밀)", "", "", "", "", ""],
        ["일자", "설비", "품번", "생산수량", "불량수량", "불량유형"],
    ]
    defects = ["스크래치", "버", "치수불량", "찍힘"]
    for day in range(1, 16):
        for i, machine in enumerate(["P-01", "P-02", "P-03"]):
            rejects = (day + i) % 4
            kind = defects[(day * 3 + i) % 4] if rejects else ""
            rows.append(
                [f"2024-03-{day:02d}", machine, f"AB-{100 + i}", str(900 + day * 7 + i), str(rejects), kind]
            )
    path.write_bytes("\r\n".join(",".join(r) for r in rows).encode("cp949"))
    return path


def test_cp949_diary_with_title_row(tmp_path: Path) -> None:
    path = _diary_csv(tmp_path / "생산일보_202403.csv")
    profile = sniff(path)
    assert profile.encoding == "cp949"
    assert profile.format == "csv" and profile.delimiter == ","
    assert profile.header_row == 2
    assert profile.names == ["일자", "설비", "품번", "생산수량", "불량수량", "불량유형"]
    types = {c.name: c.type for c in profile.columns}
    assert types == {
        "일자": "date",
        "설비": "text",
        "품번": "text",
        "생산수량": "int",
        "불량수량": "int",
        "불량유형": "text",
    }
    assert profile.column("일자").format == "%Y-%m-%d"
    assert profile.column("설비").code_like and set(profile.column("설비").codes) == {"P-01", "P-02", "P-03"}
    assert profile.column("불량유형").null_share > 0

    proposal = propose_mapping("hankook-precision", "한국정밀", [path])
    source = proposal.config["sources"][0]
    assert source["header_row"] == 2 and source["files"] == "생산일보_*.csv"
    fields = _feed(proposal, "production_counts")["fields"]
    assert fields["production_date"] == {"column": "일자"}
    assert fields["machine_id"] == {"column": "설비"}
    assert fields["product_id"] == {"column": "품번"}
    assert fields["total_count"] == {"column": "생산수량"}
    assert fields["reject_count"] == {"column": "불량수량"}
    assert fields["defect_code"]["map"] == {
        "스크래치": "SCRATCH",
        "버": "FLASH",
        "치수불량": "DIMENSION",
        "찍힘": "DENT",
    }
    assert fields["defect_text"] == {"column": "불량유형"}
    quality = _feed(proposal, "quality_results")["fields"]  # lot counts beside the production counts
    assert quality["inspected_count"] == {"column": "생산수량"} and quality["defect_count"] == {
        "column": "불량수량"
    }
    assert mapped_share(proposal) == 1.0
    text = proposal.to_yaml()
    assert "한국정밀" in text and "\\u" not in text  # UTF-8, not escaped
    _check(proposal)


def test_headerless_csv_gets_generic_names(tmp_path: Path) -> None:
    path = tmp_path / "plc_dump.csv"
    lines = [
        f"2024-03-01 10:{i // 60:02d}:{i % 60:02d},{20 + i * 0.1:.1f},{5 + i % 3},RUN" for i in range(300)
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    profile = sniff(path)
    assert profile.header_row == 0
    assert profile.names == ["col_1", "col_2", "col_3", "col_4"]
    assert [c.type for c in profile.columns] == ["timestamp", "float", "int", "text"]
    assert profile.column("col_1").iso and profile.rows_sampled == 300  # the first row is data
    proposal = propose_mapping("plc-client", "PLC", [path])
    source = _check(proposal)["sources"][0]
    assert source["header_row"] == 0 and source["columns"] == ["col_1", "col_2", "col_3", "col_4"]
    sensors = _feed(proposal, "sensor_readings")
    assert sensors["fields"]["read_at"] == {"column": "col_1"}
    assert set(sensors["tags"]) == {"col_2", "col_3"}
    assert _feed(proposal, "machine_states")["fields"]["state"]["map"]["RUN"] == "running"


def test_tsv_with_dotted_korean_dates_and_energy(tmp_path: Path) -> None:
    path = tmp_path / "전력_2024-03.tsv"
    rows = [f"2024.03.01 {h:02d}:00\t{100 + h}\t0.9{h % 10}" for h in range(24)]
    path.write_text("측정일시\t전력량(kWh)\t역률\n" + "\n".join(rows) + "\n", encoding="utf-8")
    profile = sniff(path)
    assert profile.format == "tsv" and profile.delimiter == "\t" and profile.encoding == "utf-8-sig"
    assert profile.column("측정일시").type == "timestamp"
    assert profile.column("측정일시").format == "%Y.%m.%d %H:%M"
    assert profile.column("전력량(kWh)").unit == "kWh"
    proposal = propose_mapping("energy-client", "에너지", [path])
    fields = _feed(proposal, "energy_readings")["fields"]
    assert fields["energy_kwh"] == {"column": "전력량(kWh)", "unit": "kWh"}
    assert fields["interval_start"] == {"column": "측정일시", "format": "%Y.%m.%d %H:%M"}
    assert fields["interval_s"] == {"value": 60, "unit": "min"}
    assert _check(proposal)["sources"][0]["format"] == "tsv"


def test_decimal_commas_and_semicolons(tmp_path: Path) -> None:
    path = tmp_path / "druck.csv"
    rows = [f"01.03.2024 10:{i:02d};{20 + i / 10:.1f};1.{i:03d},5" for i in range(40)]
    rows = [f"{time};{temp.replace('.', ',')};{bar}" for time, temp, bar in (r.split(";") for r in rows)]
    path.write_text("Zeit;Temperatur (°C);Druck (bar)\n" + "\n".join(rows) + "\n", encoding="utf-8")
    profile = sniff(path)
    assert profile.delimiter == ";" and profile.decimal == ","
    assert profile.column("Zeit").format == "%d.%m.%Y %H:%M"
    assert profile.column("Druck (bar)").decimal_comma and profile.column("Druck (bar)").type == "float"
    assert profile.column("Temperatur (°C)").decimal_comma and not profile.warnings
    assert profile.column("Temperatur (°C)").unit == "°C"
    source = _check(propose_mapping("eu-client", "EU", [path]))["sources"][0]
    assert source["delimiter"] == ";" and source["decimal"] == ","


def test_profile_details(tmp_path: Path) -> None:
    path = tmp_path / "shots.csv"
    rows = ["seq,ymd,result,speed,shift_note"]
    for i in range(200):
        speed = "-1" if i % 10 == 0 else str(50 + i % 7)
        rows.append(f"{i},{20240301 + i // 100},{'NG' if i % 25 == 0 else 'OK'},{speed},None")
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    profile = sniff(path)
    seq, ymd, result, speed, note = profile.columns
    assert seq.type == "int" and seq.increasing and seq.unique
    assert ymd.type == "date" and ymd.format == "%Y%m%d"
    assert result.code_like and result.codes == {"OK": 192, "NG": 8}
    assert speed.sentinel == "-1" and not speed.increasing
    assert note.type == "empty" and note.null_values == ["None"] and note.null_share == 1.0


def test_excel_diary_with_two_sheets(tmp_path: Path) -> None:
    from datetime import date

    from openpyxl import Workbook

    for month in (10, 11):
        workbook = Workbook()
        production = workbook.active
        production.title = "생산실적"
        production.append([f"2026년 {month}월 생산일보"])
        production.append([])
        production.append(
            ["일자", "근무조", "라인", "품번", "계획시간(분)", "생산수량", "양품수량", "불량수량", "불량유형"]
        )
        downtime = workbook.create_sheet("비가동")
        downtime.append([f"2026년 {month}월 생산일보"])
        downtime.append([])
        downtime.append(["일자", "근무조", "라인", "비가동사유", "비가동시간(분)", "비고"])
        for day in range(1, 21):
            for shift in ("주간", "야간"):
                rejects = day % 5
                production.append(
                    [
                        date(2026, month, day),
                        shift,
                        "L1",
                        "MP-100",
                        480,
                        2000 + day,
                        2000 + day - rejects,
                        rejects,
                        "스크래치" if rejects else None,
                    ]
                )
                downtime.append(
                    [
                        date(2026, month, day),
                        shift,
                        "L1",
                        ["설비고장", "금형교체", "자재대기"][day % 3],
                        30,
                        None,
                    ]
                )
        workbook.save(tmp_path / f"생산일보_2026-{month}.xlsx")
    files = sorted(tmp_path.glob("*.xlsx"))
    profile = sniff(files[0], sheet="비가동")
    assert profile.format == "excel" and profile.header_row == 3
    assert profile.column("일자").type == "date" and profile.column("비가동시간(분)").unit == "min"
    proposal = propose_mapping("miraero-test", "미래로", files)
    sources = {s["sheet"]: s for s in _check(proposal)["sources"]}
    assert set(sources) == {"생산실적", "비가동"}
    assert sources["생산실적"]["files"] == "생산일보_*.xlsx" and sources["생산실적"]["header_row"] == 3
    counts = sources["생산실적"]["feeds"]["production_counts"]["fields"]
    assert counts["planned_time_s"] == {"column": "계획시간(분)", "unit": "min"}
    assert counts["good_count"] == "양품수량" and counts["shift"] == "근무조"
    stops = sources["비가동"]["feeds"]["downtime_events"]["fields"]
    assert stops["duration_s"] == {"column": "비가동시간(분)", "unit": "min"}
    assert stops["reason_code"]["map"] == {
        "설비고장": "BREAKDOWN",
        "금형교체": "CHANGEOVER",
        "자재대기": "MATERIAL_WAIT",
    }
    assert [d.column for d in proposal.unmapped()] == ["비고"]


def test_no_time_gets_placeholder_order_and_a_machine_placeholder(tmp_path: Path) -> None:
    path = tmp_path / "runs.csv"
    rows = ["No,status,temp_C"] + [f"{i},{'가동' if i % 9 else '정지'},{60 + i % 5}" for i in range(1, 60)]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    proposal = propose_mapping("runs-client", "Runs", [path])
    states = _feed(proposal, "machine_states")["fields"]
    assert states["started_at"]["from_order"] == {
        "order": "No",
        "cadence": "1 s",
        "start": "2000-01-01 00:00:00",
    }
    assert states["machine_id"] == {"value": "M-01"}
    assert states["state"]["map"] == {
        "가동": "running",
        "정지": "down",
        "대기": "idle",
        "비가동": "down",
        "고장": "down",
    }
    assert _feed(proposal, "sensor_readings")["tags"] == {"temp_C": "°C"}
    decision = next(d for d in proposal.decisions_for("runs", "No") if d.field == "started_at")
    assert decision.confidence < 0.6 and "1 s" in decision.reason and "2000-01-01 00:00:00" in decision.reason
    text = proposal.to_yaml()
    assert "# TODO: no machine column" in text and "TODO: confirm the cadence" in text
    assert "low confidence (check): No → machine_states.started_at" in text
    _check(proposal)


# -- real factory files ------------------------------------------------------------------------------------

# What a data engineer maps the KAMP molding export to (as in demo/clients/daehan-molding/mapping.yml).
MOLDING_KEYS = {
    "_id": ("cycles", "cycle_id"),
    "TimeStamp": ("cycles", "started_at"),
    "PART_NAME": ("cycles", "product_id"),
    "EQUIP_CD": ("cycles", "machine_id"),
    "PassOrFail": ("quality_results", "is_pass"),
    "Reason": ("quality_results", "defect_code"),
}
MOLDING_UNMAPPED = {"PART_FACT_PLAN_DATE", "PART_FACT_SERIAL", "EQUIP_NAME"}


def test_kamp_molding_cycles_and_quality() -> None:
    path = _dataset("kamp_injection_molding/labeled_data_preprocessed.csv")
    proposal = propose_mapping("kamp-molding", "KAMP 사출", [path])
    assert set(_feed(proposal, "cycles")) >= {"fields", "tags"}
    quality = _feed(proposal, "quality_results")["fields"]
    assert quality["is_pass"]["map"] == {"0": True, "1": False}
    assert quality["defect_code"]["map"] == {"가스": "GAS", "미성형": "SHORT_SHOT"}
    assert quality["defect_code"]["null_values"] == ["None"]
    columns = [c for _s, c in proposal.columns()]
    correct = 0
    for column in columns:
        decisions = proposal.decisions_for("labeled_data_preprocessed", column)
        if column in MOLDING_KEYS:
            correct += any((d.entity, d.field) == MOLDING_KEYS[column] for d in decisions)
        elif column not in MOLDING_UNMAPPED:  # process parameters: tags of the cycles
            correct += any(d.entity == "cycles" and d.tag == column for d in decisions)
    assert correct / len(columns) >= 0.8
    assert mapped_share(proposal) >= 0.8
    assert {d.column for d in proposal.unmapped()} == MOLDING_UNMAPPED
    assert _feed(proposal, "cycles")["tags"]["Max_Screw_RPM"] == "rpm"  # the unit in the header
    _check(proposal)


def test_kamp_molding_product_files_become_one_source() -> None:
    files = [
        _dataset("kamp_injection_molding/labeled_data_CN7_processed.csv"),
        _dataset("kamp_injection_molding/labeled_data_RG3_processed.csv"),
    ]
    proposal = propose_mapping("kamp-molding", "KAMP 사출", files)
    (source,) = proposal.config["sources"]
    assert source["files"] == "labeled_data_*_processed.csv"
    assert _feed(proposal, "cycles")["fields"]["machine_id"] == {"value": "M-01"}  # no machine column
    assert _feed(proposal, "quality_results")["fields"]["is_pass"]["map"] == {"0": True, "1": False}
    assert "machine_id: M-01 is a placeholder" in proposal.to_yaml()


def test_steel_energy() -> None:
    path = _dataset("steel_industry_energy/Steel_industry_data.csv")
    profile = sniff(path)
    assert profile.encoding == "utf-8-sig" and profile.column("date").format == "%d/%m/%Y %H:%M"
    proposal = propose_mapping("steel-energy", "철강", [path])
    fields = _feed(proposal, "energy_readings")["fields"]
    assert fields["energy_kwh"] == {"column": "Usage_kWh", "unit": "kWh"}
    time_field = fields.get("interval_end") or fields["interval_start"]
    assert time_field == {"column": "date", "format": "%d/%m/%Y %H:%M"}
    assert fields["interval_s"] == {"value": 15, "unit": "min"}
    unmapped = {d.column for d in proposal.unmapped()}
    assert {"NSM", "Day_of_week", "WeekStatus"} <= unmapped  # derived from the time
    _check(proposal)


def test_melting_tank_orders_by_its_running_number() -> None:
    path = _dataset("kamp_melting_tank/melting_tank_sample10k.csv")
    proposal = propose_mapping("melting-tank", "용해로", [path])
    sensors = _feed(proposal, "sensor_readings")
    order = sensors["fields"]["read_at"]["from_order"]
    assert order["order"] == "NUM"
    assert order["cadence"] == "6 s" and order["start"] == "2020-03-04 00:00:00"  # 10 rows per minute
    assert {"MELT_TEMP", "MOTORSPEED", "MELT_WEIGHT", "INSP"} <= set(sensors["tags"])
    assert _feed(proposal, "quality_results")["fields"]["is_pass"]["map"] == {"OK": True, "NG": False}
    _check(proposal)


def test_die_casting_states_and_joined_date_time() -> None:
    path = _dataset("kamp_die_casting/die_casting_combined.csv")
    proposal = propose_mapping("die-casting", "다이캐스팅", [path])
    cycles = _feed(proposal, "cycles")
    assert cycles["fields"]["started_at"] == {"expr": "date || ' ' || time"}
    assert cycles["fields"]["product_id"] == {"column": "mold_code"}
    assert cycles["tags"]["molten_volume"] == {"null_values": ["-1"]}  # -1 stands for missing
    assert _feed(proposal, "quality_results")["fields"]["is_pass"]["map"] == {"0": True, "1": False}
    state = _feed(proposal, "machine_states")["fields"]["state"]
    assert state["map"]["가동"] == "running" and state["map"]["정지"] == "down"
    _check(proposal)


def test_cnc_experiments_one_source_labelled_per_file() -> None:
    folder = _dataset("kamp_cnc_machining")
    files = sorted(folder.glob("experiment_*.csv"))[:6]
    proposal = propose_mapping("cnc-shop", "CNC", files)
    (source,) = proposal.config["sources"]
    assert source["files"] == "experiment_*.csv"
    quality = _feed(proposal, "quality_results")
    assert quality["fields"]["is_pass"]["map"] == {"PASS": True, "FAIL": False}
    assert quality["fields"]["inspection_id"] == {"column": "_source_file"} and quality["dedup"] == [
        "inspection_id"
    ]
    read_at = _feed(proposal, "sensor_readings")["fields"]["read_at"]
    assert read_at["from_order"]["order"] == "row" and read_at["from_order"]["cadence"] == "1 s"
    _check(proposal)


def _shared_files() -> list[Path]:
    if not DATASETS.exists():
        return []
    return sorted(
        p for p in DATASETS.rglob("*") if p.suffix in (".csv", ".tsv", ".xlsx", ".parquet", ".jsonl")
    )


def test_every_shared_dataset_file_gives_a_valid_draft() -> None:
    files = _shared_files()
    if not files:
        pytest.skip("shared datasets not available")
    for path in files:
        proposal = propose_mapping("shared-data", path.parent.name, [path], sample_rows=200)
        _check(proposal)
        assert mapped_share(proposal) >= 0.5, path.name
    for folder in sorted({p.parent for p in files}):
        proposal = propose_mapping(
            "shared-data", folder.name, [p for p in files if p.parent == folder], sample_rows=300
        )
        _check(proposal)


def test_western_text_that_cp949_would_misread_is_drafted_as_cp1252(tmp_path: Path) -> None:
    from forgeline.mapping.inspect import propose_mapping

    export = tmp_path / "temps.csv"
    rows = b"".join(f"S{i},23{i % 10}\xb0C\n".encode("latin-1") for i in range(50))
    export.write_bytes(b"sensor,temp\n" + rows)

    text = propose_mapping("acme-press", "Acme", [export]).to_yaml()

    assert "encoding: cp1252" in text and "not UTF-8 or Korean" in text


def test_columns_named_alike_get_distinct_tags(tmp_path: Path) -> None:
    """`Temp (1)` and `Temp_1` would both be tag `temp_1`; a row gives one reading per tag, so the draft
    numbers the second rather than losing the feed."""
    path = tmp_path / "plc.csv"
    rows = [
        f"2024-03-01 10:{i // 60:02d}:{i % 60:02d},{20 + i * 0.1:.1f},{30 + i * 0.2:.1f}" for i in range(120)
    ]
    path.write_text("time,Temp (1),Temp_1\n" + "\n".join(rows) + "\n", encoding="utf-8")
    proposal = propose_mapping("plc-client", "PLC", [path])
    tags = _feed(proposal, "sensor_readings")["tags"]
    assert set(tags) == {"Temp (1)", "Temp_1"}
    assert tags["Temp_1"] == {"tag": "temp_1_2"}
    _check(proposal)  # the draft validates

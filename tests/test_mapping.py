"""Fast tier: mapping files are validated with line and key, compiled safely, and read data right.

The compile-and-run tests go through `forgeline check` (a real in-memory DuckDB run of the compiled
mapping on real files), so what is tested is what a run would do.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from forgeline.clients import ClientConfigError, parse_client_config, save_mapping_text
from forgeline.demo import demo_clients
from forgeline.mapping.check import CheckReport, check_client
from forgeline.mapping.compile import CompileError, compile_mapping
from forgeline.mapping.expressions import ExpressionError, compile_expression
from forgeline.settings import Settings

CLIENT = "test-plant"

BASE = """\
id: test-plant
name: 테스트공장
sources:
  - name: diary
    files: "*.csv"
    feeds:
      production_counts:
        fields:
          machine_id: 설비
          production_date: 일자
          total_count: 생산수량
"""


def mapping_error(text: str) -> str:
    with pytest.raises(ClientConfigError) as caught:
        parse_client_config(text, "mapping.yml")
    return str(caught.value)


def test_every_demo_mapping_validates() -> None:
    clients = demo_clients()
    assert len(clients) == 8
    assert {c.id for c in clients} >= {"hanul-cnc", "daesung-melting"}


def test_the_synthetic_cohort_plants_are_labelled_and_their_exports_map_cleanly(workspace: Settings) -> None:
    from forgeline.demo import demo_mapping_text, synthetic

    full = demo_clients("full")
    cohort = [c for c in full if c.id in synthetic.COHORT_PLANTS]
    assert len(full) == 12 and len(cohort) == 4
    assert all(c.name.endswith("(synthetic)") for c in cohort)  # labelled wherever the name shows
    # The plant that connected its lines' PLCs: its diary and its state log both map cleanly.
    plant = next(c for c in cohort if synthetic.COHORT_PLANTS[c.id].plc_states)
    profile = synthetic.COHORT_PLANTS[plant.id]
    save_mapping_text(workspace, plant.id, demo_mapping_text(plant.id))
    landing = workspace.landing_dir(plant.id)
    landing.mkdir(parents=True)
    synthetic.plant_diary_workbook(2026, 10, landing / "생산일보_2026-10.xlsx", profile)
    (landing / "line_states_2026-10.csv").write_bytes(synthetic.plant_state_log(2026, 10, profile))
    report = check_client(workspace, plant, sample_rows=None)
    assert report.ok, [s.error for s in report.sources]
    assert report.entity_rows["production_counts"] > 100 and not report.blocking
    assert report.entity_rows["machine_states"] > 1000


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            ("production_counts:", "production_count:"),
            "mapping.yml:7: sources[diary].feeds.production_count: no such",
        ),
        (("          total_count: 생산수량", "          total_qty: 생산수량"), "no field 'total_qty'"),
        (
            (
                "          total_count: 생산수량",
                "          total_count: 생산수량\n          planned_time_s: {column: a, unit: bar}",
            ),
            "kind 'pressure', but this field holds kind 'time'",
        ),
        (("          total_count: 생산수량", "          total_count: No"), "put a column named No"),
        (("    files:", "    header_row: 0\n    files:"), "needs `columns:`"),
        (
            ("name: 테스트공장", "name: 테스트공장\ntimezone: Asia/Sejong"),
            "mapping.yml:3: timezone: unknown time zone",
        ),
    ],
)
def test_bad_mappings_name_the_line_the_key_and_the_fix(change: tuple[str, str], expected: str) -> None:
    message = mapping_error(BASE.replace(*change))
    assert expected in message, message


def test_a_code_map_must_use_the_common_taxonomy() -> None:
    text = BASE + "          defect_code: {column: 불량유형, map: {스크래치: SCRATCHES}}\n"
    message = mapping_error(text)
    assert "SCRATCHES" in message and "defect_types" in message and "SCRATCH" in message


@pytest.mark.parametrize(
    "attack",
    [
        "생산수량; DROP TABLE raw.diary",
        "(SELECT password FROM users)",
        "read_csv('/etc/passwd')",
        "getenv('HOME')",
        "생산수량 /* comment */ FROM raw.diary",
    ],
)
def test_expressions_that_try_sql_injection_are_refused(attack: str) -> None:
    text = BASE + f"          good_count: {{expr: {attack!r}}}\n"
    message = mapping_error(text)
    assert "mapping.yml:" in message and "expression" in message, message
    with pytest.raises(ExpressionError):
        compile_expression(attack)


def test_expressions_are_regenerated_with_quoted_columns() -> None:
    assert (
        compile_expression("생산수량 - 불량수량")
        == 'TRY_CAST("생산수량" AS DOUBLE) - TRY_CAST("불량수량" AS DOUBLE)'
    )
    with pytest.raises(ExpressionError, match="did you mean 'Cycle_Time'"):
        compile_expression("Cycle_time * 2", available=["Cycle_Time", "일자"])


def test_a_column_the_files_do_not_have_is_named_with_the_columns_they_have() -> None:
    config = parse_client_config(BASE)
    with pytest.raises(
        CompileError, match=r"column '생산수량' is not in the delivered files.*\['일자', '설비'\]"
    ):
        compile_mapping(config, {"diary": ["일자", "설비"]})


def deliver(settings: Settings, name: str, data: bytes) -> Path:
    path = settings.landing_dir(CLIENT) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def mapped(settings: Settings, text: str) -> CheckReport:
    save_mapping_text(settings, CLIENT, text)
    config = parse_client_config(text)
    report = check_client(settings, config, sample_rows=None)
    assert report.ok, [s.error for s in report.sources]
    return report


def test_headerless_cp949_file_value_maps_units_and_derived_fields(workspace: Settings) -> None:
    rows = [
        "2026-10-01,주간,L1,100,3,스크래치,480",
        "2026-10-01,야간,L1,90,0,,480",
        "2026-10-02,주간,L1,95,2,버,450",
    ]
    deliver(workspace, "diary_1.csv", ("\n".join(rows) + "\n").encode("cp949"))
    text = """\
id: test-plant
name: 테스트공장
sources:
  - name: diary
    files: "diary_*.csv"
    header_row: 0
    columns: [일자, 근무조, 라인, 생산수량, 불량수량, 불량유형, 계획시간]
    feeds:
      production_counts:
        fields:
          machine_id: 라인
          production_date: 일자
          shift: {column: 근무조, map: {주간: day, 야간: night}}
          planned_time_s: {column: 계획시간, unit: 분}
          total_count: 생산수량
          good_count: {expr: "생산수량 - 불량수량"}
          defect_code: {column: 불량유형, map: {스크래치: SCRATCH, 버: FLASH}}
"""
    report = mapped(workspace, text)
    assert report.entity_rows["production_counts"] == 3
    assert report.problems == []
    # A forecast reads any of orders, counts or cycles; remaining life needs cycles and their parameters.
    assert report.models["demand_forecast"] == "supported"
    assert report.models["remaining_useful_life"].startswith("needs cycles")
    assert report.sources[0].unmapped_columns == []  # the expression reads 불량수량
    import duckdb

    con = duckdb.connect(":memory:")
    # The same compiled SQL, run on the same rows, gives the typed values.
    from forgeline.ingest import _ensure_registry, _load_one

    _ensure_registry(con)
    config = parse_client_config(text)
    _load_one(
        con, config, config.sources[0], workspace.landing_dir(CLIENT) / "diary_1.csv", "diary_1.csv", "b1"
    )
    from forgeline.standardize import raw_columns

    sql = compile_mapping(config, raw_columns(con)).views["production_counts"]
    got = con.execute(
        f"SELECT shift, planned_time_s, total_count, good_count, defect_code FROM ({sql}) ORDER BY source_row"
    ).fetchall()
    assert got == [
        ("day", 28800.0, 100, 97, "SCRATCH"),
        ("night", 28800.0, 90, 90, None),
        ("day", 27000.0, 95, 93, "FLASH"),
    ]


def test_cells_that_cannot_be_read_are_reported_with_file_row_and_column(workspace: Settings) -> None:
    deliver(
        workspace,
        "plc_1.csv",
        "time,machine,state,temp_F\n"
        "2026-10-01T00:00:00Z,M1,RUN,212\n"
        "2026-10-01 09:01:00+09:00,M1,STOP,32\n"
        "2026-10-01 09:02:00,M1,JAM,열두시\n".encode(),
    )
    text = """\
id: test-plant
name: 테스트공장
sources:
  - name: plc
    files: "plc_*.csv"
    feeds:
      sensor_readings:
        fields: {machine_id: machine, read_at: time}
        tags:
          temp_F: {tag: temperature, unit: °F}
      machine_states:
        fields:
          machine_id: machine
          state: {column: state, map: {RUN: running, STOP: down}}
          started_at: time
        sample_period: 1 min
"""
    report = mapped(workspace, text)
    problems = {(p.entity, p.column_name): p for p in report.problems}
    state = problems[("machine_states", "state")]
    assert state.cells == 1 and state.examples == [("plc_1.csv", 4, "JAM")]
    temperature = problems[("sensor_readings", "temp_F")]
    assert temperature.examples == [("plc_1.csv", 4, "열두시")] and "not a number" in temperature.problem
    assert report.entity_rows["sensor_readings"] == 2

    import duckdb

    from forgeline.ingest import _ensure_registry, _load_one
    from forgeline.standardize import raw_columns

    con = duckdb.connect(":memory:")
    _ensure_registry(con)
    config = parse_client_config(text)
    _load_one(con, config, config.sources[0], workspace.landing_dir(CLIENT) / "plc_1.csv", "plc_1.csv", "b1")
    sql = compile_mapping(config, raw_columns(con)).views["sensor_readings"]
    got = con.execute(f"SELECT epoch(read_at), value, unit FROM ({sql}) ORDER BY source_row").fetchall()
    # 'Z' and '+09:00' are instants; a time without offset is the factory's local time (Asia/Seoul).
    midnight_utc = 1790812800  # 2026-10-01 00:00 UTC
    assert got[0] == (midnight_utc, pytest.approx(100.0), "°C")
    assert got[1] == (midnight_utc + 60, pytest.approx(0.0, abs=1e-9), "°C")


def test_a_client_model_is_the_escape_hatch_and_reads_only_raw_tables(workspace: Settings) -> None:
    """An export a mapping cannot describe (here: two counts in one cell) gets a client-local SQL model."""
    deliver(workspace, "odd_1.csv", b"line;when;counts\nL1;2026-10-01;120/3\nL2;2026-10-01;98/0\n")
    text = """\
id: test-plant
name: 테스트공장
sources:
  - name: odd
    files: "odd_*.csv"
    delimiter: ";"
    feeds:
      production_counts:   # the model below does the real work; this feed reads only the line
        where: "1 = 0"
        fields: {machine_id: line, total_count: counts}
"""
    save_mapping_text(workspace, CLIENT, text)
    models = workspace.client_models_dir(CLIENT)
    models.mkdir(parents=True)
    (models / "production_counts.sql").write_text(
        """select "line" as machine_id, cast("when" as date) as production_date,
           cast(split_part(counts, '/', 1) as bigint) as total_count,
           cast(split_part(counts, '/', 2) as bigint) as reject_count,
           _source_file as source_file, _source_row as source_row, _load_batch_id as load_batch_id,
           _loaded_at as loaded_at
           from raw.odd""",
        encoding="utf-8",
    )
    report = check_client(workspace, parse_client_config(text), sample_rows=None)
    assert report.ok and report.entity_rows["production_counts"] == 2

    for bad, expected in [
        ("select * from raw.odd", "name only the entity's fields"),
        ("select 1 as machine_id from read_csv('/etc/passwd')", "not allowed"),
        ("select machine_id from other.secrets", "reads only this client's raw tables"),
        ("drop table raw.odd", "exactly one SELECT"),
        ("select line as machine_id from raw.odd", "lineage columns"),
    ]:
        (models / "production_counts.sql").write_text(bad, encoding="utf-8")
        refused = check_client(workspace, parse_client_config(text), sample_rows=None)
        assert not refused.ok and expected in str(refused.compile_error), (bad, refused.compile_error)


def test_numbers_compare_as_numbers_and_decimal_commas_stay_with_delivered_cells(workspace: Settings) -> None:
    """'9' > '10' only as text; a decimal-comma source still reads a computed 95.0 as ninety-five."""
    deliver(workspace, "eu_1.csv", b"machine;made;bad;rate\nM1;100;5;1,5\nM1;9;10;2,0\n")
    text = """\
id: test-plant
name: 테스트공장
sources:
  - name: eu
    files: "eu_*.csv"
    delimiter: ";"
    decimal: ","
    feeds:
      production_counts:
        where: "made > bad"
        fields:
          machine_id: machine
          production_date: {value: "2026-10-01"}
          total_count: made
          good_count: {expr: "made - bad"}
          planned_time_s: {column: rate, unit: h}
"""
    save_mapping_text(workspace, CLIENT, text)
    config = parse_client_config(text)
    import duckdb

    from forgeline.ingest import _ensure_registry, _load_one
    from forgeline.standardize import raw_columns

    con = duckdb.connect(":memory:")
    _ensure_registry(con)
    _load_one(con, config, config.sources[0], workspace.landing_dir(CLIENT) / "eu_1.csv", "eu_1.csv", "b1")
    sql = compile_mapping(config, raw_columns(con)).views["production_counts"]
    assert con.execute(f"SELECT total_count, good_count, planned_time_s FROM ({sql})").fetchall() == [
        (100, 95, 5400.0)
    ]


def test_rows_breaking_a_rule_are_quarantined_with_file_row_column_rule_and_the_rest_go_on(
    workspace: Settings,
) -> None:
    rows = [
        "shot,time,machine,cycle_s,result,melt_C,mold_C",
        "1,2026-10-01 08:00:00,M1,30.5,OK,230,60",  # good
        "2,2026-10-01 08:01:00,M1,abc,OK,231,61",  # cast: cycle time is text
        "3,2026-10-01 08:02:00,M1,-4,OK,229,60",  # range: negative cycle time
        "4,2099-01-01 08:03:00,M1,30.1,OK,230,60",  # time: in the future
        "5,,M1,30.2,OK,230,60",  # key: no start time
        "6,2026-10-01 08:05:00,M1,30.3,Y,230,60",  # code: not in the value map
        "7,2026-10-01 08:06:00,M1,30.4,NG,-500,60",  # unit: below absolute zero (one reading only)
        "8,2026-10-01 08:07:00,M1,30.6,NG,230,NaN",  # cast: NaN is not a measurement (one reading only)
        "9,2026-10-01 08:08:00,M1,30.7,OK,230,95",  # range: above the declared mould range
    ]
    deliver(workspace, "shots_1.csv", ("\n".join(rows) + "\n").encode())
    text = """\
id: test-plant
name: 테스트공장
sources:
  - name: shots
    files: "shots_*.csv"
    feeds:
      cycles:
        fields:
          cycle_id: shot
          machine_id: machine
          started_at: time
          cycle_time_s: cycle_s
        tags:
          melt_C: {tag: melt_temperature, unit: °C}
          mold_C: {tag: mold_temperature, unit: °C, range: [20, 90]}
      quality_results:
        fields:
          cycle_id: shot
          inspected_at: time
          is_pass: {column: result, map: {OK: true, NG: false}}
"""
    report = mapped(workspace, text)
    import duckdb

    from forgeline.ingest import _ensure_registry, _load_one
    from forgeline.standardize import create_mapped_views, raw_columns

    con = duckdb.connect(":memory:")
    _ensure_registry(con)
    config = parse_client_config(text)
    path = workspace.landing_dir(CLIENT) / "shots_1.csv"
    _load_one(con, config, config.sources[0], path, "shots_1.csv", "b1")
    problems = create_mapped_views(con, compile_mapping(config, raw_columns(con)))
    assert {(p.entity, p.rule) for p in problems} == {(p.entity, p.rule) for p in report.problems}
    quarantined = con.execute(
        "SELECT entity, source_file, source_row, column_name, value, rule FROM mapped._quarantine "
        "ORDER BY entity, source_row, rule"
    ).fetchall()
    assert quarantined == [
        ("cycle_parameters", "shots_1.csv", 8, "melt_C", "-500", "unit"),
        ("cycle_parameters", "shots_1.csv", 9, "mold_C", "NaN", "cast"),
        ("cycle_parameters", "shots_1.csv", 10, "mold_C", "95", "range"),
        ("cycles", "shots_1.csv", 3, "cycle_s", "abc", "cast"),
        ("cycles", "shots_1.csv", 4, "cycle_s", "-4", "range"),
        ("cycles", "shots_1.csv", 5, "time", "2099-01-01 08:03:00", "time"),
        ("cycles", "shots_1.csv", 6, "time", None, "key"),
        ("quality_results", "shots_1.csv", 5, "time", "2099-01-01 08:03:00", "time"),
        ("quality_results", "shots_1.csv", 7, "result", "Y", "code"),
    ]
    # Good rows go on: every cycle but the four quarantined, and their readings but the three bad ones.
    cycles = con.execute("SELECT cycle_id FROM mapped.cycles ORDER BY source_row").fetchall()
    assert [c[0] for c in cycles] == ["1", "6", "7", "8", "9"]
    readings = con.execute("SELECT count(*) FROM mapped.cycle_parameters").fetchone()[0]
    assert readings == 5 * 2 - 3
    # The gate judges shares: quarantined rows over delivered rows, per entity and rule.
    share = dict(
        ((e, r), (q, d))
        for e, r, q, d in con.execute(
            "SELECT entity, rule, quarantined_rows, delivered_rows FROM mapped._quarantine_summary"
        ).fetchall()
    )
    # Rows for row rules; readings of the one tag for tag rules (one misread tag column is judged alone).
    assert share[("cycles", "cast")] == (1, 9) and share[("cycle_parameters", "range")] == (1, 5)


def test_events_without_ids_get_one_from_machine_and_time_so_corrections_replace_them(
    workspace: Settings,
) -> None:
    import duckdb

    from forgeline.ingest import _ensure_registry, _load_one
    from forgeline.standardize import create_mapped_views, raw_columns

    deliver(workspace, "shots_1.csv", b"time,machine,cycle_s\n2026-10-01 08:00:00,M1,30.5\n")
    deliver(workspace, "shots_2.csv", b"time,machine,cycle_s\n2026-10-01 08:00:00,M1,31.0\n")
    deliver(workspace, "orders.jsonl", b'{"machine": ["M1", "M2"], "at": "2026-10-01 09:00:00"}\n')
    text = """\
id: test-plant
name: 테스트공장
sources:
  - name: shots
    files: "shots_*.csv"
    feeds:
      cycles: {fields: {machine_id: machine, started_at: time, cycle_time_s: cycle_s}}
  - name: orders
    files: "*.jsonl"
    format: jsonl
    feeds:
      maintenance_events: {fields: {machine_id: machine, reported_at: at}}
"""
    config = parse_client_config(text)
    con = duckdb.connect(":memory:")
    con.execute("SET TimeZone = 'America/New_York'")  # ids never depend on the session's zone
    _ensure_registry(con)
    for name, source in (("shots_1.csv", 0), ("shots_2.csv", 0), ("orders.jsonl", 1)):
        _load_one(con, config, config.sources[source], workspace.landing_dir(CLIENT) / name, name, name)
    create_mapped_views(con, compile_mapping(config, raw_columns(con)))

    ids = con.execute("SELECT DISTINCT cycle_id, dedup_key FROM mapped.cycles").fetchall()
    assert ids == [("M1|2026-09-30T23:00:00.000000Z#1", "M1|2026-09-30T23:00:00.000000Z#1")]  # 08:00 KST
    # A list where one machine belongs is quarantined, not read as a machine called '["M1", "M2"]'.
    assert con.execute("SELECT count(*) FROM mapped.maintenance_events").fetchone()[0] == 0
    assert con.execute("SELECT column_name, rule FROM mapped._quarantine").fetchall() == [("machine", "cast")]


def test_shift_weekdays_must_be_days_inline_or_delivered(workspace: Settings) -> None:
    inline = (
        BASE + 'masters:\n  shifts:\n    - {shift: day, starts: "08:00", ends: "17:00", weekdays: 월~금}\n'
    )
    assert "masters.shifts[0].weekdays: '월~금' is not a list of days" in mapping_error(inline)

    deliver(
        workspace,
        "shifts.csv",
        "조,시작,종료,요일\n주간,08:00,17:00,월-금\n야간,20:00,05:00,weekdays\n".encode(),
    )
    text = """\
id: test-plant
name: 테스트공장
sources:
  - name: calendar
    files: "shifts.csv"
    feeds:
      shifts: {fields: {shift: 조, starts: 시작, ends: 종료, weekdays: 요일}}
"""
    report = mapped(workspace, text)
    assert report.entity_rows["shifts"] == 1
    [problem] = report.problems
    assert (problem.rule, problem.column_name, problem.examples) == (
        "code",
        "요일",
        [("shifts.csv", 3, "weekdays")],
    )


def test_a_warehouse_held_by_another_program_is_named_not_a_duckdb_lock_error(workspace: Settings) -> None:
    import subprocess
    import sys

    import duckdb

    from forgeline.locking import WarehouseInUse
    from forgeline.standardize import apply_mapping, run_dbt

    config = parse_client_config(BASE)
    path = workspace.warehouse_path(CLIENT)
    path.parent.mkdir(parents=True)
    duckdb.connect(str(path)).close()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time; c = duckdb.connect(sys.argv[1], read_only=True); print('ready', "
            "flush=True); time.sleep(120)",
            str(path),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        for step in (lambda: apply_mapping(workspace, config), lambda: run_dbt(workspace, config)):
            with pytest.raises(WarehouseInUse) as caught:
                step()
            assert str(path) in str(caught.value) and "close it" in str(caught.value)
    finally:
        holder.kill()
        holder.wait()


def test_check_refuses_links_and_files_two_sources_take_as_ingest_does(workspace: Settings) -> None:
    deliver(workspace, "diary_1.csv", "일자,설비,생산수량\n2026-10-01,L1,100\n".encode())
    (workspace.landing_dir(CLIENT) / "diary_2.csv").symlink_to("/etc/passwd")
    save_mapping_text(workspace, CLIENT, BASE)
    report = check_client(workspace, parse_client_config(BASE), sample_rows=None)
    [source] = report.sources
    assert source.files == ["diary_1.csv"] and "diary_2.csv" in str(source.error)
    assert "root:" not in str(source.error)

    twice = (
        BASE
        + '  - name: copy\n    files: "diary_1.csv"\n    feeds:\n      production_counts:\n'
        + ("        fields: {machine_id: 설비, production_date: 일자, total_count: 생산수량}\n")
    )
    (workspace.landing_dir(CLIENT) / "diary_2.csv").unlink()
    report = check_client(workspace, parse_client_config(twice), sample_rows=None)
    assert all("would load twice" in str(s.error) for s in report.sources), report.sources


def _mapped_in_memory(settings: Settings, text: str, files: dict[str, bytes], zone: str = "UTC"):  # noqa: ANN202
    """Load ``files`` (name → bytes) with the mapping's sources in an in-memory DuckDB and map them."""
    import duckdb

    from forgeline.ingest import _ensure_registry, _load_one
    from forgeline.standardize import create_mapped_views, raw_columns

    config = parse_client_config(text)
    con = duckdb.connect(":memory:")
    con.execute(f"SET TimeZone = '{zone}'")
    _ensure_registry(con)
    for name, data in files.items():
        path = deliver(settings, name, data)
        source = next(s for s in config.sources if s.takes(name))
        _load_one(con, config, source, path, name, hashlib_id(name))
    create_mapped_views(con, compile_mapping(config, raw_columns(con)))
    return con


def hashlib_id(name: str) -> str:
    import hashlib

    return hashlib.sha256(name.encode()).hexdigest()[:16]


def test_quarantine_rules_leave_meant_empties_plans_and_fast_machines_alone(workspace: Settings) -> None:
    text = """\
id: test-plant
name: 테스트공장
sources:
  - name: shots
    files: "shots_*.csv"
    decimal: ","
    delimiter: ";"
    feeds:
      cycles:
        fields:
          machine_id: machine
          started_at: time
          cycle_time_s: {column: cycle_s, null_values: ["-", "N/A"], default: "0.5"}
          part_count: {column: parts, map: {X: null, one: 1}}
  - name: orders
    files: "orders.csv"
    feeds:
      work_orders: {fields: {work_order_id: order, due_at: due, started_at: started}}
"""
    shots = (
        "time;machine;cycle_s;parts\n"
        "2026-10-01 08:00:00;M1;-;X\n"  # 'missing' and a key mapped to nothing: meant empty
        "2026-10-01 08:00:00;M1;12,5;one\n"  # the same second: a second cycle, not a duplicate
        "2026-10-01 08:00:01;M1;N/A;one\n"
    )
    orders = "order,due,started\nWO1,2099-01-01 00:00:00,2026-10-01 08:00:00\n"  # due in the future: a plan
    con = _mapped_in_memory(workspace, text, {"shots_1.csv": shots.encode(), "orders.csv": orders.encode()})

    assert con.execute("SELECT count(*) FROM mapped._quarantine").fetchone()[0] == 0
    cycles = con.execute("SELECT cycle_id, cycle_time_s, part_count FROM mapped.cycles ORDER BY source_row")
    assert cycles.fetchall() == [
        ("M1|2026-09-30T23:00:00.000000Z#1", 0.5, None),  # the default (written with a point) is read
        ("M1|2026-09-30T23:00:00.000000Z#2", 12.5, 1),
        ("M1|2026-09-30T23:00:01.000000Z#1", 0.5, 1),
    ]
    assert con.execute("SELECT count(*) FROM mapped.work_orders").fetchone()[0] == 1


def test_a_corrected_redelivery_clears_the_quarantine_and_dates_ignore_the_session_zone(
    workspace: Settings,
) -> None:
    text = """\
id: test-plant
name: 테스트공장
timezone: Pacific/Kiritimati
sources:
  - name: shots
    files: "shots_*.csv"
    feeds:
      cycles: {fields: {machine_id: machine, started_at: time, cycle_time_s: cycle_s}}
      quality_results: {fields: {machine_id: machine, production_date: day, is_pass: ok}}
"""
    bad = "time,machine,cycle_s,day,ok\n2026-10-01 08:00:00,M1,abc,2026-10-01,1\n"
    fixed = "time,machine,cycle_s,day,ok\n2026-10-01 08:00:00,M1,30.5,2026-10-01,1\n"
    for zone in ("UTC", "America/Los_Angeles", "Pacific/Kiritimati"):
        con = _mapped_in_memory(
            workspace, text, {"shots_1.csv": bad.encode(), "shots_2.csv": fixed.encode()}, zone
        )
        # shots_2 loaded later brings the same cycle readable: the earlier bad row is corrected, not pending.
        assert con.execute("SELECT count(*) FROM mapped._quarantine").fetchone()[0] == 0, zone
        assert con.execute("SELECT count(*) FROM mapped.quality_results").fetchone()[0] == 2, zone


SHOTS_WITH_PARAMETERS = """\
id: test-plant
name: 테스트공장
sources:
  - name: shots
    files: "shots_*.csv"
    feeds:
      cycles:
        fields: {cycle_id: shot, machine_id: machine, started_at: time}
        tags: {p1: bar, p2: bar}
"""


def test_tag_readings_are_deduplicated_per_reading_though_compared_by_row(workspace: Settings) -> None:
    first = "shot,machine,time,p1,p2\nS1,M1,2026-10-01 08:00:00,1,2\nS2,M1,2026-10-01 08:01:00,5,6\n"
    # A later delivery of S1 brings p1 again and not p2: p1 is replaced, S1's p2 is still the earlier one.
    later = "shot,machine,time,p1,p2\nS1,M1,2026-10-01 08:00:00,10,\nS3,M2,2026-10-01 08:02:00,7,8\n"
    con = _mapped_in_memory(
        workspace, SHOTS_WITH_PARAMETERS, {"shots_1.csv": first.encode(), "shots_2.csv": later.encode()}
    )
    latest = (
        "SELECT cycle_id, machine_id, tag, round(value, 6) "
        'FROM mapped."cycle_parameters__latest"({}) ORDER BY ALL'
    )
    assert con.execute(latest.format("NULL")).fetchall() == [
        ("S1", "M1", "p1", 1.0),  # 10 bar = 1 MPa
        ("S1", "M1", "p2", 0.2),
        ("S2", "M1", "p1", 0.5),
        ("S2", "M1", "p2", 0.6),
        ("S3", "M2", "p1", 0.7),
        ("S3", "M2", "p2", 0.8),
    ]
    # One row per delivered row, however many readings it holds: what the dedup compares.
    assert con.execute('SELECT count(*) FROM mapped."cycle_parameters__rows"').fetchone()[0] == 4
    only_first = con.execute(latest.format(f"['{hashlib_id('shots_1.csv')}']")).fetchall()
    assert [(c, t, v) for c, _, t, v in only_first] == [
        ("S1", "p1", 0.1),
        ("S1", "p2", 0.2),
        ("S2", "p1", 0.5),
        ("S2", "p2", 0.6),
    ]


def test_two_columns_of_one_row_cannot_be_the_same_tag() -> None:
    text = SHOTS_WITH_PARAMETERS.replace("tags: {p1: bar, p2: bar}", "tags: {p1: bar, P1: bar}")
    assert "columns ['p1', 'P1'] are all named tag 'p1'; give each its own `tag:` name" in mapping_error(text)


def test_row_wise_tag_dedup_equals_one_window_over_every_reading(workspace: Settings) -> None:
    """The row-wise dedup of tag readings gives, reading by reading, what one window over all of them gives:
    two sources sharing a tag, keys repeated within and across files and sources, empty and unreadable
    readings, a time column some rows lack, and any set of batches."""
    import random

    from forgeline.mapping.compile import LATEST_FIRST

    text = (
        SHOTS_WITH_PARAMETERS
        + """\
  - name: extra
    files: "extra_*.csv"
    feeds:
      cycles:
        fields: {cycle_id: shot, machine_id: machine, started_at: time}
        tags: {p2: bar, p3: {tag: p3}}
"""
    )
    chosen = random.Random(20261125)

    def cell() -> str:
        return chosen.choice(["", "x", *(f"{chosen.uniform(0, 50):.1f}" for _ in range(6))])

    files = {}
    for prefix, tags in (("shots", "p1,p2"), ("extra", "p2,p3")):
        for number in range(1, 4):
            lines = [f"shot,machine,time,{tags}"]
            for _ in range(40):
                shot, machine = f"S{chosen.randrange(25)}", chosen.choice(["M1", "M2"])
                time = chosen.choice(["2026-10-01 08:00:00", "2026-10-01 08:05:00", ""])
                lines.append(f"{shot},{machine},{time},{cell()},{cell()}")
            files[f"{prefix}_{number}.csv"] = ("\n".join(lines) + "\n").encode()
    con = _mapped_in_memory(workspace, text, files)
    batches = [
        r[0]
        for r in con.execute(
            "SELECT DISTINCT load_batch_id FROM mapped.cycle_parameters ORDER BY 1"
        ).fetchall()
    ]
    by = ", ".join(
        f'"{c}"'
        for c in con.execute(
            "SELECT columns FROM mapped._dedup_by WHERE view = 'cycle_parameters'"
        ).fetchone()[0]
    )
    assert con.execute('SELECT count(*) FROM mapped."cycle_parameters__rows"').fetchone()[0] > 0
    for chosen_batches in ("NULL", f"['{batches[0]}', '{batches[-1]}']"):
        window = (
            f'SELECT * EXCLUDE (dedup_key) FROM mapped."cycle_parameters" WHERE {chosen_batches} IS NULL OR '
            f"list_contains({chosen_batches}, load_batch_id) "
            f"QUALIFY row_number() OVER (PARTITION BY {by} ORDER BY {LATEST_FIRST}) = 1"
        )
        latest = f'SELECT * FROM mapped."cycle_parameters__latest"({chosen_batches})'
        assert con.execute(f"SELECT count(*) FROM ({latest})").fetchone()[0] > 20
        for one, other in ((window, latest), (latest, window)):
            assert con.execute(f"SELECT count(*) FROM ({one} EXCEPT ALL {other})").fetchone()[0] == 0

"""A factory nobody prepared for, onboarded end to end from a mapping written here: no SQL, no Python.

Real ingest, the mapping compiled into views, real `dbt build` (contracts and tests), the core tables and
marts read back: units converted, time zones honoured, codes mapped, the shift calendar planning time.
"""

from __future__ import annotations

from collections.abc import Callable

import duckdb
import pytest

from forgeline.settings import Settings

pytestmark = pytest.mark.dbt

CLIENT = "seoul-springs"
MAPPING = """\
id: seoul-springs
name: 서울스프링 (Seoul Springs)
timezone: Asia/Seoul
masters:
  equipment:
    - {machine_id: F-1, machine_name: 성형기 1호, line_id: A, site_id: SEOUL}
  products:
    - {product_id: SP-9, ideal_cycle_time_s: 30}
  shifts:
    - {shift: 주간, starts: "08:00", ends: "18:00", weekdays: mon-fri, break_s: 3600}
sources:
  - name: diary
    files: "일보_*.csv"
    encoding: auto
    delimiter: ";"
    decimal: ","
    header_row: 2
    feeds:
      production_counts:
        fields:
          machine_id: 설비
          product_id: 품번
          production_date: {column: 일자, format: "%Y.%m.%d"}
          total_count: 생산수량
          reject_count: 불량수량
          defect_code: {column: 불량유형, map: {찍힘: DENT, 치수: DIMENSION}, default: UNSPECIFIED}
      downtime_events:
        where: "정지시간 is not null"
        fields:
          machine_id: 설비
          production_date: {column: 일자, format: "%Y.%m.%d"}
          duration_s: {column: 정지시간, unit: 시간}
          reason_code: {column: 정지사유, map: {고장: BREAKDOWN, 자재: MATERIAL_WAIT}}
          reason_text: 정지사유
  - name: plc
    files: "plc_*.tsv"
    format: tsv
    feeds:
      sensor_readings:
        fields:
          machine_id: {value: F-1}
          read_at: ts
        tags:
          온도(℉): {tag: furnace_temp, unit: ℉}
          압력: {tag: pressure, unit: psi}
"""


@pytest.fixture(scope="module")
def onboarded(tmp_path_factory: pytest.TempPathFactory, onboard: Callable[..., Settings]) -> Settings:
    from forgeline.settings import get_settings

    settings = get_settings(tmp_path_factory.mktemp("onboarded"))
    diary = (
        "2026년 10월 생산일보\n"
        "일자;설비;품번;생산수량;불량수량;불량유형;정지사유;정지시간\n"
        "2026.10.05;F-1;SP-9;1.000;12;찍힘;고장;1,5\n"
        "2026.10.06;F-1;SP-9;1.100;0;;;\n"
    )
    plc = "ts\t온도(℉)\t압력\n2026-10-05T00:00:00Z\t212\t145.0377\n2026-10-05 09:01:00\t32\t14.50377\n"
    files = {"일보_2026-10.csv": diary.encode("cp949"), "plc_1.tsv": plc.encode("utf-8")}
    return onboard(settings, CLIENT, MAPPING, files)


def query(settings: Settings, sql: str) -> list[tuple]:
    con = duckdb.connect(str(settings.warehouse_path(CLIENT)), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_counts_decimal_separators_codes_and_the_calendar(onboarded: Settings) -> None:
    counts = query(
        onboarded,
        "SELECT production_date::VARCHAR, total_count, good_count, reject_count, defect_code "
        "FROM core.fct_production_counts ORDER BY 1",
    )
    assert counts == [("2026-10-05", 1000, 988, 12, "DENT"), ("2026-10-06", 1100, 1100, 0, None)]
    [(reason, duration, is_planned)] = query(
        onboarded, "SELECT reason_code, duration_s, is_planned FROM core.fct_downtime_events"
    )
    assert (reason, duration, is_planned) == ("BREAKDOWN", 5400.0, False)  # 1,5 시간 = 5,400 s
    # Monday 2026-10-05: a 10-hour shift less a 1-hour break, less nothing planned: 9 h planned.
    oee = query(
        onboarded,
        "SELECT production_date::VARCHAR, planned_time_s, run_time_s FROM marts.oee_daily ORDER BY 1",
    )
    assert oee[0] == ("2026-10-05", 32400.0, 32400.0 - 5400.0)


def test_sensor_units_and_time_zones(onboarded: Settings) -> None:
    readings = query(
        onboarded,
        "SELECT tag, epoch(read_at), round(value, 6), unit FROM core.fct_sensor_readings ORDER BY 2, 1",
    )
    midnight_utc = 1791158400  # 2026-10-05T00:00:00Z
    assert readings == [
        ("furnace_temp", midnight_utc, 100.0, "°C"),
        ("pressure", midnight_utc, 1.0, "MPa"),
        ("furnace_temp", midnight_utc + 60, 0.0, "°C"),  # 09:01 in Seoul is 00:01 UTC
        ("pressure", midnight_utc + 60, 0.1, "MPa"),
    ]
    tags = query(
        onboarded, "SELECT tag, quantity_kind, unit, source_unit FROM core.dim_sensor_tags ORDER BY 1"
    )
    assert tags == [("furnace_temp", "temperature", "°C", "℉"), ("pressure", "pressure", "MPa", "psi")]

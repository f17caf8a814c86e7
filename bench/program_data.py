"""A seeded synthetic consulting program for the benchmarks: N factories of mixed kinds, R rows in all.

Each factory is onboarded as a real one is: a ``mapping.yml`` and the files it delivers in its landing
folder (one file per month), so the benchmark runs Forgeline's real path end to end. Kinds, in turn:

- ``plc``: a press line's PLC gateway, one row per machine and minute (state, stroke counter, four
  sensor tags), with a maintenance log whose breakdowns follow a planted vibration drift; failure model.
- ``cycles``: an injection moulding MES, one row per shot with eight process parameters and pass/fail;
  defects are planted outside a mould-temperature window; defect model.
- ``shifts``: a plant diary in CP949 with Korean headers, one row per line, day and shift (counts,
  defects, downtime minutes).
- ``energy``: a metering system, one row per meter and 5 minutes (kWh and kvarh).

Factory sizes vary (log-normal weights, seeded), so the program holds big and small clients, as real
ones do. Rows count delivered file rows (a PLC row holds four sensor readings). Everything is a pure
function of ``(factories, rows, seed)``: the same call writes the same bytes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

GENERATOR_VERSION = 3  # bumped whenever the bytes written change: cached programs are regenerated
KINDS = ("plc", "cycles", "shifts", "energy")
START = datetime(2025, 10, 1)  # a year ending before today: delivered data never runs ahead of delivery
MINUTES_PER_YEAR = 365 * 24 * 60
SHOTS_PER_MACHINE_YEAR = 700_000  # a 45 s cycle, around the clock
READINGS_PER_METER_YEAR = 365 * 24 * 12  # every 5 minutes
SHIFT_LINES = 8
MOULD_WINDOW_C = (212.0, 218.0)  # the planted operating window: defects rise outside it


@dataclass(frozen=True)
class Factory:
    client_id: str
    kind: str
    rows: int  # delivered file rows


def plan_program(factories: int, rows: int, seed: int = 20261124) -> list[Factory]:
    """Who is in the program and how many rows each delivers (shift diaries are small by nature)."""
    rng = np.random.default_rng(seed)
    kinds = [KINDS[i % len(KINDS)] for i in range(factories)]
    shift_rows = 365 * SHIFT_LINES * 2
    sized = [i for i, k in enumerate(kinds) if k != "shifts"]
    weights = rng.lognormal(0.0, 0.6, len(sized))
    budget = max(rows - shift_rows * (factories - len(sized)), len(sized) * 1000)
    share = {i: max(1000, int(budget * w / weights.sum())) for i, w in zip(sized, weights, strict=True)}
    return [
        Factory(f"f{i + 1:03d}-{kind}", kind, shift_rows if kind == "shifts" else share[i])
        for i, kind in enumerate(kinds)
    ]


def write_program(home: Path, factories: list[Factory], seed: int = 20261124) -> int:
    """Write every factory's mapping and landing files under ``home``; return the rows written."""
    total = 0
    for number, factory in enumerate(factories):
        rng = np.random.default_rng([seed, number])
        client_dir = home / "clients" / factory.client_id
        landing = home / "landing" / factory.client_id
        client_dir.mkdir(parents=True, exist_ok=True)
        landing.mkdir(parents=True, exist_ok=True)
        writer = {"plc": _plc, "cycles": _cycles, "shifts": _shifts, "energy": _energy}[factory.kind]
        mapping, written = writer(factory, rng, landing)
        (client_dir / "mapping.yml").write_text(mapping, encoding="utf-8")
        total += written
    return total


def _monthly(
    frame: pd.DataFrame, time_column: str, time_format: str, landing: Path, stem: str, encoding: str = "utf-8"
) -> int:
    """One CSV per calendar month, as exports arrive; the last day is held back in ``landing/../../next/``
    (the delivery an incremental run gets next). Returns the rows written, the held-back day included.

    ``frame[time_column]`` holds timestamps, written as ``time_format``. UTF-8 files are written by DuckDB
    (pandas' ``to_csv`` and ``strftime`` made generating the L program take half an hour); other encodings,
    which DuckDB cannot write, by pandas."""
    times = frame[time_column]
    cutoff = times.max() - pd.Timedelta(days=1)
    later = (times > cutoff).to_numpy()
    held_back = landing.parent.parent / "next" / landing.name
    held_back.mkdir(parents=True, exist_ok=True)
    if encoding != "utf-8":
        text = frame.assign(**{time_column: times.dt.strftime(time_format)})
        last_day = held_back / f"{stem}_{times.max():%Y-%m-%d}.csv"
        text[later].to_csv(last_day, index=False, encoding=encoding, lineterminator="\n")
        months = times.dt.strftime("%Y-%m")
        for month, part in text[~later].groupby(months[~later], sort=True):
            part.to_csv(landing / f"{stem}_{month}.csv", index=False, encoding=encoding, lineterminator="\n")
        return len(frame)
    con = duckdb.connect()
    con.register("frame", frame)
    column = '"' + time_column.replace('"', '""') + '"'
    select = f"select * replace (strftime({column}, '{time_format}') as {column}) from frame"

    def copy(where: str, path: Path) -> None:
        con.execute(f"copy ({select} where {where}) to '{path}' (header, delimiter ',')")

    copy(f"{column} > '{cutoff}'", held_back / f"{stem}_{times.max():%Y-%m-%d}.csv")
    for (month,) in con.execute(
        f"select distinct strftime({column}, '%Y-%m') from frame where {column} <= '{cutoff}' order by 1"
    ).fetchall():
        copy(
            f"{column} <= '{cutoff}' and strftime({column}, '%Y-%m') = '{month}'",
            landing / f"{stem}_{month}.csv",
        )
    con.close()
    return len(frame)


def _header(factory: Factory, kind_name: str, model: str | None) -> str:
    models = f"models: [{model}]\n" if model else ""
    return (
        f"# A synthetic {kind_name} written by bench/program_data.py (seeded, known ground truth).\n"
        f"id: {factory.client_id}\nname: Bench {factory.client_id}\nindustry: {kind_name}\nregion: bench\n"
        f"{models}"
    )


def _plc(factory: Factory, rng: np.random.Generator, landing: Path) -> tuple[str, int]:
    machines = max(2, math.ceil(factory.rows / MINUTES_PER_YEAR))
    minutes = factory.rows // machines
    stamps = pd.date_range(START, periods=minutes, freq="min")
    hour = stamps.hour.to_numpy()
    frames, orders = [], []
    for m in range(machines):
        machine = f"P-{m + 1:02d}"
        on_shift = (hour >= 6) & (hour < 22)
        status = np.where(on_shift, "RUN", "IDLE").astype(object)
        vibration = np.where(on_shift, 2.4, 0.6) + rng.normal(0, 0.15, minutes)
        oil_f = 112 + 6 * on_shift + rng.normal(0, 1.0, minutes)
        # Breakdowns about every three weeks of running, each preceded by a 36 h vibration drift.
        for failed in np.sort(
            rng.choice(np.arange(3000, max(3001, minutes - 600)), size=max(1, minutes // 30_000))
        ):
            start = max(0, failed - 36 * 60)
            vibration[start:failed] += 2.8 * np.linspace(0, 1, failed - start) ** 1.5
            end = min(minutes, failed + int(rng.integers(120, 480)))
            status[failed:end] = "DOWN"
            at = stamps[failed]
            orders.append([machine, "BM", "bearing wear", at, at, stamps[end - 1]])
        frames.append(
            pd.DataFrame(
                {
                    "timestamp": stamps,
                    "press_id": machine,
                    "status": status,
                    "strokes": np.where(status == "RUN", rng.poisson(22, minutes), 0),
                    "oil_temp_F": np.round(oil_f, 1),
                    "hydraulic_pressure_bar": np.round(
                        np.where(on_shift, 180.0, 60.0) + rng.normal(0, 2.5, minutes), 1
                    ),
                    "vibration_mm_s": np.round(vibration, 2),
                    "motor_current_A": np.round(
                        np.where(on_shift, 36.0, 8.0) + rng.normal(0, 1.2, minutes), 1
                    ),
                }
            )
        )
    sensors = pd.concat(frames).sort_values(["timestamp", "press_id"], kind="stable")
    written = _monthly(sensors, "timestamp", "%Y-%m-%d %H:%M:%S", landing, "press_sensors")
    log = pd.DataFrame(
        orders, columns=["press_id", "wo_type", "failure_mode", "reported_at", "repair_start", "repair_end"]
    )
    log = log.sort_values(["reported_at", "press_id"], kind="stable")
    log.insert(0, "wo_no", [f"WO-{i:06d}" for i in range(1, len(log) + 1)])
    for column in ("reported_at", "repair_start", "repair_end"):
        log[column] = pd.to_datetime(log[column]).dt.strftime("%Y-%m-%d %H:%M")
    log.to_csv(landing / "maintenance_log.csv", index=False, lineterminator="\n")
    equipment = "\n".join(
        f"    - {{machine_id: P-{m + 1:02d}, line_id: PRESS-1, site_id: S1, machine_class: press}}"
        for m in range(machines)
    )
    mapping = (
        _header(factory, "metal stamping", "failure_prediction")
        + f"""masters:
  sites:
    - {{site_id: S1, site_name: Plant}}
  equipment:
{equipment}
  products:
    - {{product_id: BRKT, ideal_cycle_time_s: 2.5}}
  shifts:
    - {{shift: day, starts: "06:00", ends: "22:00", weekdays: all}}
sources:
  - name: plc_minutes
    files: "press_sensors_*.csv"
    format: csv
    feeds:
      sensor_readings:
        fields: {{machine_id: press_id, read_at: timestamp}}
        tags:
          oil_temp_F: {{tag: oil_temp, unit: °F}}
          hydraulic_pressure_bar: {{tag: hydraulic_pressure, unit: bar}}
          vibration_mm_s: {{tag: vibration, unit: mm/s}}
          motor_current_A: {{tag: motor_current, unit: A}}
      machine_states:
        fields:
          machine_id: press_id
          state: {{column: status, map: {{RUN: running, IDLE: idle, DOWN: down}}}}
          started_at: timestamp
        sample_period: 1 min
      production_counts:
        fields:
          machine_id: press_id
          product_id: {{value: BRKT}}
          counted_at: timestamp
          total_count: strokes
  - name: maintenance
    files: "maintenance_log*.csv"
    format: csv
    feeds:
      maintenance_events:
        fields:
          maintenance_id: wo_no
          machine_id: press_id
          event_type: {{column: wo_type, map: {{BM: failure, PM: preventive}}}}
          failure_mode: failure_mode
          reported_at: reported_at
          repair_started_at: repair_start
          repair_ended_at: repair_end
"""
    )
    return mapping, written + len(log)


def _cycles(factory: Factory, rng: np.random.Generator, landing: Path) -> tuple[str, int]:
    machines = max(2, math.ceil(factory.rows / SHOTS_PER_MACHINE_YEAR))
    per_machine = factory.rows // machines
    frames = []
    for m in range(machines):
        gaps = rng.normal(45.0, 3.0, per_machine).clip(30, 80)
        started = pd.Timestamp(START) + pd.to_timedelta(np.cumsum(gaps), unit="s")
        mould = rng.normal(215.0, 3.0, per_machine)
        outside = (mould < MOULD_WINDOW_C[0]) | (mould > MOULD_WINDOW_C[1])
        defect = rng.random(per_machine) < np.where(outside, 0.12, 0.01)
        frames.append(
            pd.DataFrame(
                {
                    "shot_id": [f"M{m + 1:02d}-{i:08d}" for i in range(per_machine)],
                    "TimeStamp": started,
                    "EQUIP_CD": f"M{m + 1:02d}",
                    "PART_NAME": "HOUSING-A",
                    "Cycle_Time": np.round(gaps - rng.uniform(0, 5, per_machine), 2),
                    "Injection_Time": np.round(rng.normal(9.6, 0.3, per_machine), 2),
                    "Max_Injection_Pressure": np.round(rng.normal(1450, 30, per_machine), 1),
                    "Cushion_Position": np.round(rng.normal(650, 2, per_machine), 2),
                    "Barrel_Temperature_1": np.round(rng.normal(285, 2, per_machine), 1),
                    "Barrel_Temperature_2": np.round(rng.normal(280, 2, per_machine), 1),
                    "Hopper_Temperature": np.round(rng.normal(65, 1.5, per_machine), 1),
                    "Mold_Temperature": np.round(mould, 1),
                    "PassOrFail": np.where(defect, "1", "0"),
                }
            )
        )
    shots = pd.concat(frames).sort_values(["TimeStamp", "EQUIP_CD"], kind="stable")
    written = _monthly(shots, "TimeStamp", "%Y-%m-%d %H:%M:%S", landing, "shots")
    equipment = "\n".join(
        f"    - {{machine_id: M{m + 1:02d}, line_id: MOLD-1, site_id: S1, machine_class: injection_molding}}"
        for m in range(machines)
    )
    mapping = (
        _header(factory, "injection molding", "defect_prediction")
        + f"""masters:
  sites:
    - {{site_id: S1, site_name: Plant}}
  equipment:
{equipment}
  products:
    - {{product_id: HOUSING-A, ideal_cycle_time_s: 42}}
  shifts:
    - {{shift: all-day, starts: "00:00", ends: "00:00", weekdays: all}}
sources:
  - name: shots
    files: "shots_*.csv"
    format: csv
    feeds:
      cycles:
        fields:
          cycle_id: shot_id
          machine_id: EQUIP_CD
          product_id: PART_NAME
          started_at: TimeStamp
          cycle_time_s: {{column: Cycle_Time, unit: s}}
        tags:
          Injection_Time: s
          Max_Injection_Pressure: bar
          Cushion_Position: mm
          Barrel_Temperature_1: °C
          Barrel_Temperature_2: °C
          Hopper_Temperature: °C
          Mold_Temperature: °C
      quality_results:
        fields:
          inspection_id: shot_id
          cycle_id: shot_id
          is_pass: {{column: PassOrFail, map: {{"0": true, "1": false}}}}
"""
    )
    return mapping, written


def _shifts(factory: Factory, rng: np.random.Generator, landing: Path) -> tuple[str, int]:
    days = pd.date_range(START, periods=365, freq="D")
    index = pd.MultiIndex.from_product([days, [f"L{i + 1}" for i in range(SHIFT_LINES)], ["주간", "야간"]])
    frame = index.to_frame(index=False, name=["일자", "라인", "근무조"])
    n = len(frame)
    produced = rng.poisson(2100, n)
    defects = rng.binomial(produced, 0.02)
    frame["품번"] = "PN-100"
    frame["계획시간(분)"] = 600
    frame["생산수량"] = produced
    frame["양품수량"] = produced - defects
    frame["불량수량"] = defects
    frame["불량유형"] = rng.choice(["스크래치", "치수불량", "버"], n)
    frame["비가동시간(분)"] = rng.poisson(25, n)
    written = _monthly(frame, "일자", "%Y-%m-%d", landing, "생산일보", encoding="cp949")
    lines = "\n".join(
        f"    - {{machine_id: L{i + 1}, line_id: L{i + 1}, site_id: S1, machine_class: assembly}}"
        for i in range(SHIFT_LINES)
    )
    mapping = (
        _header(factory, "press parts", None)
        + f"""masters:
  sites:
    - {{site_id: S1, site_name: 본사공장}}
  equipment:
{lines}
  products:
    - {{product_id: PN-100, ideal_cycle_time_s: 12}}
  shifts:
    - {{shift: day, starts: "08:00", ends: "18:00", weekdays: mon-sun}}
    - {{shift: night, starts: "20:00", ends: "06:00", weekdays: mon-sun}}
sources:
  - name: diary
    files: "생산일보_*.csv"
    format: csv
    encoding: cp949
    feeds:
      production_counts:
        fields:
          machine_id: 라인
          product_id: 품번
          production_date: 일자
          shift: {{column: 근무조, map: {{주간: day, 야간: night}}}}
          planned_time_s: {{column: 계획시간(분), unit: 분}}
          total_count: 생산수량
          good_count: 양품수량
          reject_count: 불량수량
          defect_code:
            column: 불량유형
            map: {{스크래치: SCRATCH, 치수불량: DIMENSION, 버: FLASH}}
            default: UNSPECIFIED
      quality_results:
        fields:
          inspection_id: {{expr: "라인 || '/' || 일자 || '/' || 근무조"}}
          machine_id: 라인
          product_id: 품번
          production_date: 일자
          shift: {{column: 근무조, map: {{주간: day, 야간: night}}}}
          inspected_count: 생산수량
          defect_count: 불량수량
      downtime_events:
        fields:
          machine_id: 라인
          production_date: 일자
          shift: {{column: 근무조, map: {{주간: day, 야간: night}}}}
          reason_code: {{value: BREAKDOWN}}
          duration_s: {{column: 비가동시간(분), unit: 분}}
"""
    )
    return mapping, written


def _energy(factory: Factory, rng: np.random.Generator, landing: Path) -> tuple[str, int]:
    meters = max(1, math.ceil(factory.rows / READINGS_PER_METER_YEAR))
    per_meter = factory.rows // meters
    stamps = pd.date_range(START, periods=per_meter, freq="5min")
    hour = stamps.hour.to_numpy()
    frames = []
    for m in range(meters):
        load = 40 + 30 * ((hour >= 8) & (hour < 20)) + rng.normal(0, 4, per_meter)
        frames.append(
            pd.DataFrame(
                {
                    "interval_end": stamps,
                    "meter": f"EM-{m + 1:02d}",
                    "kwh": np.round(load.clip(0) / 12, 3),
                    "kvarh": np.round(load.clip(0) / 40, 3),
                }
            )
        )
    readings = pd.concat(frames).sort_values(["interval_end", "meter"], kind="stable")
    written = _monthly(readings, "interval_end", "%Y-%m-%d %H:%M", landing, "energy")
    meter_list = "\n".join(f"    - {{meter_id: EM-{m + 1:02d}, site_id: S1}}" for m in range(meters))
    mapping = (
        _header(factory, "steel", None)
        + f"""masters:
  sites:
    - {{site_id: S1, site_name: Plant, country: KR}}
  energy_meters:
{meter_list}
sources:
  - name: energy
    files: "energy_*.csv"
    format: csv
    feeds:
      energy_readings:
        fields:
          meter_id: meter
          interval_end: interval_end
          interval_s: {{value: 5, unit: min}}
          energy_kwh: {{column: kwh, unit: kWh}}
          reactive_kvarh: {{column: kvarh, unit: kvarh}}
"""
    )
    return mapping, written

"""Seeded synthetic factories with known ground truth.

- ``hanbit-press``: three stamping presses with minute-level PLC exports (°F, bar, local time) and a
  maintenance log. Every breakdown is preceded by a planted drift (vibration and oil temperature rise
  over ``DRIFT_HOURS``); PLC gaps and an hour exported twice are planted too.
- ``miraero-parts``: a level-1 plant's Excel production diary (생산일보) with Korean headers under a
  title row: counts per shift and line, defects by type, downtime by reason.
- ``dongbang-rig``: a pump maker's endurance test rig. Each pump runs until it fails; the rig's logger
  writes one line per test cycle (space-separated, no header, no timestamps, as NASA's C-MAPSS files):
  pump, cycle, load setting, bearing temperature, vibration, ambient temperature. Truth: temperature and
  vibration climb with (age / life)^3; the ambient temperature is noise. A second file holds pumps still on
  test, each stopped ``RIG_RUNNING_CUT`` x its number cycles before its (generated) end of life.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

Scale = Literal["small", "full"]

PRESS_SEED = 20261122
PLANT_SEED = 20261001
PRESSES = ["P-01", "P-02", "P-03"]
# Fixed periods in the past: delivered data never runs ahead of its delivery (the mapping's `time` rule).
PRESS_START = datetime(2026, 7, 1)
PRESS_DAYS = {"small": 24, "full": 90}
DRIFT_HOURS = 36
DRIFT_TAGS = ["vibration_mm_s", "oil_temp_F"]
SENSOR_HEADER = [
    "timestamp",
    "press_id",
    "status",
    "strokes",
    "oil_temp_F",
    "hydraulic_pressure_bar",
    "vibration_mm_s",
    "motor_current_A",
]
MAINTENANCE_HEADER = [
    "wo_no",
    "press_id",
    "wo_type",
    "failure_mode",
    "reported_at",
    "repair_start",
    "repair_end",
    "technician",
]
FAILURE_MODES = ["hydraulic leak", "main bearing wear", "clutch/brake fault", "slide gib wear"]


@dataclass(frozen=True)
class PressBreakdown:
    press_id: str
    failed_at: datetime  # local time (Asia/Seoul), when the operator reported it
    repair_hours: float
    failure_mode: str


def _breakdowns(scale: Scale) -> list[PressBreakdown]:
    rng = np.random.default_rng(PRESS_SEED)
    days = PRESS_DAYS[scale]
    found: list[PressBreakdown] = []
    for press in PRESSES:
        # First breakdown after the drift window fits in the data; then every 6-11 days.
        at = PRESS_START + timedelta(days=float(rng.uniform(3, 8)))
        while at < PRESS_START + timedelta(days=days - 1):
            at = at.replace(second=0, microsecond=0)
            found.append(
                PressBreakdown(
                    press, at, float(np.round(rng.uniform(2, 6), 1)), str(rng.choice(FAILURE_MODES))
                )
            )
            at += timedelta(days=float(rng.uniform(6, 11)))
    return sorted(found, key=lambda b: (b.failed_at, b.press_id))


def press_line_ground_truth(scale: Scale = "full") -> dict:
    """What was planted in hanbit-press's data: breakdown times, the drift window and the drifting tags."""
    return {
        "breakdowns": [
            {
                "press_id": b.press_id,
                "failed_at": b.failed_at.isoformat(),
                "repair_hours": b.repair_hours,
                "failure_mode": b.failure_mode,
            }
            for b in _breakdowns(scale)
        ],
        "drift_hours": DRIFT_HOURS,
        "drift_tags": DRIFT_TAGS,
        "timezone": "Asia/Seoul",
        "units": {"oil_temp_F": "°F", "hydraulic_pressure_bar": "bar"},
    }


def press_line_exports(scale: Scale) -> dict[str, bytes]:
    """The press line's delivered files: one sensor CSV per month and the maintenance log (UTF-8)."""
    rng = np.random.default_rng(PRESS_SEED + 1)
    days = PRESS_DAYS[scale]
    minutes = pd.date_range(PRESS_START, periods=days * 24 * 60, freq="min")
    breakdowns = _breakdowns(scale)
    frames = []
    work_orders = []
    for press_no, press in enumerate(PRESSES):
        n = len(minutes)
        hour = minutes.hour.to_numpy()
        on_shift = (hour >= 6) & (hour < 22)
        status = np.where(on_shift, "RUN", "IDLE").astype(object)
        oil_c = 44 + 3 * np.sin(2 * np.pi * (hour - 14) / 24) + rng.normal(0, 0.6, n) + 4 * on_shift
        pressure_mpa = np.where(on_shift, 18.0, 6.0) + rng.normal(0, 0.25, n)
        vibration = np.where(on_shift, 2.4, 0.6) + rng.normal(0, 0.15, n)
        current = np.where(on_shift, 36.0, 8.0) + rng.normal(0, 1.2, n)
        for b in (b for b in breakdowns if b.press_id == press):
            fail_idx = int((b.failed_at - PRESS_START).total_seconds() // 60)
            start = max(0, fail_idx - DRIFT_HOURS * 60)
            ramp = np.linspace(0, 1, fail_idx - start) ** 1.5
            vibration[start:fail_idx] += 2.8 * ramp
            oil_c[start:fail_idx] += 9.0 * ramp
            repair_end = min(n, fail_idx + int(b.repair_hours * 60))
            status[fail_idx:repair_end] = "DOWN"
            repair_start = b.failed_at + timedelta(minutes=int(rng.integers(10, 40)))
            work_orders.append(
                [
                    press,
                    "BM",
                    b.failure_mode,
                    b.failed_at,
                    repair_start,
                    b.failed_at + timedelta(hours=b.repair_hours),
                    str(rng.choice(["김", "이", "박"])),
                ]
            )
        for pm_day in range(13 + press_no * 2, days, 14):  # planned maintenance every two weeks
            begin = PRESS_START + timedelta(days=pm_day, hours=6)
            i = int((begin - PRESS_START).total_seconds() // 60)
            status[i : i + 60] = "DOWN"
            work_orders.append([press, "PM", "", begin, begin, begin + timedelta(hours=1), "정비팀"])
        strokes = np.where(status == "RUN", rng.poisson(22, n), 0)
        frame = pd.DataFrame(
            {
                "timestamp": minutes.strftime("%Y-%m-%d %H:%M:%S"),
                "press_id": press,
                "status": status,
                "strokes": strokes,
                "oil_temp_F": np.round(oil_c * 9 / 5 + 32, 1),
                "hydraulic_pressure_bar": np.round(pressure_mpa * 10, 1),
                "vibration_mm_s": np.round(vibration, 2),
                "motor_current_A": np.round(current, 1),
            }
        )
        # PLC offline: a few hours missing per press (gaps, not zeros).
        for _ in range(max(1, days // 12)):
            gap = int(rng.integers(0, n - 300))
            frame = frame.drop(frame.index[gap : gap + int(rng.integers(60, 240))], errors="ignore")
        frames.append(frame)
    sensors = pd.concat(frames).sort_values(["timestamp", "press_id"], kind="stable")
    # An hour the PLC gateway exported twice (duplicate rows in the file, as real exports have).
    twice = sensors[
        sensors["timestamp"].str.startswith(
            (PRESS_START + timedelta(days=2, hours=10)).strftime("%Y-%m-%d %H")
        )
    ]
    sensors = pd.concat([sensors, twice]).sort_values(["timestamp", "press_id"], kind="stable")
    files: dict[str, bytes] = {}
    month = sensors["timestamp"].str.slice(0, 7).str.replace("-", "")
    for key, part in sensors.groupby(month, sort=True):
        files[f"press_sensors_{key}.csv"] = part.to_csv(index=False).encode("utf-8")
    log = pd.DataFrame(work_orders, columns=MAINTENANCE_HEADER[1:]).sort_values(["reported_at", "press_id"])
    log.insert(0, "wo_no", [f"WO-{i:05d}" for i in range(1, len(log) + 1)])
    for col in ["reported_at", "repair_start", "repair_end"]:
        log[col] = pd.to_datetime(log[col]).dt.strftime("%Y-%m-%d %H:%M")
    files["maintenance_log.csv"] = log.to_csv(index=False).encode("utf-8")
    return files


PLANT_LINES = {"L1": "MP-100", "L2": "MP-200", "L3": "MP-100"}
PLANT_IDEAL_CYCLE_S = {"MP-100": 12.0, "MP-200": 20.0}
DEFECT_TYPES = ["스크래치", "치수불량", "버", "찍힘"]
DOWNTIME_REASONS = ["설비고장", "금형교체", "자재대기", "계획정지", "품질점검"]
PRODUCTION_HEADER = [
    "일자",
    "근무조",
    "라인",
    "품번",
    "계획시간(분)",
    "생산수량",
    "양품수량",
    "불량수량",
    "불량유형",
]
DOWNTIME_HEADER = ["일자", "근무조", "라인", "비가동사유", "비가동시간(분)", "비고"]


@dataclass(frozen=True)
class PlantProfile:
    """How a diary-keeping plant runs: its seed, speed, defect rates and stops (its ground truth)."""

    name: str
    seed: int
    speed: tuple[float, float] = (0.82, 0.95)  # share of the ideal rate while running
    defect_rate: float = 0.018  # lines L1 and L3
    defect_rate_l2: float = 0.035
    stops_max: int = 2  # unplanned stops per shift and line: 0..stops_max
    plc_states: bool = False  # the plant connected its lines' PLCs: a state log every 5 minutes (level 2)


MIRAERO = PlantProfile("미래로정밀", PLANT_SEED)
# Seeded synthetic plants that keep the same Excel diary: they fill the demo cohort so that its pooled
# benchmarks reach 5 factories. Labelled "(synthetic)" wherever they show.
COHORT_PLANTS: dict[str, PlantProfile] = {
    "synth-gaon": PlantProfile("가온정밀 A (synthetic)", PLANT_SEED + 1, (0.70, 0.85), 0.030, 0.050, 3),
    "synth-narae": PlantProfile(
        "나래가공 B (synthetic)", PLANT_SEED + 2, (0.88, 0.97), 0.008, 0.015, 1, True
    ),
    "synth-daon": PlantProfile("다온산업 C (synthetic)", PLANT_SEED + 3, (0.76, 0.90), 0.022, 0.041, 2),
    "synth-raum": PlantProfile("라움테크 D (synthetic)", PLANT_SEED + 4, (0.80, 0.92), 0.014, 0.062, 4),
}


def plant_diary_months(scale: Scale) -> list[tuple[int, int]]:
    return [(2026, 10)] if scale == "small" else [(2026, 8), (2026, 9), (2026, 10)]


def plant_diary_workbook(year: int, month: int, path: Path, plant: PlantProfile = MIRAERO) -> None:
    """Write a plant's monthly Excel diary (miraero-parts' by default): title row, blank row, headers on
    row 3, two sheets."""
    from openpyxl import Workbook

    rng = np.random.default_rng(plant.seed + year * 100 + month)
    production: list[list] = []
    downtime: list[list] = []
    day = datetime(year, month, 1)
    while day.month == month:
        if day.weekday() < 6:  # Sundays off
            for shift in ["주간", "야간"]:
                for line, product in PLANT_LINES.items():
                    planned = 480
                    stops = []
                    for _ in range(int(rng.integers(0, plant.stops_max + 1))):
                        reason = str(rng.choice(DOWNTIME_REASONS, p=[0.3, 0.25, 0.2, 0.1, 0.15]))
                        stops.append((reason, int(rng.integers(10, 90))))
                    lost = sum(m for _, m in stops)
                    speed = rng.uniform(*plant.speed)
                    produced = int((planned - lost) * 60 / PLANT_IDEAL_CYCLE_S[product] * speed)
                    rate = plant.defect_rate if line != "L2" else plant.defect_rate_l2
                    defects = int(rng.binomial(produced, rate))
                    kind = str(rng.choice(DEFECT_TYPES, p=[0.4, 0.3, 0.2, 0.1])) if defects else None
                    production.append(
                        [
                            day.date(),
                            shift,
                            line,
                            product,
                            planned,
                            produced,
                            produced - defects,
                            defects,
                            kind,
                        ]
                    )
                    for reason, minutes in stops:
                        note = "긴급 수리" if reason == "설비고장" else None
                        downtime.append([day.date(), shift, line, reason, minutes, note])
        day += timedelta(days=1)
    production.insert(7, list(production[6]))  # a row typed in twice
    workbook = Workbook()
    for sheet_name, header, rows in [
        ("생산실적", PRODUCTION_HEADER, production),
        ("비가동", DOWNTIME_HEADER, downtime),
    ]:
        sheet = workbook.active if sheet_name == "생산실적" else workbook.create_sheet(sheet_name)
        sheet.title = sheet_name
        sheet.append([f"{year}년 {month}월 생산일보 ({plant.name})"])
        sheet.append([])
        sheet.append(header)
        for i, row in enumerate(rows):
            if i == len(rows) // 2:
                sheet.append([])  # a blank separator row, as people leave them
            sheet.append(row)
    fixed = datetime(year, month, 1)
    workbook.properties.created = fixed
    workbook.properties.modified = fixed
    workbook.save(path)


STATE_SAMPLE_MIN = 5
STATE_SHIFTS = {
    "주간": (8, 9),
    "야간": (20, 9),
}  # starts at (hour) and lasts (hours), as the mapping's shifts


def plant_state_log(year: int, month: int, plant: PlantProfile) -> bytes:
    """A connected plant's PLC state log for one month: each line's state every 5 minutes of its shifts
    (RUN; IDLE for the hour's break; DOWN for its stops), with the PLC's own timestamps."""
    rng = np.random.default_rng(plant.seed + 7 + year * 100 + month)
    lines = ["timestamp,line,status"]
    day = datetime(year, month, 1)
    while day.month == month:
        if day.weekday() < 6:  # Sundays off, as the diary
            for start_hour, hours in STATE_SHIFTS.values():
                start = day + timedelta(hours=start_hour)
                samples = hours * 60 // STATE_SAMPLE_MIN
                for line in PLANT_LINES:
                    states = ["RUN"] * samples
                    pause = samples // 2
                    states[pause : pause + 60 // STATE_SAMPLE_MIN] = ["IDLE"] * (60 // STATE_SAMPLE_MIN)
                    for _ in range(int(rng.integers(0, plant.stops_max + 1))):
                        length = int(rng.integers(2, 18))  # 10 to 90 minutes, as the diary's stops
                        at = int(rng.integers(0, samples - length))
                        states[at : at + length] = ["DOWN"] * length
                    for i, state in enumerate(states):
                        stamp = start + timedelta(minutes=i * STATE_SAMPLE_MIN)
                        lines.append(f"{stamp:%Y-%m-%d %H:%M:%S},{line},{state}")
        day += timedelta(days=1)
    return ("\n".join(lines) + "\n").encode("utf-8")


RIG_SEED = 20261124
RIG_FAILED_UNITS = {"small": 24, "full": 60}
RIG_RUNNING_UNITS = 4
RIG_RUNNING_CUT = 30  # running pump k has 30 x k cycles of life left when its file ends
RIG_LIFE = (120, 260)  # cycles, uniform


def _rig_lines(rng: np.random.Generator, pump: str, life: int, cycles: int) -> list[str]:
    wear = (np.arange(1, cycles + 1) / life) ** 3
    load = rng.integers(0, 2, cycles)
    temperature = 64.0 + 12 * wear + rng.normal(0, 0.4, cycles)
    vibration = 0.5 + 1.5 * wear + rng.normal(0, 0.05, cycles)
    ambient = 22 + rng.normal(0, 1, cycles)
    return [
        f"{pump} {c + 1} {load[c]} {temperature[c]:.3f} {vibration[c]:.4f} {ambient[c]:.2f}"
        for c in range(cycles)
    ]


def rig_exports(scale: Scale) -> dict[str, bytes]:
    """The rig's two files: pumps tested to failure, and pumps still on test (see the module docstring)."""
    rng = np.random.default_rng(RIG_SEED)
    finished: list[str] = []
    for pump in range(1, RIG_FAILED_UNITS[scale] + 1):
        life = int(rng.integers(*RIG_LIFE))
        finished += _rig_lines(rng, str(pump), life, life)
    running: list[str] = []
    for pump in range(1, RIG_RUNNING_UNITS + 1):
        life = int(rng.integers(RIG_LIFE[0] + RIG_RUNNING_CUT * RIG_RUNNING_UNITS, RIG_LIFE[1]))
        running += _rig_lines(rng, str(pump), life, life - RIG_RUNNING_CUT * pump)
    return {
        "수명시험_종료.txt": ("\n".join(finished) + "\n").encode(),
        "수명시험_진행중.txt": ("\n".join(running) + "\n").encode(),
    }

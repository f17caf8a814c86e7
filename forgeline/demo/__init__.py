"""The demo program: five client factories, each delivering its own exports in its own format.

``prepare_demo_program`` writes each client's ``client.yml`` and puts its files into its landing
folder exactly as the client would deliver them. Real data comes from ``demo/data`` (shipped in the
repo, see ATTRIBUTION.md); synthetic clients come from seeded generators with known ground truth.
Re-running it with the same scale changes nothing.
"""

from __future__ import annotations

import gzip
import io
from pathlib import Path

import pyarrow.parquet as pq

from forgeline.clients import ClientConfig, save_client_config
from forgeline.demo import synthetic
from forgeline.demo.synthetic import Scale
from forgeline.settings import DEMO_DIR, Settings

DATA = DEMO_DIR / "data"
SCALE_MARKER = ".demo_scale"

# The casting client's small scale: a contiguous slice of casts, defects throughout.
CASTING_SMALL_IDS = (30_000, 44_000)
STEEL_SMALL_ROWS = 59 * 96  # January and February 2018, 15-minute intervals


def _login(client_id: str, name: str) -> list[dict[str, str]]:
    return [{"username": client_id, "display_name": name}]


def demo_clients() -> list[ClientConfig]:
    """The five demo clients' configurations (what a data engineer would write for each)."""
    molding_products = [
        ("CN7 W/S SIDE MLD'G RH", 59.5),
        ("CN7 W/S SIDE MLD'G LH", 59.5),
        ("RG3 MOLD'G W/SHLD, LH", 61.7),
        ("RG3 MOLD'G W/SHLD, RH", 61.7),
        ("SP2 CVR ROOF RACK CTR, RH", 62.0),
        ("JX1 W/S SIDE MLD'G RH", 62.0),
    ]
    configs = [
        {
            "id": "daehan-molding",
            "name": "대한정밀 (Daehan Precision)",
            "industry": "injection molding",
            "source_system": "kamp_molding",
            "sources": [
                {
                    "entity": "shots",
                    "pattern": "shots_*.csv",
                    "format": "csv",
                    "encoding": "auto",
                    "required_columns": ["TimeStamp", "PART_NAME", "EQUIP_CD", "PassOrFail", "Cycle_Time"],
                }
            ],
            # The export also holds one shot each from S01 and S12 (other machines of the same plant).
            "machines": [
                {
                    "machine_id": "S01",
                    "machine_name": "1800TON-우진",
                    "line_id": "MOLD-2",
                    "site_id": "DH-CHANGWON",
                    "machine_class": "injection_molding",
                },
                {
                    "machine_id": "S12",
                    "machine_name": "650톤-우진",
                    "line_id": "MOLD-1",
                    "site_id": "DH-CHANGWON",
                    "machine_class": "injection_molding",
                },
                {
                    "machine_id": "S14",
                    "machine_name": "650톤-우진2호기",
                    "line_id": "MOLD-1",
                    "site_id": "DH-CHANGWON",
                    "machine_class": "injection_molding",
                    "rated_power_kw": 110,
                },
            ],
            "products": [
                {"product_id": p, "product_name": p, "ideal_cycle_time_s": ct, "parts_per_cycle": 1}
                for p, ct in molding_products
            ],
            "planned_hours_per_day": 24,
            "models": ["defect_prediction"],
            "logins": _login("daehan-molding", "대한정밀 (Daehan Precision)"),
        },
        {
            "id": "sejin-diecast",
            "name": "세진다이캐스팅 (Sejin Die Casting)",
            "industry": "die casting",
            "source_system": "kamp_casting",
            "sources": [
                {
                    "entity": "casts",
                    "pattern": "casting_*.parquet",
                    "format": "parquet",
                    "required_columns": ["date", "time", "mold_code", "passorfail"],
                }
            ],
            "machines": [
                {
                    "machine_id": "DC-01",
                    "machine_name": "다이캐스팅 1호기",
                    "line_id": "CAST-1",
                    "site_id": "SJ-GIMHAE",
                    "machine_class": "die_casting",
                    "rated_power_kw": 250,
                }
            ],
            "products": [
                {"product_id": m, "product_name": f"금형 {m}", "ideal_cycle_time_s": 115.0}
                for m in ["8412", "8413", "8573", "8576", "8600", "8722", "8917"]
            ],
            "planned_hours_per_day": 24,
            "models": ["defect_prediction"],
            "logins": _login("sejin-diecast", "세진다이캐스팅 (Sejin Die Casting)"),
        },
        {
            "id": "gwangyang-steel",
            "name": "광양철강 (Gwangyang Steel)",
            "industry": "steel",
            "source_system": "uci_steel_energy",
            "sources": [
                {
                    "entity": "energy",
                    "pattern": "energy_*.csv",
                    "format": "csv",
                    "required_columns": ["date", "Usage_kWh"],
                }
            ],
            "machines": [
                {
                    "machine_id": "GY-MAIN",
                    "machine_name": "주 수전설비 (main incomer)",
                    "line_id": "PLANT",
                    "site_id": "GY-PLANT",
                    "machine_class": "energy_meter",
                }
            ],
            "products": [],
            "planned_hours_per_day": 24,
            "models": [],
            "logins": _login("gwangyang-steel", "광양철강 (Gwangyang Steel)"),
        },
        {
            "id": "hanbit-press",
            "name": "한빛프레스 (Hanbit Press)",
            "industry": "metal stamping",
            "source_system": "press_plc",
            "sources": [
                {
                    "entity": "sensors",
                    "pattern": "press_sensors_*.csv",
                    "format": "csv",
                    "required_columns": synthetic.SENSOR_HEADER,
                },
                {
                    "entity": "maintenance",
                    "pattern": "maintenance_log*.csv",
                    "format": "csv",
                    "required_columns": synthetic.MAINTENANCE_HEADER,
                },
            ],
            "machines": [
                {
                    "machine_id": p,
                    "machine_name": f"{p} 200톤 프레스",
                    "line_id": "PRESS-1",
                    "site_id": "HB-ANSAN",
                    "machine_class": "press",
                    "rated_power_kw": 45,
                }
                for p in synthetic.PRESSES
            ],
            "products": [
                {"product_id": "BRKT-01", "product_name": "브라켓 (bracket)", "ideal_cycle_time_s": 2.5}
            ],
            "planned_hours_per_day": 16,
            "models": ["failure_prediction"],
            "logins": _login("hanbit-press", "한빛프레스 (Hanbit Press)"),
        },
        {
            "id": "miraero-parts",
            "name": "미래로정밀 (Miraero Parts)",
            "industry": "machined parts",
            "source_system": "shift_excel",
            "sources": [
                {
                    "entity": "production",
                    "pattern": "생산일보_*.xlsx",
                    "format": "excel",
                    "sheet": "생산실적",
                    "header_row": 3,
                    "required_columns": synthetic.PRODUCTION_HEADER,
                },
                {
                    "entity": "downtime",
                    "pattern": "생산일보_*.xlsx",
                    "format": "excel",
                    "sheet": "비가동",
                    "header_row": 3,
                    "required_columns": synthetic.DOWNTIME_HEADER,
                },
            ],
            "machines": [
                {
                    "machine_id": line,
                    "machine_name": f"{line} 라인",
                    "line_id": line,
                    "site_id": "MR-HWASEONG",
                    "machine_class": "machining_line",
                }
                for line in synthetic.PLANT_LINES
            ],
            "products": [
                {"product_id": p, "product_name": p, "ideal_cycle_time_s": ct}
                for p, ct in synthetic.PLANT_IDEAL_CYCLE_S.items()
            ],
            "planned_hours_per_day": 16,
            "models": [],
            "logins": _login("miraero-parts", "미래로정밀 (Miraero Parts)"),
        },
    ]
    return [ClientConfig.model_validate(c) for c in configs]


def _write_if_changed(path: Path, data: bytes) -> None:
    if path.exists() and path.read_bytes() == data:
        return
    tmp = path.with_name(f".{path.name}.partial")
    tmp.write_bytes(data)
    tmp.replace(path)


def _deliveries(client_id: str, scale: Scale, landing: Path) -> None:
    if client_id == "daehan-molding":
        # The MES exports CSV in CP949, as Korean Windows tools do.
        text = gzip.decompress((DATA / "kamp_injection_molding.csv.gz").read_bytes()).decode("utf-8")
        _write_if_changed(landing / "shots_2020-10.csv", text.encode("cp949"))
    elif client_id == "sejin-diecast":
        table = pq.read_table(DATA / "kamp_die_casting.parquet")
        if scale == "small":
            ids = table.column("id").to_pylist()
            keep = [i for i, v in enumerate(ids) if CASTING_SMALL_IDS[0] <= int(v) < CASTING_SMALL_IDS[1]]
            table = table.take(keep)
        buffer = io.BytesIO()
        pq.write_table(table, buffer, compression="zstd")
        _write_if_changed(landing / "casting_2019Q1.parquet", buffer.getvalue())
    elif client_id == "gwangyang-steel":
        data = gzip.decompress((DATA / "steel_industry_energy.csv.gz").read_bytes())
        if scale == "small":
            lines = data.splitlines(keepends=True)
            data = b"".join(lines[: STEEL_SMALL_ROWS + 1])
        _write_if_changed(landing / "energy_2018.csv", data)
    elif client_id == "hanbit-press":
        for name, content in synthetic.press_line_exports(scale).items():
            _write_if_changed(landing / name, content)
    elif client_id == "miraero-parts":
        for year, month in synthetic.plant_diary_months(scale):
            path = landing / f"생산일보_{year}-{month:02d}.xlsx"
            if not path.exists():  # xlsx bytes carry zip timestamps: write once, never rewrite
                tmp = path.with_name(f".{path.name}.partial")
                synthetic.plant_diary_workbook(year, month, tmp)
                tmp.replace(path)


def prepare_demo_program(settings: Settings, scale: Scale = "full") -> list[ClientConfig]:
    """Write the demo clients' configurations and landing files into the workspace."""
    if scale not in ("small", "full"):
        raise ValueError(f"scale must be 'small' or 'full', not {scale!r}")
    settings.home.mkdir(parents=True, exist_ok=True)
    marker = settings.home / SCALE_MARKER
    if marker.exists() and marker.read_text().strip() != scale:
        raise ValueError(
            f"{settings.home} already holds the demo program at {marker.read_text().strip()!r} scale; "
            f"use another --home (or FORGELINE_HOME) for the {scale!r} scale, or delete that workspace."
        )
    marker.write_text(scale)
    clients = demo_clients()
    for config in clients:
        save_client_config(settings, config)
        landing = settings.landing_dir(config.id)
        landing.mkdir(parents=True, exist_ok=True)
        _deliveries(config.id, scale, landing)
    return clients

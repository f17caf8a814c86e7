"""The demo program: eight client factories, each delivering its own exports in its own format, and at full
scale four seeded synthetic plants (labelled so) that fill its cohort.

Each client is onboarded the way a data engineer onboards a real one: a mapping file
(``demo/clients/<id>/mapping.yml``, copied as it is into the workspace) and its files put into its
landing folder exactly as the client would deliver them. Real data comes from ``demo/data`` (shipped in
the repo, see ATTRIBUTION.md); synthetic clients come from seeded generators with known ground truth.
Re-running it with the same scale changes nothing.
"""

from __future__ import annotations

import gzip
import io
from pathlib import Path

import pyarrow.parquet as pq
import yaml

from forgeline.clients import ClientConfig, parse_client_config, save_mapping_text
from forgeline.demo import synthetic
from forgeline.demo.synthetic import Scale
from forgeline.program import consent
from forgeline.settings import DEMO_DIR, Settings

DATA = DEMO_DIR / "data"
MAPPINGS = DEMO_DIR / "clients"
SCALE_MARKER = ".demo_scale"

# The casting client's small scale: a contiguous slice of casts, defects throughout.
CASTING_SMALL_IDS = (30_000, 44_000)
STEEL_SMALL_ROWS = 59 * 96  # January and February 2018, 15-minute intervals
CNC_SMALL_RUNS = 6  # the first runs' servo logs (the run sheet always comes whole)


# The synthetic cohort plants keep miraero-parts' Excel diary, so they are onboarded with its mapping.
COHORT_TEMPLATE = "miraero-parts"
COHORT_REGIONS = {"synth-gaon": "경북", "synth-narae": "충북", "synth-daon": "경기", "synth-raum": "경남"}


def demo_mapping_text(client_id: str) -> str:
    """The client's mapping file; a synthetic cohort plant's is miraero-parts' with its own name and site."""
    if client_id not in synthetic.COHORT_PLANTS:
        return (MAPPINGS / client_id / "mapping.yml").read_text(encoding="utf-8")
    plant = synthetic.COHORT_PLANTS[client_id]
    mapping = yaml.safe_load(demo_mapping_text(COHORT_TEMPLATE))
    mapping.update(id=client_id, name=plant.name, region=COHORT_REGIONS[client_id])
    mapping["logins"] = [{"username": client_id, "display_name": plant.name}]
    site = f"{client_id.upper()}-1"
    for row in mapping["masters"]["sites"]:
        row.update(
            site_id=site, site_name=f"{plant.name.split(' ')[0]} 공장", region=COHORT_REGIONS[client_id]
        )
    for row in mapping["masters"]["equipment"]:
        row["site_id"] = site
    if plant.plc_states:  # its lines' PLCs are connected: machine states with their own timestamps
        mapping["sources"].append(
            {
                "name": "plc_states",
                "files": "line_states_*.csv",
                "format": "csv",
                "required_columns": ["timestamp", "line", "status"],
                "feeds": {
                    "machine_states": {
                        "fields": {
                            "machine_id": "line",
                            "state": {
                                "column": "status",
                                "map": {"RUN": "running", "IDLE": "idle", "DOWN": "down"},
                            },
                            "state_text": "status",
                            "started_at": "timestamp",
                        },
                        "sample_period": f"{synthetic.STATE_SAMPLE_MIN} min",
                    }
                },
            }
        )
    header = (
        "# A seeded synthetic plant of the demo cohort (forgeline/demo/synthetic.py), labelled as such.\n"
    )
    return header + yaml.safe_dump(mapping, allow_unicode=True, sort_keys=False)


def demo_clients(scale: Scale = "small") -> list[ClientConfig]:
    """The demo clients, read from their mapping files (what a data engineer wrote for each); at full scale
    also the synthetic cohort plants that bring its pooled benchmarks to 5 factories."""
    real = [
        parse_client_config(path.read_text(encoding="utf-8"), path)
        for path in sorted(MAPPINGS.glob("*/mapping.yml"))
    ]
    cohort = (
        [parse_client_config(demo_mapping_text(c), c) for c in synthetic.COHORT_PLANTS]
        if scale == "full"
        else []
    )
    return real + cohort


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
    elif client_id == "hanul-cnc":
        runs = sorted((DATA / "kamp_cnc_machining").glob("*.csv.gz"))
        for source in runs:
            name = source.name.removesuffix(".gz")
            number = name.removeprefix("experiment_").removesuffix(".csv")
            if scale == "small" and number.isdigit() and int(number) > CNC_SMALL_RUNS:
                continue
            _write_if_changed(landing / name, gzip.decompress(source.read_bytes()))
    elif client_id == "daesung-melting":
        data = gzip.decompress((DATA / "kamp_melting_tank.csv.gz").read_bytes())
        if scale == "small":
            data = b"".join(data.splitlines(keepends=True)[:3001])
        _write_if_changed(landing / "melting_tank_2020-03-04.csv", data)
    elif client_id == "dongbang-rig":
        for name, content in synthetic.rig_exports(scale).items():
            _write_if_changed(landing / name, content)
    elif client_id == "miraero-parts" or client_id in synthetic.COHORT_PLANTS:
        plant = synthetic.COHORT_PLANTS.get(client_id, synthetic.MIRAERO)
        for year, month in synthetic.plant_diary_months(scale):
            path = landing / f"생산일보_{year}-{month:02d}.xlsx"
            if not path.exists():  # xlsx bytes carry zip timestamps: write once, never rewrite
                tmp = path.with_name(f".{path.name}.partial")
                synthetic.plant_diary_workbook(year, month, tmp, plant)
                tmp.replace(path)
            if plant.plc_states:
                log = synthetic.plant_state_log(year, month, plant)
                _write_if_changed(landing / f"line_states_{year}-{month:02d}.csv", log)


# Demo clients that decline to pool their figures (every other demo client consents): a cohort shows both.
DEMO_DECLINES = frozenset({"gwangyang-steel"})


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
    clients = demo_clients(scale)
    for config in clients:
        save_mapping_text(settings, config.id, demo_mapping_text(config.id))
        landing = settings.landing_dir(config.id)
        landing.mkdir(parents=True, exist_ok=True)
        _deliveries(config.id, scale, landing)
        # The demo's made-up consent forms; a decision taken since (in the app) is never overwritten.
        if not consent.decisions(settings, config.id):
            consent.record(
                settings,
                config.id,
                given=config.id not in DEMO_DECLINES,
                by="demo: signed form (made up)",
                note="the demo program's consent, recorded when the demo was prepared",
            )
    return clients

"""A client too big for the old gate: every core table from dbt's contracts, millions of PLC readings.

Used by tests/test_gate_scale.py and bench/gate_bench.py. The warehouse is written straight into DuckDB
(no ingest, no dbt) so that a large client takes seconds to make; its tables have exactly the columns and
types dbt's enforced contracts give the real ones.
"""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import duckdb
import yaml

from forgeline.settings import DEMO_DIR, REPO_ROOT, Settings, get_settings

CLIENT = "hanbit-press"  # a press plant delivering minute PLC readings; its models need sensors
CONTRACTS = REPO_ROOT / "dbt_project" / "models" / "core" / "_core__models.yml"

# Run in a fresh process by the test and the bench: the gate alone, then its peak memory. VmHWM, not
# ru_maxrss: Linux carries the forking parent's peak into the child's ru_maxrss (a big pytest process
# would be counted as the gate's), while VmHWM is this program's own peak resident set.
GATE_IN_A_PROCESS = textwrap.dedent(
    """
    import json, re, sys, time
    from forgeline.clients import get_client
    from forgeline.settings import get_settings
    settings = get_settings(sys.argv[1])
    config = get_client(settings, sys.argv[2])
    if sys.argv[3] == "legacy":  # the gate as it was: every core table whole in pandas
        import importlib.util
        spec = importlib.util.spec_from_file_location("legacy_quality", sys.argv[4])
        gate_module = sys.modules["legacy_quality"] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(gate_module)
    else:
        from forgeline import quality as gate_module
    started = time.perf_counter()
    gate = gate_module.run_gate(settings, config)
    print(json.dumps({
        "seconds": time.perf_counter() - started,
        "max_rss_kib": int(re.search(r"VmHWM:\\s+(\\d+) kB", open("/proc/self/status").read())[1]),
        "passed": gate.passed,
        "results": [[r.table_name, r.column_name, r.expectation_type, r.success, r.observed, r.details]
                    for r in gate.results],
    }))
    """
)


def build_big_client(home: Path, sensor_rows: int, null_values: int = 0) -> Settings:
    """A workspace whose client holds ``sensor_rows`` readings (``null_values`` of them without a value)."""
    settings = get_settings(home)
    target = settings.client_config_path(CLIENT)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(DEMO_DIR / "clients" / CLIENT / "mapping.yml", target)
    settings.warehouse_dir.mkdir(parents=True, exist_ok=True)
    path = settings.warehouse_path(CLIENT)
    path.unlink(missing_ok=True)
    contracts = yaml.safe_load(CONTRACTS.read_text(encoding="utf-8"))["models"]
    con = duckdb.connect(str(path))
    try:
        con.execute("CREATE SCHEMA core")
        for model in contracts:
            columns = ", ".join(f'"{c["name"]}" {c["data_type"]}' for c in model["columns"])
            con.execute(f'CREATE TABLE core."{model["name"]}" ({columns})')
        every = sensor_rows // null_values if null_values else 0
        # Minute readings of four tags on three presses, spread over monthly files as the plant delivers them.
        con.execute(
            f"""
            INSERT INTO core.fct_sensor_readings BY NAME
            SELECT
                '{CLIENT}' AS client_id,
                'P-0' || (i % 3 + 1) AS machine_id,
                ['oil_temp', 'hydraulic_pressure', 'vibration', 'motor_current'][i // 3 % 4 + 1] AS tag,
                TIMESTAMPTZ '2025-01-01 00:00:00+09' + to_minutes(i // 12) AS read_at,
                CASE WHEN {every} > 0 AND i % {every or 1} = 7 THEN NULL ELSE (i * 7919 % 1000) / 10.0 END
                    AS value,
                ['degC', 'MPa', 'mm/s', 'A'][i // 3 % 4 + 1] AS unit,
                ['temperature', 'pressure', 'velocity', 'current'][i // 3 % 4 + 1] AS quantity_kind,
                'plc_minutes' AS source_name,
                'press_sensors_' || strftime(TIMESTAMP '2025-01-01' + to_minutes(i // 12), '%Y-%m') || '.csv'
                    AS source_file,
                'batch-' || lpad((i // 12 // 43200)::VARCHAR, 4, '0') AS load_batch_id
            FROM range({sensor_rows}) AS r(i)
            """
        )
        con.execute(
            f"""
            INSERT INTO core.fct_maintenance_events BY NAME
            SELECT '{CLIENT}' AS client_id, 'WO-' || i AS maintenance_id, 'P-0' || (i % 3 + 1) AS machine_id,
                   CASE WHEN i % 2 = 0 THEN 'failure' ELSE 'preventive' END AS event_type,
                   TIMESTAMPTZ '2025-01-03 08:00:00+09' + to_days(i * 9) AS reported_at,
                   TIMESTAMPTZ '2025-01-03 09:00:00+09' + to_days(i * 9) AS repair_started_at,
                   TIMESTAMPTZ '2025-01-03 13:00:00+09' + to_days(i * 9) AS repair_ended_at
            FROM range(40) AS r(i)
            """
        )
        con.execute(
            f"""
            INSERT INTO core.dim_equipment BY NAME
            SELECT '{CLIENT}' AS client_id, 'P-0' || i AS machine_id, true AS is_declared
            FROM range(1, 4) AS r(i)
            """
        )
    finally:
        con.close()
    return settings


def pandas_bytes(settings: Settings, table: str = "fct_sensor_readings", sample: int = 100_000) -> int:
    """What the whole table would take as one pandas frame (the old gate held it, then a copy)."""
    con = duckdb.connect(str(settings.warehouse_path(CLIENT)), read_only=True)
    try:
        rows = con.execute(f"SELECT count(*) FROM core.{table}").fetchone()[0]
        frame = con.execute(f"SELECT * FROM core.{table} LIMIT {sample}").df()
    finally:
        con.close()
    return int(frame.memory_usage(deep=True).sum() * rows / max(len(frame), 1))

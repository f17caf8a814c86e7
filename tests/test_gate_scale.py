"""The gate on a client bigger than the old gate could hold: its peak memory stays far below the table's.

The old gate read every core table whole into pandas and copied it; here 3 M PLC readings take about
1.8 GB as one pandas frame. The real gate runs in a fresh process (as in a flow run) and reports its peak
resident memory; no timing is asserted (bench/gate_bench.py measures time and memory against the old gate).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from gate_big_client import CLIENT, GATE_IN_A_PROCESS, build_big_client, pandas_bytes

pytestmark = pytest.mark.gate

SENSOR_ROWS = 3_000_000


def test_the_gate_judges_a_client_bigger_than_its_memory(tmp_path: Path) -> None:
    settings = build_big_client(tmp_path / "home", SENSOR_ROWS, null_values=5)
    whole_table = pandas_bytes(settings)

    run = subprocess.run(
        [sys.executable, "-c", GATE_IN_A_PROCESS, str(settings.home), CLIENT, "chunked"],
        capture_output=True,
        text=True,
        check=False,
    )

    assert run.returncode == 0, run.stderr[-3000:]
    report = json.loads(run.stdout.strip().splitlines()[-1])
    peak = report["max_rss_kib"] * 1024
    # The old gate held the table and a copy (2x whole_table); this one never holds a tenth of it in rows.
    assert whole_table > 1.5e9
    assert peak < 0.4 * whole_table, (peak, whole_table)
    assert peak < 512 * 2**20, f"peak {peak / 2**20:.0f} MiB: the goal is at most 0.5 GB on any client"
    # ...and still finds the 5 readings without a value among 3 million, and nothing else.
    outcomes = {(r[0], r[1], r[2]): (r[3], r[4], r[5]) for r in report["results"]}
    assert [key for key, (success, _, _) in outcomes.items() if not success] == [
        ("fct_sensor_readings", "value", "expect_column_values_to_not_be_null")
    ]
    assert outcomes[("fct_sensor_readings", "value", "expect_column_values_to_not_be_null")] == (
        False,
        "5 of 3,000,000 rows unexpected",
        "e.g. [nan, nan, nan, nan, nan]",
    )
    assert outcomes[("fct_sensor_readings", None, "expect_table_row_count_to_be_between")][:2] == (
        True,
        "3000000",
    )

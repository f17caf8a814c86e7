"""Benchmark: ingesting a large CP949 export, Forgeline's loader against a plain pandas baseline.

Both run in fresh subprocesses on the same file in the same run; we report wall time and peak memory
(max RSS) as ratios to the baseline, never as absolute pass/fail figures.

    .venv/bin/python bench/ingest_bench.py --copies 20

The file is the demo molding client's CP949 shots export repeated ``--copies`` times.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CANDIDATES = {
    "forgeline": """
import sys
from pathlib import Path
from forgeline.clients import ClientConfig
from forgeline.ingest import ingest_client
from forgeline.settings import get_settings
home = Path(sys.argv[1]); settings = get_settings(home)
config = ClientConfig(id="bench-plant", name="bench",
                      sources=[{"name": "shots", "files": "*.csv", "format": "csv", "encoding": "auto",
                                "feeds": {"cycles": {"fields": {"started_at": "TimeStamp"}}}}])
report = ingest_client(settings, config)
print(sum(f.rows for f in report.files))
""",
    "pandas_baseline": """
import sys
from pathlib import Path
import duckdb, pandas as pd
home = Path(sys.argv[1]); source = next((home / "landing" / "bench-plant").glob("*.csv"))
frame = pd.read_csv(source, encoding="cp949", dtype=str)
con = duckdb.connect(str(home / "baseline.duckdb"))
con.execute("CREATE SCHEMA raw; CREATE TABLE raw.shots AS SELECT * FROM frame")
print(con.execute("SELECT count(*) FROM raw.shots").fetchall()[0][0])
""",
}


def build_input(home: Path, copies: int) -> Path:
    from forgeline.demo import prepare_demo_program
    from forgeline.settings import get_settings

    demo = get_settings(home / "demo")
    prepare_demo_program(demo, scale="small")
    [source] = sorted(demo.landing_dir("daehan-molding").glob("*.csv"))
    lines = source.read_bytes().splitlines(keepends=True)
    target_dir = home / "landing" / "bench-plant"
    target_dir.mkdir(parents=True)
    target = target_dir / "shots_big.csv"
    with target.open("wb") as out:
        out.write(lines[0])
        for _ in range(copies):
            out.writelines(lines[1:])
    return target


def run_candidate(name: str, code: str, home: Path) -> dict[str, float]:
    """Run one candidate in a fresh process; os.wait4 gives that very child's peak RSS."""
    out_path = home / "stdout.txt"
    started = time.perf_counter()
    with out_path.open("w") as out, (home / "stderr.txt").open("w") as err:
        child = subprocess.Popen([sys.executable, "-c", code, str(home)], stdout=out, stderr=err)
        _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{name} failed:\n{(home / 'stderr.txt').read_text()[-2000:]}")
    return {
        "seconds": round(seconds, 2),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
        "rows": int(out_path.read_text().split()[-1]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--copies", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        source = build_input(root, args.copies)
        file_mb = round(source.stat().st_size / 2**20, 1)
        results = {}
        for name in ["pandas_baseline", "forgeline"]:
            home = root / name
            (home / "landing").mkdir(parents=True)
            (home / "landing" / "bench-plant").symlink_to(source.parent, target_is_directory=True)
            results[name] = run_candidate(name, CANDIDATES[name], home)
    base, ours = results["pandas_baseline"], results["forgeline"]
    assert base["rows"] == ours["rows"], results
    report = {
        "input": {
            "file_mb": file_mb,
            "rows": ours["rows"],
            "encoding": "cp949",
        },
        "results": results,
        "ratios_vs_baseline": {
            "time": round(ours["seconds"] / base["seconds"], 2),
            "peak_rss": round(ours["peak_rss_mb"] / base["peak_rss_mb"], 2),
        },
    }
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / "ingest_bench.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()

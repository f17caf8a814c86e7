"""Benchmark: the quality gate's peak memory and time as a client grows, chunked gate against the old one.

For each size, a press client with that many minute PLC readings (every core table as dbt's contracts make
it, tests/gate_big_client.py) is written straight into DuckDB; then each gate runs in a fresh process
(as in a flow run) and reports its wall time and peak memory (max RSS). The old gate (every core table
whole in pandas, as at commit ``LEGACY_REF``) runs only up to ``--legacy-max`` rows, under an address-space
cap so it cannot take the shared machine down. We report ratios, never absolute pass/fail figures:

- ``old/new``: the old gate's peak memory (and time) over the chunked gate's, same client, same run;
- ``vs smallest``: the chunked gate's peak at this size over its peak at the smallest size (flat is 1.0).

    .venv/bin/python bench/gate_bench.py --sizes 1000000,5000000,20000000
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from gate_big_client import CLIENT, GATE_IN_A_PROCESS, build_big_client, pandas_bytes  # noqa: E402

LEGACY_REF = "e46d9ef"  # the last commit whose gate read whole tables into pandas
LEGACY_CAP = 8 * 2**30  # address space the old gate may use before it is stopped (MemoryError)


def run_gate(home: Path, mode: str, legacy_file: Path | None = None) -> dict:
    def cap() -> None:
        if mode == "legacy":
            resource.setrlimit(resource.RLIMIT_AS, (LEGACY_CAP, LEGACY_CAP))

    args = [sys.executable, "-c", GATE_IN_A_PROCESS, str(home), CLIENT, mode]
    if legacy_file:
        args.append(str(legacy_file))
    started = time.perf_counter()
    run = subprocess.run(args, capture_output=True, text=True, preexec_fn=cap, check=False)
    if run.returncode != 0:
        reason = "over the cap" if "MemoryError" in run.stderr else run.stderr.strip().splitlines()[-1]
        return {"failed": reason, "seconds": time.perf_counter() - started}
    return json.loads(run.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000000,5000000,20000000", help="PLC readings per client")
    parser.add_argument("--legacy-max", type=int, default=1_000_000, help="largest size the old gate runs on")
    parser.add_argument("--legacy-ref", default=LEGACY_REF)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]

    with tempfile.TemporaryDirectory(prefix="gate-bench-") as tmp:
        legacy_file = Path(tmp) / "legacy_quality.py"
        legacy_file.write_text(
            subprocess.run(
                ["git", "show", f"{args.legacy_ref}:forgeline/quality/__init__.py"],
                cwd=REPO,
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        )
        rows = []
        for size in sizes:
            home = Path(tmp) / f"client-{size}"
            settings = build_big_client(home, size, null_values=5)
            whole = pandas_bytes(settings)
            new = run_gate(home, "chunked")
            old = run_gate(home, "legacy", legacy_file) if size <= args.legacy_max else None
            rows.append((size, whole, new, old))
            print(f"... {size:,} readings done", file=sys.stderr, flush=True)

    smallest = rows[0][2].get("max_rss_kib") or 1
    print(f"\nquality gate, chunked vs old (whole tables in pandas, {args.legacy_ref}); peak = max RSS")
    header = (
        f"{'readings':>11} {'table in pandas':>15} {'new peak':>9} {'vs smallest':>11} {'new s':>6} "
        f"{'old peak':>9} {'old s':>6} {'peak old/new':>12} {'time old/new':>12}  same verdicts"
    )
    print(header)
    print("-" * len(header))
    for size, whole, new, old in rows:
        new_peak = new.get("max_rss_kib", 0) / 1024
        line = (
            f"{size:>11,} {whole / 2**20:>11,.0f} MiB {new_peak:>5,.0f} MiB "
            f"{new.get('max_rss_kib', 0) / smallest:>11.2f} {new['seconds']:>6.1f} "
        )
        if old is None:
            line += f"{'(not run: would need ~' + format(2 * whole / 2**30, '.0f') + ' GiB)':>44}"
        elif "failed" in old:
            line += f"{old['failed']:>44}"
        else:
            same = old["passed"] == new["passed"] and old["results"] == new["results"]
            line += (
                f"{old['max_rss_kib'] / 1024:>5,.0f} MiB {old['seconds']:>6.1f} "
                f"{old['max_rss_kib'] / new['max_rss_kib']:>12.2f} {old['seconds'] / new['seconds']:>12.2f}  "
                f"{'yes' if same else 'NO'}"
            )
        print(line)


if __name__ == "__main__":
    main()

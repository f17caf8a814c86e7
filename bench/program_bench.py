"""Benchmark: a whole consulting program end to end, against the physical limit of the same work.

A seeded program of N factories and R delivered rows (bench/program_data.py: PLC minute sensors, shots
with parameters and quality, CP949 shift diaries, energy meters) runs through the real CLI
(`forgeline run`: Prefect, ingest, mapping, dbt, the GX gate, MLflow training, publish). The baseline,
in the same run and on the same files, is plain DuckDB: load every file with ``read_csv`` and compute
OEE per machine and day and energy per meter and day in SQL, nothing else. Then, on the same workspace:

- an unchanged re-run (the goal is ≤ 5 % of the full run);
- one new day delivered for one client, and the program run again (goal ≤ 10 %).

Reported: wall time, peak RSS of the whole process tree (dbt runs as child processes), rows/s, the split
by stage (summed over clients, from the run record), and each figure as a ratio to the baseline.

    .venv/bin/python bench/program_bench.py --size quick     # 4 factories, 400 k rows: a quick look
    .venv/bin/python bench/program_bench.py --size M         # 20 factories, 20 M rows (goal: ≤ 5 min, ≤ 4 GB)
    .venv/bin/python bench/program_bench.py --size L         # 40 factories, 200 M rows (≤ 30 min, no OOM)

Generated data is kept in ``--workdir`` (default /tmp/forgeline-program-bench) and reused by the next
run of the same size and seed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from program_data import GENERATOR_VERSION, Factory, plan_program, write_program  # noqa: E402

from forgeline.changes import RACY_S  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
SIZES = {"quick": (4, 400_000), "M": (20, 20_000_000), "L": (40, 200_000_000)}
GOALS = {"M": (300.0, 4.0), "L": (1800.0, None)}  # seconds, GB


@dataclass
class Measured:
    name: str
    seconds: float
    peak_gb: float
    returncode: int
    stages: dict[str, float] = field(default_factory=dict)
    output_tail: str = ""
    peak_breakdown: str = ""


class TreePeak:
    """Peak resident memory of a process and all its descendants, sampled every 0.2 s."""

    def __init__(self, pid: int) -> None:
        self.root = psutil.Process(pid)
        self.peak = 0
        self.at_peak: list[tuple[str, int]] = []  # (process, RSS) when the tree's total was highest
        # The program's last progress line (which client is in which stage), and what it was at the peak:
        # the orchestrating process holds every client's gate and training, which its RSS cannot tell apart.
        self.progress = ""
        self.progress_at_peak = ""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.is_set():
            try:
                processes = [self.root, *self.root.children(recursive=True)]
            except psutil.NoSuchProcess:
                return
            sizes = []
            for process in processes:
                with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
                    sizes.append((_process_name(process), process.memory_info().rss))
            total = sum(rss for _, rss in sizes)
            if total > self.peak:
                self.peak, self.at_peak, self.progress_at_peak = total, sizes, self.progress
            self._stop.wait(0.2)

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return self.peak / 1e9

    def breakdown(self) -> str:
        """Who held the memory at the peak, biggest first (e.g. which dbt builds ran beside training)."""
        ranked = sorted(self.at_peak, key=lambda item: -item[1])
        held = ", ".join(f"{name} {rss / 1e9:.2f} GB" for name, rss in ranked if rss >= 50e6)
        return held + (f"; last progress line: {self.progress_at_peak}" if self.progress_at_peak else "")


def _process_name(process: psutil.Process) -> str:
    """A short name for a process of the run: the program and, for dbt, the client it builds."""
    words = process.cmdline()
    # "python -m forgeline.cli run" is forgeline.cli; "…/bin/dbt build" is dbt; "python -c …" is python.
    named = (Path(w).name for w in words[:3] if not Path(w).name.startswith(("python", "-")))
    program = "python" if "-c" in words[:2] else next(named, "python")
    client = next((w.split("/")[-2] for w in words if w.endswith("/target")), None)
    return f"{program} ({client})" if client else program


def measure(name: str, command: list[str], env: dict[str, str]) -> Measured:
    started = time.monotonic()
    process = subprocess.Popen(
        command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    peak = TreePeak(process.pid)
    lines: list[str] = []
    assert process.stdout is not None
    for line in process.stdout:
        lines.append(line)
        if "clients done" in line:
            peak.progress = " ".join(line.split())
        if os.environ.get("BENCH_VERBOSE"):
            print(f"    {line}", end="")
    returncode = process.wait()
    result = Measured(name, time.monotonic() - started, peak.stop(), returncode)
    result.peak_breakdown = peak.breakdown()
    result.output_tail = "".join(lines[-15:])
    return result


def prepare_source(workdir: Path, factories: int, rows: int, seed: int) -> tuple[Path, list[Factory], int]:
    """Generate the program once per (factories, rows, seed); later runs reuse it."""
    source = workdir / f"program-v{GENERATOR_VERSION}-{factories}f-{rows}r-{seed}"
    marker = source / "READY.json"
    plan = plan_program(factories, rows, seed)
    if marker.exists():
        return source, plan, json.loads(marker.read_text())["rows"]
    shutil.rmtree(source, ignore_errors=True)
    clock = time.monotonic()
    print(f"Generating {factories} factories, {rows:,} rows into {source}…", flush=True)
    written = write_program(source, plan, seed)
    marker.write_text(json.dumps({"rows": written, "plan": [asdict(f) for f in plan]}))
    size = sum(p.stat().st_size for p in source.rglob("*") if p.is_file()) / 1e9
    print(f"  {written:,} rows, {size:.2f} GB of files, in {time.monotonic() - clock:.0f} s", flush=True)
    return source, plan, written


def fresh_home(source: Path, home: Path) -> None:
    """A new workspace holding the program's mappings and deliveries (hard links: no copy of the data)."""
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    for part in ("clients", "landing"):
        subprocess.run(["cp", "-al", str(source / part), str(home / part)], check=True)


def forgeline_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FORGELINE_", "PREFECT_", "MLFLOW_"))}
    env.update({"FORGELINE_HOME": str(home), "PREFECT_HOME": str(home / "prefect"), "COLUMNS": "160"})
    return env


def run_forgeline(name: str, home: Path) -> Measured:
    result = measure(name, [sys.executable, "-m", "forgeline.cli", "run"], forgeline_env(home))
    records = sorted((home / "runs").glob("*.json"))
    if records:
        for client in json.loads(records[-1].read_text())["clients"]:
            for stage, seconds in (client.get("seconds") or {}).items():
                result.stages[stage] = result.stages.get(stage, 0.0) + seconds
    return result


BASELINE = r"""
import json, sys, time
from pathlib import Path
import duckdb
source, out, plan = Path(sys.argv[1]), Path(sys.argv[2]), json.loads(sys.argv[3])
out.mkdir(parents=True, exist_ok=True)
for factory in plan:
    client, kind = factory["client_id"], factory["kind"]
    landing = source / "landing" / client
    con = duckdb.connect(str(out / f"{client}.duckdb"))
    if kind == "plc":
        con.execute(f"CREATE OR REPLACE TABLE readings AS FROM read_csv('{landing}/press_sensors_*.csv')")
        con.execute('''CREATE OR REPLACE TABLE oee_daily AS
            SELECT press_id AS machine_id, CAST(timestamp AS DATE) AS day,
            count(*) FILTER (status = 'RUN') / 960.0 AS availability,
            least(1, sum(strokes) * 2.5 / 60 / nullif(count(*) FILTER (status = 'RUN'), 0)) AS performance,
            1.0 AS quality FROM readings GROUP BY ALL''')
    elif kind == "cycles":
        con.execute(f"CREATE OR REPLACE TABLE shots AS SELECT * FROM read_csv('{landing}/shots_*.csv')")
        con.execute('''CREATE OR REPLACE TABLE oee_daily AS
            SELECT EQUIP_CD AS machine_id, CAST(TimeStamp AS DATE) AS day,
            sum(Cycle_Time) / 86400 AS availability, count(*) * 42 / sum(Cycle_Time) AS performance,
            avg(CASE WHEN PassOrFail = 0 THEN 1.0 ELSE 0.0 END) AS quality FROM shots GROUP BY ALL''')
    elif kind == "shifts":
        # DuckDB reads no CP949: the diaries (small) are transcoded first, as Forgeline must too.
        tmp = out / f"{client}-utf8"
        tmp.mkdir(exist_ok=True)
        for path in sorted(landing.glob("*.csv")):
            (tmp / path.name).write_text(path.read_text(encoding="cp949"), encoding="utf-8")
        con.execute(f"CREATE OR REPLACE TABLE diary AS SELECT * FROM read_csv('{tmp}/*.csv')")
        con.execute('''CREATE OR REPLACE TABLE oee_daily AS SELECT 라인 AS machine_id, 일자 AS day,
            sum(계획시간 - 비가동시간) / sum(계획시간) AS availability,
            sum(생산수량) * 12 / 60.0 / sum(계획시간 - 비가동시간) AS performance,
            sum(양품수량) / sum(생산수량) AS quality FROM (SELECT *, "계획시간(분)" AS 계획시간,
            "비가동시간(분)" AS 비가동시간 FROM diary) GROUP BY ALL''')
    else:
        con.execute(f"CREATE OR REPLACE TABLE readings AS SELECT * FROM read_csv('{landing}/energy_*.csv')")
        con.execute('''CREATE OR REPLACE TABLE energy_daily AS
            SELECT meter AS meter_id, CAST(interval_end AS DATE) AS day,
            sum(kwh) AS kwh, sum(kwh) * 0.4781 AS co2_kg FROM readings GROUP BY ALL''')
    con.close()
print("baseline done")
"""


def run_baseline(source: Path, out: Path, plan: list[Factory]) -> Measured:
    shutil.rmtree(out, ignore_errors=True)
    payload = json.dumps([asdict(f) for f in plan])
    return measure(
        "baseline: plain DuckDB",
        [sys.executable, "-c", BASELINE, str(source), str(out), payload],
        {**os.environ},
    )


def deliver_next_day(source: Path, home: Path, client_id: str) -> int:
    """Put the held-back last day of ``client_id`` into its landing folder; return its rows."""
    rows = 0
    for path in sorted((source / "next" / client_id).glob("*.csv")):
        shutil.copy2(path, home / "landing" / client_id / path.name)
        rows += sum(1 for _ in path.open("rb")) - 1
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size", choices=sorted(SIZES), default="quick")
    parser.add_argument("--factories", type=int, help="override the size's number of factories")
    parser.add_argument("--rows", type=int, help="override the size's number of rows")
    parser.add_argument("--seed", type=int, default=20261124)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/forgeline-program-bench"))
    parser.add_argument("--no-incremental", action="store_true", help="skip the re-run and new-day runs")
    args = parser.parse_args()
    factories, rows = SIZES[args.size]
    factories, rows = args.factories or factories, args.rows or rows

    source, plan, written = prepare_source(args.workdir, factories, rows, args.seed)
    home = args.workdir / "home"
    results: list[Measured] = [run_baseline(source, args.workdir / "baseline", plan)]
    print(f"  baseline: {results[0].seconds:.1f} s, {results[0].peak_gb:.2f} GB", flush=True)
    fresh_home(source, home)
    # Linking the files just now touched their change times: wait until the landing look can be trusted
    # (forgeline/changes.py RACY_S), as it can for deliveries that arrived before a nightly run.
    time.sleep(RACY_S + 1)
    full = run_forgeline("forgeline: full run", home)
    results.append(full)
    print(f"  full run: {full.seconds:.1f} s, {full.peak_gb:.2f} GB, exit {full.returncode}", flush=True)
    if not args.no_incremental and full.returncode == 0:
        results.append(run_forgeline("forgeline: unchanged re-run", home))
        biggest = max((f for f in plan if f.kind == "plc"), key=lambda f: f.rows, default=plan[0])
        added = deliver_next_day(source, home, biggest.client_id)
        results.append(run_forgeline(f"forgeline: one new day ({biggest.client_id}, {added:,} rows)", home))

    baseline = results[0]
    print()
    print(f"Program: {factories} factories, {written:,} rows, seed {args.seed}, {os.cpu_count()} cores")
    print(f"{'':<58} {'wall s':>8} {'× base':>7} {'peak GB':>8} {'× base':>7} {'rows/s':>10} {'exit':>5}")
    for r in results:
        print(
            f"{r.name:<58} {r.seconds:>8.1f} {r.seconds / baseline.seconds:>7.2f} {r.peak_gb:>8.2f} "
            f"{r.peak_gb / max(baseline.peak_gb, 1e-9):>7.2f} {written / r.seconds:>10,.0f} {r.returncode:>5}"
        )
    for r in results[2:]:
        print(f"{r.name}: {r.seconds / full.seconds:.1%} of the full run")
    for r in results:
        print(f"{r.name}: at the peak, {r.peak_breakdown or 'no process over 50 MB'}")
    if full.stages:
        total = sum(full.stages.values())
        split = ", ".join(
            f"{k} {v:.0f} s ({v / total:.0%})" for k, v in sorted(full.stages.items(), key=lambda kv: -kv[1])
        )
        print(f"Full run by stage (summed over clients): {split}")
    if args.size in GOALS and not (args.factories or args.rows):
        seconds, gb = GOALS[args.size]
        met = full.returncode == 0 and full.seconds <= seconds and (gb is None or full.peak_gb <= gb)
        limits = f"≤ {seconds:.0f} s" + (f" and ≤ {gb:.0f} GB" if gb else ", no out-of-memory")
        print(f"Goal for {args.size}: {limits}: {'met' if met else 'NOT met'}")
    for r in results[1:]:
        if r.returncode != 0:
            print(f"\n{r.name} exited {r.returncode}:\n{r.output_tail}")


if __name__ == "__main__":
    main()

"""Benchmark: Forgeline's CSV ingest against raw DuckDB ``read_csv`` on the same export, in the same run.

The export is the demo molding client's CP949 shots file repeated to ``--mb`` megabytes (the delivered
bytes), and the same text as UTF-8. Each candidate runs in a fresh subprocess (``os.wait4`` gives that
child's own peak RSS); the time is the work alone, measured inside the child (imports excluded), the
median of ``--repeat`` interleaved runs. Reported as ratios to raw DuckDB on the UTF-8 file, never as
absolute pass/fail figures:

    .venv/bin/python bench/ingest_bench.py            # a 270 MB export, 3 runs each
    .venv/bin/python bench/ingest_bench.py --quick    # a 27 MB export, a fast look

Goals (issue 8): UTF-8 throughput >= 0.8x raw DuckDB; CP949 >= 0.6x raw DuckDB on UTF-8; peak RSS <= 2x
DuckDB's own. ``duckdb_utf8_512mb_cap`` is raw DuckDB under the 512 MB memory cap ingest runs with
(``FORGELINE_INGEST_MEMORY_LIMIT``), for context. ``--pandas`` adds the earlier baseline (pandas
``read_csv`` of the CP949 file).
"""

from __future__ import annotations

import argparse
import codecs
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

# Each child prints "<seconds of work> <rows>" last.
FORGELINE = """
import sys, time
from pathlib import Path
from forgeline.clients import ClientConfig
from forgeline.ingest import ingest_client
from forgeline.settings import get_settings
home = Path(sys.argv[1]); settings = get_settings(home)
config = ClientConfig(id="bench-plant", name="bench",
                      sources=[{"name": "shots", "files": "*.csv", "format": "csv", "encoding": "auto",
                                "feeds": {"cycles": {"fields": {"started_at": "TimeStamp"}}}}])
started = time.perf_counter()
report = ingest_client(settings, config)
print(time.perf_counter() - started, sum(f.rows for f in report.files))
"""
DUCKDB = """
import sys, time
from pathlib import Path
import duckdb
home = Path(sys.argv[1]); source = next((home / "landing" / "bench-plant").glob("*.csv"))
started = time.perf_counter()
con = duckdb.connect(str(home / "baseline.duckdb"))
con.execute("CREATE SCHEMA raw")
con.execute("CREATE TABLE raw.shots AS SELECT * FROM read_csv(?, all_varchar = true)", [str(source)])
rows = con.execute("SELECT count(*) FROM raw.shots").fetchone()[0]
con.close()
print(time.perf_counter() - started, rows)
"""
PANDAS = """
import sys, time
from pathlib import Path
import duckdb, pandas as pd
home = Path(sys.argv[1]); source = next((home / "landing" / "bench-plant").glob("*.csv"))
started = time.perf_counter()
frame = pd.read_csv(source, encoding="cp949", dtype=str)
con = duckdb.connect(str(home / "baseline.duckdb"))
con.execute("CREATE SCHEMA raw; CREATE TABLE raw.shots AS SELECT * FROM frame")
rows = con.execute("SELECT count(*) FROM raw.shots").fetchone()[0]
print(time.perf_counter() - started, rows)
"""
# The same, under the memory cap ingest runs with (settings.ingest_memory_limit): for context only.
DUCKDB_CAPPED = DUCKDB.replace(
    'duckdb.connect(str(home / "baseline.duckdb"))',
    'duckdb.connect(str(home / "baseline.duckdb"), config={"memory_limit": "512MB"})',
)
# name: (child code, which file it reads)
CANDIDATES = {
    "duckdb_read_csv_utf8": (DUCKDB, "utf8"),
    "duckdb_utf8_512mb_cap": (DUCKDB_CAPPED, "utf8"),
    "forgeline_utf8": (FORGELINE, "utf8"),
    "forgeline_cp949": (FORGELINE, "cp949"),
    "pandas_cp949": (PANDAS, "cp949"),
}


def input_files(root: Path) -> dict[str, Path]:
    return {enc: root / "input" / enc / "shots_big.csv" for enc in ("cp949", "utf8")}


def build_inputs(root: Path, megabytes: float) -> None:
    """The demo's CP949 shots export repeated to about ``megabytes``, and the same text in UTF-8.

    Runs in its own process (``--build``): a child forked from a large parent would count the parent's
    memory in its peak RSS."""
    from forgeline.demo import prepare_demo_program
    from forgeline.settings import get_settings

    demo = get_settings(root / "demo")
    prepare_demo_program(demo, scale="small")
    [source] = sorted(demo.landing_dir("daehan-molding").glob("*.csv"))
    lines = source.read_bytes().splitlines(keepends=True)
    copies = max(1, round(megabytes * 2**20 / sum(len(line) for line in lines[1:])))
    files = input_files(root)
    for path in files.values():
        path.parent.mkdir(parents=True)
    with files["cp949"].open("wb") as out:
        out.write(lines[0])
        for _ in range(copies):
            out.writelines(lines[1:])
    decoder = codecs.getincrementaldecoder("cp949")()
    with files["cp949"].open("rb") as src, files["utf8"].open("wb") as out:
        while block := src.read(8 << 20):
            out.write(decoder.decode(block).encode("utf-8"))


def run_candidate(code: str, source: Path, home: Path) -> dict[str, float]:
    """Run one candidate in a fresh process on ``source`` (linked into its landing folder)."""
    landing = home / "landing" / "bench-plant"
    landing.mkdir(parents=True)
    os.link(source, landing / source.name)  # the same bytes, no copy, a regular file
    out_path, err_path = home / "stdout.txt", home / "stderr.txt"
    with out_path.open("w") as out, err_path.open("w") as err:
        child = subprocess.Popen([sys.executable, "-c", code, str(home)], stdout=out, stderr=err)
        _, status, usage = os.wait4(child.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{home.name} failed:\n{err_path.read_text()[-2000:]}")
    seconds, rows = out_path.read_text().split()[-2:]
    return {"seconds": float(seconds), "peak_rss_mb": usage.ru_maxrss / 1024, "rows": int(rows)}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--mb", type=float, default=270, help="size of the CP949 export (default 270)")
    parser.add_argument("--quick", action="store_true", help="a 27 MB export")
    parser.add_argument("--build", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--pandas", action="store_true", help="also run the pandas baseline")
    args = parser.parse_args()
    megabytes = 27 if args.quick else args.mb
    if args.build:
        build_inputs(args.build, megabytes)
        return
    names = [n for n in CANDIDATES if args.pandas or not n.startswith("pandas")]
    runs: dict[str, list[dict[str, float]]] = {n: [] for n in names}
    with tempfile.TemporaryDirectory(prefix="ingest-bench-") as tmp:
        root = Path(tmp)
        build = [sys.executable, __file__, "--build", str(root), "--mb", str(megabytes)]
        subprocess.run(build, check=True, stdout=subprocess.DEVNULL)
        files = input_files(root)
        sizes = {k: round(p.stat().st_size / 2**20, 1) for k, p in files.items()}
        for attempt in range(args.repeat):
            for name in names:  # interleaved, so that a noisy neighbour hits every candidate alike
                code, which = CANDIDATES[name]
                runs[name].append(run_candidate(code, files[which], root / f"{name}-{attempt}"))
    results = {
        name: {
            "seconds": round(statistics.median(r["seconds"] for r in rs), 2),
            "peak_rss_mb": round(statistics.median(r["peak_rss_mb"] for r in rs), 1),
            "rows": rs[0]["rows"],
            "runs_seconds": [round(r["seconds"], 2) for r in rs],
        }
        for name, rs in runs.items()
    }
    assert len({r["rows"] for r in results.values()}) == 1, results
    base = results["duckdb_read_csv_utf8"]
    ratios = {
        name: {
            "throughput_vs_duckdb_utf8": round(base["seconds"] / r["seconds"], 2),
            "peak_rss_vs_duckdb": round(r["peak_rss_mb"] / base["peak_rss_mb"], 2),
        }
        for name, r in results.items()
        if name != "duckdb_read_csv_utf8"
    }
    report = {
        "input": {"mb": sizes, "rows": base["rows"], "repeat": args.repeat},
        "results": results,
        "ratios": ratios,
        "goals": {
            "forgeline_utf8": "throughput >= 0.8",
            "forgeline_cp949": "throughput >= 0.6",
            "all": "rss <= 2",
        },
    }
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / ("ingest_bench_quick.json" if args.quick else "ingest_bench.json")).write_text(
        json.dumps(report, indent=2)
    )
    print(
        f"input: {sizes['utf8']} MB UTF-8 / {sizes['cp949']} MB CP949, {base['rows']:,} rows; "
        f"median of {args.repeat} runs"
    )
    print(f"{'candidate':24} {'seconds':>8} {'peak MB':>8} {'throughput x':>13} {'peak RSS x':>11}")
    for name, r in results.items():
        ratio = ratios.get(name, {"throughput_vs_duckdb_utf8": 1.0, "peak_rss_vs_duckdb": 1.0})
        speed, rss = ratio["throughput_vs_duckdb_utf8"], ratio["peak_rss_vs_duckdb"]
        print(f"{name:24} {r['seconds']:8.2f} {r['peak_rss_mb']:8.0f} {speed:13.2f} {rss:11.2f}")


if __name__ == "__main__":
    main()

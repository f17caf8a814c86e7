"""Benchmark: the standard-model catalog on the demo's data (the shared real datasets, and two seeded
synthetic factories with planted ground truth), each client onboarded through its mapping file only.

Every demo client (demo/clients/<id>/mapping.yml) is onboarded at full scale from its delivered files,
as ``make demo`` does, and every standard model its mapping asks for is trained: real ingest, the mapping,
dbt, the Great Expectations gate, then training with MLflow (the functions the engagement flow calls, in a
fresh workspace, so every model really trains). The real datasets are KAMP's and UCI's (demo/data, see its
ATTRIBUTION.md).

Reported per model: the headline metric on the time-ordered holdout beside the naive baseline's on the same
rows, the published figure where one exists (and why it is or is not comparable), the champion decision,
and the training time. The datasets no catalog model can score yet are listed with the reason.

    .venv/bin/python bench/model_quality.py            # prints the table (about 2 minutes on 2 cores)
    .venv/bin/python bench/model_quality.py --readme   # … and writes it into README.md

The README's table is this command's output; re-running it gives the same figures (seeded learners,
deterministic SQL), all but the seconds: those to onboard the client (ingest, mapping, dbt, gate) and to
train its models (training sets included).
"""

from __future__ import annotations

import argparse
import logging
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from forgeline.clients import ClientConfig  # noqa: E402
from forgeline.settings import Settings, get_settings  # noqa: E402

README = REPO / "README.md"
START, END = "<!-- model-bench:start -->", "<!-- model-bench:end -->"

# Where each demo client's data comes from, and the published figure to compare with (if any).
DATASETS = {
    "daehan-molding": (
        "KAMP injection molding (real)",
        "none peer-reviewed: KAMP's guidebook splits at random",
    ),
    "sejin-diecast": ("KAMP die casting (real)", "none peer-reviewed: KAMP's guidebook splits at random"),
    "gwangyang-steel": (
        "UCI steel industry energy (real)",
        "RMSE 7.33 kWh (random forest): random split, reads reactive power and CO2 (leaky)",
    ),
    "hanbit-press": ("seeded synthetic, planted drift", "–"),
    "dongbang-rig": ("seeded synthetic, planted wear", "–"),
    # The shipped sample's readings are all OK, and there is no failure log: the detector runs, unscored.
    "daesung-melting": ("KAMP melting tank (real)", "–"),
}
# Where one model of a client has another published figure than the client's dataset (or none).
PUBLISHED_FOR_MODEL = {("sejin-diecast", "demand_forecast"): "–"}
NOT_SCORED = {
    "hanul-cnc": (
        "KAMP CNC machining (real)",
        "tool wear: 25 runs in all, too few for a time-ordered holdout with 20 problem cases",
    ),
}


@dataclass
class Scored:
    client_id: str
    dataset: str
    model: str
    metric: str
    value: str
    baseline: str
    published: str
    champion: str
    train_s: float
    standardize_s: float


def _figure(value: float, metric: str, unit: str) -> str:
    if np.isnan(value):
        return "–"  # nothing to score it against (an anomaly detector without incidents)
    return f"{value:.3f}" if metric != "rmse" else f"{value:,.2f} {unit}".strip()


def run_client(settings: Settings, config: ClientConfig) -> list[Scored]:
    from forgeline.ingest import ingest_client
    from forgeline.quality import run_gate
    from forgeline.standard_models import prepare_client_store, train_client_models
    from forgeline.standard_models.champion import METRIC_LABELS
    from forgeline.standardize import apply_mapping, run_dbt

    clock = time.perf_counter()
    ingest_client(settings, config)
    apply_mapping(settings, config)
    run_dbt(settings, config, "build")
    gate = run_gate(settings, config)
    standardize_s = time.perf_counter() - clock
    if not gate.passed:
        raise SystemExit(f"{config.id}: the quality gate failed; see its Data Docs")
    prepare_client_store(settings, config.id)
    clock = time.perf_counter()
    results = train_client_models(settings, config, gate)
    train_s = time.perf_counter() - clock
    dataset, published = DATASETS.get(config.id, ("", "–"))
    scored = []
    for result in results:
        verdict = "yes" if result.is_champion else "no"
        # Why not: the decision's reasons, before its figures ("; PR-AUC 0.136 vs …"), which the table has.
        label = METRIC_LABELS.get(result.metric_name, result.metric_name)
        reasons = result.champion_decision.split(": ", 1)[-1].split(f"; {label} ")[0]
        reason = "" if result.is_champion else reasons
        scored.append(
            Scored(
                client_id=config.id,
                dataset=dataset,
                model=result.model_name,
                metric=label,
                value=_figure(result.model_metric, result.metric_name, result.unit),
                baseline=_figure(result.baseline_metric, result.metric_name, result.unit),
                published=PUBLISHED_FOR_MODEL.get((config.id, result.model_name), published),
                champion=f"{verdict}: {reason}" if reason else verdict,
                train_s=train_s,
                standardize_s=standardize_s,
            )
        )
    return scored


def table(rows: list[Scored]) -> str:
    lines = [
        "| dataset | client | model | metric | holdout | naive baseline | published | champion | onboard s "
        "| train s |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r.dataset} | `{r.client_id}` | {r.model} | {r.metric} | {r.value} | {r.baseline} | "
            f"{r.published} | {r.champion} | {r.standardize_s:.0f} | {r.train_s:.0f} |"
        )
    for client_id, (dataset, why) in NOT_SCORED.items():
        lines.append(f"| {dataset} | `{client_id}` | – | – | – | – | – | not scored: {why} | – | – |")
    return "\n".join(lines)


def write_readme(text: str) -> None:
    readme = README.read_text(encoding="utf-8")
    if START not in readme or END not in readme:
        raise SystemExit(f"README.md has no {START} … {END} section to write into")
    head, rest = readme.split(START, 1)
    _, tail = rest.split(END, 1)
    README.write_text(f"{head}{START}\n{text}\n{END}{tail}", encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scale", choices=["small", "full"], default="full")
    parser.add_argument("--home", type=Path, help="workspace (default: a fresh temporary one, removed after)")
    parser.add_argument("--readme", action="store_true", help="write the table into README.md")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    from forgeline.demo import prepare_demo_program

    home = args.home or Path(tempfile.mkdtemp(prefix="forgeline-model-bench-"))
    try:
        settings = get_settings(home)
        clients = prepare_demo_program(settings, scale=args.scale)
        rows: list[Scored] = []
        for config in clients:
            if config.models:
                logging.info("model bench: %s (%s)", config.id, ", ".join(config.models))
                rows += run_client(settings, config)
        text = table(rows)
        print(text)
        if args.readme:
            write_readme(text)
    finally:
        if args.home is None:
            shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()

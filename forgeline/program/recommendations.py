"""AI solution recommendations: from a client's own data readiness, level gaps and KPIs, a ranked list of
the standard models or improvement actions to run next, each with the data it needs, the benefit estimated
from the client's own figures, and why.

Publish makes the list on every run, from the same snapshot it publishes (marts, model results, level
evidence), and stores it as ``meta.recommendations``. The order:

1. standard models whose data is ready and that are not in operation yet, the largest measured exposure
   first (the share of parts lost to defects, of operating time lost to repairs);
2. the steps that close the next smart-factory level's gaps (the level rules' own steps);
3. ready models whose benefit cannot be put as a share (energy, demand);
4. models whose data is not there yet, with the data to collect.

Benefits are the client's exposure at its current rate ("97 defective parts a month at 5.5 %"), never a
promised saving: what a model recovers of it shows on its results once it runs.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

import duckdb
import pandas as pd

from forgeline.i18n import N_, Stored, as_number, as_percent, later, use_language, word

DAYS_PER_MONTH = 30.4
# why, needs, benefit: in English; wording: the same as messages with their values (JSON), worded in the
# reader's language by reports/words.py (a snapshot published before it has none: its English is shown).
COLUMNS = ["rank", "kind", "solution", "title", "why", "needs", "benefit", "ready", "wording"]
STANDARD_MODEL, LEVEL_STEP, DATA_TO_COLLECT = "standard model", "level step", "data to collect"


@dataclass(frozen=True)
class Facts:
    """What the client's core tables and marts say, as the recommendations read them."""

    filled: frozenset[str]  # core tables holding rows, without "fct_" (standard_models.missing_inputs)
    days: int  # production days in the marts
    inspected: float
    defects: float
    failures: float
    operating_h: float
    repair_h: float
    energy_days: int
    energy_kwh: float
    co2_kg: float
    good_units: float

    def per_month(self, total: float, days: int | None = None) -> float:
        span = self.days if days is None else days
        return total / span * DAYS_PER_MONTH if span else 0.0


def _one(con: duckdb.DuckDBPyConnection, catalog: str, table: str, sql: str) -> tuple:
    """A row of figures from one mart, zeros when the warehouse lacks it (or a column it reads)."""
    found = con.execute(
        "select count(*) from information_schema.tables where table_catalog = ? and table_schema = 'marts' "
        "and table_name = ?",
        [catalog, table],
    ).fetchone()[0]
    if not found:
        return tuple()
    try:
        return con.execute(sql.replace("{m}", f'"{catalog}".marts."{table}"')).fetchone() or tuple()
    except duckdb.BinderException:  # a mart written by hand or by an older Forgeline lacks a column
        return tuple()


def facts(con: duckdb.DuckDBPyConnection, catalog: str) -> Facts:
    """The client's figures from the warehouse attached as ``catalog``: its core tables and marts."""

    def nums(row: tuple, n: int) -> list[float]:
        return [float(v or 0) for v in row] if row else [0.0] * n

    days, good = nums(
        _one(con, catalog, "oee_daily", "select count(distinct production_date), sum(good_count) from {m}"), 2
    )
    defect_days, inspected, defects = nums(
        _one(
            con,
            catalog,
            "defect_rate_daily",
            "select count(distinct production_date), sum(inspected_count), sum(defect_count) from {m}",
        ),
        3,
    )
    failures, operating_h, repair_h = nums(
        _one(
            con,
            catalog,
            "maintenance_kpis",
            "select sum(failure_count), sum(operating_time_h), sum(mttr_h * failure_count) from {m}",
        ),
        3,
    )
    energy_days, kwh, co2 = nums(
        _one(
            con,
            catalog,
            "energy_daily",
            "select count(distinct reading_date), sum(energy_kwh), sum(co2_kg) from {m}",
        ),
        3,
    )
    tables = con.execute(
        "select table_name from information_schema.tables where table_catalog = ? and table_schema = 'core'",
        [catalog],
    ).fetchall()
    filled = frozenset(
        name.removeprefix("fct_")
        for (name,) in tables
        if con.execute(f'select exists (select 1 from "{catalog}".core."{name}")').fetchone()[0]
    )
    return Facts(
        filled=filled,
        days=int(max(days, defect_days)),
        inspected=inspected,
        defects=defects,
        failures=failures,
        operating_h=operating_h,
        repair_h=repair_h,
        energy_days=int(energy_days),
        energy_kwh=kwh,
        co2_kg=co2,
        good_units=good,
    )


@dataclass(frozen=True)
class Solution:
    """A standard model as a recommendation: what it does, what it needs, when the data is there, and the
    exposure it addresses (a sentence, and a share of production where one can be measured)."""

    model: str
    title: str
    does: str
    needs: str
    enough: Callable[[Facts], bool]  # beyond the model's tables (standard_models.missing_inputs)
    benefit: Callable[[Facts], Stored]
    exposure: Callable[[Facts], float | None]

    def ready(self, found: Facts) -> bool:
        from forgeline.standard_models import missing_inputs  # the catalog's own rule (heavy imports)

        return not missing_inputs(self.model, set(found.filled)) and self.enough(found)


def _defect_benefit(f: Facts) -> Stored:
    if not f.inspected:
        return later(N_("defects are not counted yet, so their cost cannot be estimated"))
    return later(
        N_(
            "defect cost at the current rate: {defects} defective parts a month ({rate} of {inspected} "
            "inspected)"
        ),
        defects=as_number(f.per_month(f.defects)),
        rate=as_percent(f.defects / f.inspected, 1),
        inspected=as_number(f.per_month(f.inspected)),
    )


def _repair_benefit(f: Facts) -> Stored:
    if not f.failures or not f.operating_h:
        return later(N_("no failure is recorded yet, so downtime cannot be estimated"))
    return later(
        N_(
            "a failure every {between} operating hours, {repair} h of repair each: {per_thousand} h of "
            "repairs per 1,000 operating hours"
        ),
        between=as_number(f.operating_h / f.failures),
        repair=as_number(f.repair_h / f.failures, 1),
        per_thousand=as_number(f.repair_h / f.operating_h * 1000),
    )


def _energy_benefit(f: Facts) -> Stored:
    if not f.energy_days:
        return later(N_("energy is not metered yet"))
    kwh = f.per_month(f.energy_kwh, f.energy_days)
    return later(
        N_("{kwh} kWh and {co2} kg CO2 a month; each 1 % saved is {one_percent} kWh"),
        kwh=as_number(kwh),
        co2=as_number(f.per_month(f.co2_kg, f.energy_days)),
        one_percent=as_number(kwh / 100),
    )


def _demand_benefit(f: Facts) -> Stored:
    if not f.good_units:
        return later(N_("production is not counted per day yet"))
    return later(N_("plans {units} good units a month"), units=as_number(f.per_month(f.good_units)))


def _downtime_share(f: Facts) -> float | None:
    return f.repair_h / f.operating_h if f.failures and f.operating_h else None


# Titles, what each does and needs: English marked for the catalogs, worded in the reader's language where
# shown (titles through reports/words.py STEP_TITLES; does and needs through the stored wording).
SOLUTIONS = [
    Solution(
        "defect_prediction",
        "Predict defects per cycle, with the parameters that drive them and their operating windows",
        N_("scores each cycle's risk of a defect from its process parameters and names the settings to keep"),
        N_("process parameters of each cycle linked to its inspection result, with some defects found"),
        lambda f: f.defects > 0,
        _defect_benefit,
        lambda f: f.defects / f.inspected if f.inspected else None,
    ),
    Solution(
        "failure_prediction",
        "Predict machine failures a day ahead",
        N_("warns of a machine's failure within 24 hours from its sensors and its maintenance history"),
        N_("a maintenance log with failures, and the machines' sensor readings"),
        lambda f: f.failures > 0,
        _repair_benefit,
        _downtime_share,
    ),
    Solution(
        "sensor_anomalies",
        "Watch the sensors for unusual behaviour",
        N_("flags a machine whose sensor signals move away from their normal, without labelled incidents"),
        N_("the machines' sensor readings, collected automatically"),
        lambda f: True,
        _repair_benefit,
        _downtime_share,
    ),
    Solution(
        "energy_baseline",
        "Set an energy baseline and measure savings (IPMVP)",
        N_(
            "learns the expected kWh from production and calendar, and reports savings and anomalies in kWh "
            "and CO2"
        ),
        N_("energy meter readings (15-minute or hourly) for at least 4 weeks"),
        lambda f: f.energy_days >= 28,
        _energy_benefit,
        lambda f: None,
    ),
    Solution(
        "demand_forecast",
        "Forecast production per product, a day and a week ahead",
        N_("forecasts each product's daily quantity for planning, against the same weekday last week"),
        N_("production counts, work orders or cycles per product and day"),
        lambda f: True,
        _demand_benefit,
        lambda f: None,
    ),
    Solution(
        "remaining_useful_life",
        "Estimate the remaining life of run-to-failure units",
        N_("estimates how many cycles each running unit has left, from the history of units run to failure"),
        N_("cycles with process parameters for units run until they failed"),
        lambda f: True,
        lambda f: later(N_("replacements planned before failure instead of after it")),
        lambda f: None,
    ),
]


def _worded(why: Stored, needs: Stored, benefit: Stored) -> dict[str, object]:
    """A recommendation's reasons: in English for the columns every reader of a snapshot has read (the CLI,
    an older app), and as messages with their values (``wording``) to word in the reader's language."""
    parts = {"why": why, "needs": needs, "benefit": benefit}
    with use_language("en"):
        english = {name: word(part) for name, part in parts.items()}
    return {**english, "wording": json.dumps(parts, ensure_ascii=False)}


def recommend(
    found: Facts,
    evidence: pd.DataFrame,
    next_level: int | None,
    model_results: pd.DataFrame,
    configured: list[str],
) -> pd.DataFrame:
    """The ranked recommendations (see the module's order); models in operation are not recommended."""
    from forgeline.reports.words import MEASURE_LABELS  # the measures' words (reports imports publish)

    champions = (
        set(model_results.loc[model_results["is_champion"].fillna(False).astype(bool), "model_name"])
        if len(model_results)
        else set()
    )
    trained = set(model_results["model_name"]) if len(model_results) else set()
    tiers: list[tuple[int, float, dict]] = []
    for solution in SOLUTIONS:
        if solution.model in champions:
            continue
        ready = solution.ready(found)
        does = later(solution.does)
        exposure = solution.exposure(found) if ready else None
        if ready:
            if solution.model in trained:
                why = later(
                    N_(
                        "it is trained but not yet champion: see its results for what holds it back (often "
                        "too few positive cases in the holdout); keep delivering"
                    )
                )
            elif solution.model in configured:
                why = later(N_("the data is ready and the mapping asks for it: it {does}"), does=does)
            else:
                why = later(
                    N_("the data is ready and it does not run for this factory yet: it {does}"), does=does
                )
            tier = 1 if exposure else 3
        else:
            why = later(N_("it {does}; the data it needs is not delivered yet"), does=does)
            tier = 4
        tiers.append(
            (
                tier,
                -(exposure or 0.0),
                {
                    "kind": STANDARD_MODEL if ready else DATA_TO_COLLECT,
                    "solution": solution.model,
                    "title": solution.title,
                    **_worded(why, later(solution.needs), solution.benefit(found)),
                    "ready": ready,
                },
            )
        )
    if next_level is not None and len(evidence):
        gaps = evidence[(evidence["level"] == next_level) & ~evidence["passed"].astype(bool)]
        for order, gap in enumerate(gaps.itertuples(index=False)):
            tiers.append(
                (
                    2,
                    float(order),
                    {
                        "kind": LEVEL_STEP,
                        "solution": gap.rule_id,
                        "title": str(gap.step)[:1].upper() + str(gap.step)[1:],
                        **_worded(
                            # The rule's words from the rules file: a shipped rule's are in the catalogs.
                            later(
                                N_("level {level} needs: {says}"), level=next_level, says=later(str(gap.says))
                            ),
                            # A shipped measure in the words the level page and the report use.
                            later(MEASURE_LABELS.get(getattr(gap, "measure", None), str(gap.meaning))),
                            later(N_("closes a gap to smart-factory level {level}"), level=next_level),
                        ),
                        "ready": False,
                    },
                )
            )
    ranked = [row for _, _, row in sorted(tiers, key=lambda t: (t[0], t[1]))]
    frame = pd.DataFrame(ranked, columns=COLUMNS[1:])
    frame.insert(0, "rank", range(1, len(frame) + 1))
    return frame.astype({"rank": "int64", "ready": "bool"})


def empty() -> pd.DataFrame:
    return pd.DataFrame(columns=COLUMNS).astype({"rank": "int64", "ready": "bool"})

"""Smart-factory level evidence: which maturity level (1–5) a client's own data shows, rule by rule, and the
cheapest steps to the next level.

The rules (thresholds, words, steps) live in one versioned file, ``level_rules.yml`` beside this module, or
a program's tuned copy at ``<home>/program/level_rules.yml`` (:attr:`Settings.level_rules_path`). This
module owns the measures the rules read (:data:`MEASURES`): each is computed from the client's core tables
and marts (through an attached warehouse, read-only) and this run's model results. A client is at the
highest level whose rules, and every lower level's, all hold (0 when even level 1's do not).

The assessment is made by publish on every run and stored in the snapshot (``meta.level``,
``meta.level_evidence``) with the rules' version and the digest of the file applied, so a level can always
be traced to its evidence and its rules. ``forgeline levels`` prints it.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import duckdb
import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from forgeline import i18n
from forgeline.clients import ClientConfig
from forgeline.settings import Settings

SHIPPED_RULES = Path(__file__).with_name("level_rules.yml")
BELOW_LEVEL_1 = "below level 1: its evidence is not complete yet"


@dataclass
class Sources:
    """What the measures read: the client's warehouse attached to ``con`` as ``catalog`` (read-only), its
    time zone, and this run's operating windows and champions' weeks in operation as publish writes them."""

    con: duckdb.DuckDBPyConnection
    catalog: str
    timezone: str
    operating_windows: pd.DataFrame
    operation_weekly: pd.DataFrame
    # Automatic tables whose times the mapping made up from row order (see made_up_times).
    made_up_times: frozenset[str] = frozenset()

    def has(self, schema: str, table: str, *columns: str) -> bool:
        """Whether the warehouse has the table with these columns (a warehouse written by hand, or by an
        older Forgeline, may lack some: its measure is then 0, never an error that stops publishing)."""
        found = {
            row[0]
            for row in self.con.execute(
                "select column_name from information_schema.columns "
                "where table_catalog = ? and table_schema = ? and table_name = ?",
                [self.catalog, schema, table],
            ).fetchall()
        }
        return bool(found) and set(columns) <= found

    def one(self, sql: str) -> float:
        """A query's single number (0 when it has none)."""
        sql = sql.replace("{c}", self.catalog)
        row = self.con.execute(sql, {"tz": self.timezone} if "$tz" in sql else None).fetchone()
        return float(row[0]) if row and row[0] is not None else 0.0


@dataclass(frozen=True)
class Measure:
    """One figure a rule can read: what it is, how it is shown ("days", "share", "count"), how to get it."""

    meaning: str
    kind: str
    compute: Callable[[Sources], float]


def _production_days_sql(s: Sources) -> str | None:
    """Local days with any production record: counts (the OEE mart, which also counts cycles), count
    sheets, or inspections."""
    parts = [
        "select production_date as day from {c}.marts.oee_daily where total_count > 0"
        if s.has("marts", "oee_daily", "production_date", "total_count")
        else None,
        "select production_date as day from {c}.core.fct_production_counts where total_count > 0"
        if s.has("core", "fct_production_counts", "production_date", "total_count")
        else None,
        "select production_date as day from {c}.core.fct_quality_results where production_date is not null"
        if s.has("core", "fct_quality_results", "production_date")
        else None,
    ]
    found = [p for p in parts if p]
    return " union ".join(found) if found else None


def _recorded_days(s: Sources) -> float:
    """Days with production counted and defects counted: inspections (the defect mart), or the count
    sheets of a client whose sheets record rejects (core cannot tell a sheet's zero rejects from none
    written, so a client's sheets count once any of them shows a reject)."""
    if not s.has("marts", "oee_daily", "production_date", "total_count"):
        return 0.0
    defect_days = [
        "select production_date from {c}.marts.defect_rate_daily where inspected_count > 0"
        if s.has("marts", "defect_rate_daily", "production_date", "inspected_count")
        else None,
        "select production_date from {c}.core.fct_production_counts "
        "where exists (select 1 from {c}.core.fct_production_counts where reject_count > 0)"
        if s.has("core", "fct_production_counts", "production_date", "reject_count")
        else None,
    ]
    counted = " union ".join(q for q in defect_days if q)
    if not counted:
        return 0.0
    return s.one(
        "select count(*) from (select production_date from {c}.marts.oee_daily where total_count > 0 "
        f"intersect ({counted}))"
    )


def _traceable_share(s: Sources) -> float:
    if not s.has("core", "fct_quality_results", "cycle_id", "lot_id"):
        return 0.0
    return s.one(
        "select avg(case when cycle_id is not null or lot_id is not null then 1.0 else 0.0 end) "
        "from {c}.core.fct_quality_results"
    )


# Timestamped records a machine writes itself: its states, its cycles, its sensors' readings (the entity
# that feeds each: a mapping that makes its times up from row order does not count).
_AUTOMATIC = {
    "fct_machine_states": ("machine_states", "started_at"),
    "fct_cycles": ("cycles", "started_at"),
    "fct_sensor_readings": ("sensor_readings", "read_at"),
}


def made_up_times(config: ClientConfig) -> frozenset[str]:
    """The automatic tables whose every feed takes its time from row order (``from_order``): their
    timestamps are the mapping's, not the machine's."""
    made_up = set()
    for table, (entity, field) in _AUTOMATIC.items():
        feeds = [source.feeds[entity] for source in config.sources if entity in source.feeds]
        if feeds and all(
            feed.fields.get(field) is not None and feed.fields[field].from_order is not None for feed in feeds
        ):
            made_up.add(table)
    return frozenset(made_up)


def _automatic_dates_sql(s: Sources) -> str | None:
    parts = []
    for table, (_, column) in _AUTOMATIC.items():
        needed = (column, "ended_at") if table == "fct_machine_states" else (column,)
        if not s.has("core", table, *needed) or table in s.made_up_times:
            continue
        if table == "fct_machine_states":
            # Every local day an interval spans: a machine running for ten days is ten days of records.
            parts.append(
                "select distinct cast(unnest(generate_series(cast(timezone($tz, started_at) as date), "
                "cast(timezone($tz, coalesce(ended_at, started_at)) as date), interval 1 day)) as date) "
                "as day from {c}.core.fct_machine_states where started_at is not null"
            )
        else:
            parts.append(
                f"select distinct cast(timezone($tz, {column}) as date) as day from {{c}}.core.{table} "
                f"where {column} is not null"
            )
    return " union ".join(parts) if parts else None


def _automatic_days(s: Sources) -> float:
    dates = _automatic_dates_sql(s)
    return s.one(f"select count(*) from ({dates})") if dates else 0.0


def _automatic_coverage(s: Sources) -> float:
    """The share of production days (days with any production record) that have automatic records too;
    0 without production records (a sensor stream alone says nothing of the days the plant produced)."""
    dates, production = _automatic_dates_sql(s), _production_days_sql(s)
    if not dates or not production:
        return 0.0
    return s.one(
        "select avg(case when a.day is not null then 1.0 else 0.0 end) "
        f"from (select distinct day from ({production})) as p "
        f"left join (select distinct day from ({dates})) as a on a.day = p.day"
    )


def _linked_cycle_share(s: Sources) -> float:
    """Cycles with process parameters and a quality result: the cycle's own, or its lot's."""
    if not (
        s.has("core", "fct_cycles", "cycle_id")
        and s.has("core", "fct_cycle_parameters", "cycle_id")
        and s.has("core", "fct_quality_results", "cycle_id")
    ):
        return 0.0
    by_lot = s.has("core", "fct_cycles", "lot_id") and s.has("core", "fct_quality_results", "lot_id")
    lot_join = (
        "left join (select distinct lot_id from {c}.core.fct_quality_results where lot_id is not null) "
        "as l on l.lot_id = cycles.lot_id"
        if by_lot
        else "left join (select null as lot_id) as l on false"
    )
    return s.one(
        "select avg(case when p.cycle_id is not null and (q.cycle_id is not null or l.lot_id is not null) "
        "then 1.0 else 0.0 end) "
        "from {c}.core.fct_cycles as cycles "
        "left join (select distinct cycle_id from {c}.core.fct_cycle_parameters) as p "
        "on p.cycle_id = cycles.cycle_id "
        "left join (select distinct cycle_id from {c}.core.fct_quality_results where cycle_id is not null) "
        f"as q on q.cycle_id = cycles.cycle_id {lot_join}"
    )


def _root_cause_windows(s: Sources) -> float:
    """Operating windows worth acting on: significant, and not contradicted by the later cycles."""
    windows = s.operating_windows
    if windows.empty:
        return 0.0
    confident = windows["confident"].fillna(False).astype(bool)
    contradicted = windows["holds_later"].eq(False).fillna(False).astype(bool)
    return float((confident & ~contradicted).sum())


def _tracked_champions(s: Sources) -> float:
    """Champion models that scored data delivered after their training, judged against its outcomes."""
    weekly = s.operation_weekly
    if weekly.empty:
        return 0.0
    judged = weekly[(weekly["live_rows"].fillna(0) > 0) & weekly["metric"].notna()]
    return float(judged["model_name"].nunique())


def _control_actions(s: Sources) -> float:
    return 0.0  # the common schema has no control-action entity yet: nothing to count


MEASURES: dict[str, Measure] = {
    "recorded_days": Measure("days with production and defect counts", "days", _recorded_days),
    "traceable_share": Measure(
        "share of quality results naming their lot or cycle", "share", _traceable_share
    ),
    "automatic_days": Measure(
        "days with machine states, cycles or sensor readings timestamped as recorded", "days", _automatic_days
    ),
    "automatic_coverage": Measure(
        "share of production days with automatic records", "share", _automatic_coverage
    ),
    "linked_cycle_share": Measure(
        "share of cycles with process parameters and a quality result", "share", _linked_cycle_share
    ),
    "root_cause_windows": Measure(
        "recommended operating windows from root-cause analysis", "count", _root_cause_windows
    ),
    "tracked_champions": Measure(
        "champion models scoring new data with their accuracy tracked", "count", _tracked_champions
    ),
    "control_actions": Measure("control actions that followed a model output", "count", _control_actions),
}


class Rule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    measure: str
    at_least: float
    says: str
    step: str

    @field_validator("measure")
    @classmethod
    def _known(cls, value: str) -> str:
        if value not in MEASURES:
            raise ValueError(f"unknown measure {value!r}; known: {', '.join(MEASURES)}")
        return value


class Level(BaseModel):
    model_config = ConfigDict(extra="forbid")

    level: int = Field(ge=1, le=5)
    name: str
    rules: list[Rule] = Field(min_length=1)


class Rules(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: str
    levels: list[Level]

    @model_validator(mode="after")
    def _one_to_five(self) -> Rules:
        numbers = [level.level for level in self.levels]
        if numbers != list(range(1, len(numbers) + 1)) or not numbers:
            raise ValueError(f"levels must be 1, 2, … in order; found {numbers}")
        for level in self.levels:
            for rule in level.rules:
                share = MEASURES[rule.measure].kind == "share"
                if not math.isfinite(rule.at_least) or rule.at_least < 0 or (share and rule.at_least > 1):
                    limit = "between 0 and 1 (a share)" if share else "a number of 0 or more"
                    raise ValueError(f"rule {rule.id}: at_least must be {limit}, not {rule.at_least}")
        ids = [rule.id for level in self.levels for rule in level.rules]
        if len(ids) != len(set(ids)):
            raise ValueError("each rule id may appear once")
        return self


def rules_path(settings: Settings) -> Path:
    """The program's tuned rules if it has them, else the shipped ones."""
    return settings.level_rules_path if settings.level_rules_path.exists() else SHIPPED_RULES


def load_rules(path: Path) -> tuple[Rules, str]:
    """The rules in ``path`` and the digest of its bytes (recorded with every assessment)."""
    raw = path.read_bytes()
    try:
        rules = Rules.model_validate(yaml.safe_load(raw))
    except (yaml.YAMLError, ValueError) as exc:
        raise ValueError(f"{path}: the level rules are not valid: {exc}") from exc
    return rules, hashlib.sha256(raw).hexdigest()[:16]


@dataclass
class RuleResult:
    level: int
    level_name: str
    rule_id: str
    says: str
    measure: str
    meaning: str
    kind: str
    value: float
    at_least: float
    passed: bool
    step: str


@dataclass
class Assessment:
    level: int
    level_name: str
    rules_version: str
    rules_digest: str
    results: list[RuleResult]

    @property
    def next_level(self) -> int | None:
        levels = {r.level for r in self.results}
        return self.level + 1 if self.level + 1 in levels else None

    def roadmap(self) -> list[RuleResult]:
        """The next level's rules that do not hold yet: each with the step that closes it."""
        return [r for r in self.results if r.level == self.next_level and not r.passed]

    def frames(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """(``meta.level``: one row, ``meta.level_evidence``: one row per rule) for the snapshot."""
        summary = pd.DataFrame(
            [
                {
                    "level": self.level,
                    "level_name": self.level_name,
                    "next_level": self.next_level,
                    "rules_version": self.rules_version,
                    "rules_digest": self.rules_digest,
                }
            ]
        ).astype(SUMMARY_COLUMNS)
        evidence = pd.DataFrame(
            [asdict(r) for r in self.results], columns=list(RuleResult.__dataclass_fields__)
        )
        return summary, evidence


SUMMARY_COLUMNS = {
    "level": "int64",
    "level_name": "string",
    "next_level": "Int64",
    "rules_version": "string",
    "rules_digest": "string",
}


def empty_frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    """The snapshot's level tables when no data has passed the gate yet: their columns, no rows."""
    return (
        pd.DataFrame({c: pd.Series(dtype=t) for c, t in SUMMARY_COLUMNS.items()}),
        pd.DataFrame(columns=list(RuleResult.__dataclass_fields__)).astype(
            {
                **dict.fromkeys(RuleResult.__dataclass_fields__, "string"),
                "level": "int64",
                "value": "float64",
                "at_least": "float64",
                "passed": "bool",
            }
        ),
    )


def assess(sources: Sources, rules: Rules, digest: str) -> Assessment:
    """Every rule of every level on this client's evidence, and the level it reaches."""
    values: dict[str, float] = {}
    results = []
    for level in rules.levels:
        for rule in level.rules:
            measure = MEASURES[rule.measure]
            if rule.measure not in values:
                values[rule.measure] = measure.compute(sources)
            value = values[rule.measure]
            results.append(
                RuleResult(
                    level=level.level,
                    level_name=level.name,
                    rule_id=rule.id,
                    says=rule.says,
                    measure=rule.measure,
                    meaning=measure.meaning,
                    kind=measure.kind,
                    value=round(value, 6),
                    at_least=rule.at_least,
                    passed=value >= rule.at_least,
                    step=rule.step,
                )
            )
    reached = 0
    for level in rules.levels:
        if all(r.passed for r in results if r.level == level.level):
            reached = level.level
        else:
            break
    name = next((lv.name for lv in rules.levels if lv.level == reached), BELOW_LEVEL_1)
    return Assessment(reached, name, rules.version, digest, results)


def figure(value: float, kind: str) -> str:
    """A measure's value as people read it."""
    if kind == "share":
        # Floored: 89.5 % shown as "90 %" beside a 90 % threshold it misses would contradict "not yet".
        return i18n.percent(math.floor(value * 100 + 1e-9) / 100, 0)
    return i18n.number(value)  # in the current language's format (forgeline/i18n.py)


def describe(result: RuleResult) -> str:
    """One rule in a sentence: what it asks, what the data shows."""
    verdict = "holds" if result.passed else "not yet"
    return (
        f"L{result.level} {result.says}: {verdict} ({result.meaning}: {figure(result.value, result.kind)}, "
        f"needs {figure(result.at_least, result.kind)})"
    )

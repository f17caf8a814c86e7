"""What a mapping can feed: the common schema's input entities, their fields, types and quantity kinds.

This is the one owner of the mapping's targets. The compiler (``compile.py``) builds one ``mapped.<entity>``
view per entity with exactly these columns (typed, in this order); dbt's staging models read those views
and build the core tables (``dbt_project/models/core``), whose contracts are dbt's to keep.

A field's ``kind`` is the quantity kind of a measure (its values are converted from the unit the mapping
names to the canonical unit of that kind, see ``units.py``); ``code`` fields take values from a common
taxonomy (a dbt seed) through the mapping's value maps.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from functools import cache
from typing import Literal

from forgeline.settings import DBT_PROJECT_DIR

FieldType = Literal["text", "int", "float", "bool", "timestamp", "date", "time_of_day", "code"]


@dataclass(frozen=True)
class Field:
    name: str
    type: FieldType
    description: str
    kind: str | None = None  # quantity kind of a measure ("time", "power"...): values are converted to it
    taxonomy: str | None = None  # for code fields: the seed listing the allowed codes
    required: bool = False  # a feed of this entity must map it: a row where it is empty is quarantined
    minimum: float | None = None  # the lowest plausible value (counts and durations are never negative)
    # A time something happened (not a due date or a future holiday): never after its delivery.
    event_time: bool = False


@dataclass(frozen=True)
class Entity:
    name: str
    description: str
    fields: tuple[Field, ...]
    key: tuple[str, ...]  # the default dedup key (a re-delivered row replaces the earlier one)
    is_master: bool = False  # may be given inline under `masters:` in the mapping
    # Wide → long: a feed may turn many columns into rows of (tag, value, unit) on top of its fields.
    takes_tags: bool = False
    grain: str = ""

    def get(self, name: str) -> Field | None:
        return next((f for f in self.fields if f.name == name), None)

    @property
    def field_names(self) -> list[str]:
        return [f.name for f in self.fields]


def _f(name: str, type_: FieldType, description: str, **extra: object) -> Field:
    return Field(name, type_, description, **extra)  # type: ignore[arg-type]


ENTITIES: dict[str, Entity] = {
    e.name: e
    for e in [
        # -- master data ------------------------------------------------------------------------------
        Entity(
            "sites",
            "Plants of the client (ISA-95 site).",
            (
                _f("site_id", "text", "site code", required=True),
                _f("site_name", "text", "site name"),
                _f("country", "text", "ISO country code; selects the grid emission factor (default KR)"),
                _f("region", "text", "region or province, for cohort filters"),
            ),
            key=("site_id",),
            is_master=True,
            grain="site",
        ),
        Entity(
            "equipment",
            "Machines in the hierarchy site → area → line → cell → machine.",
            (
                _f("machine_id", "text", "machine (or line, for line-level data) code", required=True),
                _f("machine_name", "text", "name people use"),
                _f("site_id", "text", "site code"),
                _f("area_id", "text", "area or department"),
                _f("line_id", "text", "line code"),
                _f("cell_id", "text", "cell code"),
                _f("machine_class", "text", "e.g. injection_molding, press, cnc, furnace"),
                _f("rated_power_kw", "float", "rated electrical power", kind="power", minimum=0),
            ),
            key=("machine_id",),
            is_master=True,
            grain="machine",
        ),
        Entity(
            "products",
            "Products (parts) with their ideal cycle time, for OEE performance.",
            (
                _f("product_id", "text", "part or product code", required=True),
                _f("product_name", "text", "name"),
                _f("ideal_cycle_time_s", "float", "ideal time of one cycle", kind="time", minimum=0),
                _f("parts_per_cycle", "int", "parts made per cycle (cavities); default 1", minimum=0),
            ),
            key=("product_id",),
            is_master=True,
            grain="product",
        ),
        Entity(
            "shifts",
            "The shift calendar: planned production time comes from it.",
            (
                _f("shift", "text", "shift name, e.g. day, night, 주간", required=True),
                _f("starts", "time_of_day", "local start time HH:MM", required=True),
                _f(
                    "ends",
                    "time_of_day",
                    "local end time HH:MM (before start: ends the next day)",
                    required=True,
                ),
                _f(
                    "weekdays", "text", "days it runs: e.g. 'mon-fri', 'mon,wed,fri', 'all' (default mon-fri)"
                ),
                _f("break_s", "float", "planned breaks within the shift", kind="time", minimum=0),
                _f("machine_id", "text", "only this machine (default: every machine)"),
                _f("valid_from", "date", "first day it applies"),
                _f("valid_to", "date", "last day it applies"),
            ),
            key=("shift", "machine_id", "valid_from"),
            is_master=True,
            grain="shift pattern",
        ),
        Entity(
            "non_working_days",
            "Holidays and shutdowns: no planned time on these days.",
            (
                _f("day", "date", "the date", required=True),
                _f("machine_id", "text", "only this machine (default: the whole client)"),
                _f("description", "text", "e.g. 추석"),
            ),
            key=("day", "machine_id"),
            is_master=True,
            grain="day",
        ),
        Entity(
            "energy_meters",
            "Electricity (or other energy) meters and the emission factor that applies to them.",
            (
                _f("meter_id", "text", "meter code", required=True),
                _f("meter_name", "text", "name"),
                _f("site_id", "text", "site it measures"),
                _f("machine_id", "text", "machine it measures, if a sub-meter"),
                _f("country", "text", "grid of the emission factor (default: the site's, else KR)"),
                _f("emission_factor_kg_per_kwh", "float", "a contract factor overriding the grid's"),
            ),
            key=("meter_id",),
            is_master=True,
            grain="meter",
        ),
        # -- facts ------------------------------------------------------------------------------------
        Entity(
            "work_orders",
            "Production orders (ISA-95 job orders).",
            (
                _f("work_order_id", "text", "order number", required=True),
                _f("product_id", "text", "product"),
                _f("machine_id", "text", "machine or line it runs on"),
                _f("planned_quantity", "int", "ordered quantity"),
                _f("produced_quantity", "int", "reported quantity"),
                _f("status", "text", "order status as exported"),
                _f("released_at", "timestamp", "released"),
                _f("due_at", "timestamp", "due"),
                _f("started_at", "timestamp", "actual start", event_time=True),
                _f("completed_at", "timestamp", "actual end", event_time=True),
            ),
            key=("work_order_id",),
            grain="order",
        ),
        Entity(
            "cycles",
            "Machine cycles or shots, with the process parameters of each (wide columns → tags).",
            (
                _f(
                    "cycle_id",
                    "text",
                    "cycle or shot id (default: machine and start time, else file and row)",
                ),
                _f("machine_id", "text", "machine"),
                _f("product_id", "text", "product"),
                _f("work_order_id", "text", "production order"),
                _f("lot_id", "text", "lot"),
                _f("unit_id", "text", "run-to-failure unit (engine, tool, mould) the cycle wears"),
                _f("unit_cycle", "int", "the unit's cycle number (its age in cycles)", minimum=0),
                _f(
                    "unit_run_to_failure",
                    "bool",
                    "the unit ran until it failed: its last cycle in the data is its failure (run-to-failure "
                    "records, e.g. `{value: true}`)",
                ),
                _f("started_at", "timestamp", "cycle start", required=True, event_time=True),
                _f("ended_at", "timestamp", "cycle end", event_time=True),
                _f("cycle_time_s", "float", "cycle time", kind="time", minimum=0),
                _f(
                    "part_count",
                    "int",
                    "parts made (default: the product's parts per cycle, else 1)",
                    minimum=0,
                ),
            ),
            key=("cycle_id",),
            takes_tags=True,
            grain="cycle",
        ),
        Entity(
            "quality_results",
            "Inspections of a unit (cycle) or a lot: pass/fail, defect type, counts.",
            (
                _f("inspection_id", "text", "inspection id (default: file and row)"),
                _f("cycle_id", "text", "the cycle inspected (unit inspections)"),
                _f("lot_id", "text", "the lot inspected"),
                _f("machine_id", "text", "machine"),
                _f("product_id", "text", "product"),
                _f("inspected_at", "timestamp", "time of inspection", event_time=True),
                _f("production_date", "date", "production day (when there is no time)", event_time=True),
                _f("shift", "text", "shift"),
                _f("inspected_count", "int", "units inspected (default 1)", minimum=0),
                _f("defect_count", "int", "units defective (default: 0 if passed, else 1)", minimum=0),
                _f("is_pass", "bool", "passed (default: defect_count = 0)"),
                _f("defect_code", "code", "common defect type", taxonomy="defect_types"),
                _f("defect_text", "text", "the client's own defect text"),
            ),
            key=("inspection_id",),
            grain="inspection",
        ),
        Entity(
            "production_counts",
            "Counts per machine or line and shift (or finer: they are summed to day and shift).",
            (
                _f("machine_id", "text", "machine or line", required=True),
                _f("product_id", "text", "product"),
                _f("work_order_id", "text", "production order"),
                _f("counted_at", "timestamp", "time of a count (fine-grained counters)", event_time=True),
                _f(
                    "production_date",
                    "date",
                    "production day (default: local date of counted_at)",
                    event_time=True,
                ),
                _f("shift", "text", "shift (default: from the shift calendar)"),
                _f(
                    "planned_time_s",
                    "float",
                    "planned time as exported (default: the calendar)",
                    kind="time",
                    minimum=0,
                ),
                _f("total_count", "int", "units made", required=True, minimum=0),
                _f("good_count", "int", "good units (default: total - reject)", minimum=0),
                _f("reject_count", "int", "rejects (default: total - good)", minimum=0),
                _f("defect_code", "code", "main defect type", taxonomy="defect_types"),
                _f("defect_text", "text", "the client's own defect text"),
            ),
            key=("machine_id", "product_id", "work_order_id", "counted_at", "production_date", "shift"),
            grain="machine × count time or day and shift",
        ),
        Entity(
            "machine_states",
            "Machine state: intervals, or samples (a state column on a time series) turned into intervals.",
            (
                _f("machine_id", "text", "machine", required=True),
                _f("state", "code", "common state", taxonomy="machine_states", required=True),
                _f("state_text", "text", "the state as exported"),
                _f(
                    "started_at",
                    "timestamp",
                    "start of the state (or the sample time)",
                    required=True,
                    event_time=True,
                ),
                _f(
                    "ended_at",
                    "timestamp",
                    "end (default: the next sample, at most one sample period)",
                    event_time=True,
                ),
                _f("duration_s", "float", "duration, if exported instead of an end", kind="time", minimum=0),
            ),
            key=("machine_id", "started_at"),
            grain="machine × state interval",
        ),
        Entity(
            "downtime_events",
            "Stops with a reason from the common stop-reason tree.",
            (
                _f("downtime_id", "text", "stop id (default: machine and start time, else file and row)"),
                _f("machine_id", "text", "machine or line", required=True),
                _f("started_at", "timestamp", "start", event_time=True),
                _f("ended_at", "timestamp", "end", event_time=True),
                _f("duration_s", "float", "duration (default: end - start)", kind="time", minimum=0),
                _f("production_date", "date", "day (default: local date of the start)", event_time=True),
                _f("shift", "text", "shift"),
                _f("reason_code", "code", "common stop reason", taxonomy="stop_reasons"),
                _f("reason_text", "text", "the reason as the client wrote it"),
            ),
            key=("downtime_id",),
            grain="stop",
        ),
        Entity(
            "maintenance_events",
            "Maintenance orders and failures (never quality): for MTBF, MTTR and failure models.",
            (
                _f(
                    "maintenance_id",
                    "text",
                    "maintenance order number (default: machine and report time, else file and row)",
                ),
                _f("machine_id", "text", "machine", required=True),
                _f("unit_id", "text", "run-to-failure unit (tool, mould) concerned"),
                _f(
                    "event_type",
                    "code",
                    "failure, corrective, preventive, inspection",
                    taxonomy="maintenance_types",
                ),
                _f("failure_mode", "text", "failure mode as written"),
                _f(
                    "reported_at",
                    "timestamp",
                    "failure reported / order opened",
                    required=True,
                    event_time=True,
                ),
                _f("repair_started_at", "timestamp", "repair start", event_time=True),
                _f("repair_ended_at", "timestamp", "repair end", event_time=True),
            ),
            key=("maintenance_id",),
            grain="maintenance order",
        ),
        Entity(
            "sensor_readings",
            "Sensor time series: wide columns → tags (name, unit, semantics), in canonical units.",
            (
                _f("machine_id", "text", "machine (default: the client's only machine)"),
                _f("unit_id", "text", "run-to-failure unit the reading belongs to"),
                _f("cycle_id", "text", "the cycle, run or batch the reading belongs to (per-cycle curves)"),
                _f("read_at", "timestamp", "time of the reading", required=True, event_time=True),
            ),
            key=("machine_id", "unit_id", "cycle_id", "read_at"),
            takes_tags=True,
            grain="machine × tag × time",
        ),
        Entity(
            "energy_readings",
            "Energy per meter and interval.",
            (
                _f("meter_id", "text", "meter (default: the client's only meter)"),
                _f(
                    "interval_start", "timestamp", "interval start (default: end - interval)", event_time=True
                ),
                _f("interval_end", "timestamp", "interval end (default: start + interval)", event_time=True),
                _f(
                    "interval_s",
                    "float",
                    "interval length, if only one end is exported",
                    kind="time",
                    minimum=0,
                ),
                _f("energy_kwh", "float", "active energy", kind="energy", required=True, minimum=0),
                _f("reactive_kvarh", "float", "reactive energy (never a model input)", kind="energy"),
            ),
            key=("meter_id", "interval_start", "interval_end"),
            grain="meter × interval",
        ),
    ]
}

TAG_COLUMNS = ("tag", "value", "unit", "quantity_kind", "source_column")
LINEAGE = ("client_id", "source_name", "source_file", "source_row", "load_batch_id", "loaded_at")


@dataclass(frozen=True)
class Taxonomy:
    name: str
    codes: dict[str, str] = field(default_factory=dict)  # code -> English name


# Taxonomies whose codes live in a dbt seed (one owner: the seed file); machine states and maintenance
# types are small fixed vocabularies of the core schema itself.
_SEEDED = {"defect_types": "defect_code", "stop_reasons": "reason_code"}
_FIXED = {
    "machine_states": {
        "running": "producing",
        "idle": "ready, not producing",
        "setup": "setup or changeover",
        "down": "stopped by a fault",
        "planned_stop": "planned stop (break, maintenance, no orders)",
        "offline": "no signal",
    },
    "maintenance_types": {
        "failure": "breakdown",
        "corrective": "corrective repair",
        "preventive": "planned maintenance",
        "inspection": "inspection",
    },
}


@cache
def taxonomy(name: str) -> Taxonomy:
    if name in _FIXED:
        return Taxonomy(name, dict(_FIXED[name]))
    column = _SEEDED[name]
    with (DBT_PROJECT_DIR / "seeds" / f"{name}.csv").open(encoding="utf-8") as handle:
        return Taxonomy(name, {row[column]: row["name_en"] for row in csv.DictReader(handle)})


@cache
def weekdays_pattern() -> str:
    """The grammar of a shift's ``weekdays`` ('mon-fri', 'mon,wed,fri', '월-금', 'all'), as a regular
    expression over the lower-cased text without spaces; the words come from the seed dim_shifts reads."""
    import re

    with (DBT_PROJECT_DIR / "seeds" / "weekday_names.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    days = "|".join(re.escape(r["day_name"]) for r in rows if r["first_dow"] == r["last_dow"])
    weeks = "|".join(re.escape(r["day_name"]) for r in rows if r["first_dow"] != r["last_dow"])  # 'all'
    token = f"(({weeks})|({days})(-({days}))?)"  # a range may wrap the week: 'fri-mon'
    return f"^{token}(,{token})*$"


def entity(name: str) -> Entity:
    return ENTITIES[name]

"""The report's words for the codes a snapshot holds (KPIs, models, levels, rules, checks), in the current
language (forgeline/i18n.py): the PDF and the Excel file say the same thing the same way."""

from __future__ import annotations

import json
import re
from typing import Any

import pandas as pd

from forgeline import i18n
from forgeline.i18n import N_, _

NOT_MEASURED = N_("not measured")

KPI_LABELS = {
    "oee": N_("OEE"),
    "availability": N_("Availability"),
    "performance": N_("Performance"),
    "quality": N_("Quality"),
    "defect_rate": N_("Defect rate"),
    "energy_kwh": N_("Energy"),
    "kwh_per_unit": N_("Energy per good unit"),
    "co2_kg": N_("CO2"),
    "mtbf_h": N_("MTBF (mean time between failures)"),
    "mttr_h": N_("MTTR (mean time to repair)"),
}
# Why a KPI is not measured: what the client's data lacks.
NOT_MEASURED_WHY = {
    "oee": N_("needs availability, performance and quality"),
    "availability": N_("no planned and run time in the data"),
    "performance": N_("no run time or ideal cycle times in the data"),
    "quality": N_("no rejects or defects are recorded with the counts"),
    "defect_rate": N_("no inspection results in the data"),
    "energy_kwh": N_("no energy meter readings in the data"),
    "kwh_per_unit": N_("needs energy readings and good units counted on the same days"),
    "co2_kg": N_("no energy meter readings in the data"),
    "mtbf_h": N_("no failures in the maintenance log"),
    "mttr_h": N_("no repairs with their duration in the maintenance log"),
}
MODEL_LABELS = {
    "defect_prediction": N_("Defect prediction"),
    "failure_prediction": N_("Failure prediction"),
    "energy_baseline": N_("Energy baseline"),
    "remaining_useful_life": N_("Remaining useful life"),
    "sensor_anomalies": N_("Sensor anomalies"),
    "demand_forecast": N_("Demand forecast"),
}
METRIC_LABELS = {
    "pr_auc": N_("PR-AUC (higher is better)"),
    "roc_auc": N_("ROC-AUC (higher is better)"),
    "rmse": N_("RMSE (lower is better)"),
    "precision_at_k": N_("precision at k (higher is better)"),
    "mase": N_("MASE (lower is better)"),
}
LEVEL_NAMES = {
    0: N_("below level 1"),
    1: N_("basic / checking"),
    2: N_("monitoring"),
    3: N_("analysis / control"),
    4: N_("optimization"),
    5: N_("autonomous"),
}
# The level rules' measures (forgeline/program/levels.py fixes their names; a program tunes only thresholds).
MEASURE_LABELS = {
    "recorded_days": N_("days with production and defect counts"),
    "traceable_share": N_("share of quality results naming their lot or cycle"),
    "automatic_days": N_("days of records the machines time-stamped"),
    "automatic_coverage": N_("share of production days with automatic records"),
    "linked_cycle_share": N_("share of cycles with process parameters and a quality result"),
    "root_cause_windows": N_("recommended operating windows from root-cause analysis"),
    "tracked_champions": N_("models in operation with their accuracy tracked"),
    "control_actions": N_("control actions that followed a model output"),
}
RECOMMENDATION_KINDS = {
    "standard model": N_("standard model"),
    "level step": N_("step to the next level"),
    "data to collect": N_("data to collect"),
}
# The program layer publishes its next steps in English (forgeline/program/recommendations.py, the level
# rules' steps). The shipped ones have words in the catalogs; a program's own, or one whose text it changed,
# is not among them and stays as published.
STEP_TITLES = {
    N_("Predict defects per cycle, with the parameters that drive them and their operating windows"),
    N_("Predict machine failures a day ahead"),
    N_("Watch the sensors for unusual behaviour"),
    N_("Set an energy baseline and measure savings (IPMVP)"),
    N_("Forecast production per product, a day and a week ahead"),
    N_("Estimate the remaining life of run-to-failure units"),
    N_(
        "Record each day's production and defect counts per product or lot (a POP terminal or a shared "
        "spreadsheet is enough) and deliver them each week"
    ),
    N_(
        "Write the lot (or work-order) number on every inspection record, so each result traces to what was "
        "made"
    ),
    N_(
        "Connect the machine's PLC cycle counter or state signal (a timestamped record every cycle or "
        "minute) and deliver its log"
    ),
    N_(
        "Keep the automatic collection running on every production day (gaps usually mean a logger that "
        "stops with the machine or a file that is not exported)"
    ),
    N_(
        "Export the process parameters of each cycle (temperatures, pressures, speeds) with the cycle or "
        "shot number that the inspection records also carry"
    ),
    N_(
        "Add the defect_prediction standard model to the client's models; it finds the parameters that drive "
        "defects and the window to run each in"
    ),
    N_(
        "Keep delivering after a champion is chosen: each run scores the new data and compares the scores "
        "with the outcomes as they arrive"
    ),
    N_(
        "Forgeline's common schema records no control actions yet: closed-loop evidence needs the "
        "controller's action log (which set-point changed, when, on which model output)"
    ),
}
# What each shipped level rule asks (forgeline/program/level_rules.yml `says`), word for word: a program's
# own rule, or one whose text it tuned, is not among them and stays as published.
RULE_SAYS = {
    N_("production and defect counts recorded digitally for at least 20 days"),
    N_("at least 90 % of quality results name their lot or cycle"),
    N_(
        "machine states, cycles or sensor signals collected automatically with timestamps for at least 20 "
        "days"
    ),
    N_("automatic records cover at least 80 % of the production days"),
    N_("process parameters linked to a quality result for at least 50 % of cycles"),
    N_("root-cause analysis run, with at least one recommended operating window"),
    N_("a champion model scores new data and its accuracy is tracked against outcomes"),
    N_("control actions recorded that follow model outputs without a person in the loop"),
}
# The core tables the quality checks read, as a factory manager names what they hold.
TABLE_WORDS = {
    "fct_cycles": N_("cycles"),
    "fct_cycle_parameters": N_("process parameters of the cycles"),
    "fct_production_counts": N_("production counts"),
    "fct_quality_inspections": N_("inspection results"),
    "fct_machine_states": N_("machine states"),
    "fct_downtime_events": N_("stops"),
    "fct_maintenance_orders": N_("maintenance orders"),
    "fct_sensor_readings": N_("sensor readings"),
    "fct_energy_readings": N_("energy readings"),
    "fct_work_orders": N_("work orders"),
    "dim_equipment": N_("machines"),
    "dim_products": N_("products"),
    "dim_sites": N_("sites"),
}
CHECK_WORDS = {
    "expect_column_values_to_not_be_null": N_("missing values in {column}"),
    "expect_column_values_to_be_unique": N_("the same record delivered twice ({column})"),
    "expect_column_values_to_be_between": N_("values of {column} outside their plausible range"),
    "expect_table_row_count_to_be_between": N_("no records at all"),
}
OTHER_CHECK = N_("a check on {column} failed")


def label(table: dict[Any, str], key: Any) -> str:
    """``key``'s words in the current language; the key itself when it has none."""
    return _(table[key]) if key in table else str(key)


def step_title(title: str) -> str:
    """A next step's title in the current language when it is one of the shipped ones, else as published.
    The rules file writes a step in lower case (the level page's), a recommendation's title capitalized."""
    if title in STEP_TITLES:
        return _(title)
    capital = title[:1].upper() + title[1:]
    return _(capital) if capital in STEP_TITLES and i18n.current_language() != "en" else title


def rule_says(says: str) -> str:
    """What a level rule asks, in the current language when it is a shipped rule, else as published."""
    return _(says) if says in RULE_SAYS else says


RECOMMENDATION_PARTS = ("why", "needs", "benefit")


def stored_part(row: Any, part: str) -> str:
    """A text a snapshot stores in English (``part``) in the current language, from the message and values
    publish stored beside it (``wording``: JSON, the message itself or ``{part: message}``); a snapshot
    published before them (or one unreadable) shows its English."""
    stored = getattr(row, "wording", None)
    if isinstance(stored, str) and stored:
        try:
            found = json.loads(stored)
            return i18n.word(found if "message" in found else found[part])
        except (ValueError, KeyError, TypeError):
            pass
    value = getattr(row, part, None)
    return "" if value is None or (isinstance(value, float) and value != value) else str(value)


def worded_recommendations(recommendations: pd.DataFrame) -> pd.DataFrame:
    """The snapshot's recommendations with title, kind, why, needs and benefit in the current language:
    what the app's pages, the PDF and the workbook show."""
    if recommendations.empty:
        return recommendations
    return _worded(recommendations, RECOMMENDATION_PARTS).assign(
        title=[step_title(str(t)) for t in recommendations["title"]],
        kind=[label(RECOMMENDATION_KINDS, k) for k in recommendations["kind"]],
    )


def _worded(frame: pd.DataFrame, parts: tuple[str, ...]) -> pd.DataFrame:
    """``frame`` with its stored English ``parts`` in the current language (:func:`stored_part`)."""
    if frame.empty:
        return frame
    rows = list(frame.itertuples(index=False))
    return frame.assign(**{part: [stored_part(r, part) for r in rows] for part in parts if part in frame})


def worded_models(models: pd.DataFrame) -> pd.DataFrame:
    """The snapshot's model results with the champion rule's decision and the baseline's name in the current
    language (forgeline/standard_models: champion.py, each model's baseline): what the app's model page, the
    PDF and the workbook show."""
    return _worded(models, ("champion_decision", "baseline_name"))


def worded_sentences(frame: pd.DataFrame) -> pd.DataFrame:
    """A snapshot's per-model sentences (the weeks in operation, the operating windows) in the current
    language."""
    return _worded(frame, ("sentence",))


def speaks_english_only(recommendations: pd.DataFrame) -> bool:
    """Whether some recommendation was published before its reasons could be worded in other languages."""
    if recommendations.empty or i18n.current_language() == "en":
        return False
    if "wording" not in recommendations:
        return True
    return bool(recommendations["wording"].isna().any())


def kpi_value(value: float | None, unit: str) -> str:
    if value is None:
        return _(NOT_MEASURED)
    if unit == "share":
        return i18n.percent(value, 1)
    if unit in ("kWh", "kg"):
        return f"{i18n.number(value, 0 if abs(value) >= 100 else 2)} {unit}"
    return f"{i18n.number(value, 1)} {unit}"


def level_name(level: int | None) -> str:
    if level is None:
        return _(NOT_MEASURED)
    if level == 0:  # no level reached yet: its name says so
        return label(LEVEL_NAMES, 0)
    return _("Level {level}: {name}").format(level=level, name=label(LEVEL_NAMES, level))


def evidence_value(value: Any, kind: str) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return "–"
    if kind == "share":
        return i18n.percent(float(value), 0)
    if kind == "days":
        return i18n.ngettext("{n} day", "{n} days", int(value)).format(n=i18n.number(value))
    return i18n.number(value)


def column_words(column: Any) -> str:
    """A core column named as a person would: 'cycle_time_s' -> 'cycle time (s)'."""
    if column is None or (isinstance(column, float) and column != column):
        return ""
    text = str(column)
    unit = re.search(r"_(s|h|kwh|c|mpa|kg)$", text)
    words = text[: unit.start()] if unit else text
    words = words.removesuffix("_id").replace("_", " ")
    return f"{words} ({unit[1]})" if unit else words


def failed_check(failure: dict[str, Any]) -> str:
    """A failed quality check in plain words: what is wrong, in which records (never the check's name)."""
    what = _(CHECK_WORDS.get(failure["expectation_type"], OTHER_CHECK)).format(
        column=column_words(failure.get("column_name")) or _("the records")
    )
    where = (
        label(TABLE_WORDS, failure["table_name"]) if failure["table_name"] in TABLE_WORDS else _("records")
    )
    return _("{where}: {what}").format(where=where, what=what)


_LINK = re.compile(r"\[([^\]]+)\]\(([^)\s]+)\)")
# Emphasis by * or ~ or `, anywhere; by _ only around words (snake_case stays as written).
_EMPHASIS = re.compile(r"(\*\*|\*|~~|`)(?=\S)(.+?)(?<=\S)\1|(?<!\w)(__|_)(?=\S)(.+?)(?<=\S)\3(?!\w)")
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+", re.MULTILINE)
_BULLET = re.compile(r"^(\s*)[-*+]\s+", re.MULTILINE)
_QUOTE = re.compile(r"^\s{0,3}>\s?", re.MULTILINE)


def plain(markdown: str) -> str:
    """A finding's body, written in Markdown for the app, as plain text for print: emphasis, code marks,
    headings' and quotes' marks dropped, links as 'text (address)', bullets as '·'."""
    text = _LINK.sub(r"\1 (\2)", markdown)
    text = _HEADING.sub("", text)
    text = _QUOTE.sub("", text)
    text = _BULLET.sub(r"\1· ", text)
    previous = None
    while previous != text:  # nested emphasis (**_x_**)
        previous, text = text, _EMPHASIS.sub(lambda m: m[2] if m[1] else m[4], text)
    return text.strip()

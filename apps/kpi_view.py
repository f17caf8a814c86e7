"""How a period's KPIs are shown against another period's: on a client's Home and on the KPI page.

The figures come from ``data.period_figures`` (the report's time-weighted roll-ups); this module only words
and formats them. A figure the data cannot support reads "not measured", never 0 or 100 %.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import streamlit as st

from apps import ui
from forgeline.reports.content import Kpi, PeriodFigures

NOT_MEASURED = "not measured"


@dataclass(frozen=True)
class Shown:
    label: str
    better: Literal["higher", "lower"]
    help: str


SHOWN: dict[str, Shown] = {
    "oee": Shown("OEE", "higher", "Availability × performance × quality, weighted by planned and run time."),
    "availability": Shown("Availability", "higher", "Run time ÷ planned time, over all machines."),
    "performance": Shown("Performance", "higher", "Ideal cycle time × parts ÷ run time, over all machines."),
    "quality": Shown("Quality", "higher", "Good parts ÷ parts made (only where rejects are recorded)."),
    "defect_rate": Shown("Defect rate", "lower", "Defective ÷ inspected units."),
    "energy_kwh": Shown("Energy", "lower", "Total over the period."),
    "kwh_per_unit": Shown("Energy per good unit", "lower", "kWh ÷ good units, on days with production."),
    "co2_kg": Shown("CO₂", "lower", "Total over the period: energy × the emission factor."),
}
OEE_GROUP = ("oee", "availability", "performance", "quality")


def value_text(kpi: Kpi | None) -> str:
    """A KPI as people read it: '64.2 %', '12,345 kWh', '1.3 t', or 'not measured'."""
    if kpi is None or kpi.value is None:
        return NOT_MEASURED
    value = kpi.value
    if kpi.unit == "share":
        return ui.pct(value, 2 if kpi.key == "defect_rate" else 1)
    if kpi.key == "co2_kg":
        return f"{ui.number(value / 1000, 1)} t" if value >= 10_000 else f"{ui.number(value)} kg"
    if kpi.key == "kwh_per_unit":
        return f"{value:,.3g} kWh"
    return f"{ui.number(value, 1 if kpi.unit == 'h' else 0)} {kpi.unit}"


def delta_text(now: Kpi | None, before: Kpi | None) -> str | None:
    """The change since ``before``: percentage points for shares, a relative change for amounts; None when
    either side is not measured (no arrow then)."""
    if now is None or before is None or now.value is None or before.value is None:
        return None
    if now.unit == "share":
        return f"{(now.value - before.value) * 100:+.1f} pp"
    if before.value == 0:
        return None
    return f"{(now.value - before.value) / abs(before.value):+.1%}"


def shown_keys(*figures: PeriodFigures) -> list[str]:
    """The KPIs worth a tile: those measured in any of the periods, with the whole OEE group when any of it
    is (so a quality the data cannot support reads "not measured" beside the measured factors)."""
    measured = {k.key for f in figures for k in f.kpis if k.value is not None}
    keys = [k for k in SHOWN if k in measured]
    if measured & set(OEE_GROUP):
        keys = [*OEE_GROUP, *(k for k in keys if k not in OEE_GROUP)]
    return keys


def comparison(now: PeriodFigures, before: PeriodFigures) -> list[str]:
    """Metric tiles of ``now`` with the change since ``before`` (arrows green when better); the keys shown."""
    keys = shown_keys(now, before)
    if not keys:
        st.caption("No KPI can be measured in these periods.")
        return keys
    per_row = 4
    for start in range(0, len(keys), per_row):
        cols = st.columns(per_row)
        for col, name in zip(cols, keys[start : start + per_row], strict=False):
            shown = SHOWN[name]
            earlier = before.kpi(name)
            col.metric(
                shown.label,
                value_text(now.kpi(name)),
                delta=delta_text(now.kpi(name), earlier),
                delta_color="normal" if shown.better == "higher" else "inverse",
                help=f"{shown.help} {before.period.label()}: {value_text(earlier)}.",
            )
    return keys

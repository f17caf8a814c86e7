"""How a period's KPIs are shown against another period's: on a client's Home and on the KPI page.

The figures come from ``data.period_figures`` (the report's time-weighted roll-ups); this module only words
and formats them. A figure the data cannot support reads "not measured", never 0 or 100 %.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import streamlit as st

from apps import ui
from forgeline.i18n import N_, _
from forgeline.reports.content import Kpi, PeriodFigures

NOT_MEASURED = N_("not measured")  # the report's words (forgeline/reports/words.py): the same in both


@dataclass(frozen=True)
class Shown:
    """A KPI's tile; ``label`` and ``help`` are English messages, translated where shown (:meth:`name`)."""

    label: str
    better: Literal["higher", "lower"]
    help: str

    @property
    def name(self) -> str:
        return _(self.label)


# The labels are the report's (forgeline/reports/words.py KPI_LABELS): the app and the PDF say the same.
SHOWN: dict[str, Shown] = {
    "oee": Shown(
        N_("OEE"), "higher", N_("Availability × performance × quality, weighted by planned and run time.")
    ),
    "availability": Shown(N_("Availability"), "higher", N_("Run time ÷ planned time, over all machines.")),
    "performance": Shown(
        N_("Performance"), "higher", N_("Ideal cycle time × parts ÷ run time, over all machines.")
    ),
    "quality": Shown(
        N_("Quality"), "higher", N_("Good parts ÷ parts made (only where rejects are recorded).")
    ),
    "defect_rate": Shown(N_("Defect rate"), "lower", N_("Defective ÷ inspected units.")),
    "energy_kwh": Shown(N_("Energy"), "lower", N_("Total over the period.")),
    "kwh_per_unit": Shown(
        N_("Energy per good unit"), "lower", N_("kWh ÷ good units, on days with production.")
    ),
    "co2_kg": Shown(N_("CO₂"), "lower", N_("Total over the period: energy × the emission factor.")),
}
OEE_GROUP = ("oee", "availability", "performance", "quality")


def value_text(kpi: Kpi | None) -> str:
    """A KPI as people read it: '64.2 %', '12,345 kWh', '1.3 t', or 'not measured'."""
    if kpi is None or kpi.value is None:
        return _(NOT_MEASURED)
    value = kpi.value
    if kpi.unit == "share":
        return ui.pct(value, 2 if kpi.key == "defect_rate" else 1)
    if kpi.key == "co2_kg":
        return f"{ui.number(value / 1000, 1)} t" if value >= 10_000 else f"{ui.number(value)} kg"
    if kpi.key == "kwh_per_unit":
        return f"{ui.number(value, max(0, 2 - math.floor(math.log10(abs(value)))) if value else 0)} kWh"
    return f"{ui.number(value, 1 if kpi.unit == 'h' else 0)} {kpi.unit}"


def delta_text(now: Kpi | None, before: Kpi | None) -> str | None:
    """The change since ``before``: percentage points for shares, a relative change for amounts; None when
    either side is not measured (no arrow then)."""
    if now is None or before is None or now.value is None or before.value is None:
        return None
    if now.unit == "share":
        return _("{change} pp").format(change=f"{(now.value - before.value) * 100:+.1f}")
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
        st.caption(_("No KPI can be measured in these periods."))
        return keys
    per_row = 4
    for start in range(0, len(keys), per_row):
        cols = st.columns(per_row)
        for col, name in zip(cols, keys[start : start + per_row], strict=False):
            shown = SHOWN[name]
            earlier = before.kpi(name)
            col.metric(
                shown.name,
                value_text(now.kpi(name)),
                delta=delta_text(now.kpi(name), earlier),
                delta_color="normal" if shown.better == "higher" else "inverse",
                help=_("{how} {period}: {value}.").format(
                    how=_(shown.help), period=before.period.label(), value=value_text(earlier)
                ),
            )
    return keys

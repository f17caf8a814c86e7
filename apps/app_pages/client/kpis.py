"""Client KPIs over a chosen period, against the period before or another one: OEE (time-weighted, as the
report and the benchmarks roll it up), defects, energy and maintenance; the whole factory or machine by
machine. A day without data is a gap, and a figure the data cannot support reads "not measured"."""

from __future__ import annotations

from datetime import date

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from apps import data, kpi_view, ui
from forgeline.i18n import _, ngettext
from forgeline.reports.period import Period, period_before

user = ui.require_user()
config = ui.choose_client(user)
ui.client_header(_("Client KPIs"), config)
ui.held_back_banner(user, config)

span = data.data_span(user, config.id)
maintenance = data.maintenance_kpis(user, config.id)
if span is None and maintenance.empty:
    published = data.client(user, config.id)
    if published.figures_held_back and not published.data_run_id:
        st.info(_("No KPIs yet: they appear once a delivery passes the quality gate (see Data quality)."))
    else:
        st.info(_("No published KPIs for this client yet: run its engagement first."))
    st.stop()


def picked_period(picked: object) -> Period | None:
    """A date_input range as a Period (None while only its first day is picked)."""
    days = [d for d in (picked if isinstance(picked, tuple | list) else (picked,)) if isinstance(d, date)]
    return Period(min(days), max(days)) if len(days) == 2 else None


def inside(period: Period, first: date, last: date) -> tuple[date, date]:
    """``period`` cut to the days the data covers (a date input refuses a default outside its bounds); all
    of them when the period lies outside."""
    start, end = max(period.start, first), min(period.end, last)
    return (start, end) if start <= end else (first, last)


def with_every_day(frame: pd.DataFrame, day: str, period: Period) -> pd.DataFrame:
    """``frame``'s rows on every day of ``period``: a day without a row gets NaN, which plotly draws as a gap
    (a line never joins two days that are not consecutive)."""
    days = pd.DataFrame({day: pd.to_datetime(period.days)})
    return days.merge(frame.assign(**{day: pd.to_datetime(frame[day])}), on=day, how="left")


def machine_label(frame: pd.DataFrame) -> pd.Series:
    if "machine_name" in frame and frame["machine_name"].notna().any():
        return frame["machine_id"] + " · " + frame["machine_name"].fillna("")
    return frame["machine_id"]


def share_text(value: object) -> str:
    return _(kpi_view.NOT_MEASURED) if ui.is_missing(value) else ui.pct(value)


if span is not None:
    current, _before = data.default_periods(user, config.id)
    left, right = st.columns([3, 2])
    period = picked_period(
        left.date_input(
            _("Period"),
            value=inside(current, *span),
            min_value=span[0],
            max_value=span[1],
            key="kpi_period",
            help=_("Your data runs from {first} to {last}.").format(
                first=ui.day(span[0]), last=ui.day(span[1])
            ),
            format=ui.date_input_format(),
        )
    )
    modes = {"before": _("the period before"), "chosen": _("a period I choose")}
    mode = right.radio(
        _("Compare with"), list(modes), format_func=modes.__getitem__, horizontal=True, key="kpi_compare_mode"
    )
    if period is None:
        st.info(_("Pick the period's last day too."))
        st.stop()
    other = period_before(period)
    if mode == "chosen":
        other = (
            picked_period(
                st.date_input(
                    _("Compared period"),
                    value=inside(other, *span),
                    format=ui.date_input_format(),
                    min_value=span[0],
                    max_value=span[1],
                    key="kpi_compare_period",
                )
            )
            or other
        )

    now = data.period_figures(user, config.id, period)
    before = data.period_figures(user, config.id, other, daily=False)
    st.header(_("{period} against {other}").format(period=period.label(), other=other.label()))
    if not now.has_data:
        st.info(_("No data in this period: pick days inside the range your data covers."))
    shown = kpi_view.comparison(now, before)
    notes = {
        "oee": _(
            "OEE and its factors are weighted by each machine's planned and running time over the whole "
            "period (never an average of machine-days)."
        ),
        "energy_kwh": _("Energy and CO₂ are totals: compare periods of equal length."),
    }
    st.caption(" ".join(text for key, text in notes.items() if key in shown))

    factory, machines = st.tabs([_("Whole factory"), _("Per machine")])
    daily = now.daily
    with factory:
        oee_parts = [k for k in kpi_view.OEE_GROUP if daily[k].notna().any()]
        if oee_parts:
            long = daily.melt(id_vars="day", value_vars=oee_parts, var_name="factor", value_name="value")
            long["factor"] = long["factor"].map(lambda k: kpi_view.SHOWN[k].name)
            fig = px.line(
                long,
                x="day",
                y="value",
                color="factor",
                markers=True,
                labels={"day": "", "value": "", "factor": ""},
                title=_("OEE and its factors per day"),
            )
            fig.update_traces(connectgaps=False)
            fig.update_yaxes(tickformat=".0%", rangemode="tozero")
            ui.chart(fig, key="kpi_oee_daily")
            if "quality" not in oee_parts and "quality" in shown:
                st.caption(
                    _(
                        "Quality and OEE: not measured. The counts delivered show no reject, so rejects are "
                        "not recorded, and a quality of 100 % would be a guess."
                    )
                )
        if daily["defect_rate"].notna().any():
            fig = px.line(
                daily,
                x="day",
                y="defect_rate",
                markers=True,
                labels={"day": "", "defect_rate": _("defect rate")},
                title=_("Defect rate per day"),
            )
            fig.update_traces(connectgaps=False)
            fig.update_yaxes(tickformat=".1%", rangemode="tozero")
            ui.chart(fig, key="kpi_defect_rate")
        if daily["energy_kwh"].notna().any():
            fig = make_subplots(specs=[[{"secondary_y": True}]])
            fig.add_trace(
                go.Bar(x=daily["day"], y=daily["energy_kwh"], name=_("energy (kWh)")), secondary_y=False
            )
            fig.add_trace(
                go.Scatter(
                    x=daily["day"],
                    y=daily["co2_kg"],
                    name=_("CO₂ (kg)"),
                    mode="lines+markers",
                    connectgaps=False,
                ),
                secondary_y=True,
            )
            # Energy and CO₂ are never negative: both axes start at zero.
            fig.update_yaxes(title_text="kWh", tickformat=",.0f", rangemode="nonnegative", secondary_y=False)
            fig.update_yaxes(
                title_text=_("kg CO₂"), tickformat=",.0f", rangemode="nonnegative", secondary_y=True
            )
            fig.update_layout(title=_("Energy and CO₂ per day"))
            ui.chart(fig, key="kpi_energy")

    with machines:
        per_machine = now.machines
        if per_machine.empty:
            st.caption(_("No machine-level production figures in this period."))
        else:
            per_machine = per_machine.assign(machine=machine_label(per_machine))
            st.dataframe(
                per_machine.assign(**{k: per_machine[k].map(share_text) for k in kpi_view.OEE_GROUP})[
                    [
                        "machine",
                        "days",
                        "planned_h",
                        "run_h",
                        "total_count",
                        "good_count",
                        *kpi_view.OEE_GROUP,
                    ]
                ],
                hide_index=True,
                column_config={
                    "machine": _("Machine"),
                    "days": st.column_config.NumberColumn(_("Days"), format="%d"),
                    "planned_h": st.column_config.NumberColumn(_("Planned (h)"), format="%.1f"),
                    "run_h": st.column_config.NumberColumn(_("Running (h)"), format="%.1f"),
                    "total_count": st.column_config.NumberColumn(_("Made"), format="localized"),
                    "good_count": st.column_config.NumberColumn(_("Good"), format="localized"),
                    **{k: kpi_view.SHOWN[k].name for k in kpi_view.OEE_GROUP},
                },
            )
            st.caption(_("Each machine's figures are weighted by its own time over the period."))
            labels = dict(zip(per_machine["machine_id"], per_machine["machine"], strict=True))
            chosen = st.selectbox(
                _("Machine"), list(labels), format_func=labels.__getitem__, key="kpi_machine"
            )
            rows = data.oee_daily(user, config.id)
            rows = rows[
                (rows["machine_id"] == chosen)
                & (pd.to_datetime(rows["production_date"]) >= pd.Timestamp(period.start))
                & (pd.to_datetime(rows["production_date"]) <= pd.Timestamp(period.end))
            ]
            parts = [k for k in kpi_view.OEE_GROUP if rows[k].notna().any()]
            if parts:
                days = with_every_day(rows[["production_date", *parts]], "production_date", period)
                long = days.melt(id_vars="production_date", var_name="factor", value_name="value")
                long["factor"] = long["factor"].map(lambda k: kpi_view.SHOWN[k].name)
                fig = px.line(
                    long,
                    x="production_date",
                    y="value",
                    color="factor",
                    markers=True,
                    labels={"production_date": "", "value": "", "factor": ""},
                    title=_("{machine} per day").format(machine=labels[chosen]),
                )
                fig.update_traces(connectgaps=False)
                fig.update_yaxes(tickformat=".0%", rangemode="tozero")
                ui.chart(fig, key="kpi_machine_daily")

pareto = data.defect_pareto(user, config.id)
if not pareto.empty:
    st.header(_("Defects by type"))
    label = pareto["defect_name"].fillna(pareto["defect_code"])
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    fig.add_trace(go.Bar(x=label, y=pareto["defect_count"], name=_("defects")), secondary_y=False)
    fig.add_trace(
        go.Scatter(x=label, y=pareto["cumulative_share"], name=_("cumulative share"), mode="lines+markers"),
        secondary_y=True,
    )
    fig.update_yaxes(title_text=_("defects"), tickformat=",d", rangemode="nonnegative", secondary_y=False)
    fig.update_yaxes(
        title_text=_("cumulative share"), tickformat=".0%", range=[0, 1.05], dtick=0.2, secondary_y=True
    )
    codes = ngettext("{n} defect code", "{n} defect codes", len(pareto)).format(n=len(pareto))
    fig.update_layout(title=_("Defect Pareto ({codes})").format(codes=codes))
    ui.chart(fig, key="kpi_pareto")
    st.caption(_("Over all your delivered data."))

if not maintenance.empty:
    st.header(_("Maintenance"))
    st.caption(_("Over all your delivered data: maintenance records are not split by period."))
    # The report's roll-up over every machine (operating time ÷ failures), not a mean of machines' MTBFs.
    whole = data.period_figures(
        user, config.id, period if span else Period(date.today(), date.today()), False
    )
    mtbf, mttr = (whole.kpi("mtbf_h"), whole.kpi("mttr_h")) if whole else (None, None)
    cols = st.columns(3)
    cols[0].metric(_("Failures"), ui.number(maintenance["failure_count"].sum()))
    cols[1].metric(
        "MTBF",
        kpi_view.value_text(mtbf),
        help=_("Operating time ÷ failures, over all machines."),
    )
    cols[2].metric("MTTR", kpi_view.value_text(mttr), help=_("Repair time ÷ repairs, over all machines."))
    left, right = st.columns(2)
    with left:
        fig = px.bar(
            maintenance,
            x="machine_id",
            y="mtbf_h",
            text=maintenance["mtbf_h"].map(lambda v: ui.number(v, 1)),
            labels={"machine_id": "", "mtbf_h": _("hours")},
            title=_("MTBF per machine (h)"),
        )
        ui.chart(fig, key="kpi_mtbf")
    with right:
        fig = px.bar(
            maintenance,
            x="machine_id",
            y="mttr_h",
            text=maintenance["mttr_h"].map(lambda v: ui.number(v, 2)),
            labels={"machine_id": "", "mttr_h": _("hours")},
            title=_("MTTR per machine (h)"),
        )
        ui.chart(fig, key="kpi_mttr")
    st.dataframe(
        maintenance,
        hide_index=True,
        column_config={
            "machine_id": _("Machine"),
            "failure_count": st.column_config.NumberColumn(_("Failures"), format="%d"),
            "operating_time_h": st.column_config.NumberColumn(_("Operating time (h)"), format="%.1f"),
            "mtbf_h": st.column_config.NumberColumn(_("MTBF (h)"), format="%.1f"),
            "mttr_h": st.column_config.NumberColumn(_("MTTR (h)"), format="%.2f"),
        },
    )

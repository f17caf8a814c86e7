"""Client KPIs: OEE, defects, energy and maintenance; each section only where the client has data."""

from __future__ import annotations

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from apps import data, ui

user = ui.require_user()
config = ui.choose_client(user)
ui.client_header("Client KPIs", config)
ui.held_back_banner(user, config)

oee = data.oee_daily(user, config.id)
defects = data.defect_rate_daily(user, config.id)
pareto = data.defect_pareto(user, config.id)
energy = data.energy_daily(user, config.id)
maintenance = data.maintenance_kpis(user, config.id)

absent = [
    name
    for name, frames in {
        "OEE": [oee],
        "defects": [defects, pareto],
        "energy": [energy],
        "maintenance": [maintenance],
    }.items()
    if all(f.empty for f in frames)
]
if len(absent) == 4:
    published = data.client(user, config.id)
    if published.figures_held_back and not published.data_run_id:
        st.info("No KPIs yet: they appear once a delivery passes the quality gate (see Data quality).")
    else:
        st.info("No published KPIs for this client yet: run its engagement first.")
    st.stop()
if absent:
    st.caption(f"Not in this client's exports: {', '.join(absent)}.")


def machine_label(frame: pd.DataFrame) -> pd.Series:
    if "machine_name" in frame and frame["machine_name"].notna().any():
        return frame["machine_id"] + " · " + frame["machine_name"].fillna("")
    return frame["machine_id"]


if not oee.empty:
    st.header("OEE")
    oee = oee.assign(machine=machine_label(oee))
    cols = st.columns(5)
    cols[0].metric("Average OEE", ui.pct(oee["oee"].mean()), help="Mean over machine-days")
    cols[1].metric("Availability", ui.pct(oee["availability"].mean()))
    cols[2].metric("Performance", ui.pct(oee["performance"].mean()))
    cols[3].metric("Quality", ui.pct(oee["quality"].mean()))
    cols[4].metric("Good units", ui.number(oee["good_count"].sum()))

    fig = px.line(
        oee,
        x="production_date",
        y="oee",
        color="machine",
        markers=True,
        labels={"production_date": "", "oee": "OEE", "machine": ""},
        title="OEE by machine and day",
    )
    fig.update_yaxes(tickformat=".0%")
    ui.chart(fig, key="kpi_oee_line")

    by_machine = (
        oee.groupby("machine")[["availability", "performance", "quality", "oee"]].mean().reset_index()
    )
    long = by_machine.melt(id_vars="machine", var_name="factor", value_name="value")
    fig = px.bar(
        long,
        x="machine",
        y="value",
        color="factor",
        barmode="group",
        text=long["value"].map(ui.pct),
        labels={"machine": "", "value": "", "factor": ""},
        title="Availability × performance × quality per machine (average)",
    )
    fig.update_yaxes(tickformat=".0%")
    ui.chart(fig, key="kpi_oee_factors")

if not defects.empty or not pareto.empty:
    st.header("Defects")
    if not defects.empty:
        inspected, defective = defects["inspected_count"].sum(), defects["defect_count"].sum()
        cols = st.columns(3)
        cols[0].metric("Inspected units", ui.number(inspected))
        cols[1].metric("Defective units", ui.number(defective))
        cols[2].metric("Defect rate", ui.pct(defective / inspected if inspected else None, 2))
        fig = px.line(
            defects,
            x="production_date",
            y="defect_rate",
            color="machine_id",
            markers=True,
            labels={"production_date": "", "defect_rate": "defect rate", "machine_id": ""},
            title="Defect rate by machine and day",
        )
        fig.update_yaxes(tickformat=".1%")
        ui.chart(fig, key="kpi_defect_rate")
    if not pareto.empty:
        label = pareto["defect_name"].fillna(pareto["defect_code"])
        fig = make_subplots(specs=[[{"secondary_y": True}]])
        fig.add_trace(go.Bar(x=label, y=pareto["defect_count"], name="defects"), secondary_y=False)
        fig.add_trace(
            go.Scatter(x=label, y=pareto["cumulative_share"], name="cumulative share", mode="lines+markers"),
            secondary_y=True,
        )
        fig.update_yaxes(title_text="defects", tickformat=",d", secondary_y=False)
        fig.update_yaxes(
            title_text="cumulative share", tickformat=".0%", range=[0, 1.05], dtick=0.2, secondary_y=True
        )
        codes = f"{len(pareto)} defect code" + ("" if len(pareto) == 1 else "s")
        fig.update_layout(title=f"Defect Pareto ({codes})")
        ui.chart(fig, key="kpi_pareto")

if not energy.empty:
    st.header("Energy and CO₂")
    per_unit = energy["kwh_per_good_unit"].dropna()
    cols = st.columns(4)
    cols[0].metric("Energy", f"{ui.number(energy['energy_kwh'].sum())} kWh")
    cols[1].metric("CO₂", f"{ui.number(energy['co2_kg'].sum() / 1000, 1)} t")
    cols[2].metric("Energy per day", f"{ui.number(energy['energy_kwh'].mean())} kWh")
    cols[3].metric("kWh per good unit", ui.number(per_unit.mean(), 3) if len(per_unit) else "–")
    daily = energy.groupby("reading_date")[["energy_kwh", "co2_kg"]].sum().reset_index()
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    fig.add_trace(
        go.Bar(x=daily["reading_date"], y=daily["energy_kwh"], name="energy (kWh)"), secondary_y=False
    )
    fig.add_trace(
        go.Scatter(x=daily["reading_date"], y=daily["co2_kg"], name="CO₂ (kg)", mode="lines"),
        secondary_y=True,
    )
    fig.update_yaxes(title_text="kWh", tickformat=",.0f", secondary_y=False)
    fig.update_yaxes(title_text="kg CO₂", tickformat=",.0f", secondary_y=True)
    fig.update_layout(title="Energy and CO₂ per day")
    ui.chart(fig, key="kpi_energy")
    if len(per_unit):
        fig = px.line(
            energy.dropna(subset=["kwh_per_good_unit"]),
            x="reading_date",
            y="kwh_per_good_unit",
            color="site_id",
            labels={"reading_date": "", "kwh_per_good_unit": "kWh per good unit", "site_id": ""},
            title="kWh per good unit",
        )
        ui.chart(fig, key="kpi_energy_per_unit")
    else:
        st.caption("kWh per good unit: no production counts for these sites.")

if not maintenance.empty:
    st.header("Maintenance")
    cols = st.columns(3)
    cols[0].metric("Failures", ui.number(maintenance["failure_count"].sum()))
    cols[1].metric("Average MTBF", f"{ui.number(maintenance['mtbf_h'].mean(), 1)} h")
    cols[2].metric("Average MTTR", f"{ui.number(maintenance['mttr_h'].mean(), 2)} h")
    left, right = st.columns(2)
    with left:
        fig = px.bar(
            maintenance,
            x="machine_id",
            y="mtbf_h",
            text=maintenance["mtbf_h"].map(lambda v: ui.number(v, 1)),
            labels={"machine_id": "", "mtbf_h": "hours"},
            title="MTBF per machine (h)",
        )
        ui.chart(fig, key="kpi_mtbf")
    with right:
        fig = px.bar(
            maintenance,
            x="machine_id",
            y="mttr_h",
            text=maintenance["mttr_h"].map(lambda v: ui.number(v, 2)),
            labels={"machine_id": "", "mttr_h": "hours"},
            title="MTTR per machine (h)",
        )
        ui.chart(fig, key="kpi_mttr")
    st.dataframe(
        maintenance,
        hide_index=True,
        column_config={
            "machine_id": "Machine",
            "failure_count": st.column_config.NumberColumn("Failures", format="%d"),
            "operating_time_h": st.column_config.NumberColumn("Operating time (h)", format="%.1f"),
            "mtbf_h": st.column_config.NumberColumn("MTBF (h)", format="%.1f"),
            "mttr_h": st.column_config.NumberColumn("MTTR (h)", format="%.2f"),
        },
    )

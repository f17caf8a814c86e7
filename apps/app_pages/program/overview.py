"""Program overview: every visible client's last run, gate, models and average OEE."""

from __future__ import annotations

import plotly.express as px
import streamlit as st

from apps import data, ui

user = ui.require_user()
st.title("Program overview")
overview = data.program_overview(user)
if overview.empty:
    st.info("No client is configured yet. Add one with `forgeline add-client`.")
    st.stop()

scope = "every client of the program" if user.sees_every_client else "your factory"
st.caption(f"The latest published run of {scope}.")

published = overview["status"].eq("published").sum()
cols = st.columns(4)
cols[0].metric("Clients", len(overview))
cols[1].metric("Published", int(published))
cols[2].metric("Gates passed", int(overview["gate_passed"].fillna(False).astype(bool).sum()))
cols[3].metric("Champion models", int(overview["champions"].sum()))

table = overview.assign(
    last_run=[ui.when(t, tz) for t, tz in zip(overview["finished_at"], overview["timezone"], strict=True)],
    gate=overview["gate_passed"].map(ui.gate_label),
    avg_oee=overview["avg_oee"].map(ui.pct),
    models=overview["models"].replace("", "–"),
    level=overview["level"].map(lambda v: "–" if v is None or v != v else f"L{int(v)}"),
)
st.dataframe(
    table[["client_id", "name", "industry", "level", "last_run", "status", "gate", "models", "avg_oee"]],
    hide_index=True,
    column_config={
        "client_id": "Client",
        "name": "Name",
        "industry": "Industry",
        "level": st.column_config.TextColumn(
            "Level", help="smart-factory level from the data (Smart-factory level page)"
        ),
        "last_run": "Last run",
        "status": "Status",
        "gate": "Gate",
        "models": "Models",
        "avg_oee": "Average OEE",
    },
)

# A client whose newest delivery failed the gate keeps showing its last good figures: say so, per client.
for row in overview[overview["figures_held_back"].fillna(False).astype(bool)].itertuples():
    source = (
        f"run {row.data_run_id} ({ui.when(row.data_finished_at, row.timezone)})"
        if row.data_run_id
        else "no run: none has passed the gate yet"
    )
    st.warning(
        f"**{row.name}**: the newest delivery failed the quality gate ({row.reason or 'see Data quality'}). "
        f"Its figures here are from {source}.",
        icon=":material/history:",
    )

# Horizontal bars: client names are long (Korean and English) and stay readable on the y axis.
height = 120 + 45 * len(overview)
left, right = st.columns(2)
with left:
    st.subheader("Average OEE")
    oee = overview.dropna(subset=["avg_oee"])
    if oee.empty:
        st.caption("No OEE data among these clients.")
    else:
        fig = px.bar(
            oee,
            x="avg_oee",
            y="name",
            orientation="h",
            text=oee["avg_oee"].map(ui.pct),
            labels={"name": "", "avg_oee": "average OEE over the published days"},
            height=height,
        )
        fig.update_xaxes(tickformat=".0%", range=[0, 1])
        ui.chart(fig, key="overview_oee", hovermode="closest")
    missing = overview.loc[overview["avg_oee"].isna(), "name"].tolist()
    if missing and not oee.empty:
        st.caption(f"No OEE data: {', '.join(missing)}.")
with right:
    st.subheader("Gate expectations")
    gate = overview.melt(
        id_vars=["name"],
        value_vars=["expectations_passed", "expectations_failed"],
        var_name="result",
        value_name="expectations",
    )
    gate["result"] = gate["result"].map({"expectations_passed": "passed", "expectations_failed": "failed"})
    fig = px.bar(
        gate,
        x="expectations",
        y="name",
        color="result",
        orientation="h",
        color_discrete_map={"passed": "#2e7d32", "failed": "#c62828"},
        labels={"name": "", "expectations": "expectations", "result": ""},
        height=height,
    )
    ui.chart(fig, key="overview_gate", hovermode="y unified")

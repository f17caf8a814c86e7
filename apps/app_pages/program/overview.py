"""Program overview: every visible client's last run, gate, models and OEE over all its days."""

from __future__ import annotations

import plotly.express as px
import streamlit as st

from apps import data, ui
from forgeline import i18n
from forgeline.i18n import N_, _
from forgeline.reports import words

# A run's status as a person reads it (the codes are publish's and the overview's).
STATUS_WORDS = {
    "published": N_("published"),
    "gate_failed": N_("gate failed"),
    "never run": N_("never run"),
}

user = ui.require_user()
st.title(_("Program overview"))
overview = data.program_overview(user)
if overview.empty:
    st.info(_("No client is configured yet. Add one with `forgeline add-client`."))
    st.stop()

st.caption(
    _("The latest published run of every client of the program.")
    if user.sees_every_client
    else _("The latest published run of your factory.")
)

published = overview["status"].eq("published").sum()
cols = st.columns(4)
cols[0].metric(_("Clients"), i18n.number(len(overview)))
cols[1].metric(_("Published"), i18n.number(int(published)))
cols[2].metric(_("Gates passed"), i18n.number(int(overview["gate_passed"].fillna(False).astype(bool).sum())))
cols[3].metric(_("Champion models"), i18n.number(int(overview["champions"].sum())))

table = overview.assign(
    last_run=[ui.when(t, tz) for t, tz in zip(overview["finished_at"], overview["timezone"], strict=True)],
    status=overview["status"].map(lambda s: _(STATUS_WORDS[s]) if s in STATUS_WORDS else s),
    gate=overview["gate_passed"].map(ui.gate_label),
    oee=overview["oee"].map(lambda v: i18n.percent(None if ui.is_missing(v) else float(v))),
    models=overview["models"].replace("", "–"),
    level=overview["level"].map(lambda v: "–" if v is None or v != v else f"L{int(v)}"),
)
st.dataframe(
    table[["client_id", "name", "industry", "level", "last_run", "status", "gate", "models", "oee"]],
    hide_index=True,
    column_config={
        "client_id": _("Client"),
        "name": _("Name"),
        "industry": _("Industry"),
        "level": st.column_config.TextColumn(
            _("Level"), help=_("smart-factory level from the data (Smart-factory level page)")
        ),
        "last_run": _("Last run"),
        "status": _("Status"),
        "gate": _("Gate"),
        "models": _("Models"),
        "oee": _("OEE"),
    },
)

# A client whose newest delivery failed the gate keeps showing its last good figures: say so, per client.
for row in overview[overview["figures_held_back"].fillna(False).astype(bool)].itertuples():
    source = (
        _("run {run} ({when})").format(run=row.data_run_id, when=ui.when(row.data_finished_at, row.timezone))
        if row.data_run_id
        else _("no run: none has passed the gate yet")
    )
    st.warning(
        _(
            "**{name}**: the newest delivery failed the quality gate ({reason}). Its figures here are from "
            "{source}."
        ).format(
            name=row.name, reason=words.stored_part(row, "reason") or _("see Data quality"), source=source
        ),
        icon=":material/history:",
    )

# Horizontal bars: client names are long (Korean and English) and stay readable on the y axis.
height = 120 + 45 * len(overview)
left, right = st.columns(2)
with left:
    st.subheader(_("OEE over all published days"))
    oee = overview.dropna(subset=["oee"])
    if oee.empty:
        st.caption(_("No OEE measured among these clients."))
    else:
        fig = px.bar(
            oee,
            x="oee",
            y="name",
            orientation="h",
            text=oee["oee"].map(lambda v: i18n.percent(float(v))),
            labels={"name": "", "oee": _("OEE, time-weighted over every machine and day")},
            height=height,
        )
        fig.update_xaxes(tickformat=".0%", range=[0, 1])
        ui.chart(fig, key="overview_oee", hovermode="closest")
    missing = overview.loc[overview["oee"].isna(), "name"].tolist()
    if missing and not oee.empty:
        st.caption(
            _("OEE not measured (no OEE data, or no rejects recorded): {clients}.").format(
                clients=", ".join(missing)
            )
        )
with right:
    st.subheader(_("Gate expectations"))
    gate = overview.melt(
        id_vars=["name"],
        value_vars=["expectations_passed", "expectations_failed"],
        var_name="result",
        value_name="expectations",
    )
    passed, failed = _("passed"), _("failed")
    gate["result"] = gate["result"].map({"expectations_passed": passed, "expectations_failed": failed})
    fig = px.bar(
        gate,
        x="expectations",
        y="name",
        color="result",
        orientation="h",
        color_discrete_map={passed: "#2e7d32", failed: "#c62828"},
        labels={"name": "", "expectations": _("expectations"), "result": ""},
        height=height,
    )
    ui.chart(fig, key="overview_gate", hovermode="y unified")

"""How a finding and its evidence are shown: on the consultants' Workbench and in a client's "Findings"
section (delivered findings only). Reads through ``apps.data`` only."""

from __future__ import annotations

import plotly.express as px
import streamlit as st

from apps import data, ui
from forgeline.auth import User
from forgeline.i18n import N_, _
from forgeline.program.findings import Evidence, Finding

KIND_ICON = {"finding": ":material/search:", "recommendation": ":material/lightbulb:"}
KIND_NAMES = {"finding": N_("finding"), "recommendation": N_("recommendation")}


def kind_name(kind: str) -> str:
    return _(KIND_NAMES[kind]) if kind in KIND_NAMES else kind


def utc(value: object) -> str:
    """A store time as people read it, in UTC (the history's times are UTC by rule)."""
    return "–" if ui.is_missing(value) else f"{value:%Y-%m-%d %H:%M} UTC"


def show_evidence(user: User, client_id: str, evidence: Evidence, key: str) -> None:
    """One piece of evidence: the KPI's chart (a missing day is a gap) or the figures it rests on."""
    view = data.evidence_view(user, client_id, evidence)
    st.markdown(f"**{view.title}**")
    if view.days is not None:
        fig = px.line(view.days, x="day", y="value", markers=True, labels={"day": "", "value": view.unit})
        fig.update_traces(connectgaps=False)
        if view.unit == "share":
            fig.update_yaxes(tickformat=".0%", title_text="")
        fig.update_layout(height=260)
        ui.chart(fig, key=key)
    figures = {k: v for k, v in view.figures.items() if v}
    if figures:
        st.markdown("\n".join(f"- {name}: **{value}**" for name, value in figures.items()))
    if not view.current:
        st.caption(view.note)


def show_finding(user: User, client_id: str, found: Finding, key: str) -> None:
    """A finding's text and every piece of its evidence, rendered."""
    st.markdown(f"{KIND_ICON.get(found.kind, '')} **{found.title}** · {kind_name(found.kind)}")
    st.markdown(found.body)
    for i, evidence in enumerate(found.evidence):
        with st.container(border=True):
            show_evidence(user, client_id, evidence, key=f"{key}_ev{i}")


def delivered_section(user: User, config: data.PublishedClient) -> None:
    """The findings and recommendations delivered to the client, newest first: what a client page shows
    (never a draft, a reviewer's note or who changed what)."""
    delivered = data.findings(user, config.id, ("delivered",))
    st.subheader(
        _("Findings from your consultants") if user.is_client else _("Findings delivered to the client")
    )
    if not delivered:
        st.caption(_("No findings or recommendations delivered yet."))
        return
    for found in delivered:
        with st.container(border=True):
            show_finding(user, config.id, found, key=f"delivered_{found.finding_id}")
            st.caption(
                _("Delivered {when} · version {version}").format(
                    when=ui.when(found.delivered_at, config.timezone), version=found.version
                )
            )

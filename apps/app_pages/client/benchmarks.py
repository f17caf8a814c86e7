"""My data & benchmarks: the client's consent to pool its figures, where it stands among peers (a quartile
band, never a peer's value or name), and the ledger of what its data went into and what came back."""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from apps import data, ui
from forgeline.i18n import _
from forgeline.program.benchmarks import K
from forgeline.reports import words

user = ui.require_user()
config = ui.choose_client(user)
ui.client_header(_("My data & benchmarks"), config)

# -- consent ----------------------------------------------------------------------------------------------
decisions = data.consent_decisions(user, config.id)
latest = data.consent_in_force(user, config.id)
pooled = latest is not None and latest.given
st.subheader(_("Pooling your figures"))
# The consent's scope in the page's language (forgeline/program/consent.py SCOPES records it in English).
st.markdown(
    _(
        "**What pooling means:** the factory's published KPIs (OEE and its factors, defect rate, energy and "
        "CO2 per unit, MTBF, MTTR) go into anonymous benchmarks with other consenting factories, at least "
        "{k} in each; no row of its data and never its name leaves its own results. In return the factory "
        "sees where it stands among its peers, and what its data went into."
    ).format(k=K)
)
if latest is None:
    st.info(_("Not pooled: no decision recorded yet."), icon=":material/lock:")
else:
    ever_given = any(d.given for d in decisions)
    state = (
        _("Pooled: consent given on {when} by {by}.")
        if pooled
        else _("Not pooled: consent withdrawn on {when} by {by}.")
        if ever_given
        else _("Not pooled: consent declined on {when} by {by}.")
    )
    st.info(
        state.format(when=ui.when(latest.at, config.timezone), by=latest.by),
        icon=":material/handshake:" if pooled else ":material/lock:",
    )
if user.is_client:
    label = _("Stop pooling my figures") if pooled else _("Pool my figures")
    confirmed = st.checkbox(
        _("I decide this for my factory: its figures leave the next benchmarks")
        if pooled
        else _("I decide this for my factory"),
        key=f"consent_confirm_{len(decisions)}",  # a new box after each decision: never left ticked
    )
    if st.button(label, disabled=not confirmed, icon=":material/handshake:"):
        with st.spinner(_("Recording your decision and rebuilding the benchmarks…")):
            rebuilt = data.record_consent(user, config.id, given=not pooled)
        if rebuilt is None:
            st.warning(_("Your decision is recorded; the benchmarks follow it at the program's next run."))
        else:
            st.rerun()
else:
    st.caption(
        _(
            "Only the client decides this, in its own login; a signed form is recorded with `{command}`."
        ).format(command=f"forgeline consent {config.id} give --by NAME")
    )
if decisions:
    with st.expander(_("Every decision ({n})").format(n=len(decisions))):
        st.dataframe(
            [
                {
                    "when": ui.when(d.at, config.timezone),
                    "decision": _("given") if d.given else _("withdrawn"),
                    "by": d.by,
                    "note": d.note,
                }
                for d in decisions
            ],
            hide_index=True,
            column_config={"when": _("When"), "decision": _("Decision"), "by": _("By"), "note": _("Note")},
        )

# -- position ---------------------------------------------------------------------------------------------
st.subheader(_("Where you stand"))
position = data.benchmark_position(user, config.id)
if position.empty:
    st.caption(
        (
            _(
                "No position yet: a factory sees where it stands once its figures are pooled into a "
                "benchmark of at least {k} factories (what waits, and why, is below)."
            )
            if pooled
            else _(
                "No position yet: a factory sees where it stands once its figures are pooled into a "
                "benchmark of at least {k} factories."
            )
        ).format(k=K)
    )
else:
    order = [4, 3, 2, 1]  # bottom quartile on the left, the top on the right
    rows = [
        f"{ui.benchmark_figure(r.metric, r.label)} · {ui.benchmark_cell(r.cell)}"
        for r in position.itertuples()
    ]
    fig = go.Figure(
        go.Heatmap(
            z=[[1 if b == r.band else 0 for b in order] for r in position.itertuples()],
            x=[ui.band_name(b) for b in order],
            y=rows,
            text=[[r.value if b == r.band else "" for b in order] for r in position.itertuples()],
            texttemplate="%{text}",
            colorscale=[[0, "#eceff1"], [1, "#1565c0"]],
            showscale=False,
            hovertemplate="%{y}: %{x}<extra></extra>",
            xgap=3,
            ygap=3,
        )
    )
    fig.update_layout(height=110 + 40 * len(rows))
    fig.update_xaxes(side="top")
    fig.update_yaxes(autorange="reversed")
    ui.chart(fig, key="benchmark_position", hovermode="closest")
    st.caption(
        _(
            "Your figure sits in the quarter of its peers it fell in at the last build (the right: the best "
            "25 %, by each figure's good direction: higher OEE, lower defect rate). Peers' figures and names "
            "are never shown; each benchmark pools at least {k} factories."
        ).format(k=K)
    )
    for r in position[position["band"] == 1].itertuples():
        st.success(
            _("In the top 25 % for {figure} among {benchmark} ({n} factories).").format(
                figure=ui.benchmark_figure(r.metric, r.label),
                benchmark=ui.benchmark_cell(r.cell),
                n=r.factories,
            )
        )

# -- ledger -----------------------------------------------------------------------------------------------
st.subheader(_("What your data went into"))
used, pending = data.value_ledger(user, config.id)
if used.empty:
    st.caption(_("No benchmark has used your figures yet."))
else:
    st.dataframe(
        used.assign(
            released_at=[ui.when(t, config.timezone) for t in used["released_at"]],
            cell=used["cell"].map(ui.benchmark_cell),
            label=used["label"].map(ui.benchmark_label),
        ),
        hide_index=True,
        column_config={
            "cell": _("Benchmark"),
            "label": _("Figure"),
            "n": st.column_config.NumberColumn(_("Factories pooled")),
            "released_at": _("Released"),
        },
    )
if len(pending):
    st.caption(_("Waiting to be pooled:"))
    st.dataframe(
        pending.assign(
            cell=pending["cell"].map(lambda cells: ", ".join(map(ui.benchmark_cell, cells.split(", ")))),
            label=pending["label"].map(ui.benchmark_label),
            # Stored beside its English as a message (forgeline/program/benchmarks.py): worded here.
            reason=[words.stored_part(row, "reason") for row in pending.itertuples(index=False)],
        )[["label", "cell", "reason"]],
        hide_index=True,
        column_config={"label": _("Figure"), "cell": _("Benchmarks"), "reason": _("Why")},
    )

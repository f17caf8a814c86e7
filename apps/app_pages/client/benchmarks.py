"""My data & benchmarks: the client's consent to pool its figures, where it stands among peers (a quartile
band, never a peer's value or name), and the ledger of what its data went into and what came back."""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from apps import data, ui
from forgeline.program.benchmarks import BANDS, K
from forgeline.program.consent import SCOPES

user = ui.require_user()
config = ui.choose_client(user)
ui.client_header("My data & benchmarks", config)

# -- consent ----------------------------------------------------------------------------------------------
decisions = data.consent_decisions(user, config.id)
latest = data.consent_in_force(user, config.id)
pooled = latest is not None and latest.given
st.subheader("Pooling your figures")
st.markdown(
    f"**What pooling means:** {SCOPES['benchmarks']}. In return the factory sees where it stands among "
    "its peers, and what its data went into."
)
if latest is None:
    st.info("Not pooled: no decision recorded yet.", icon=":material/lock:")
else:
    ever_given = any(d.given for d in decisions)
    state = (
        "Pooled: consent given"
        if pooled
        else f"Not pooled: consent {'withdrawn' if ever_given else 'declined'}"
    )
    st.info(
        f"{state} on {ui.when(latest.at, config.timezone)} by {latest.by}.",
        icon=":material/handshake:" if pooled else ":material/lock:",
    )
if user.is_client:
    label = "Stop pooling my figures" if pooled else "Pool my figures"
    confirmed = st.checkbox(
        "I decide this for my factory" + (": its figures leave the next benchmarks" if pooled else ""),
        key=f"consent_confirm_{len(decisions)}",  # a new box after each decision: never left ticked
    )
    if st.button(label, disabled=not confirmed, icon=":material/handshake:"):
        with st.spinner("Recording your decision and rebuilding the benchmarks…"):
            rebuilt = data.record_consent(user, config.id, given=not pooled)
        if rebuilt is None:
            st.warning("Your decision is recorded; the benchmarks follow it at the program's next run.")
        else:
            st.rerun()
else:
    st.caption(
        "Only the client decides this, in its own login; a signed form is recorded with "
        f"`forgeline consent {config.id} give --by NAME`."
    )
if decisions:
    with st.expander(f"Every decision ({len(decisions)})"):
        st.dataframe(
            [
                {
                    "when": ui.when(d.at, config.timezone),
                    "decision": "given" if d.given else "withdrawn",
                    "by": d.by,
                    "note": d.note,
                }
                for d in decisions
            ],
            hide_index=True,
        )

# -- position ---------------------------------------------------------------------------------------------
st.subheader("Where you stand")
position = data.benchmark_position(user, config.id)
if position.empty:
    st.caption(
        f"No position yet: a factory sees where it stands once its figures are pooled into a benchmark of "
        f"at least {K} factories" + (" (what waits, and why, is below)." if pooled else ".")
    )
else:
    order = [4, 3, 2, 1]  # bottom quartile on the left, the top on the right
    rows = [f"{r.label} · {r.cell}" for r in position.itertuples()]
    fig = go.Figure(
        go.Heatmap(
            z=[[1 if b == r.band else 0 for b in order] for r in position.itertuples()],
            x=[BANDS[b] for b in order],
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
        "Your figure sits in the quarter of its peers it fell in at the last build (the right: the best "
        "25 %, by each figure's good direction: higher OEE, lower defect rate). Peers' figures and names "
        f"are never shown; each benchmark pools at least {K} factories."
    )
    for r in position[position["band"] == 1].itertuples():
        st.success(f"In the top 25 % for {r.label} among {r.cell} ({r.factories} factories).")

# -- ledger -----------------------------------------------------------------------------------------------
st.subheader("What your data went into")
used, pending = data.value_ledger(user, config.id)
if used.empty:
    st.caption("No benchmark has used your figures yet.")
else:
    st.dataframe(
        used.assign(released_at=[ui.when(t, config.timezone) for t in used["released_at"]]),
        hide_index=True,
        column_config={
            "cell": "Benchmark",
            "label": "Figure",
            "n": st.column_config.NumberColumn("Factories pooled"),
            "released_at": "Released",
        },
    )
if len(pending):
    st.caption("Waiting to be pooled:")
    st.dataframe(
        pending[["label", "cell", "reason"]],
        hide_index=True,
        column_config={"label": "Figure", "cell": "Benchmarks", "reason": "Why"},
    )

"""Smart-factory level: the level the client's own data shows, rule by rule, the steps to the next, and the
findings and recommendations the consultants delivered."""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from apps import data, findings_view, ui
from forgeline.program.levels import figure

user = ui.require_user()
config = ui.choose_client(user)
ui.client_header("Smart-factory level", config)
ui.held_back_banner(user, config)

summary = data.level(user, config.id)
evidence = data.level_evidence(user, config.id)
if summary.empty or evidence.empty:
    st.info(
        "No level yet: every run whose delivery passes the quality gate assesses it (see Data quality); "
        "results published before levels were assessed carry none."
    )
    st.stop()

row = summary.iloc[0]
reached = int(row["level"])
names = evidence.drop_duplicates("level").set_index("level")["level_name"]
top = int(evidence["level"].max())

left, right = st.columns([1, 2])
with left:
    st.metric("Level shown by the data", f"{reached} of {top}" if reached else f"below 1 (of {top})")
    st.caption(str(row["level_name"]))
with right:
    # One step per level, green up to the level reached: where the factory stands on the ladder. Short
    # text in the bars (a level's name is on its hover and in the table below).
    held = evidence.groupby("level")["passed"].agg(["sum", "count"])
    fig = go.Figure(
        go.Bar(
            x=[f"L{lv}" for lv in held.index],
            y=[1] * len(held),
            marker_color=["#2e7d32" if lv <= reached else "#cfd8dc" for lv in held.index],
            text=[f"{int(h['sum'])}/{int(h['count'])} rules" for _, h in held.iterrows()],
            textposition="inside",
            insidetextanchor="middle",
            textangle=0,
            hovertext=[
                f"L{lv} {names[lv]}: {int(h['sum'])} of {int(h['count'])} rules hold"
                for lv, h in held.iterrows()
            ],
            hoverinfo="text",
        )
    )
    fig.update_layout(height=160, margin={"l": 10, "r": 10, "t": 10, "b": 10}, showlegend=False)
    fig.update_yaxes(visible=False)
    ui.chart(fig, key="level_ladder", hovermode="closest")
    st.caption("Green: levels reached. A level counts only when its rules and every lower level's hold.")

next_level = row["next_level"]
gaps = evidence[(evidence["level"] == next_level) & ~evidence["passed"].astype(bool)]
if len(gaps):
    st.subheader(f"To reach level {int(next_level)}: {names[int(next_level)]}")
    for gap in gaps.itertuples(index=False):
        st.markdown(
            f"- **{gap.says}.** Now {figure(gap.value, gap.kind)} ({gap.meaning}); needs "
            f"{figure(gap.at_least, gap.kind)}. *Step:* {gap.step}."
        )
elif reached == top:
    st.success("Every level's rules hold.")

# -- what to run or do next, ranked from the client's own data ----------------------------------------------
recommended = data.recommendations(user, config.id)
if len(recommended):
    st.subheader("Recommended next")
    st.caption(
        "Ranked from this factory's own data: ready standard models with a measured exposure (largest "
        "first), then the steps to the next level, then other ready models, then what more data would "
        "open. The benefit is the exposure at today's rate, not a promised saving."
    )
    top = recommended.head(3)
    for item in top.itertuples(index=False):
        badge = {"standard model": ":material/model_training:", "level step": ":material/stairs:"}.get(
            item.kind, ":material/add_chart:"
        )
        with st.container(border=True):
            st.markdown(f"{badge} **{item.rank}. {item.title}** · {item.kind}")
            st.markdown(f"*Why:* {item.why}.  \n*Needs:* {item.needs}.  \n*Benefit:* {item.benefit}.")
    rest = recommended.iloc[len(top) :]
    if len(rest):
        with st.expander(f"{len(rest)} more"):
            st.dataframe(
                rest[["rank", "title", "kind", "benefit", "needs"]],
                hide_index=True,
                column_config={
                    "rank": st.column_config.NumberColumn("", width="small"),
                    "title": "Recommendation",
                    "kind": "Kind",
                    "benefit": "Benefit",
                    "needs": "Needs",
                },
            )

findings_view.delivered_section(user, config)  # what the consultants delivered, with its evidence

st.subheader("The evidence, rule by rule")
table = evidence.assign(
    level=evidence["level"].map(lambda lv: f"L{lv}"),
    shows=[f"{figure(v, k)}" for v, k in zip(evidence["value"], evidence["kind"], strict=True)],
    needs=[f"{figure(v, k)}" for v, k in zip(evidence["at_least"], evidence["kind"], strict=True)],
    holds=evidence["passed"].map(lambda p: "holds" if p else "not yet"),
)
# The verdict and the figures first: the long texts last, where a narrow screen may cut them.
st.dataframe(
    table[["level", "holds", "shows", "needs", "says", "meaning"]],
    hide_index=True,
    column_config={
        "level": st.column_config.TextColumn("Level", width="small"),
        "holds": st.column_config.TextColumn("", width="small"),
        "shows": st.column_config.TextColumn("Data shows", width="small"),
        "needs": st.column_config.TextColumn("Needs", width="small"),
        "says": st.column_config.TextColumn("Rule", width="large"),
        "meaning": st.column_config.TextColumn("Measured as", width="medium"),
    },
)
st.caption(
    f"Rules version {row['rules_version']} (digest {row['rules_digest']}). Forgeline sees the data "
    "delivered to the program, not leadership or processes: the official assessment scores more than this."
)

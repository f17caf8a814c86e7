"""Smart-factory level: the level the client's own data shows, rule by rule, the steps to the next, and the
findings and recommendations the consultants delivered."""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from apps import data, findings_view, ui
from forgeline.i18n import _
from forgeline.program.levels import figure
from forgeline.reports import words

user = ui.require_user()
config = ui.choose_client(user)
ui.client_header(_("Smart-factory level"), config)
ui.held_back_banner(user, config)

summary = data.level(user, config.id)
evidence = data.level_evidence(user, config.id)
if summary.empty or evidence.empty:
    st.info(
        _(
            "No level yet: every run whose delivery passes the quality gate assesses it (see Data quality); "
            "results published before levels were assessed carry none."
        )
    )
    st.stop()

row = summary.iloc[0]
reached = int(row["level"])
names = evidence.drop_duplicates("level").set_index("level")["level_name"]
# The shipped levels' names in the page's language; a program's own names as it published them.
names = names.where(
    ~names.index.isin(list(words.LEVEL_NAMES)), names.index.map(lambda lv: words.label(words.LEVEL_NAMES, lv))
)
top = int(evidence["level"].max())


def measure(row: object) -> str:
    """What a rule measures, in the page's language when it is one of the shipped measures."""
    key = getattr(row, "measure", None)
    return words.label(words.MEASURE_LABELS, key) if key in words.MEASURE_LABELS else str(row.meaning)


left, right = st.columns([1, 2])
with left:
    st.metric(
        _("Level shown by the data"),
        _("{level} of {top}").format(level=reached, top=top)
        if reached
        else _("below 1 (of {top})").format(top=top),
    )
    st.caption(names.get(reached, str(row["level_name"])))
with right:
    # One step per level, green up to the level reached: where the factory stands on the ladder. Short
    # text in the bars (a level's name is on its hover and in the table below).
    held = evidence.groupby("level")["passed"].agg(["sum", "count"])
    fig = go.Figure(
        go.Bar(
            x=[f"L{lv}" for lv in held.index],
            y=[1] * len(held),
            marker_color=["#2e7d32" if lv <= reached else "#cfd8dc" for lv in held.index],
            text=[
                _("{held}/{n} rules").format(held=int(h["sum"]), n=int(h["count"]))
                for _lv, h in held.iterrows()
            ],
            textposition="inside",
            insidetextanchor="middle",
            textangle=0,
            hovertext=[
                _("L{level} {name}: {held} of {n} rules hold").format(
                    level=lv, name=names[lv], held=int(h["sum"]), n=int(h["count"])
                )
                for lv, h in held.iterrows()
            ],
            hoverinfo="text",
        )
    )
    fig.update_layout(height=160, margin={"l": 10, "r": 10, "t": 10, "b": 10}, showlegend=False)
    fig.update_yaxes(visible=False)
    ui.chart(fig, key="level_ladder", hovermode="closest")
    st.caption(_("Green: levels reached. A level counts only when its rules and every lower level's hold."))

next_level = row["next_level"]
gaps = evidence[(evidence["level"] == next_level) & ~evidence["passed"].astype(bool)]
if len(gaps):
    st.subheader(
        _("To reach level {level}: {name}").format(level=int(next_level), name=names[int(next_level)])
    )
    for gap in gaps.itertuples(index=False):
        st.markdown(
            "- "
            + _("**{rule}.** Now {now} ({measure}); needs {needs}. *Step:* {step}.").format(
                rule=words.rule_says(gap.says),
                now=figure(gap.value, gap.kind),
                measure=measure(gap),
                needs=figure(gap.at_least, gap.kind),
                step=words.step_title(gap.step),
            )
        )
elif reached == top:
    st.success(_("Every level's rules hold."))

# -- what to run or do next, ranked from the client's own data ----------------------------------------------
recommended = data.recommendations(user, config.id)
if len(recommended):
    st.subheader(_("Recommended next"))
    st.caption(
        _(
            "Ranked from this factory's own data: ready standard models with a measured exposure (largest "
            "first), then the steps to the next level, then other ready models, then what more data would "
            "open. The benefit is the exposure at today's rate, not a promised saving."
        )
    )
    if words.speaks_english_only(recommended):  # published before its reasons were stored as messages
        st.caption(_("The reasons beside the steps are worded in English, as the program publishes them."))
    worded = words.worded_recommendations(recommended)
    top = worded.head(3)
    for item in top.itertuples(index=False):
        badge = {"standard model": ":material/model_training:", "level step": ":material/stairs:"}.get(
            item.kind, ":material/add_chart:"
        )
        with st.container(border=True):
            st.markdown(f"{badge} **{item.rank}. {item.title}** · {item.kind}")
            st.markdown(
                _("*Why:* {why}.  \n*Needs:* {needs}.  \n*Benefit:* {benefit}.").format(
                    why=item.why, needs=item.needs, benefit=item.benefit
                )
            )
    rest = worded.iloc[len(top) :]
    if len(rest):
        with st.expander(_("{n} more").format(n=len(rest))):
            st.dataframe(
                rest[["rank", "title", "kind", "benefit", "needs"]],
                hide_index=True,
                column_config={
                    "rank": st.column_config.NumberColumn("", width="small"),
                    "title": _("Recommendation"),
                    "kind": _("Kind"),
                    "benefit": _("Benefit"),
                    "needs": _("What it needs"),
                },
            )

findings_view.delivered_section(user, config)  # what the consultants delivered, with its evidence

st.subheader(_("The evidence, rule by rule"))
table = evidence.assign(
    level=evidence["level"].map(lambda lv: f"L{lv}"),
    shows=[f"{figure(v, k)}" for v, k in zip(evidence["value"], evidence["kind"], strict=True)],
    needs=[f"{figure(v, k)}" for v, k in zip(evidence["at_least"], evidence["kind"], strict=True)],
    holds=evidence["passed"].map(lambda p: _("holds") if p else _("not yet")),
    meaning=[measure(r) for r in evidence.itertuples(index=False)],
    says=evidence["says"].map(words.rule_says),
)
# The verdict and the figures first: the long texts last, where a narrow screen may cut them.
st.dataframe(
    table[["level", "holds", "shows", "needs", "says", "meaning"]],
    hide_index=True,
    column_config={
        "level": st.column_config.TextColumn(_("Level"), width="small"),
        "holds": st.column_config.TextColumn("", width="small"),
        "shows": st.column_config.TextColumn(_("Data shows"), width="small"),
        "needs": st.column_config.TextColumn(_("Needs"), width="small"),
        "says": st.column_config.TextColumn(_("Rule"), width="large"),
        "meaning": st.column_config.TextColumn(_("Measured as"), width="medium"),
    },
)
st.caption(
    _(
        "Rules version {version} (digest {digest}). Forgeline sees the data delivered to the program, not "
        "leadership or processes: the official assessment scores more than this."
    ).format(version=row["rules_version"], digest=row["rules_digest"])
)

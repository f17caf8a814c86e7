"""Cohort dashboard: where the program's factories stand on the smart-factory levels, against the program's
targets; who climbed and who stalled; each client's data readiness, gate and models in operation.

For program managers and consultants only (the entrypoint never offers it to a client login). Every figure
comes from the clients' published snapshots through ``apps.data``; a selected row opens that client's
level evidence.
"""

from __future__ import annotations

from datetime import UTC, datetime

import plotly.express as px
import plotly.graph_objects as go
import streamlit as st

from apps import data, ui
from forgeline import i18n
from forgeline.i18n import N_, _
from forgeline.program.benchmarks import METRICS, K, Metric
from forgeline.program.cohort import (
    CLIMBED,
    DROPPED,
    NEW,
    NOT_ASSESSED,
    STALLED,
    STEADY,
    distribution,
    progress,
)
from forgeline.program.levels import figure
from forgeline.reports import words

LEVEL_PAGE = "app_pages/client/level.py"
STATUS_ICONS = {
    CLIMBED: N_("▲ climbed"),
    DROPPED: N_("▼ dropped"),
    STALLED: N_("■ stalled"),
    STEADY: N_("steady"),
    NEW: N_("new"),
}
BENCHMARK_STATUS = {"released": N_("released"), "suppressed": N_("suppressed")}

user = ui.require_user()
if not user.sees_every_client:  # never in a client's navigation; refuse a forced switch all the same
    st.error(_("The cohort dashboard is for the program's managers and consultants."))
    st.stop()

st.title(_("Cohort dashboard"))
cohort = data.cohort(user)
clients = cohort.clients
if clients.empty:
    st.info(_("No client is published yet: the cohort fills as clients' runs are published."))
    st.stop()


def shown(value: float, metric: Metric) -> str:
    """A benchmark figure in the language's format: shares in %, other units with their unit."""
    if ui.is_missing(value):
        return "–"
    if metric.unit == "share":
        return i18n.percent(float(value))
    return f"{i18n.number(float(value), 2 if abs(float(value)) < 10 else 1)} {metric.unit}"


def open_evidence(client_id: str) -> None:
    """Every figure leads to the client's evidence: its Smart-factory level page."""
    st.session_state[ui.CLIENT_KEY] = client_id
    st.switch_page(LEVEL_PAGE)


def pooled_benchmarks() -> None:
    """The pooled benchmarks' cells: the aggregates, never a factory's figure (the filters do not apply)."""
    st.subheader(_("Pooled benchmarks"))
    cells = data.benchmark_cells(user)
    if cells.empty:
        st.caption(_("No benchmark yet: they are built from the clients that consent to pool their figures."))
        return
    released = cells[cells["status"] == "released"]
    st.caption(
        _(
            "{released} of {cells} cells released, over every consenting client (the filters above do not "
            "apply). A cell needs at least {k} factories, and a release holds the same factories as each "
            "earlier one of its figure or differs from it by at least {k}; the others are suppressed. "
            "Quartiles are Harrell-Davis estimates, rounded."
        ).format(released=len(released), cells=len(cells), k=K)
    )

    def quartile(column: str) -> list[str]:
        return [
            shown(v, METRICS[m]) if m in METRICS else ""
            for v, m in zip(cells[column], cells["metric"], strict=True)
        ]

    table = cells.assign(
        figure=cells["metric"].map(lambda m: words.label(words.KPI_LABELS, m)),
        shown_status=cells["status"].map(lambda s: words.label(BENCHMARK_STATUS, s)),
        p25=quartile("p25"),
        p50=quartile("p50"),
        p75=quartile("p75"),
        factories=[
            str(int(n)) if st_ == "released" else ""
            for n, st_ in zip(cells["n"], cells["status"], strict=True)
        ],
        reason=[words.stored_part(row, "reason") for row in cells.itertuples(index=False)],
    ).sort_values(["status", "cell", "figure"])
    st.dataframe(
        table[["cell", "figure", "shown_status", "factories", "p25", "p50", "p75", "reason"]],
        hide_index=True,
        column_config={
            "cell": _("Benchmark"),
            "figure": _("Figure"),
            "shown_status": _("Status"),
            "factories": st.column_config.TextColumn(_("Factories"), width="small"),
            "p25": _("25th pct"),
            "p50": _("Median"),
            "p75": _("75th pct"),
            "reason": st.column_config.TextColumn(_("Why suppressed"), width="large"),
        },
    )


# -- filters: industry, region, process (empty: all) --------------------------------------------------------
columns = st.columns(3)
chosen = {}
for column, (field, title) in zip(
    columns, [("industry", _("Industry")), ("region", _("Region")), ("process", _("Process"))], strict=True
):
    options = sorted(v for v in clients[field].dropna().unique() if v)
    chosen[field] = column.multiselect(title, options, key=f"cohort_{field}", placeholder=_("all"))
view = clients
for field, values in chosen.items():
    if values:
        view = view[view[field].isin(values)]
if view.empty:
    st.info(_("No client matches these filters."))
    pooled_benchmarks()
    st.stop()
in_view = set(view["client_id"])
readiness = cohort.readiness[cohort.readiness["client_id"].isin(in_view)]
history = cohort.history[cohort.history["client_id"].isin(in_view)]
names = dict(zip(view["client_id"], view["name"], strict=True))
st.caption(
    _(
        "{shown} of {total} clients in view, from their latest published runs. Targets version {version}."
    ).format(shown=len(view), total=len(clients), version=cohort.targets.version)
)

# -- the program's targets ----------------------------------------------------------------------------------
for goal in progress(view["level"], cohort.targets, datetime.now(UTC).date()):
    st.markdown(_("**Level {level}+**: {says}").format(level=goal.target.at_least_level, says=goal.says))
    st.progress(min(goal.share / goal.target.share, 1.0) if goal.assessed else 0.0)
st.caption(_("Each bar: how far the cohort is along the way to its goal (full: the goal is met)."))

assessed = view["level"].notna()
operating = readiness[readiness["measure"] == "tracked_champions"].groupby("client_id")["value"].sum()
cols = st.columns(5)
cols[0].metric(
    _("Clients assessed"), _("{assessed} of {total}").format(assessed=int(assessed.sum()), total=len(view))
)
cols[1].metric(
    _("Climbed"),
    int(view["movement"].eq(CLIMBED).sum()),
    help=_("above their level of the stalled window's start (the targets file sets its days)"),
)
cols[2].metric(
    _("Stalled"), int(view["movement"].eq(STALLED).sum()), help=_("no level change over that window")
)
cols[3].metric(_("Gate failed"), int(view["figures_held_back"].fillna(False).sum()))
cols[4].metric(
    _("Models in operation"), int(operating.sum()), help=_("champions tracked against live outcomes")
)

# -- where the cohort stands, and how it moved ---------------------------------------------------------
left, right = st.columns(2)
with left:
    st.subheader(_("Level distribution"))
    counts = distribution(view["level"]).set_index("level")
    who = view[assessed].assign(level=lambda f: f["level"].astype(int)).groupby("level")["name"]
    counts["who"] = who.agg(lambda n: ", ".join(sorted(n))).reindex(counts.index, fill_value="")
    goal_level = max((t.at_least_level for t in cohort.targets.targets), default=None)
    fig = go.Figure(
        go.Bar(
            x=[f"L{lv}" for lv in counts.index],
            y=counts["clients"],
            text=counts["clients"].where(counts["clients"] > 0, ""),
            marker_color=[
                "#2e7d32" if goal_level is not None and lv >= goal_level else "#90a4ae" for lv in counts.index
            ],
            hovertext=[
                _("{n} client(s): {who}").format(n=n, who=w) if n else _("none")
                for n, w in zip(counts["clients"], counts["who"], strict=True)
            ],
            hoverinfo="text",
        )
    )
    fig.update_layout(height=300, showlegend=False)
    fig.update_yaxes(title_text=_("clients"), dtick=1)
    ui.chart(fig, key="cohort_distribution", hovermode="closest")
    if goal_level is not None:
        st.caption(_("Green: level {level} or above, the program's highest target.").format(level=goal_level))
with right:
    st.subheader(_("Levels over the runs"))
    if history.empty:
        st.caption(_("No level history yet: it grows with every published run."))
    else:
        assessed_runs = history.dropna(subset=["level"]).assign(level=lambda f: f["level"].astype(int))
        fig = px.line(
            assessed_runs,
            x="assessed_at",
            y="level",
            color="name",
            line_shape="hv",
            markers=True,
            labels={"assessed_at": "", "level": _("level"), "name": ""},
            height=300,
            color_discrete_sequence=px.colors.qualitative.Dark24,  # a colour per client up to 24
        )
        fig.update_yaxes(range=[-0.3, 5.3], dtick=1)
        fig.update_layout(showlegend=False)  # 12+ names would fill the chart: hover names the line
        clicked = ui.chart(fig, key="cohort_history", hovermode="closest", clickable=True)
        by_name = {name: client_id for client_id, name in names.items()}
        for point in clicked or []:
            trace = fig.data[point.get("curve_number", 0)]
            if trace.name in by_name:
                open_evidence(by_name[trace.name])
        st.caption(_("Hover a line for its client; click a point to open its evidence."))

# -- data readiness: every client against every rule --------------------------------------------------------
st.subheader(_("Data readiness, rule by rule"))
if readiness.empty:
    st.caption(_("No client has level evidence yet."))
else:
    rules = readiness.drop_duplicates("rule_id").sort_values(["level", "rule_id"], kind="stable")
    # Short names, angled: a rule's full words are on the level page.
    labels = [f"L{r.level} {r.rule_id.replace('_', ' ')}" for r in rules.itertuples()]
    order = view.sort_values(["level", "name"], ascending=[False, True], na_position="last")["client_id"]
    grid = readiness.pivot_table(index="client_id", columns="rule_id", values="progress", aggfunc="first")
    grid = grid.reindex(index=order, columns=rules["rule_id"])
    labelled = readiness.assign(
        text=[
            _("{value} d").format(value=figure(v, k)) if k == "days" else figure(v, k)
            for v, k in zip(readiness["value"], readiness["kind"], strict=True)
        ]
    )
    text = labelled.pivot_table(index="client_id", columns="rule_id", values="text", aggfunc="first")
    text = text.reindex(index=order, columns=rules["rule_id"]).fillna("")
    fig = go.Figure(
        go.Heatmap(
            z=grid.to_numpy(),
            x=labels,
            y=[names[c] for c in grid.index],
            text=text.to_numpy(),
            texttemplate="%{text}",
            colorscale=[[0, "#eceff1"], [0.999, "#a5d6a7"], [1, "#2e7d32"]],
            zmin=0,
            zmax=1,
            showscale=False,
            hovertemplate="%{y}<br>%{x}: %{text}<extra></extra>",
        )
    )
    # Heatmaps send no click to Streamlit: an invisible marker on every cell takes the click.
    fig.add_trace(
        go.Scatter(
            x=[x for _row in grid.index for x in labels],
            y=[names[c] for c in grid.index for _column in labels],
            mode="markers",
            marker={"size": 28, "opacity": 0},
            text=[t for row in text.to_numpy() for t in row],
            hovertemplate="%{y}<br>%{x}: %{text}<extra></extra>",  # the cell's hover, on top of it
            showlegend=False,
        )
    )
    fig.update_layout(height=140 + 40 * len(grid))
    fig.update_xaxes(side="top", tickangle=-30)
    fig.update_yaxes(autorange="reversed")  # the highest level first, as in the table below
    by_name = {name: client_id for client_id, name in names.items()}
    for point in ui.chart(fig, key="cohort_readiness", hovermode="closest", clickable=True) or []:
        if point.get("y") in by_name:
            open_evidence(by_name[point["y"]])
    st.caption(
        _(
            "Each cell: what the client's data shows for a rule of the level rules (days, a share in %, else "
            "a count). Dark green: the rule holds; lighter: part of the way there. Click a cell to open the "
            "client's evidence."
        )
    )

# -- the clients, each a link to its evidence --------------------------------------------------------
st.subheader(_("Clients"))
ordered = view.sort_values(["level", "name"], ascending=[False, True], na_position="last")
held_back = ordered["figures_held_back"].fillna(False).astype(bool)
table = ordered.assign(
    level=ordered["level"].map(lambda v: "–" if ui.is_missing(v) else f"L{int(v)}"),
    movement=ordered["movement"]
    .fillna(NOT_ASSESSED)
    .map(lambda m: "–" if m == NOT_ASSESSED else words.label(STATUS_ICONS, m)),
    since=[
        ui.when(t, tz)[:10] if not ui.is_missing(t) else "–"
        for t, tz in zip(ordered["since"], ordered["timezone"], strict=True)
    ],
    gate=ordered["gate_passed"].map(ui.gate_label),
    open_failures=ordered["expectations_failed"].where(held_back, 0).astype(int),
    in_operation=ordered["client_id"].map(operating).fillna(0).astype(int),
)
picked = st.dataframe(
    table[
        ["name", "level", "movement", "since", "gate", "open_failures", "in_operation", "industry", "region"]
        + ["process"]
    ],
    hide_index=True,
    on_select="rerun",
    selection_mode="single-row",
    height=38 + 35 * len(table),  # every client, no inner scrolling
    key="cohort_table",
    column_config={
        "name": _("Client"),
        "level": st.column_config.TextColumn(_("Level"), width="small"),
        "movement": _("Movement"),
        "since": st.column_config.TextColumn(
            _("At this level since"), help=_("first run at the current level")
        ),
        "gate": _("Gate"),
        "open_failures": st.column_config.NumberColumn(
            _("Failed checks"), help=_("of the newest delivery's gate")
        ),
        "in_operation": st.column_config.NumberColumn(_("Models in operation")),
        "industry": _("Industry"),
        "region": _("Region"),
        "process": _("Process"),
    },
)
st.caption(_("Select a client's row to open its level evidence."))
rows = picked.selection.rows if picked else []
if rows:
    open_evidence(table.iloc[rows[0]]["client_id"])

pooled_benchmarks()

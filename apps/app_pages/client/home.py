"""Home: a client's landing page, what a factory manager reads first. This period's KPIs against the last
period, the smart-factory level and the next step, where the factory stands among its peers (its band
only), the findings the consultants delivered, and its reports. A consultant or a program manager opens it
for any client with the client picker."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import streamlit as st

from apps import data, findings_view, kpi_view, ui
from forgeline.i18n import _
from forgeline.reports import words

NEW_FOR_DAYS = 30  # a delivered finding counts as new this long
KPI_PAGE = "app_pages/client/kpis.py"
LEVEL_PAGE = "app_pages/client/level.py"
BENCHMARKS_PAGE = "app_pages/client/benchmarks.py"
REPORTS_PAGE = "app_pages/client/reports.py"

user = ui.require_user()
config = ui.choose_client(user)
ui.client_header(_("Home") if user.is_client else _("Client home"), config)
ui.held_back_banner(user, config)

# -- this period against the last ---------------------------------------------------------------------------
periods = data.default_periods(user, config.id)
if periods is None:
    st.info(_("No figures yet: they appear here once a delivery of your data passes the quality checks."))
else:
    now_period, before_period = periods
    now = data.period_figures(user, config.id, now_period, daily=False)
    before = data.period_figures(user, config.id, before_period, daily=False)
    st.subheader(_("{period} against {other}").format(period=now_period.label(), other=before_period.label()))
    kpi_view.comparison(now, before)
    span = data.data_span(user, config.id)
    runs = (
        _("The data runs from {first} to {last}.").format(first=ui.day(span[0]), last=ui.day(span[1]))
        if span
        else ""
    )
    compared = (
        _("Arrows are green where the figure got better.")
        if before.has_data
        else _("{period} holds no data to compare with.").format(period=before_period.label())
    )
    said = _("The latest full month of it (or the latest month it has days in) against the month before.")
    weighed = _("OEE weighs every machine by its planned and running time.")
    st.caption(" ".join(text for text in (runs, said, compared, weighed) if text))
    st.page_link(KPI_PAGE, label=_("Other periods, day by day and per machine"), icon=":material/monitoring:")

left, right = st.columns(2)

# -- level and the next step ------------------------------------------------------------------------------
with left:
    st.subheader(_("Smart-factory level"))
    summary = data.level(user, config.id)
    if summary.empty:
        st.caption(_("Not assessed yet: the level is assessed once a delivery passes the quality checks."))
    else:
        row = summary.iloc[0]
        reached = int(row["level"])
        st.metric(
            _("Level your data shows"),
            _("{level} of {top}").format(level=reached, top=5) if reached else _("below 1"),
        )
        st.caption(
            words.label(words.LEVEL_NAMES, reached)
            if reached in words.LEVEL_NAMES
            else str(row["level_name"])
        )
        recommended = data.recommendations(user, config.id)
        if len(recommended):
            step = words.worded_recommendations(recommended.head(1)).iloc[0]
            st.markdown(_("**Next step:** {title}  \n{why}.").format(title=step["title"], why=step["why"]))
        st.page_link(LEVEL_PAGE, label=_("The evidence and every step"), icon=":material/stairs:")

# -- where the factory stands (its band only, never a peer's figure) ------------------------------------
with right:
    position = data.benchmark_position(user, config.id)
    if len(position):  # only a contributor has a position: nothing for a factory that does not pool
        st.subheader(_("Among your peers") if user.is_client else _("Among its peers"))
        st.markdown(
            "\n".join(
                "- "
                + _("{figure} among {benchmark}: **{band}**").format(
                    figure=ui.benchmark_figure(r.metric, r.label),
                    benchmark=ui.benchmark_cell(r.cell),
                    band=ui.band_name(r.band),
                )
                for r in position.itertuples()
            )
        )
        st.page_link(BENCHMARKS_PAGE, label=_("What the data went into"), icon=":material/handshake:")

# -- findings the consultants delivered ---------------------------------------------------------------------
st.subheader(_("From your consultants") if user.is_client else _("Delivered to the client"))
delivered = data.findings(user, config.id, ("delivered",))
if not delivered:
    st.caption(_("No findings or recommendations delivered yet."))
else:
    recent = datetime.now(UTC) - timedelta(days=NEW_FOR_DAYS)
    listed = delivered  # newest first
    lines = []
    for found in listed[:5]:
        is_new = found.delivered_at is not None and found.delivered_at >= recent
        badge = ":blue-badge[" + _("new") + "]" if is_new else ""
        lines.append(
            f"- {badge} **{found.title}** · "
            + _("{kind}, delivered {day}").format(
                kind=findings_view.kind_name(found.kind), day=ui.day(found.delivered_at)
            )
        )
    st.markdown("\n".join(lines))
    label = _("Read them with their evidence")
    if len(listed) > 5:
        label = _("Read them with their evidence ({n} in all)").format(n=len(listed))
    st.page_link(LEVEL_PAGE, label=label, icon=":material/lightbulb:")

# -- downloads ------------------------------------------------------------------------------------------
st.subheader(_("Reports"))
filed = data.filed_reports(user, config.id)
if not filed:
    st.caption(_("No monthly report filed yet."))
cols = st.columns(4)
for i, made in enumerate(filed[:4]):  # the newest month's PDF and Excel first
    cols[i % 4].download_button(
        made.name,
        made.data,
        file_name=made.name,
        mime=made.mime,
        icon=":material/picture_as_pdf:" if made.name.endswith(".pdf") else ":material/table:",
        key=f"home_{made.name}",
    )
st.page_link(REPORTS_PAGE, label=_("Every report, or one for another month"), icon=":material/download:")

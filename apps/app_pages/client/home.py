"""Home: a client's landing page, what a factory manager reads first. This period's KPIs against the last
period, the smart-factory level and the next step, where the factory stands among its peers (its band
only), the findings the consultants delivered, and its reports. A consultant or a program manager opens it
for any client with the client picker."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import streamlit as st

from apps import data, kpi_view, ui

NEW_FOR_DAYS = 30  # a delivered finding counts as new this long
KPI_PAGE = "app_pages/client/kpis.py"
LEVEL_PAGE = "app_pages/client/level.py"
BENCHMARKS_PAGE = "app_pages/client/benchmarks.py"
REPORTS_PAGE = "app_pages/client/reports.py"

user = ui.require_user()
config = ui.choose_client(user)
ui.client_header("Home" if user.is_client else "Client home", config)
ui.held_back_banner(user, config)

# -- this period against the last ---------------------------------------------------------------------------
periods = data.default_periods(user, config.id)
if periods is None:
    st.info("No figures yet: they appear here once a delivery of your data passes the quality checks.")
else:
    now_period, before_period = periods
    now = data.period_figures(user, config.id, now_period, daily=False)
    before = data.period_figures(user, config.id, before_period, daily=False)
    st.subheader(f"{now_period.label()} against {before_period.label()}")
    kpi_view.comparison(now, before)
    span = data.data_span(user, config.id)
    runs = f"The data runs from {span[0]:%d %B %Y} to {span[1]:%d %B %Y}. " if span else ""
    compared = (
        "Arrows are green where the figure got better."
        if before.has_data
        else f"{before_period.label()} holds no data to compare with."
    )
    st.caption(
        f"{runs}The latest full month of it (or the latest month it has days in) against the month before. "
        f"{compared} OEE weighs every machine by its planned and running time."
    )
    st.page_link(KPI_PAGE, label="Other periods, day by day and per machine", icon=":material/monitoring:")

left, right = st.columns(2)

# -- level and the next step ------------------------------------------------------------------------------
with left:
    st.subheader("Smart-factory level")
    summary = data.level(user, config.id)
    if summary.empty:
        st.caption("Not assessed yet: the level is assessed once a delivery passes the quality checks.")
    else:
        row = summary.iloc[0]
        reached = int(row["level"])
        st.metric("Level your data shows", f"{reached} of 5" if reached else "below 1")
        st.caption(str(row["level_name"]))
        recommended = data.recommendations(user, config.id)
        if len(recommended):
            step = recommended.iloc[0]
            st.markdown(f"**Next step:** {step['title']}  \n{step['why']}.")
        st.page_link(LEVEL_PAGE, label="The evidence and every step", icon=":material/stairs:")

# -- where the factory stands (its band only, never a peer's figure) ------------------------------------
with right:
    position = data.benchmark_position(user, config.id)
    if len(position):  # only a contributor has a position: nothing for a factory that does not pool
        st.subheader("Among your peers" if user.is_client else "Among its peers")
        st.markdown(
            "\n".join(f"- {r.label} among {r.cell}: **{r.band_name}**" for r in position.itertuples())
        )
        st.page_link(BENCHMARKS_PAGE, label="What the data went into", icon=":material/handshake:")

# -- findings the consultants delivered ---------------------------------------------------------------------
st.subheader("From your consultants" if user.is_client else "Delivered to the client")
delivered = data.findings(user, config.id, ("delivered",))
if not delivered:
    st.caption("No findings or recommendations delivered yet.")
else:
    recent = datetime.now(UTC) - timedelta(days=NEW_FOR_DAYS)
    listed = delivered  # newest first
    lines = []
    for found in listed[:5]:
        is_new = found.delivered_at is not None and found.delivered_at >= recent
        lines.append(
            f"- {':blue-badge[new]' if is_new else ''} **{found.title}** · {found.kind}, "
            f"delivered {found.delivered_at:%d %B %Y}"
        )
    st.markdown("\n".join(lines))
    more = f" ({len(listed)} in all)" if len(listed) > 5 else ""
    st.page_link(LEVEL_PAGE, label=f"Read them with their evidence{more}", icon=":material/lightbulb:")

# -- downloads ------------------------------------------------------------------------------------------
st.subheader("Reports")
filed = data.filed_reports(user, config.id)
if not filed:
    st.caption("No monthly report filed yet.")
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
st.page_link(REPORTS_PAGE, label="Every report, or one for another month", icon=":material/download:")

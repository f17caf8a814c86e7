"""Reports: the client's report (PDF and Excel) for a month, in Korean or English, to download; and the
monthly reports the schedule filed. A client login gets only its own; a consultant picks the client."""

from __future__ import annotations

from datetime import date

import streamlit as st

from apps import data, ui
from forgeline import i18n
from forgeline.i18n import _
from forgeline.reports import NothingToReport, ReportError

user = ui.require_user()
config = ui.choose_client(user)
ui.client_header(_("Reports"), config)
ui.held_back_banner(user, config)

months = data.report_months(user, config.id)
if not months:
    st.info(_("No report yet: a report covers the days of published figures, and there are none so far."))
    st.stop()

st.caption(
    _(
        "The factory's figures for a month: KPIs with their charts, the smart-factory level and the next "
        "steps, model results with their caveats, data quality and the consultant's delivered findings. The "
        "PDF reads as a report; the Excel workbook holds the tables behind it, one sheet each."
    )
)
left, right = st.columns(2)
period = left.select_slider(
    _("Month"),
    months[::-1],
    value=months[0],
    key="report_month",
    format_func=lambda m: i18n.month(date.fromisoformat(f"{m}-01")),
)
# The report's language: the page's own by default, either on request.
if st.session_state.get("report_lang") not in ui.LANGUAGE_NAMES:
    st.session_state["report_lang"] = i18n.current_language()
lang = right.radio(
    _("Report language"),
    list(ui.LANGUAGE_NAMES),
    format_func=ui.LANGUAGE_NAMES.__getitem__,
    horizontal=True,
    key="report_lang",
)
if st.button(_("Make the report"), icon=":material/description:", key="report_make"):
    st.session_state["report_request"] = (config.id, period, lang)

if st.session_state.get("report_request") == (config.id, period, lang):
    try:
        with st.spinner(_("Making the report…")):
            pdf, xlsx = data.client_report(user, config.id, period, lang)
    except NothingToReport as exc:
        st.warning(_("{problem} Choose another month above.").format(problem=exc))
    except ReportError as exc:
        st.warning(str(exc))
    else:
        cols = st.columns(2)
        for col, made, icon in (
            (cols[0], pdf, ":material/picture_as_pdf:"),
            (cols[1], xlsx, ":material/table:"),
        ):
            col.download_button(
                made.name, made.data, file_name=made.name, mime=made.mime, icon=icon, key=f"get_{made.name}"
            )

filed = data.filed_reports(user, config.id)
st.subheader(_("Monthly reports"))
if not filed:
    st.caption(_("None filed yet: the monthly schedule files each month's report here."))
for made in filed:
    st.download_button(made.name, made.data, file_name=made.name, mime=made.mime, key=f"filed_{made.name}")

"""Forgeline's Streamlit app: the consultants' workbench and each client's portal.

Thin entrypoint: page config, the login gate, then one ``st.navigation``. Before login the only page is
the login form; afterwards the pages read published snapshots through ``apps.data`` only.
"""

from __future__ import annotations

import streamlit as st

from apps import ui
from forgeline.auth import AccessDenied

st.set_page_config(page_title="Forgeline", page_icon=":material/factory:", layout="wide")

user = ui.current_user()
if user is None:
    page = st.navigation(
        [st.Page("app_pages/login.py", title="Log in", icon=":material/login:")], position="hidden"
    )
else:
    with st.sidebar:
        who = {
            "consultant": "consultant · every client",
            "program_manager": "program manager · the cohort",
        }.get(user.role, f"client · {user.client_id}")
        st.markdown(f"**{user.display_name}**  \n{who}")
        st.button("Log out", on_click=ui.log_out, icon=":material/logout:")
    home = st.Page(
        "app_pages/client/home.py",
        title="Home" if user.is_client else "Client home",
        icon=":material/home:",
        default=user.is_client,
    )
    pages: dict[str, list] = {}
    if user.sees_every_client:  # the program's pages compare clients: never offered to a client login
        program = [
            st.Page("app_pages/program/overview.py", title="Program overview", icon=":material/dashboard:")
        ]
        program.insert(
            0 if user.role == "program_manager" else 1,
            st.Page("app_pages/program/cohort.py", title="Cohort dashboard", icon=":material/groups:"),
        )
        pages["Program"] = program
    pages |= {
        # A client login lands on its Home; a consultant opens any client's from the client picker.
        "Client": [
            home,
            st.Page("app_pages/client/kpis.py", title="Client KPIs", icon=":material/monitoring:"),
            st.Page("app_pages/client/level.py", title="Smart-factory level", icon=":material/stairs:"),
            st.Page(
                "app_pages/client/benchmarks.py", title="My data & benchmarks", icon=":material/handshake:"
            ),
            st.Page("app_pages/client/data_quality.py", title="Data quality", icon=":material/fact_check:"),
            st.Page("app_pages/client/models.py", title="Model results", icon=":material/model_training:"),
            st.Page("app_pages/client/reports.py", title="Reports", icon=":material/download:"),
        ],
    }
    if user.is_client or user.is_consultant:  # a program manager changes nothing
        pages["Client"].append(
            st.Page("app_pages/client/upload.py", title="Send new data", icon=":material/upload:")
        )
    if user.is_consultant:  # onboarding and the workbench write: never offered to another login
        pages["Engagement"] = [
            st.Page("app_pages/engagement/onboarding.py", title="Onboarding", icon=":material/upload_file:"),
            st.Page("app_pages/engagement/tools.py", title="Stack tools", icon=":material/construction:"),
            st.Page("app_pages/engagement/workbench.py", title="Workbench", icon=":material/edit_note:"),
        ]
    page = st.navigation(pages, expanded=True)  # every page listed: no "View more" hiding a consultant's

try:
    page.run()
except AccessDenied:
    # data.py refuses any client the login may not see; say so without naming the other client.
    st.error("This login may not see that client's data.")

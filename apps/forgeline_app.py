"""Forgeline's Streamlit app: the consultants' workbench and each client's portal.

Thin entrypoint: page config, the login gate, then one ``st.navigation``. Before login every URL shows the
login form; afterwards the pages read published snapshots through ``apps.data`` only. Served through
``apps/serve.py`` (session cookie, consultant-only metrics and cache clearing).
"""

from __future__ import annotations

import streamlit as st

from apps import ui
from forgeline.auth import ROLES, AccessDenied, User
from forgeline.i18n import _, use_language

# An emoji icon: the browser draws it. A material icon's favicon comes from fonts.gstatic.com, which an
# air-gapped factory's browser cannot reach.
st.set_page_config(page_title="Forgeline", page_icon="🏭", layout="wide")
LOGIN = "app_pages/login.py"


def pages_for(user: User) -> dict[str, list[st.Page]]:
    """The pages ``user`` may open, by section (a client lands on its Home; the others on their first)."""
    pages: dict[str, list[st.Page]] = {}
    if user.sees_every_client:  # the program's pages compare clients: never offered to a client login
        program = [
            st.Page("app_pages/program/overview.py", title=_("Program overview"), icon=":material/dashboard:")
        ]
        program.insert(
            0 if user.role == "program_manager" else 1,
            st.Page("app_pages/program/cohort.py", title=_("Cohort dashboard"), icon=":material/groups:"),
        )
        pages[_("Program")] = program
    home = st.Page(
        "app_pages/client/home.py",
        title=_("Home") if user.is_client else _("Client home"),
        icon=":material/home:",
        default=user.is_client,
    )
    pages[_("Client")] = [
        # A client login lands on its Home; a consultant opens any client's from the client picker.
        home,
        st.Page("app_pages/client/kpis.py", title=_("Client KPIs"), icon=":material/monitoring:"),
        st.Page("app_pages/client/level.py", title=_("Smart-factory level"), icon=":material/stairs:"),
        st.Page(
            "app_pages/client/benchmarks.py", title=_("My data & benchmarks"), icon=":material/handshake:"
        ),
        st.Page("app_pages/client/data_quality.py", title=_("Data quality"), icon=":material/fact_check:"),
        st.Page("app_pages/client/models.py", title=_("Model results"), icon=":material/model_training:"),
        st.Page("app_pages/client/reports.py", title=_("Reports"), icon=":material/download:"),
    ]
    if user.is_client or user.is_consultant:  # a program manager changes nothing
        pages[_("Client")].append(
            st.Page("app_pages/client/upload.py", title=_("Send new data"), icon=":material/upload:")
        )
    if user.is_consultant:  # onboarding and the workbench write: never offered to another login
        pages[_("Engagement")] = [
            st.Page(
                "app_pages/engagement/onboarding.py", title=_("Onboarding"), icon=":material/upload_file:"
            ),
            st.Page("app_pages/engagement/workbench.py", title=_("Workbench"), icon=":material/edit_note:"),
            st.Page("app_pages/engagement/tools.py", title=_("Stack tools"), icon=":material/construction:"),
        ]
    pages[_("Account")] = [st.Page("app_pages/account.py", title=_("Password"), icon=":material/key:")]
    return pages


def login_pages() -> list[st.Page]:
    """Before login: the login form, also under every page's URL, so a deep link (e.g. /models) asks for
    the login and then opens that page (a rerun keeps the page's URL; Streamlit falls back to the
    login's first page, without an error, when the role may not open it)."""
    # Every role's pages (only their URLs are read: no page runs, no data is opened).
    probes = [User("", "", role, client_id="-" if role == "client" else None) for role in ROLES]
    every_url = dict.fromkeys(
        p.url_path for u in probes for pages in pages_for(u).values() for p in pages if p.url_path
    )
    return [
        st.Page(LOGIN, title=_("Log in"), icon=":material/login:", default=True),
        *(st.Page(LOGIN, title=_("Log in"), url_path=url) for url in every_url),
    ]


user = ui.current_user()
ui.sync_session_cookie()
# The whole run speaks the tab's language: the navigation, the sidebar, the page (widget callbacks, which
# Streamlit runs before this script, are wrapped with ui.speaking).
with use_language(ui.language(user)):
    if user is None:
        page = st.navigation(login_pages(), position="hidden")
    else:
        with st.sidebar:
            who = {
                "consultant": _("consultant · every client"),
                "program_manager": _("program manager · the cohort"),
            }.get(user.role) or _("client · {client}").format(client=user.client_id)
            st.markdown(f"**{user.display_name}**  \n{who}")
            ui.language_switch()
            st.button(_("Log out"), on_click=ui.speaking(ui.log_out), icon=":material/logout:")
        page = st.navigation(pages_for(user), expanded=True)  # every page listed: none behind "View more"

    try:
        page.run()
    except AccessDenied:
        # data.py refuses any client the login may not see; say so without naming the other client.
        st.error(_("This login may not see that client's data."))
    if user is not None:
        ui.preload_charts()

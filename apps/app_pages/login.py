"""Login: the only page before a user is known (under every page's URL, so a deep link works)."""

from __future__ import annotations

import streamlit as st

from apps import ui
from forgeline.auth import LoginThrottled, issue_session, log_in
from forgeline.i18n import _
from forgeline.settings import get_settings

title, switch = st.columns([4, 1], vertical_alignment="bottom")
title.title("Forgeline")
with switch:
    ui.language_switch()  # before login too: a Korean factory manager reads the form in Korean
st.caption(_("Smart-factory consulting program: KPIs, data quality and models of each client factory."))

with st.form("login"):
    username = st.text_input(_("Username"), key="username", autocomplete="username")
    password = st.text_input(_("Password"), type="password", key="password", autocomplete="current-password")
    submitted = st.form_submit_button(_("Log in"), type="primary")

if submitted:
    settings = get_settings()
    try:
        user = log_in(settings, username, password, st.context.ip_address)
    except LoginThrottled as exc:
        st.error(str(exc))
    else:
        if user is None:
            # The same message for either mistake: do not tell which usernames exist.
            st.error(_("Username or password is not correct."))
        else:
            ui.adopt_picked_language(user)
            ui.start_session(issue_session(settings, user))
            st.rerun()  # the same URL: the page a deep link named, if this login may open it

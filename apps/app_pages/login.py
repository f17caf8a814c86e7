"""Login: the only page before a user is known."""

from __future__ import annotations

import streamlit as st

from apps import ui
from forgeline.auth import authenticate
from forgeline.settings import get_settings

st.title("Forgeline")
st.caption("Smart-factory consulting program: KPIs, data quality and models of each client factory.")

with st.form("login"):
    username = st.text_input("Username", key="username", autocomplete="username")
    password = st.text_input("Password", type="password", key="password", autocomplete="current-password")
    submitted = st.form_submit_button("Log in", type="primary")

if submitted:
    user = authenticate(get_settings(), username, password)
    if user is None:
        # The same message for either mistake: do not tell which usernames exist.
        st.error("Username or password is not correct.")
    else:
        st.session_state[ui.USER_KEY] = user
        st.rerun()

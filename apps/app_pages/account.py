"""Password: every login changes its own; a consultant also resets a client's or a program manager's."""

from __future__ import annotations

import streamlit as st

from apps import data, ui
from forgeline.auth import (
    AccessDenied,
    LoginThrottled,
    change_password,
    issue_session,
    logins,
    reset_password,
)
from forgeline.i18n import _
from forgeline.settings import get_settings

user = ui.require_user()
settings = get_settings()
st.title(_("Password"))

with st.form("change_password", clear_on_submit=True):
    st.subheader(_("Change your password"))
    current = st.text_input(_("Current password"), type="password", key="pw_current")
    new = st.text_input(_("New password (at least 8 characters)"), type="password", key="pw_new")
    again = st.text_input(_("New password again"), type="password", key="pw_again")
    if st.form_submit_button(_("Change password"), type="primary"):
        if new != again:
            st.error(_("The new passwords differ."))
        else:
            try:
                data.require_live(user)  # the session checked again just before the change
                # Counted like a login: a stolen session guesses the current password no faster.
                changed = change_password(settings, user.username, current, new, st.context.ip_address)
            except (ValueError, LoginThrottled, AccessDenied) as exc:
                st.error(str(exc))
            else:
                # Every session of this login has ended (other tabs, other browsers); this one goes on.
                ui.start_session(issue_session(settings, changed))
                ui.sync_session_cookie()  # now: a reload must find the new session's cookie
                st.success(_("Password changed. Your other sessions have ended."))

if user.is_consultant:
    resettable = [u for u in logins(settings) if u.role in ("client", "program_manager")]
    with st.form("reset_password", clear_on_submit=True):
        st.subheader(_("Reset a login's password"))
        st.caption(_("Tell its owner the new password by phone or in person, never in an e-mail."))
        target = st.selectbox(
            _("Login"),
            [u.username for u in resettable],
            key="reset_login",
            format_func=lambda name: next(
                f"{u.username} · {u.display_name} · {u.client_id or _('program manager')}"
                for u in resettable
                if u.username == name
            ),
        )
        new = st.text_input(_("Their new password"), type="password", key="reset_new")
        if st.form_submit_button(_("Reset password")) and target:
            try:
                reset_password(settings, target, new, by=data.require_live(user))
            except (ValueError, AccessDenied) as exc:
                st.error(str(exc))
            else:
                st.success(
                    _("The password of {login} is reset; its sessions have ended.").format(login=target)
                )

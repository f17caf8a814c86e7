"""What every page shares: the logged-in user and its session, the client picker and number formats.

The session's rules are forgeline/auth.py's; here only where the token lives: in the Streamlit session
(this tab) and in an HttpOnly cookie (a reload, a new tab), which ``apps/serve.py`` sets and removes when
the page asks it to (:func:`sync_session_cookie`)."""

from __future__ import annotations

import json
import math
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
import streamlit as st

from apps import data
from forgeline import auth
from forgeline.auth import User
from forgeline.settings import get_settings

USER_KEY = "user"
SESSION_KEY = "_session_token"  # the signed token of this tab's session
CLIENT_KEY = "client_id"  # the chosen client, kept across pages
_PICKER_KEY = "_client_picker"  # the selectbox's own state (Streamlit drops it on pages without it)
_COOKIE_TODO = "_session_cookie_todo"  # the token to put in the cookie, or "" to remove it
_LOGGED_OUT = "_logged_out"  # this tab logged out: never fall back to the cookie it connected with
SESSION_ROUTE = "/_forgeline/session"  # served by apps/serve.py: the page posts the token here
SESSION_HEADER = "X-Forgeline-Session"


def current_user() -> User | None:
    """The user of this tab's session, checked on every page view (signature, expiry, revocation);
    a tab without one takes the session cookie it connected with (a reload, a new tab)."""
    token = st.session_state.get(SESSION_KEY)
    if token is None and not st.session_state.get(_LOGGED_OUT):
        token = st.context.cookies.get(auth.SESSION_COOKIE)
    if not token:
        st.session_state.pop(USER_KEY, None)
        return None
    settings = get_settings()
    session = auth.session_user(settings, token)
    if session is None:  # expired, forged, or ended by a logout elsewhere
        _forget()
        return None
    if session.due_for_renewal():
        start_session(auth.renew_session(settings, session))
    else:
        st.session_state[SESSION_KEY] = token
    st.session_state[USER_KEY] = session.user
    return session.user


def start_session(token: str) -> None:
    """This tab is logged in with ``token``; the browser gets it as a cookie on the next page view."""
    st.session_state[SESSION_KEY] = token
    st.session_state[_COOKIE_TODO] = token
    st.session_state.pop(_LOGGED_OUT, None)


def _forget() -> None:
    st.session_state.clear()
    st.session_state[_LOGGED_OUT] = True
    st.session_state[_COOKIE_TODO] = ""


def sync_session_cookie() -> None:
    """Ask the server to set or remove the session cookie when the session changed (login, renewal,
    logout). The token passes through this page's script once; the cookie itself is HttpOnly."""
    todo = st.session_state.pop(_COOKIE_TODO, None)
    if todo is None:
        return
    method = "POST" if todo else "DELETE"
    call = (
        f"fetch({json.dumps(SESSION_ROUTE)}, {{method: {json.dumps(method)}, credentials: 'same-origin', "
        f"headers: {{{json.dumps(SESSION_HEADER)}: {json.dumps(todo)}}}}});"
    )
    # The script removes itself once run: the token does not stay in the page.
    st.html(f"<script>{call} document.currentScript?.remove();</script>", unsafe_allow_javascript=True)


def require_user() -> User:
    """The logged-in user; stops the page if nobody is (the entrypoint only offers pages after login)."""
    user = current_user()
    if user is None:
        st.error("Please log in.")
        st.stop()
    return user


def log_out() -> None:
    """End the login's sessions everywhere (every tab and browser), then this tab's state and cookie."""
    user = current_user()
    if user is not None:
        auth.end_sessions(get_settings(), user.username)
    _forget()


def _remember_pick() -> None:
    st.session_state[CLIENT_KEY] = st.session_state[_PICKER_KEY]


def choose_client(user: User) -> data.PublishedClient:
    """The client the page shows: a picker over the visible clients for a consultant or a program manager,
    else its own."""
    options = data.clients(user)
    if not options:
        st.info("Nothing is published for this login yet: a client appears here after its first run.")
        st.stop()
    by_id = {c.id: c for c in options}
    if not user.sees_every_client:
        return options[0]  # visible_clients gives a client login exactly its own client
    # Seed the picker from the remembered choice on every run: Streamlit forgets a widget's state
    # when the page changes, and the callback keeps the remembered choice up to date.
    remembered = st.session_state.get(CLIENT_KEY)
    st.session_state[_PICKER_KEY] = remembered if remembered in by_id else options[0].id
    picked = st.sidebar.selectbox(
        "Client",
        list(by_id),
        key=_PICKER_KEY,
        format_func=lambda i: by_id[i].name,
        on_change=_remember_pick,
    )
    st.session_state[CLIENT_KEY] = picked
    return by_id[picked]


def client_header(title: str, config: data.PublishedClient) -> None:
    st.title(title)
    st.caption(f"{config.name} · `{config.id}`" + (f" · {config.industry}" if config.industry else ""))


def held_back_message(config: data.PublishedClient, plain: bool = False) -> str | None:
    """What a page of figures says when the newest delivery failed the gate (None when it passed); ``plain``
    for a client login: no run id, and not the gate's reason, which names internal tables and checks."""
    if not config.figures_held_back:
        return None
    if plain:
        failed = (
            f"Your newest delivery ({when(config.finished_at, config.timezone)}) did not pass the quality "
            "checks: see Data quality."
        )
        if config.data_run_id:
            return f"{failed} The figures below are from your last delivery that passed."
        return f"{failed} No delivery has passed them yet, so there are no figures to show."
    failed = (
        f"A newer delivery (run {config.run_id}, {when(config.finished_at, config.timezone)}) failed the "
        f"quality gate: {config.reason or 'see Data quality'}."
    )
    if config.data_run_id:
        shown = f"run {config.data_run_id}"
        if not is_missing(config.data_finished_at):
            shown += f", {when(config.data_finished_at, config.timezone)}"
        return f"{failed} The figures below are from {shown}."
    return f"{failed} No delivery has passed the quality gate yet, so there are no figures to show."


def held_back_banner(user: User, config: data.PublishedClient) -> None:
    """The one banner every page of figures shows when they come from an earlier run than the newest.

    Reads the client's published run through ``data`` (which checks the login first), never from ``config``.
    """
    message = held_back_message(data.client(user, config.id), plain=user.is_client)
    if message:
        st.warning(message, icon=":material/history:")


# -- formats ---------------------------------------------------------------------------------------
def is_missing(value: Any) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


def pct(value: Any, digits: int = 1) -> str:
    return "–" if is_missing(value) else f"{float(value):.{digits}%}"


def number(value: Any, digits: int = 0) -> str:
    """Thousands separators, e.g. 12,345 or 1,234.5."""
    return "–" if is_missing(value) else f"{float(value):,.{digits}f}"


def when(value: Any, timezone: str = "Asia/Seoul") -> str:
    """A run time in the client's local time, e.g. '2026-03-01 14:05 KST'."""
    if is_missing(value):
        return "never"
    stamp = pd.Timestamp(value)
    if stamp.tzinfo is None:
        stamp = stamp.tz_localize("UTC")
    local: datetime = stamp.tz_convert(ZoneInfo(timezone)).to_pydatetime()
    return local.strftime("%Y-%m-%d %H:%M %Z")


def gate_label(passed: Any) -> str:
    if is_missing(passed):
        return "–"
    return "passed" if bool(passed) else "FAILED"


def chart(figure: Any, key: str | None = None, hovermode: str = "x unified", clickable: bool = False) -> Any:
    """Show a plotly figure with the app's common layout (compact margins, legend on top); with
    ``clickable``, a click on a point reruns the page and the points clicked are returned (else None).

    Streamlit's chart theme draws a plotly title over a top legend, so a title is shown as text instead.
    """
    title = figure.layout.title.text
    if title:
        st.markdown(f"**{title}**")
        figure.update_layout(title_text=None)
    figure.update_layout(
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 0, "title_text": ""},
        hovermode=hovermode,
    )
    if not clickable:
        st.plotly_chart(figure, key=key)
        return None
    event = st.plotly_chart(figure, key=key, on_select="rerun", selection_mode="points")
    return event.selection.points if event else None

"""What every page shares: the logged-in user and its session, the language, the client picker and number
formats.

The session's rules are forgeline/auth.py's; here only where the token lives: in the Streamlit session
(this tab) and in an HttpOnly cookie (a reload, a new tab), which ``apps/serve.py`` sets and removes when
the page asks it to (:func:`sync_session_cookie`).

The language: a logged-in login speaks the one it chose (kept in users.yml, so a reload and a new tab keep
it); before login, the one picked in this tab, else the program's ``FORGELINE_LANG``. The entrypoint runs the
whole page inside ``i18n.use_language`` (:func:`language`); Streamlit runs widget callbacks before that, in a
thread of their own where no language is set, so every callback is wrapped with :func:`speaking`."""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import streamlit as st

from apps import data
from forgeline import auth, i18n
from forgeline.auth import User
from forgeline.i18n import LANGUAGES, N_, Language, _
from forgeline.program import benchmarks
from forgeline.reports import words
from forgeline.settings import get_settings

USER_KEY = "user"
SESSION_KEY = "_session_token"  # the signed token of this tab's session
CLIENT_KEY = "client_id"  # the chosen client, kept across pages
_PICKER_KEY = "_client_picker"  # the selectbox's own state (Streamlit drops it on pages without it)
_COOKIE_TODO = "_session_cookie_todo"  # the token to put in the cookie, or "" to remove it
_LOGGED_OUT = "_logged_out"  # this tab logged out: never fall back to the cookie it connected with
LANG_KEY = "_language"  # the language this tab speaks
_LANG_PICKED = "_language_picked"  # picked with the switch before login: the login adopts it
_SWITCH_KEY = "_language_switch"  # the switch's own state
LANGUAGE_NAMES = {"ko": "한국어", "en": "English"}  # each in its own language: found whatever is shown
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
    lang = st.session_state.get(LANG_KEY)
    st.session_state.clear()
    st.session_state[_LOGGED_OUT] = True
    st.session_state[_COOKIE_TODO] = ""
    if lang:  # the login page after a logout speaks what the tab spoke
        st.session_state[LANG_KEY] = lang


# -- language ----------------------------------------------------------------------------------------
def language(user: User | None) -> Language:
    """The language of this run: the login's own choice, else the one this tab speaks (picked on the login
    page), else the program's default (``FORGELINE_LANG``)."""
    chosen = user.language if user is not None and user.language else st.session_state.get(LANG_KEY)
    lang = i18n.check_language(chosen)
    st.session_state[LANG_KEY] = lang
    return lang


def speaking(callback: Callable[..., None]) -> Callable[..., None]:
    """``callback`` run in this tab's language. Streamlit runs a widget's callback in the script's thread
    before the script itself, so outside the entrypoint's ``use_language``: without this it would speak the
    program's default."""

    @functools.wraps(callback)
    def run(*args: object, **kwargs: object) -> None:
        with i18n.use_language(st.session_state.get(LANG_KEY)):
            callback(*args, **kwargs)

    return run


def _switched() -> None:
    lang = i18n.check_language(st.session_state[_SWITCH_KEY])
    st.session_state[LANG_KEY] = lang
    user = current_user()
    if user is None:
        st.session_state[_LANG_PICKED] = True  # adopted by the login made in this tab
    else:
        auth.set_language(get_settings(), user.username, lang)


def language_switch(where: Any = None) -> None:
    """한국어 / English, on every page (the login page's too); the choice is the login's from then on."""
    # Seeded on every run: Streamlit forgets a widget's state on a page without it, and another tab may
    # have changed the login's choice.
    st.session_state[_SWITCH_KEY] = st.session_state.get(LANG_KEY) or i18n.check_language(None)
    (where or st).radio(
        "Language · 언어",
        LANGUAGES,
        key=_SWITCH_KEY,
        format_func=LANGUAGE_NAMES.__getitem__,
        horizontal=True,
        label_visibility="collapsed",
        on_change=_switched,
    )


def adopt_picked_language(user: User) -> None:
    """A login made after picking a language on the login page keeps it (from then on, in every tab)."""
    if st.session_state.pop(_LANG_PICKED, False):
        auth.set_language(get_settings(), user.username, st.session_state[LANG_KEY])


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


_CHARTS_PRELOADED = "_charts_preloaded"  # this tab's browser was asked to load the chart bundle


@functools.cache
def _chart_bundle_url() -> str | None:
    """Where Streamlit serves its Plotly chart bundle (4.7 MB of JavaScript, which the browser loads and
    compiles when a page first draws a chart); None if this Streamlit build names it otherwise."""
    found = sorted((Path(st.__file__).parent / "static" / "static" / "js").glob("PlotlyChart.*.js"))
    if len(found) != 1:
        return None
    base = st.get_option("server.baseUrlPath").strip("/")
    return "/" + "/".join(part for part in (base, "static", "js", found[0].name) if part)


def preload_charts() -> None:
    """Once per tab, after a logged-in page is drawn: load the chart bundle while the browser is idle, so
    that the first page with charts (a client's KPIs after its Home) does not wait for it. The browser
    imports it from this server, as the page itself would (one module: the page's later import reuses it)."""
    url = _chart_bundle_url()
    if url is None or st.session_state.get(_CHARTS_PRELOADED):
        return
    st.session_state[_CHARTS_PRELOADED] = True
    load = f"(window.requestIdleCallback || setTimeout)(() => import({json.dumps(url)}).catch(() => {{}}));"
    with st.sidebar:
        st.html(f"<script>{load} document.currentScript?.remove();</script>", unsafe_allow_javascript=True)


def require_user() -> User:
    """The logged-in user; stops the page if nobody is (the entrypoint only offers pages after login)."""
    user = current_user()
    if user is None:
        st.error(_("Please log in."))
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
        st.info(_("Nothing is published for this login yet: a client appears here after its first run."))
        st.stop()
    by_id = {c.id: c for c in options}
    if not user.sees_every_client:
        return options[0]  # visible_clients gives a client login exactly its own client
    # Seed the picker from the remembered choice on every run: Streamlit forgets a widget's state
    # when the page changes, and the callback keeps the remembered choice up to date.
    remembered = st.session_state.get(CLIENT_KEY)
    st.session_state[_PICKER_KEY] = remembered if remembered in by_id else options[0].id
    picked = st.sidebar.selectbox(
        _("Client"),
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
    finished = when(config.finished_at, config.timezone)
    if plain:
        if config.data_run_id:
            return _(
                "Your newest delivery ({when}) did not pass the quality checks: see Data quality. The "
                "figures below are from your last delivery that passed."
            ).format(when=finished)
        return _(
            "Your newest delivery ({when}) did not pass the quality checks: see Data quality. No delivery "
            "has passed them yet, so there are no figures to show."
        ).format(when=finished)
    failed = _("A newer delivery (run {run}, {when}) failed the quality gate: {reason}.").format(
        run=config.run_id, when=finished, reason=words.stored_part(config, "reason") or _("see Data quality")
    )
    if config.data_run_id:
        shown = _("run {run}").format(run=config.data_run_id)
        if not is_missing(config.data_finished_at):
            shown += f", {when(config.data_finished_at, config.timezone)}"
        return failed + " " + _("The figures below are from {run}.").format(run=shown)
    return failed + " " + _("No delivery has passed the quality gate yet, so there are no figures to show.")


def held_back_banner(user: User, config: data.PublishedClient) -> None:
    """The one banner every page of figures shows when they come from an earlier run than the newest.

    Reads the client's published run through ``data`` (which checks the login first), never from ``config``.
    """
    message = held_back_message(data.client(user, config.id), plain=user.is_client)
    if message:
        st.warning(message, icon=":material/history:")


# -- the pooled benchmarks' words (forgeline/program/benchmarks.py publishes them in English) -------------
BAND_NAMES = {
    1: N_("top 25 %"),
    2: N_("above the median"),
    3: N_("below the median"),
    4: N_("bottom 25 %"),
}
_CELL_WORDS = {
    benchmarks.ALL: N_("all factories"),
    "1–9 machines": N_("1–9 machines"),
    "10–49 machines": N_("10–49 machines"),
    "50+ machines": N_("50+ machines"),
}


def band_name(band: Any) -> str:
    """A quartile band (1 = best) in words."""
    return _(BAND_NAMES[int(band)]) if int(band) in BAND_NAMES else str(band)


def benchmark_figure(metric: str, label: str) -> str:
    """A pooled figure's name: the report's words where it has them, else as published."""
    return words.label(words.KPI_LABELS, metric) if metric in words.KPI_LABELS else label


def benchmark_label(label: str) -> str:
    """A pooled figure named by its published label (the ledger keeps labels, not keys)."""
    keys = {metric.label: key for key, metric in benchmarks.METRICS.items()}
    return benchmark_figure(keys[label], label) if label in keys else label


def benchmark_cell(cell: str) -> str:
    """A benchmark's peer group: 'all factories', 'size: 10–49 machines', 'process: die casting' (the
    process is the client's own word, kept as published)."""
    kind, sep, value = cell.partition(": ")
    if sep and kind == "size":
        return _("size: {band}").format(band=_(_CELL_WORDS[value]) if value in _CELL_WORDS else value)
    if sep and kind == "process":
        return _("process: {process}").format(process=value)
    return _(_CELL_WORDS[cell]) if cell in _CELL_WORDS else cell


# -- formats ---------------------------------------------------------------------------------------
def sentence(text: str) -> str:
    """A stored clause as a sentence: its first letter raised in English (a Korean one may start with a
    parameter's name, which is data), a full stop at the end."""
    if i18n.current_language() == "en":
        text = text[:1].upper() + text[1:]
    return text if text.endswith(".") else text + "."


def is_missing(value: Any) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


def pct(value: Any, digits: int = 1) -> str:
    """A share in the language's way: '25.0%'."""
    return "–" if is_missing(value) else i18n.percent(float(value), digits)


def number(value: Any, digits: int = 0) -> str:
    """Thousands separators in the language's way, e.g. 12,345 or 1,234.5."""
    return "–" if is_missing(value) else i18n.number(float(value), digits)


def day(value: Any) -> str:
    """A date as people write it in the language: '2026년 10월 1일', '1 October 2026'."""
    return "–" if is_missing(value) else i18n.day(pd.Timestamp(value).date())


def date_input_format() -> str:
    """A date input's format: Korea writes 2026.10.01; English keeps Streamlit's 2026/10/01."""
    return "YYYY.MM.DD" if i18n.current_language() == "ko" else "YYYY/MM/DD"


def when(value: Any, timezone: str = "Asia/Seoul") -> str:
    """A run time in the client's local time, e.g. '2026-03-01 14:05 KST'."""
    if is_missing(value):
        return _("never")
    stamp = pd.Timestamp(value)
    if stamp.tzinfo is None:
        stamp = stamp.tz_localize("UTC")
    local: datetime = stamp.tz_convert(ZoneInfo(timezone)).to_pydatetime()
    return local.strftime("%Y-%m-%d %H:%M %Z")


def gate_label(passed: Any) -> str:
    if is_missing(passed):
        return "–"
    return _("passed") if bool(passed) else _("FAILED")


# Plotly writes dates in English ("Oct 1"); Korean reads "10월 1일" (d3's time format, literal text kept).
_KOREAN_DATES = {"tickformat": "%-m월 %-d일", "hoverformat": "%Y년 %-m월 %-d일"}


def _is_dates(values: Any) -> bool:
    if values is None or len(values) == 0:
        return False
    first = values[0]
    return isinstance(first, datetime | pd.Timestamp | date | np.datetime64)


def _local_dates(figure: Any) -> None:
    """Date axes in the language's way (English: Plotly's own)."""
    if i18n.current_language() != "ko":
        return
    for trace in figure.data:
        if _is_dates(getattr(trace, "x", None)):
            axis = getattr(trace, "xaxis", None) or "x"
            figure.update_layout({f"xaxis{axis[1:]}": _KOREAN_DATES})


def chart(figure: Any, key: str | None = None, hovermode: str = "x unified", clickable: bool = False) -> Any:
    """Show a plotly figure with the app's common layout (compact margins, legend on top); with
    ``clickable``, a click on a point reruns the page and the points clicked are returned (else None).

    Streamlit's chart theme draws a plotly title over a top legend, so a title is shown as text instead.
    """
    title = figure.layout.title.text
    _local_dates(figure)
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

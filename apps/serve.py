"""How the app is served: Streamlit's ``st.App`` (its ASGI launcher) around ``forgeline_app.py``, with
the two things plain ``streamlit run`` cannot do. ``forgeline app`` and the tests run this file.

1. **The session cookie is HttpOnly.** JavaScript cannot set an HttpOnly cookie, so after a login the
   page posts its signed token to :data:`SESSION_ROUTE` and this server answers with the cookie
   (HttpOnly, SameSite=Strict, Secure over https, expiring with the session). Streamlit reads it on the
   next websocket connection (a reload, a new tab) through ``st.context.cookies``.
2. **What Streamlit leaves open is closed to all but consultants.** Streamlit 1.67 has no setting that
   closes ``/_stcore/metrics`` (it lists sessions and cache memory to anyone) nor the websocket's
   ``clear_cache`` message (any connection, logged in or not, empties ``st.cache_data`` and
   ``st.cache_resource`` for every user). :class:`ConsultantOnly`, a plain ASGI middleware given to
   ``st.App`` (its supported hook: it runs before Streamlit's own), answers 403 to the first and drops
   the second unless the request carries a live consultant session cookie. A consultant who logged in
   in this tab has the cookie from the next reload on.
3. **Files are for logged-in users only.** Streamlit serves what a page hands out (a report's PDF, a
   chart's image) at ``/media/<id>`` to anyone who has the URL, and such URLs end up in proxy logs and
   browser histories. :class:`ConsultantOnly` answers 403 to a media request without a live session
   cookie: a login's own page always carries it (the cookie is set the moment the login succeeds).
"""

from __future__ import annotations

import logging
from typing import Any

import streamlit as st
from starlette.middleware import Middleware
from starlette.requests import Request, cookie_parser
from starlette.responses import Response
from starlette.routing import Route
from streamlit.proto.BackMsg_pb2 import BackMsg

from apps.ui import SESSION_HEADER, SESSION_ROUTE
from forgeline import auth
from forgeline.settings import get_settings

_CLOSED_PATHS = ("/_stcore/metrics",)
_STREAM_PATH = "/_stcore/stream"

log = logging.getLogger("forgeline.app")


def _cookie_session(headers: list[tuple[bytes, bytes]]) -> auth.Session | None:
    """The live session the request's cookie carries, if any."""
    cookies: dict[str, str] = {}
    for name, value in headers:
        if name == b"cookie":
            cookies.update(cookie_parser(value.decode("latin-1")))
    return auth.session_user(get_settings(), cookies.get(auth.SESSION_COOKIE))


def _is_consultant(headers: list[tuple[bytes, bytes]]) -> bool:
    session = _cookie_session(headers)
    return session is not None and session.user.is_consultant


class ConsultantOnly:
    """ASGI middleware: Streamlit's metrics and its cache clearing for live consultant sessions only, and
    its media files for live sessions only."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        path = scope.get("path", "")
        if scope["type"] == "http" and path.endswith(_CLOSED_PATHS) and not _is_consultant(scope["headers"]):
            await Response("Forbidden", status_code=403)(scope, receive, send)
            return
        if scope["type"] == "http" and _is_media(path) and _cookie_session(scope["headers"]) is None:
            await Response("Log in to download this file.", status_code=403)(scope, receive, send)
            return
        if scope["type"] == "websocket" and path.endswith(_STREAM_PATH):
            receive = self._without_clear_cache(scope, receive)
        await self.app(scope, receive, send)

    @staticmethod
    def _without_clear_cache(scope: dict, receive: Any) -> Any:
        """``receive`` that drops every ``clear_cache`` BackMsg unless the connection's cookie is a live
        consultant's (checked at each message: a consultant who logged out since is refused)."""

        async def filtered() -> dict:
            while True:
                message = await receive()
                data = message.get("bytes") if message["type"] == "websocket.receive" else None
                if data and _is_clear_cache(data):
                    if not _is_consultant(scope["headers"]):
                        log.warning("Refused clear_cache from a connection without a consultant's session.")
                        continue
                    log.info("clear_cache from a consultant's session passed on.")
                return message

        return filtered


def _is_media(path: str) -> bool:
    """Whether ``path`` is Streamlit's media route (``/media/<id>``, after the app's base URL if it has one),
    never its own static files (``/static/media/…``: the fonts every page, the login's too, needs)."""
    base = str(st.get_option("server.baseUrlPath") or "").strip("/")
    return path.startswith(f"/{base}/media/" if base else "/media/")


def _is_clear_cache(data: bytes) -> bool:
    msg = BackMsg()
    try:
        msg.ParseFromString(data)
    except Exception:  # noqa: BLE001 - not a BackMsg: Streamlit itself closes the connection for it
        return False
    return msg.WhichOneof("type") == "clear_cache"


async def session_cookie(request: Request) -> Response:
    """POST: turn the signed token in :data:`SESSION_HEADER` into the HttpOnly cookie (only a live
    token: a forged or revoked one gets 403). DELETE: remove the cookie (logout; the session itself is
    revoked on the server by the app). A custom header and SameSite=Strict keep other sites out: a
    cross-site page can send neither without a CORS grant, which this route never gives."""
    if request.headers.get(SESSION_HEADER) is None:
        return Response(status_code=400)
    response = Response(status_code=204)
    secure = request.url.scheme == "https"  # behind a TLS proxy: uvicorn reads X-Forwarded-Proto
    if request.method == "DELETE":
        response.delete_cookie(auth.SESSION_COOKIE, path="/", secure=secure, httponly=True, samesite="strict")
        return response
    token = request.headers[SESSION_HEADER]
    if auth.session_user(get_settings(), token) is None:
        return Response(status_code=403)
    response.set_cookie(
        auth.SESSION_COOKIE,
        token,
        max_age=auth.SESSION_IDLE_S,
        path="/",
        secure=secure,
        httponly=True,
        samesite="strict",
    )
    return response


app = st.App(
    "forgeline_app.py",
    routes=[Route(SESSION_ROUTE, session_cookie, methods=["POST", "DELETE"])],
    middleware=[Middleware(ConsultantOnly)],
)

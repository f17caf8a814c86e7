"""Fast tier: the served app's middleware (apps/serve.py) closes what Streamlit leaves open: its media
files (a report's PDF handed out by a download button) answer only a request with a live session cookie,
and its metrics only a consultant's. The real server and browser are walked in tests/test_browser.py;
here the middleware runs in front of a stand-in for Streamlit, so every refusal is checked directly."""

from __future__ import annotations

import pytest
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from apps.serve import ConsultantOnly
from forgeline.auth import SESSION_COOKIE, authenticate, end_sessions, issue_session, set_login
from forgeline.settings import Settings


def _streamlit_stand_in() -> Starlette:
    async def served(request: object) -> PlainTextResponse:
        return PlainTextResponse("the file")

    return Starlette(
        routes=[
            Route("/media/{file_id:path}", served),
            Route("/static/{file:path}", served),
            Route("/_stcore/metrics", served),
        ]
    )


@pytest.fixture
def client(workspace: Settings) -> TestClient:
    set_login(workspace, "consultant", "forgeline-demo", "consultant", "Consultant")
    set_login(workspace, "hanbit-press", "hanbit-press-demo", "client", "Hanbit", client_id="hanbit-press")
    return TestClient(ConsultantOnly(_streamlit_stand_in()))


def _cookie(token: str) -> dict[str, str]:
    return {"cookie": f"{SESSION_COOKIE}={token}"}


def _token(workspace: Settings, username: str, password: str) -> str:
    user = authenticate(workspace, username, password)
    assert user is not None
    return issue_session(workspace, user)


def test_media_files_are_served_to_live_sessions_only(workspace: Settings, client: TestClient) -> None:
    pdf = "/media/5f1c0d.pdf"
    assert client.get(pdf).status_code == 403  # a URL taken from a proxy log or a browser's history
    assert client.get(pdf, headers=_cookie("forged.token")).status_code == 403
    token = _token(workspace, "hanbit-press", "hanbit-press-demo")
    answer = client.get(pdf, headers=_cookie(token))
    assert answer.status_code == 200 and answer.text == "the file"
    end_sessions(workspace, "hanbit-press")  # logged out everywhere: the URL stops working
    assert client.get(pdf, headers=_cookie(token)).status_code == 403
    # Streamlit's own files stay open: the login page needs its fonts and scripts before anyone logs in.
    assert client.get("/static/media/SourceSansVF-Upright.ttf.woff2").status_code == 200
    assert client.get("/static/js/index.js").status_code == 200


def test_metrics_are_for_consultants_only(workspace: Settings, client: TestClient) -> None:
    as_client = _token(workspace, "hanbit-press", "hanbit-press-demo")
    as_consultant = _token(workspace, "consultant", "forgeline-demo")
    assert client.get("/_stcore/metrics").status_code == 403
    assert client.get("/_stcore/metrics", headers=_cookie(as_client)).status_code == 403
    assert client.get("/_stcore/metrics", headers=_cookie(as_consultant)).status_code == 200

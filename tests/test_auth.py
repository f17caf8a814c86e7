"""Fast tier: logins are bcrypt-hashed, idempotent, and a client login is scoped to its own client."""

from __future__ import annotations

import pytest

from forgeline.auth import (
    AccessDenied,
    authenticate,
    demo_password,
    ensure_demo_logins,
    require_client,
    set_login,
    visible_clients,
)
from forgeline.demo import demo_clients
from forgeline.settings import Settings


def test_demo_logins_are_hashed_and_stable(workspace: Settings) -> None:
    clients = demo_clients()
    logins = ensure_demo_logins(workspace, clients)
    assert logins["consultant"] == "forgeline-demo"
    assert logins["daehan-molding"] == "daehan-molding-demo"
    text = workspace.users_path.read_text(encoding="utf-8")
    assert "forgeline-demo" not in text and "daehan-molding-demo" not in text  # hashes only
    assert "대한정밀" in text  # Korean display names kept readable

    before = workspace.users_path.stat().st_mtime_ns
    assert ensure_demo_logins(workspace, clients) == logins
    assert workspace.users_path.stat().st_mtime_ns == before  # nothing rewritten on a re-run


def test_authenticate_accepts_only_the_right_password(workspace: Settings) -> None:
    ensure_demo_logins(workspace, demo_clients())
    consultant = authenticate(workspace, "consultant", demo_password("consultant"))
    assert consultant is not None and consultant.is_consultant and consultant.client_id is None
    client = authenticate(workspace, "sejin-diecast", "sejin-diecast-demo")
    assert client is not None and client.role == "client" and client.client_id == "sejin-diecast"
    assert authenticate(workspace, "sejin-diecast", "wrong-password") is None
    assert authenticate(workspace, "nobody", "sejin-diecast-demo") is None
    assert authenticate(workspace, "sejin-diecast", "") is None


def test_a_client_sees_only_itself_and_a_consultant_sees_all(workspace: Settings) -> None:
    ensure_demo_logins(workspace, demo_clients())
    ids = [c.id for c in demo_clients()]
    client = authenticate(workspace, "hanbit-press", "hanbit-press-demo")
    consultant = authenticate(workspace, "consultant", "forgeline-demo")
    assert client is not None and consultant is not None
    assert visible_clients(client, ids) == ["hanbit-press"]
    assert visible_clients(consultant, ids) == sorted(ids)
    assert require_client(client, "hanbit-press") == "hanbit-press"
    with pytest.raises(AccessDenied):
        require_client(client, "daehan-molding")
    with pytest.raises(ValueError):
        require_client(consultant, "../hanbit-press")  # ids never become paths unchecked


def test_set_login_validates_role_and_password(workspace: Settings) -> None:
    with pytest.raises(ValueError, match="client id"):
        set_login(workspace, "acme", "long-enough-pw", "client", "Acme")
    with pytest.raises(ValueError, match="8 characters"):
        set_login(workspace, "acme", "short", "client", "Acme", client_id="acme-press")
    set_login(workspace, "acme", "long-enough-pw", "client", "에이스", client_id="acme-press")
    user = authenticate(workspace, "acme", "long-enough-pw")
    assert user is not None and user.client_id == "acme-press" and user.display_name == "에이스"


def test_a_program_manager_sees_every_client_but_is_no_consultant(workspace: Settings) -> None:
    logins = ensure_demo_logins(workspace, demo_clients())
    assert logins["manager"] == "manager-demo"
    ids = [c.id for c in demo_clients()]
    manager = authenticate(workspace, "manager", "manager-demo")
    assert manager is not None and manager.role == "program_manager" and manager.client_id is None
    assert manager.sees_every_client and not manager.is_consultant  # onboarding stays the consultants'
    assert visible_clients(manager, ids) == sorted(ids)
    assert require_client(manager, "hanbit-press") == "hanbit-press"
    with pytest.raises(ValueError, match="sees every client"):
        set_login(workspace, "pm", "long-enough-pw", "program_manager", "PM", client_id="acme-press")
    with pytest.raises(ValueError, match="unknown role"):
        set_login(workspace, "pm", "long-enough-pw", "auditor", "PM")  # type: ignore[arg-type]

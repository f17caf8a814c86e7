"""Fast tier: logins are bcrypt-hashed, idempotent, and a client login is scoped to its own client;
sessions are signed, expire and are revoked on the server; failed logins are throttled and cost the same
work for an unknown login; passwords are changed and reset."""

from __future__ import annotations

import pytest

from forgeline.auth import (
    SESSION_IDLE_S,
    SESSION_MAX_S,
    SESSION_RENEW_S,
    AccessDenied,
    LoginThrottled,
    authenticate,
    change_password,
    demo_password,
    end_sessions,
    ensure_demo_logins,
    issue_session,
    log_in,
    renew_session,
    require_client,
    reset_password,
    session_user,
    set_language,
    set_login,
    visible_clients,
)
from forgeline.demo import demo_clients
from forgeline.settings import Settings, get_settings


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


# -- sessions, throttling, passwords ----------------------------------------------------------------
@pytest.fixture
def logins(workspace: Settings) -> None:
    """Four demo logins (fewer bcrypt hashes than the whole demo program's)."""
    set_login(workspace, "consultant", "forgeline-demo", "consultant", "Consultant")
    set_login(workspace, "manager", "manager-demo", "program_manager", "Program manager")
    for client_id in ("sejin-diecast", "hanbit-press"):
        set_login(workspace, client_id, f"{client_id}-demo", "client", client_id, client_id=client_id)


def test_a_session_token_is_signed_expires_and_renews_within_a_day(workspace: Settings, logins: None) -> None:
    user = authenticate(workspace, "hanbit-press", "hanbit-press-demo")
    assert user is not None
    t0 = 1_900_000_000.0
    token = issue_session(workspace, user, now=t0)
    session = session_user(workspace, token, now=t0 + 60)
    assert session is not None and session.user == user and not session.due_for_renewal(t0 + 60)
    assert session_user(workspace, token, now=t0 + SESSION_IDLE_S + 1) is None  # unused too long
    assert session_user(workspace, token[:-2] + ("AA" if token[-2:] != "AA" else "BB"), now=t0) is None
    assert session_user(workspace, "forged.token.value", now=t0) is None
    # Used, it is renewed with the same login time; past a working day even a renewed one ends.
    assert session.due_for_renewal(t0 + SESSION_RENEW_S)
    later = t0 + SESSION_MAX_S - 10
    renewed = renew_session(workspace, session, now=later - 60)
    assert session_user(workspace, renewed, now=later) is not None
    assert session_user(workspace, renewed, now=t0 + SESSION_MAX_S + 1) is None
    # Another workspace's key does not open it.
    other = get_settings(workspace.home.parent / "other")
    set_login(other, "hanbit-press", "hanbit-press-demo", "client", "Hanbit", client_id="hanbit-press")
    assert session_user(other, token, now=t0 + 60) is None


def test_logging_out_ends_every_session_of_the_login(workspace: Settings, logins: None) -> None:
    user = authenticate(workspace, "consultant", "forgeline-demo")
    assert user is not None
    tab_a, tab_b = issue_session(workspace, user), issue_session(workspace, user)
    other = authenticate(workspace, "sejin-diecast", "sejin-diecast-demo")
    assert other is not None
    theirs = issue_session(workspace, other)
    end_sessions(workspace, "consultant")
    assert session_user(workspace, tab_a) is None and session_user(workspace, tab_b) is None
    assert session_user(workspace, theirs) is not None  # another login's session is untouched
    assert session_user(workspace, issue_session(workspace, user)) is None  # verified before the logout
    again = authenticate(workspace, "consultant", "forgeline-demo")
    assert again is not None
    fresh = issue_session(workspace, again)
    assert session_user(workspace, fresh) is not None  # logging in again works
    # A login replaced by `forgeline add-login` (or removed) loses its sessions too.
    set_login(workspace, "consultant", "a-new-password", "consultant", "Consultant")
    assert session_user(workspace, fresh) is None


def test_an_unknown_login_costs_one_bcrypt_check_like_a_known_one(
    workspace: Settings, logins: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    import bcrypt

    from forgeline import auth

    checked: list[bytes] = []
    real = bcrypt.checkpw

    def spy(password: bytes, hashed: bytes) -> bool:
        checked.append(hashed)
        return real(password, hashed)

    monkeypatch.setattr(auth.bcrypt, "checkpw", spy)
    stored = auth._load(workspace)["consultant"]["password_hash"].encode()
    for username, password, against in [
        ("consultant", "wrong-password", stored),
        ("nobody", "wrong-password", auth._dummy_hash()),
        ("nobody", "", auth._dummy_hash()),
        ("consultant", "", stored),
    ]:
        checked.clear()
        assert authenticate(workspace, username, password) is None
        assert checked == [against], (username, password)
    # The dummy hash costs what a real one does: the same bcrypt cost factor.
    assert auth._dummy_hash()[:7] == stored[:7] == b"$2b$10$"


def test_failed_logins_are_throttled_per_login_and_per_address(workspace: Settings, logins: None) -> None:
    from forgeline.auth import MAX_FAILURES_PER_ADDRESS, MAX_FAILURES_PER_LOGIN, THROTTLE_WINDOW_S

    t0 = 1_900_000_000.0
    for i in range(MAX_FAILURES_PER_LOGIN):
        assert log_in(workspace, "consultant", "wrong", "10.0.0.1", now=t0 + i) is None
    # The right password is refused now, without being checked, from any address.
    with pytest.raises(LoginThrottled, match="Too many failed logins"):
        log_in(workspace, "consultant", "forgeline-demo", "10.0.0.2", now=t0 + 10)
    # An unknown name is throttled the same way (the answer does not tell names apart).
    for i in range(MAX_FAILURES_PER_LOGIN):
        assert log_in(workspace, "nobody", "wrong", "10.0.0.3", now=t0 + i) is None
    with pytest.raises(LoginThrottled):
        log_in(workspace, "nobody", "wrong", "10.0.0.3", now=t0 + 10)
    # Other logins still get in; after the window the throttled one does too.
    assert log_in(workspace, "manager", "manager-demo", "10.0.0.1", now=t0 + 10) is not None
    assert log_in(workspace, "consultant", "forgeline-demo", "10.0.0.2", now=t0 + THROTTLE_WINDOW_S + 5)

    # Per address: many names from one address.
    start = t0 + 10 * THROTTLE_WINDOW_S
    for i in range(MAX_FAILURES_PER_ADDRESS):
        assert log_in(workspace, f"guess-{i}", "wrong", "10.9.9.9", now=start + i) is None
    with pytest.raises(LoginThrottled):
        log_in(workspace, "consultant", "forgeline-demo", "10.9.9.9", now=start + 30)
    assert log_in(workspace, "consultant", "forgeline-demo", "10.0.0.1", now=start + 30) is not None
    # The file keeps no name or address as typed.
    text = workspace.login_failures_path.read_text(encoding="utf-8")
    assert "guess-" not in text and "10.9.9.9" not in text and "consultant" not in text


def test_a_password_is_changed_by_its_owner_and_reset_by_a_consultant(
    workspace: Settings, logins: None
) -> None:
    client = authenticate(workspace, "sejin-diecast", "sejin-diecast-demo")
    consultant = authenticate(workspace, "consultant", "forgeline-demo")
    manager = authenticate(workspace, "manager", "manager-demo")
    assert client and consultant and manager
    old_session = issue_session(workspace, client)
    with pytest.raises(ValueError, match="current password"):
        change_password(workspace, "sejin-diecast", "wrong-password", "a-new-password")
    with pytest.raises(ValueError, match="8 characters"):
        change_password(workspace, "sejin-diecast", "sejin-diecast-demo", "short")
    change_password(workspace, "sejin-diecast", "sejin-diecast-demo", "a-new-password")
    assert authenticate(workspace, "sejin-diecast", "sejin-diecast-demo") is None
    assert authenticate(workspace, "sejin-diecast", "a-new-password") == client
    assert session_user(workspace, old_session) is None  # other sessions end with the old password

    session = issue_session(workspace, client)
    reset_password(workspace, "sejin-diecast", "reset-by-consultant", by=consultant)
    assert authenticate(workspace, "sejin-diecast", "reset-by-consultant") == client
    assert session_user(workspace, session) is None
    for by, target in [(client, "hanbit-press"), (manager, "sejin-diecast"), (consultant, "manager")]:
        if by is consultant:
            reset_password(workspace, target, "reset-by-consultant", by=by)  # a program manager: allowed
            continue
        with pytest.raises(AccessDenied):
            reset_password(workspace, target, "sneaky-password", by=by)
    with pytest.raises(AccessDenied):
        reset_password(workspace, "consultant", "sneaky-password", by=consultant)  # consultants: the CLI
    with pytest.raises(ValueError, match="no login"):
        reset_password(workspace, "nobody", "long-enough-pw")


def test_a_login_removed_and_created_again_gets_none_of_its_earlier_sessions(
    workspace: Settings, logins: None
) -> None:
    from forgeline.auth import remove_logins_for

    user = authenticate(workspace, "sejin-diecast", "sejin-diecast-demo")
    assert user is not None
    token = issue_session(workspace, user)
    assert remove_logins_for(workspace, "sejin-diecast") == ["sejin-diecast"]
    set_login(workspace, "sejin-diecast", "sejin-diecast-demo", "client", "Sejin", client_id="sejin-diecast")
    assert session_user(workspace, token) is None  # the same name again: not the same login
    # Moved with its name to another client, it takes no session along either.
    again = issue_session(workspace, authenticate(workspace, "sejin-diecast", "sejin-diecast-demo"))  # type: ignore[arg-type]
    set_login(workspace, "sejin-diecast", "sejin-diecast-demo", "client", "Sejin", client_id="hanbit-press")
    assert session_user(workspace, again) is None
    epochs = {str(e["session_epoch"]) for e in _entries(workspace).values()}
    assert len(epochs) == len(_entries(workspace)) and all(len(e) == 32 for e in epochs)  # random nonces


def _entries(workspace: Settings) -> dict[str, dict]:
    from forgeline import auth

    return auth._load(workspace)


def test_a_session_carries_the_epoch_its_password_was_checked_under(
    workspace: Settings, logins: None
) -> None:
    """A password verified just before a reset (or a logout elsewhere) gets a session that is already over,
    not one under the new epoch."""
    user = authenticate(workspace, "sejin-diecast", "sejin-diecast-demo")
    assert user is not None
    reset_password(workspace, "sejin-diecast", "reset-meanwhile")  # between the check and the token
    assert session_user(workspace, issue_session(workspace, user)) is None
    # Renewal keeps the epoch the token was checked under too.
    fresh = authenticate(workspace, "sejin-diecast", "reset-meanwhile")
    assert fresh is not None
    session = session_user(workspace, issue_session(workspace, fresh))
    assert session is not None
    end_sessions(workspace, "sejin-diecast")
    assert session_user(workspace, renew_session(workspace, session)) is None
    entry = _entries(workspace)["sejin-diecast"]
    assert entry["reset_by"] == "command line" and entry["reset_at"].endswith("Z")  # the reset is recorded


def test_the_current_password_check_of_a_change_is_throttled_like_a_login(
    workspace: Settings, logins: None
) -> None:
    from forgeline.auth import MAX_FAILURES_PER_LOGIN

    t0 = 1_900_000_000.0
    for i in range(MAX_FAILURES_PER_LOGIN):
        with pytest.raises(ValueError, match="current password"):
            change_password(
                workspace, "sejin-diecast", f"guess-{i}", "a-new-password", "10.0.0.7", now=t0 + i
            )
    with pytest.raises(LoginThrottled):  # even the right one, unchecked
        change_password(
            workspace, "sejin-diecast", "sejin-diecast-demo", "a-new-password", "10.0.0.7", now=t0 + 9
        )
    with pytest.raises(LoginThrottled):  # and the login form shares the count
        log_in(workspace, "sejin-diecast", "sejin-diecast-demo", "10.0.0.8", now=t0 + 9)
    assert authenticate(workspace, "sejin-diecast", "sejin-diecast-demo") is not None  # unchanged


def test_a_password_over_72_bytes_is_refused_when_set_and_fails_at_login_after_one_check(
    workspace: Settings, logins: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    import bcrypt

    from forgeline import auth

    korean = "우리공장의스마트팩토리비밀번호는아주길고안전합니다하하"  # 27 characters, 81 bytes
    assert len(korean.encode()) > 72
    with pytest.raises(ValueError, match="at most 72 bytes"):
        set_login(workspace, "kim", korean, "client", "Kim", client_id="sejin-diecast")
    with pytest.raises(ValueError, match="at most 72 bytes"):
        reset_password(workspace, "sejin-diecast", korean)
    checked: list[bytes] = []
    real = bcrypt.checkpw
    monkeypatch.setattr(auth.bcrypt, "checkpw", lambda p, h: checked.append(h) or real(p, h))
    stored = auth._load(workspace)["consultant"]["password_hash"].encode()
    for password in (korean, "forgeline-demo" + "x" * 80, "x" * 10_000):
        checked.clear()
        assert authenticate(workspace, "consultant", password) is None  # no crash, no success
        assert checked == [stored]
        checked.clear()
        assert log_in(workspace, "nobody", password, "10.0.0.9") is None
        assert checked == [auth._dummy_hash()]


def test_demo_logins_never_revert_a_change_made_while_they_hash(
    workspace: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from forgeline import auth

    ensure_demo_logins(workspace, [])
    consultant = authenticate(workspace, "consultant", "forgeline-demo")
    assert consultant is not None
    token = issue_session(workspace, consultant)
    real_hash = auth._hash

    def slow_hash(password: str) -> str:  # the consultant logs out while the new logins are hashed
        end_sessions(workspace, "consultant")
        return real_hash(password)

    monkeypatch.setattr(auth, "_hash", slow_hash)
    ensure_demo_logins(workspace, demo_clients()[:1])
    assert session_user(workspace, token) is None  # the logout stands
    assert authenticate(
        workspace, demo_clients()[0].logins[0].username, demo_clients()[0].logins[0].username + "-demo"
    )


def test_users_and_failures_files_are_owner_only_from_their_creation(
    workspace: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os
    import stat

    from forgeline import auth

    monkeypatch.setattr(auth.os, "chmod", lambda *a, **k: None)  # no repair after the fact
    old = os.umask(0)
    try:
        set_login(workspace, "kim", "long-enough-pw", "client", "Kim", client_id="sejin-diecast")
        log_in(workspace, "kim", "wrong-password", "10.0.0.1")
    finally:
        os.umask(old)
    for path in (workspace.users_path, workspace.login_failures_path):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


def test_addresses_are_counted_by_ipv4_or_ipv6_64_and_an_operator_unlocks_a_name(
    workspace: Settings, logins: None
) -> None:
    from forgeline.auth import MAX_FAILURES_PER_ADDRESS, MAX_FAILURES_PER_LOGIN, normalise_address, unlock

    assert normalise_address("::ffff:10.1.2.3") == normalise_address("10.1.2.3") == "10.1.2.3"
    assert normalise_address("2001:db8:1:2::1") == normalise_address("2001:db8:1:2:ffff::9")
    assert normalise_address("2001:db8:1:2::1") != normalise_address("2001:db8:1:3::1")
    t0 = 1_900_000_000.0
    for i in range(MAX_FAILURES_PER_ADDRESS):  # one host walking its /64
        assert log_in(workspace, f"guess-{i}", "wrong", f"2001:db8:1:2::{i + 1:x}", now=t0 + i) is None
    with pytest.raises(LoginThrottled):
        log_in(workspace, "manager", "manager-demo", "2001:db8:1:2::abcd", now=t0 + 30)

    for i in range(MAX_FAILURES_PER_LOGIN):
        log_in(workspace, "consultant", "wrong", None, now=t0 + i)
    with pytest.raises(LoginThrottled):
        log_in(workspace, "consultant", "forgeline-demo", None, now=t0 + 10)
    assert unlock(workspace, "consultant") and not unlock(workspace, "consultant")
    assert log_in(workspace, "consultant", "forgeline-demo", None, now=t0 + 11) is not None


def test_failing_a_known_name_from_elsewhere_does_not_lock_out_its_owner(
    workspace: Settings, logins: None
) -> None:
    from forgeline.auth import MAX_FAILURES_PER_ADDRESS, MAX_FAILURES_PER_LOGIN, THROTTLE_WINDOW_S

    t0 = 1_900_000_000.0
    assert log_in(workspace, "consultant", "forgeline-demo", "10.0.0.1", now=t0) is not None  # its office
    for i in range(MAX_FAILURES_PER_LOGIN):  # someone else, once every few minutes, for ever
        assert log_in(workspace, "consultant", "wrong", "10.6.6.6", now=t0 + 60 + i) is None
    with pytest.raises(LoginThrottled):  # from any address it never succeeded from: locked
        log_in(workspace, "consultant", "forgeline-demo", "10.0.0.2", now=t0 + 120)
    assert log_in(workspace, "consultant", "forgeline-demo", "10.0.0.1", now=t0 + 120) is not None
    # Its own address still has the address's limit: guessing from there is no faster.
    start = t0 + 2 * THROTTLE_WINDOW_S
    for i in range(MAX_FAILURES_PER_ADDRESS):
        log_in(workspace, "consultant", "wrong", "10.0.0.1", now=start + i)
    with pytest.raises(LoginThrottled):
        log_in(workspace, "consultant", "forgeline-demo", "10.0.0.1", now=start + 30)


def test_a_rewritten_login_keeps_the_language_its_owner_chose(workspace: Settings) -> None:
    ensure_demo_logins(workspace, demo_clients()[:1])
    client = demo_clients()[0].logins[0].username
    set_language(workspace, "consultant", "ko")
    set_language(workspace, client, "ko")

    # A consultant re-adds a login (new password, new rights): the owner's language stays.
    set_login(workspace, "consultant", "a-new-password", "consultant", "Forgeline consultant")
    user = authenticate(workspace, "consultant", "a-new-password")
    assert user is not None and user.language == "ko"

    # The demo set-up rewrites a login whose password no longer matches: the language stays too.
    set_login(workspace, client, "changed-password", "client", "someone", demo_clients()[0].id)
    ensure_demo_logins(workspace, demo_clients()[:1])
    user = authenticate(workspace, client, demo_password(client))
    assert user is not None and user.language == "ko"
    consultant = authenticate(workspace, "consultant", "forgeline-demo")
    assert consultant is not None and consultant.language == "ko"

    # A login created anew under a name that had no preference gets none.
    set_login(workspace, "another", "another-password", "consultant", "Another consultant")
    user = authenticate(workspace, "another", "another-password")
    assert user is not None and user.language is None

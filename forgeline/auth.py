"""Who may log in, and which clients each login may see.

Logins live in ``<home>/auth/users.yml`` with bcrypt hashes only (never a password). A consultant sees
every client of the program and onboards them; a program manager sees every client's published results
and the cohort, and changes nothing; a client login sees exactly one client. Every read the apps make goes
through :func:`visible_clients` / :func:`require_client`, so a client can reach no other client's
snapshot by any page, parameter or URL.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

import bcrypt
import yaml

from forgeline.clients import ClientConfig
from forgeline.settings import Settings, check_client_id

Role = Literal["consultant", "program_manager", "client"]
ROLES: tuple[Role, ...] = ("consultant", "program_manager", "client")

DEMO_CONSULTANT = "consultant"
DEMO_CONSULTANT_PASSWORD = "forgeline-demo"
DEMO_PROGRAM_MANAGER = "manager"


class AccessDenied(PermissionError):
    """A login asked for a client it may not see."""


@dataclass(frozen=True)
class User:
    username: str
    display_name: str
    role: Role
    client_id: str | None = None  # set for client logins only

    @property
    def is_consultant(self) -> bool:
        return self.role == "consultant"

    @property
    def is_client(self) -> bool:
        """A client's own login: it alone decides its consent to pooling (forgeline/program/consent.py)."""
        return self.role == "client"

    @property
    def sees_every_client(self) -> bool:
        """Consultants and program managers see the whole cohort; a client login sees only its own."""
        return self.role in ("consultant", "program_manager")


def demo_password(username: str) -> str:
    """The demo program's published passwords (printed by `make demo`; never for a real program)."""
    return DEMO_CONSULTANT_PASSWORD if username == DEMO_CONSULTANT else f"{username}-demo"


def _hash(password: str) -> str:
    return bcrypt.hashpw(password.encode("utf-8"), bcrypt.gensalt(rounds=10)).decode("ascii")


def _load(settings: Settings) -> dict[str, dict]:
    if not settings.users_path.exists():
        return {}
    data = yaml.safe_load(settings.users_path.read_text(encoding="utf-8")) or {}
    return dict(data.get("users") or {})


def _save(settings: Settings, users: dict[str, dict]) -> None:
    settings.users_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = settings.users_path.with_suffix(".yml.tmp")
    tmp.write_text(yaml.safe_dump({"users": users}, allow_unicode=True, sort_keys=True), encoding="utf-8")
    os.chmod(tmp, 0o600)
    tmp.replace(settings.users_path)


def set_login(
    settings: Settings,
    username: str,
    password: str,
    role: Role,
    display_name: str,
    client_id: str | None = None,
) -> None:
    """Add or replace one login (the password is stored as a bcrypt hash)."""
    if role == "client":
        if not client_id:
            raise ValueError(f"Login {username!r}: a client login needs the client id it may see.")
        check_client_id(client_id)
    elif role not in ROLES:
        raise ValueError(f"Login {username!r}: unknown role {role!r}; use one of {', '.join(ROLES)}.")
    elif client_id:
        raise ValueError(f"Login {username!r}: a {role} sees every client; leave client_id empty.")
    if len(password) < 8:
        raise ValueError(f"Login {username!r}: use a password of at least 8 characters.")
    users = _load(settings)
    users[username] = {
        "display_name": display_name,
        "role": role,
        "client_id": client_id,
        "password_hash": _hash(password),
    }
    _save(settings, users)


def ensure_demo_logins(settings: Settings, clients: Iterable[ClientConfig]) -> dict[str, str]:
    """Create the demo consultant, the demo program manager and one login per client; return
    ``{username: password}``.

    Re-running keeps hashes that still match, so the file only changes when a login is new.
    """
    users = _load(settings)
    wanted: list[tuple[str, str, Role, str | None]] = [
        (DEMO_CONSULTANT, "Forgeline consultant", "consultant", None),
        (DEMO_PROGRAM_MANAGER, "Program manager", "program_manager", None),
    ]
    for config in clients:
        for login in config.logins:
            wanted.append((login.username, login.display_name, "client", config.id))
    changed = False
    for username, display_name, role, client_id in wanted:
        password = demo_password(username)
        entry = users.get(username)
        if (
            entry
            and entry.get("role") == role
            and entry.get("client_id") == client_id
            and bcrypt.checkpw(password.encode(), str(entry.get("password_hash", "")).encode())
        ):
            continue
        users[username] = {
            "display_name": display_name,
            "role": role,
            "client_id": client_id,
            "password_hash": _hash(password),
        }
        changed = True
    if changed:
        _save(settings, users)
    return {username: demo_password(username) for username, *_ in wanted}


def authenticate(settings: Settings, username: str, password: str) -> User | None:
    """The user for a correct username and password, else None (the same answer for either mistake)."""
    entry = _load(settings).get((username or "").strip())
    if not entry or not password:
        return None
    stored = str(entry.get("password_hash", "")).encode()
    try:
        ok = bcrypt.checkpw(password.encode("utf-8"), stored)
    except ValueError:  # a damaged hash in users.yml: refuse rather than crash the login page
        ok = False
    if not ok:
        return None
    role = entry.get("role")
    if role not in ROLES:
        return None
    client_id = entry.get("client_id") if role == "client" else None
    if role == "client" and not client_id:
        return None
    return User(
        username=username.strip(),
        display_name=str(entry.get("display_name") or username),
        role=role,
        client_id=client_id,
    )


def visible_clients(user: User, client_ids: Iterable[str]) -> list[str]:
    """The clients ``user`` may see among ``client_ids``: all for a consultant or a program manager, its own
    for a client."""
    ids = sorted(client_ids)
    if user.sees_every_client:
        return ids
    return [c for c in ids if c == user.client_id]


def require_client(user: User, client_id: str) -> str:
    """``client_id`` if ``user`` may see it; raise AccessDenied otherwise."""
    if user.sees_every_client or client_id == user.client_id:
        return check_client_id(client_id)
    raise AccessDenied(f"{user.username} may not see client {client_id!r}.")


def remove_logins_for(settings: Settings, client_id: str, *, dry_run: bool = False) -> list[str]:
    """Remove every login that sees ``client_id`` (a client purged at the end of its engagement); return
    their names. ``dry_run`` only names them. Consultants' logins are kept: they see every client."""
    users = _load(settings)
    gone = sorted(name for name, entry in users.items() if (entry or {}).get("client_id") == client_id)
    if gone and not dry_run:
        _save(settings, {name: entry for name, entry in users.items() if name not in gone})
    return gone

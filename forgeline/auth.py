"""Who may log in, and which clients each login may see.

Logins live in ``<home>/auth/users.yml`` with bcrypt hashes only (never a password). A consultant sees
every client of the program and onboards them; a program manager sees every client's published results
and the cohort, and changes nothing; a client login sees exactly one client. Every read the apps make goes
through :func:`visible_clients` / :func:`require_client`, so a client can reach no other client's
snapshot by any page, parameter or URL.

It also owns sessions and the rules of logging in (the app only shows forms and carries the cookie):

- a session is a token signed with itsdangerous (the workspace's ``auth/session.key``), timestamped and
  expiring after :data:`SESSION_IDLE_S` unused, renewed as it is used, never older than
  :data:`SESSION_MAX_S`; it names the login and the login's *session epoch* in ``users.yml``, a random
  nonce drawn anew at every create, replace, reset, role change and logout;
- any of these changes the epoch: every earlier session of that login, in any tab or browser, stops
  working at its next page view (revocation on the server, not only a deleted cookie), and a login
  removed and created again under the same name never meets its earlier epoch (it is no counter);
- failed logins are counted per login name and per address in ``auth/login_failures.json`` and refused
  for a while past a limit; every attempt that is not refused runs exactly one bcrypt check (against a
  dummy hash for an unknown name), so a failure takes the same time whether or not the login exists.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import os
import secrets
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Literal

import bcrypt
import yaml
from filelock import FileLock
from itsdangerous import BadSignature, SignatureExpired, TimestampSigner, URLSafeTimedSerializer

from forgeline.clients import ClientConfig
from forgeline.i18n import LANGUAGES, _, check_language, ngettext
from forgeline.settings import Settings, check_client_id

Role = Literal["consultant", "program_manager", "client"]
ROLES: tuple[Role, ...] = ("consultant", "program_manager", "client")

DEMO_CONSULTANT = "consultant"
DEMO_CONSULTANT_PASSWORD = "forgeline-demo"
DEMO_PROGRAM_MANAGER = "manager"


BCRYPT_ROUNDS = 10
MAX_PASSWORD_BYTES = 72  # bcrypt reads no further (bcrypt 5 refuses longer input)

SESSION_COOKIE = "forgeline_session"
SESSION_IDLE_S = 30 * 60  # a session not used for this long ends (its cookie expires with it)
SESSION_RENEW_S = 5 * 60  # a session used after this gets a fresh token (and cookie)
SESSION_MAX_S = 12 * 3600  # no session outlives a working day, however much it is used

THROTTLE_WINDOW_S = 15 * 60  # failures older than this are forgotten
MAX_FAILURES_PER_LOGIN = 5  # per login name typed (known or not: the same rule for both)
MAX_FAILURES_PER_ADDRESS = 20  # per client address (one office behind one address may mistype)
# An address a login succeeded from within this long is exempt from that name's limit (not the address's):
# whoever fails a known name from elsewhere cannot lock its owner out.
KNOWN_ADDRESS_S = 30 * 24 * 3600


class AccessDenied(PermissionError):
    """A login asked for a client it may not see."""


class LoginThrottled(PermissionError):
    """Too many failed logins lately for this name or address; no password was checked."""

    def __init__(self, retry_after_s: float) -> None:
        minutes = max(1, round(retry_after_s / 60))
        super().__init__(
            ngettext(
                "Too many failed logins. Try again in {n} minute.",
                "Too many failed logins. Try again in {n} minutes.",
                minutes,
            ).format(n=minutes)
        )
        self.retry_after_s = retry_after_s


@dataclass(frozen=True)
class User:
    username: str
    display_name: str
    role: Role
    client_id: str | None = None  # set for client logins only
    # The login's session epoch when this user was verified (password or token): a session issued for it
    # carries this one, never a newer one read later. Not part of the identity (==).
    epoch: str = field(default="", compare=False, repr=False)
    # The language the login chose in the app (None: none chosen yet, the program's default applies). A
    # preference, not part of the identity (==).
    language: str | None = field(default=None, compare=False)

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
    return bcrypt.hashpw(password.encode("utf-8"), bcrypt.gensalt(rounds=BCRYPT_ROUNDS)).decode("ascii")


@cache
def _dummy_hash() -> bytes:
    """A hash no password is known for, at the real hashes' cost: checked when the login is unknown, so
    an unknown name costs one bcrypt check as a known one does (made once per process)."""
    return bcrypt.hashpw(secrets.token_bytes(16), bcrypt.gensalt(rounds=BCRYPT_ROUNDS))


def _check_password(password: str, stored: bytes | None) -> bool:
    """Exactly one bcrypt check whatever the input: against ``stored``, or the dummy hash when there is
    none or it is damaged (the answer is then False). A password longer than bcrypt reads
    (:data:`MAX_PASSWORD_BYTES`) is never one that was set: it costs the same one check and fails."""
    secret = password.encode("utf-8")
    too_long = len(secret) > MAX_PASSWORD_BYTES
    secret = secret[:MAX_PASSWORD_BYTES]  # only for the work: the answer is False anyway
    usable = stored is not None and stored.startswith(b"$2")
    try:
        ok = bcrypt.checkpw(secret, stored if usable else _dummy_hash())  # type: ignore[arg-type]
    except ValueError:  # a damaged hash in users.yml: refuse, after the same work as any refusal
        bcrypt.checkpw(secret, _dummy_hash())
        ok = False
    return ok and usable and not too_long


@contextmanager
def _users_locked(settings: Settings) -> Iterator[dict[str, dict]]:
    """users.yml read and written under its lock: a logout raising an epoch never loses a concurrent
    password change (both rewrite the file)."""
    settings.auth_dir.mkdir(parents=True, exist_ok=True)
    with FileLock(settings.users_path.with_suffix(".yml.lock"), thread_local=False):
        users = _load(settings)
        yield users
        _save(settings, users)


def _load(settings: Settings) -> dict[str, dict]:
    if not settings.users_path.exists():
        return {}
    data = yaml.safe_load(settings.users_path.read_text(encoding="utf-8")) or {}
    return dict(data.get("users") or {})


def _save(settings: Settings, users: dict[str, dict]) -> None:
    settings.users_path.parent.mkdir(parents=True, exist_ok=True)
    _write_private(settings.users_path, yaml.safe_dump({"users": users}, allow_unicode=True, sort_keys=True))


def _write_private(path: Path, text: str) -> None:
    """Replace ``path`` atomically with ``text`` through a temporary file that is owner-only from its
    creation (never readable by others, not even between its creation and a chmod)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)  # a leftover of a killed writer: never reuse its mode
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
    tmp.replace(path)


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
    _check_new_password(username, password)
    with _users_locked(settings) as users:
        users[username] = _kept_preferences(
            users.get(username),
            {
                "display_name": display_name,
                "role": role,
                "client_id": client_id,
                "password_hash": _hash(password),
                # A replaced login's earlier sessions end, and a new one under an old name never takes them
                # over: a fresh random epoch, never a counter that starts again.
                "session_epoch": _new_epoch(),
            },
        )


def _kept_preferences(old: dict | None, new: dict) -> dict:
    """``new`` with the person's own choices in ``old`` carried over (the language picked in the app): a
    rewritten login changes rights and password, not what its owner reads."""
    language = (old or {}).get("language")
    return {**new, "language": language} if language in LANGUAGES else new


def _check_new_password(username: str, password: str) -> None:
    if len(password) < 8:
        raise ValueError(
            _("Login {login!r}: use a password of at least 8 characters.").format(login=username)
        )
    if len(password.encode("utf-8")) > MAX_PASSWORD_BYTES:
        raise ValueError(
            _(
                "Login {login!r}: use a password of at most {most} bytes in UTF-8 (this one has {n}; a "
                "Korean character takes 3)."
            ).format(login=username, most=MAX_PASSWORD_BYTES, n=len(password.encode("utf-8")))
        )


def _new_epoch() -> str:
    return secrets.token_hex(16)


def _epoch(entry: dict | None) -> str:
    """The login's session epoch ("" when it has none: no session is valid then). An epoch of an older
    workspace (a counter) is read as text and replaced by a nonce at the login's next change."""
    value = (entry or {}).get("session_epoch")
    return "" if value is None or value == "" else str(value)


def ensure_demo_logins(settings: Settings, clients: Iterable[ClientConfig]) -> dict[str, str]:
    """Create the demo consultant, the demo program manager and one login per client; return
    ``{username: password}``.

    Re-running keeps hashes that still match, so the file only changes when a login is new. The slow part
    (bcrypt) runs on a copy read without the lock; under the lock each entry is replaced only if it is
    still the one checked, so a logout or a reset made meanwhile is never reverted.
    """
    users = _load(settings)
    wanted: list[tuple[str, str, Role, str | None]] = [
        (DEMO_CONSULTANT, "Forgeline consultant", "consultant", None),
        (DEMO_PROGRAM_MANAGER, "Program manager", "program_manager", None),
    ]
    for config in clients:
        for login in config.logins:
            wanted.append((login.username, login.display_name, "client", config.id))
    new: dict[str, tuple[dict | None, dict]] = {}  # name -> (the entry checked, its replacement)
    for username, display_name, role, client_id in wanted:
        password = demo_password(username)
        entry = users.get(username)
        if (
            entry
            and entry.get("role") == role
            and entry.get("client_id") == client_id
            and _check_password(password, str(entry.get("password_hash", "")).encode())
        ):
            continue
        new[username] = (
            entry,
            {
                "display_name": display_name,
                "role": role,
                "client_id": client_id,
                "password_hash": _hash(password),
                "session_epoch": _new_epoch(),
            },
        )
    if new:
        with _users_locked(settings) as locked:
            for username, (checked, replacement) in new.items():
                if locked.get(username) == checked:  # else changed meanwhile: that change stands
                    locked[username] = _kept_preferences(checked, replacement)
    return {username: demo_password(username) for username, *_ in wanted}


def authenticate(settings: Settings, username: str, password: str) -> User | None:
    """The user for a correct username and password, else None (the same answer for either mistake).

    Always exactly one bcrypt check, whether the login exists or not (see :func:`_check_password`)."""
    entry = _load(settings).get((username or "").strip())
    stored = str(entry.get("password_hash", "")).encode() if entry else None
    if not _check_password(password or "", stored) or not password:
        return None
    return _user(username.strip(), entry)  # type: ignore[arg-type]


def _user(username: str, entry: dict) -> User | None:
    role = entry.get("role")
    if role not in ROLES:
        return None
    client_id = entry.get("client_id") if role == "client" else None
    if role == "client" and not client_id:
        return None
    return User(
        username=username,
        display_name=str(entry.get("display_name") or username),
        role=role,
        client_id=client_id,
        epoch=_epoch(entry),
        language=entry.get("language") if entry.get("language") in LANGUAGES else None,
    )


# -- logging in: throttled per name and per address ------------------------------------------------
def log_in(
    settings: Settings, username: str, password: str, address: str | None, *, now: float | None = None
) -> User | None:
    """:func:`authenticate`, counted: past :data:`MAX_FAILURES_PER_LOGIN` failures of this name or
    :data:`MAX_FAILURES_PER_ADDRESS` of this address in :data:`THROTTLE_WINDOW_S`, raise
    :class:`LoginThrottled` without checking the password.

    The attempt is counted as a failure *before* the check and taken back when it succeeds, so attempts
    sent side by side cannot pass the limit together. A password change checks the current password
    through here too (:func:`change_password`): a stolen session guesses no faster than a login form."""
    now = time.time() if now is None else now
    name = (username or "").strip()
    keys = [_failure_key(settings, "login", name)]
    limits = [MAX_FAILURES_PER_LOGIN]
    known = None  # the key of "this name succeeded from this address lately"
    if address:
        where = normalise_address(address)
        keys.append(_failure_key(settings, "address", where))
        limits.append(MAX_FAILURES_PER_ADDRESS)
        known = _failure_key(settings, "known", f"{name}\n{where}")
    with _failures_locked(settings, now) as failures:
        for key, limit in zip(keys, limits, strict=True):
            if key == keys[0] and known in failures:
                continue  # its owner's own address: the name's limit is not for it (the address's is)
            recent = failures.get(key, [])
            if len(recent) >= limit:
                raise LoginThrottled(recent[-limit] + THROTTLE_WINDOW_S - now)
        for key in keys:
            failures.setdefault(key, []).append(now)
    user = authenticate(settings, username, password)
    if user is not None:
        with _failures_locked(settings, now) as failures:
            failures.pop(keys[0], None)  # the login proved itself: its name's count starts again
            if len(keys) > 1 and now in failures.get(keys[1], []):
                failures[keys[1]].remove(now)  # and this success is no failure of its address
            if known is not None:
                failures[known] = [now]
    return user


def normalise_address(address: str) -> str:
    """What the per-address count keys by: an IPv4 address as it is (also when written as IPv6,
    ``::ffff:a.b.c.d``), an IPv6 address by its /64 (one host holds a whole /64: counting each address
    would let it guess without limit)."""
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return address.strip()
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def unlock(settings: Settings, username: str) -> bool:
    """Forget the recent failed logins of ``username`` (the operator's ``forgeline unlock``); True when
    there were any. The per-address counts stay."""
    key = _failure_key(settings, "login", username.strip())
    with _failures_locked(settings, time.time()) as failures:
        return failures.pop(key, None) is not None


def _failure_key(settings: Settings, kind: str, value: str) -> str:
    """What the failures file keys by: an HMAC, never the name or address typed (a password typed into
    the name field must not land in a file; a purged client's login name must not stay in one)."""
    digest = hmac.new(_session_key(settings), f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()
    return f"{kind}:{digest[:32]}"


@contextmanager
def _failures_locked(settings: Settings, now: float) -> Iterator[dict[str, list[float]]]:
    path = settings.login_failures_path
    path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(path.with_suffix(".lock"), thread_local=False):
        try:
            failures = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            failures = {}
        # Forget what is past the window (a success's address: past KNOWN_ADDRESS_S), so the file stays small.
        failures = {
            k: [
                t
                for t in times
                if now - t < (KNOWN_ADDRESS_S if k.startswith("known:") else THROTTLE_WINDOW_S)
            ]
            for k, times in failures.items()
        }
        failures = {k: times for k, times in failures.items() if times}
        yield failures
        _write_private(path, json.dumps(failures))


# -- sessions: signed, expiring tokens, revoked on the server ---------------------------------------
@dataclass(frozen=True)
class Session:
    user: User
    token: str
    issued_at: float
    login_at: float

    def due_for_renewal(self, now: float | None = None) -> bool:
        return (time.time() if now is None else now) - self.issued_at >= SESSION_RENEW_S


class _ClockSigner(TimestampSigner):
    """itsdangerous' timestamp signer with its clock as a parameter (tests ask for expired tokens)."""

    def __init__(self, *args: Any, now: float | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._now = now

    def get_timestamp(self) -> int:
        return int(time.time() if self._now is None else self._now)


def _session_key(settings: Settings) -> bytes:
    """The workspace's signing key, made on first use (32 random bytes, owner-only); every app process
    and the CLI of one workspace share it, so a cookie stays valid across a restart."""
    path = settings.session_key_path
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as out:
            out.write(secrets.token_hex(32))
        try:
            os.link(tmp, path)  # atomic and never over another process's key: the first one wins
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    return bytes.fromhex(path.read_text(encoding="ascii").strip())


def _serializer(settings: Settings, now: float | None) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(
        _session_key(settings), salt="forgeline-session", signer=_ClockSigner, signer_kwargs={"now": now}
    )


def issue_session(
    settings: Settings, user: User, *, login_at: float | None = None, now: float | None = None
) -> str:
    """A signed session token for ``user`` (who just logged in, or whose session is renewed: then
    ``login_at`` is the original login's time).

    The token carries the epoch ``user`` was verified under (:func:`authenticate`, :func:`session_user`),
    not the one users.yml holds now: a password verified just before a reset or a logout elsewhere
    gets a session that is already over. A ``User`` made without one (the CLI, tests) takes the
    current epoch, given one first if the login has none."""
    now = time.time() if now is None else now
    epoch = user.epoch or _current_epoch(settings, user.username)
    payload = {"u": user.username, "e": epoch, "l": int(now if login_at is None else login_at)}
    return _serializer(settings, now).dumps(payload)


def _current_epoch(settings: Settings, username: str) -> str:
    epoch = _epoch(_load(settings).get(username))
    if epoch:
        return epoch
    with _users_locked(settings) as users:  # an entry written by hand, without an epoch
        if username not in users:
            return ""
        users[username]["session_epoch"] = _epoch(users[username]) or _new_epoch()
        return users[username]["session_epoch"]


def session_user(settings: Settings, token: str | None, *, now: float | None = None) -> Session | None:
    """The session ``token`` carries, if it is genuine, unexpired, not revoked and its login still
    exists with the same rights; else None."""
    if not token:
        return None
    now = time.time() if now is None else now
    try:
        payload, issued = _serializer(settings, now).loads(
            token, max_age=SESSION_IDLE_S, return_timestamp=True
        )
    except (SignatureExpired, BadSignature):
        return None
    if not isinstance(payload, dict) or now - float(payload.get("l", 0)) > SESSION_MAX_S:
        return None
    username = str(payload.get("u", ""))
    entry = _load(settings).get(username)
    epoch = _epoch(entry)
    if not entry or not epoch or not hmac.compare_digest(str(payload.get("e")), epoch):
        return None  # logged out, password changed or reset, login replaced or removed
    user = _user(username, entry)
    if user is None:
        return None
    return Session(user=user, token=token, issued_at=issued.timestamp(), login_at=float(payload["l"]))


def renew_session(settings: Settings, session: Session, *, now: float | None = None) -> str:
    """A fresh token for a session in use (same login time: renewal never passes :data:`SESSION_MAX_S`)."""
    return issue_session(settings, session.user, login_at=session.login_at, now=now)


def end_sessions(settings: Settings, username: str) -> None:
    """End every session of ``username``, in every tab and browser (logout; a password change)."""
    with _users_locked(settings) as users:
        if username in users:
            users[username]["session_epoch"] = _new_epoch()


# -- passwords: changed by their owner, reset by a consultant or the operator -----------------------
def change_password(
    settings: Settings,
    username: str,
    current: str,
    new: str,
    address: str | None = None,
    *,
    now: float | None = None,
) -> User:
    """The login's own change: the current password must be right, checked and counted as a login is
    (:func:`log_in`: raises :class:`LoginThrottled` past the limits). Its other sessions end; the user
    returned carries the new epoch, for this tab's new session."""
    _check_new_password(username, new)
    if log_in(settings, username, current, address, now=now) is None:
        raise ValueError(_("The current password is not correct."))
    return _set_password(settings, username, new, by=None, own=True)


def reset_password(settings: Settings, username: str, new: str, *, by: User | None = None) -> User:
    """Set a login's password and end its sessions; return the login (with its new epoch). ``by``, in
    the app, must be a consultant resetting a client's or a program manager's login; None is the
    operator at the command line (any login). Who reset it and when is kept in the entry
    (``reset_by``, ``reset_at``; the operator is ``command line``)."""
    return _set_password(settings, username, new, by=by, own=False)


def _set_password(settings: Settings, username: str, new: str, *, by: User | None, own: bool) -> User:
    _check_new_password(username, new)
    password_hash = _hash(new)  # before the lock: nobody waits for bcrypt
    with _users_locked(settings) as users:
        entry = users.get(username)
        if entry is None:
            raise ValueError(_("There is no login {login!r}.").format(login=username))
        if by is not None and not (by.is_consultant and entry.get("role") in ("client", "program_manager")):
            raise AccessDenied(
                _("{by} may not reset the password of {login!r}.").format(by=by.username, login=username)
            )
        entry["password_hash"] = password_hash
        entry["session_epoch"] = _new_epoch()
        if not own:
            entry["reset_by"] = by.username if by is not None else "command line"
            entry["reset_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        user = _user(username, entry)
    if user is None:
        raise ValueError(f"The login {username!r} has no valid role in {settings.users_path}.")
    return user


def set_language(settings: Settings, username: str, language: str) -> None:
    """Remember the language ``username`` chose in the app (every tab and browser of the login reads it at
    its next page view). Its sessions stay valid: a preference is no change of rights."""
    chosen = check_language(language)
    with _users_locked(settings) as users:
        if username in users and users[username].get("language") != chosen:
            users[username]["language"] = chosen


def logins(settings: Settings) -> list[User]:
    """Every login (no hashes), for a consultant's reset form."""
    found = (_user(name, entry or {}) for name, entry in sorted(_load(settings).items()))
    return [u for u in found if u is not None]


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
        with _users_locked(settings) as locked:
            for name in gone:
                locked.pop(name, None)
    return gone

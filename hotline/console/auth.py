"""Console sessions: a signed cookie bound to the user's bearer token, and CSRF tokens.

The console logs in with the same bearer token the API uses (``hotline demo`` /
``hotline user add`` print it). The cookie then carries the user id, a fingerprint of the
token's stored SHA-256, the user's session epoch and a CSRF token, signed with HMAC-SHA256;
nothing about a session is kept server side. Each request checks the fingerprint and the
epoch against the user's row, so a new token, disabling the user, or logging out (which
bumps the epoch) ends the user's console sessions everywhere at once.

Failed logins are counted in the database (``LoginLimiter``), shared by every worker
process and node.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from fastapi import Request
from fastapi.responses import Response
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, sessionmaker

from config import Settings
from ticketing.db import hold_key, transaction
from ticketing.models import LoginFailure, User, utcnow

COOKIE = "hotline_console"
COOKIE_PATH = "/console"
SESSION_SECONDS = 12 * 3600  # one working shift; after that, log in again
# An anonymous cookie only carries the login form's CSRF token.
ANON_SECONDS = 3600
_FINGERPRINT_CHARS = 16
SECRET_FILE = "console_secret"
# Failed logins allowed per user name and per client address within the window (counted
# across all processes and nodes); one more gets 429 until the oldest failure is older than
# the window. Tokens are 192-bit random, so this is not what keeps them from being guessed:
# it keeps a script from hammering the form and makes an attempt visible (logged).
LOGIN_MAX_FAILURES = 5
LOGIN_WINDOW_SECONDS = 300
_KEY_CHARS = 160  # login_failures.key


class LoginRequired(Exception):
    """No valid session: the page redirects to the login form."""


class CsrfFailed(Exception):
    """A POST without the session's CSRF token (forged, or a page from an old session)."""


@dataclass(frozen=True)
class ConsoleSession:
    user_id: int | None
    token_fp: str | None
    csrf: str
    expires: int
    epoch: int | None = None


def secret_path(settings: Settings) -> Path:
    """Where the generated secret lives: ``console_secret_file``, else under data_dir."""
    return Path(settings.console_secret_file or Path(settings.data_dir) / SECRET_FILE)


def console_secret(settings: Settings) -> bytes:
    """The configured secret, or the install's generated one (created on first use)."""
    if settings.console_secret:
        return settings.console_secret.encode()
    path = secret_path(settings)
    try:
        return _read_secret(path)
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(32).encode()
    # Written whole under a name of its own, then linked into place: a worker starting
    # beside us finds no file or the whole secret. An O_EXCL create showed the file empty
    # until its write, and a worker reading it then kept b"" as its key (cookies anyone
    # could sign) for as long as it ran.
    draft = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    with os.fdopen(os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as fh:
        fh.write(secret)
    try:
        os.link(draft, path)
    except FileExistsError:
        return _read_secret(path)  # another worker's came first: every worker signs alike
    finally:
        draft.unlink()
    return secret


def _read_secret(path: Path) -> bytes:
    secret = path.read_bytes().strip()
    if not secret:
        # Never a key anyone could compute: an empty file is an operator's to resolve.
        raise RuntimeError(f"the console secret file {path} is empty: delete it (a new one "
                           "is generated; everyone signs in again) or set "
                           "HOTLINE_CONSOLE_SECRET")
    return secret


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(key: bytes, payload: str) -> str:
    # A purpose-bound key: the same install secret could sign other things later.
    derived = hmac.new(key, b"hotline-console-session-v1", hashlib.sha256).digest()
    return _b64(hmac.new(derived, payload.encode(), hashlib.sha256).digest())


def encode(key: bytes, s: ConsoleSession) -> str:
    payload = _b64(json.dumps(
        {"u": s.user_id, "t": s.token_fp, "c": s.csrf, "e": s.expires, "p": s.epoch},
        separators=(",", ":"),
    ).encode())
    return f"{payload}.{_mac(key, payload)}"


def decode(key: bytes, value: str | None, now: float | None = None) -> ConsoleSession | None:
    """The session in a cookie value, or None if it is forged, malformed or expired."""
    if not value or "." not in value:
        return None
    payload, _, mac = value.partition(".")
    if not hmac.compare_digest(mac, _mac(key, payload)):
        return None
    try:
        data = json.loads(_unb64(payload))
        # A cookie from before epochs existed has no "p": it is no session (log in again).
        s = ConsoleSession(user_id=data["u"], token_fp=data["t"], csrf=str(data["c"]),
                           expires=int(data["e"]), epoch=data["p"])
    except (ValueError, KeyError, TypeError):
        return None
    if s.expires < (now if now is not None else time.time()):
        return None
    return s


def fingerprint(user: User) -> str:
    return (user.token_sha256 or "")[:_FINGERPRINT_CHARS]


def new_session(user: User | None) -> ConsoleSession:
    """A fresh session (and a fresh CSRF token: login rotates it, against fixation)."""
    ttl = SESSION_SECONDS if user is not None else ANON_SECONDS
    return ConsoleSession(
        user_id=user.id if user is not None else None,
        token_fp=fingerprint(user) if user is not None else None,
        csrf=secrets.token_urlsafe(24),
        expires=int(time.time()) + ttl,
        epoch=user.session_epoch if user is not None else None,
    )


def signing_key(request: Request) -> bytes:
    """The app's key, read once (the generated secret is a file under data_dir)."""
    state = request.app.state
    key: bytes | None = getattr(state, "console_key", None)
    if key is None:
        key = state.console_key = console_secret(state.settings)
    return key


def read_session(request: Request) -> ConsoleSession | None:
    return decode(signing_key(request), request.cookies.get(COOKIE))


def set_cookie(request: Request, response: Response, s: ConsoleSession) -> None:
    response.set_cookie(
        COOKIE,
        encode(signing_key(request), s),
        max_age=max(0, s.expires - int(time.time())),
        path=COOKIE_PATH,
        httponly=True,
        samesite="strict",
        # Behind TLS the cookie must never travel in clear; plain http stays usable for a
        # local install on 127.0.0.1. Behind a TLS proxy the scheme is https only if the
        # proxy is in trusted_proxies (its X-Forwarded-Proto is applied in hotline.app).
        secure=request.url.scheme == "https",
    )


def user_matches(s: ConsoleSession, user: User | None) -> bool:
    return (
        user is not None
        and user.active
        and s.token_fp is not None
        and bool(user.token_sha256)
        and hmac.compare_digest(fingerprint(user), s.token_fp)
        and s.epoch == user.session_epoch
    )


def check_csrf(request: Request, s: ConsoleSession, submitted: str | None) -> None:
    """Forms send the token as a field, htmx requests as the X-CSRF-Token header."""
    given = submitted or request.headers.get("x-csrf-token") or ""
    if not given or not hmac.compare_digest(given, s.csrf):
        raise CsrfFailed


@dataclass(frozen=True)
class Attempt:
    """A login let through by ``LoginLimiter.admit``: its rows, one per key, already count
    as a failure; ``succeeded`` takes them back."""

    ids: tuple[int, ...]


class LoginLimiter:
    """Recent failed logins per key ("name:<user name>", "addr:<client address>").

    Counted in the database (``login_failures``, one row per failure), so every worker
    process and node shares one count and a restart keeps it. A failure is an INSERT, never
    a read-modify-write of a counter, so concurrent failures cannot lose one on either
    database; rows older than the window are deleted as new failures come in.

    ``admit`` counts and records an attempt in one transaction with its keys locked, before
    the token is checked: of simultaneous attempts no more than the limit are let through
    (a check and a later write would let each of them past a count that none had raised)."""

    def __init__(self, sessions: sessionmaker[Session],
                 max_failures: int = LOGIN_MAX_FAILURES,
                 window_seconds: float = LOGIN_WINDOW_SECONDS) -> None:
        self.sessions = sessions
        self.max_failures = max_failures
        self.window = timedelta(seconds=window_seconds)

    def _blocked(self, session: Session, keys: list[str], now: datetime) -> bool:
        counts = session.execute(
            select(func.count()).select_from(LoginFailure)
            .where(LoginFailure.key.in_([_stored(k) for k in keys]),
                   LoginFailure.failed_at > now - self.window)
            .group_by(LoginFailure.key)).scalars().all()
        return any(n >= self.max_failures for n in counts)

    def blocked(self, keys: list[str], now: datetime | None = None) -> bool:
        with self.sessions() as session:
            return self._blocked(session, keys, now or utcnow())

    def _record(self, session: Session, keys: list[str], now: datetime) -> list[LoginFailure]:
        # An attacker can invent user names: what is past the window goes at once.
        session.execute(delete(LoginFailure).where(LoginFailure.failed_at <= now - self.window))
        rows = [LoginFailure(key=_stored(k), failed_at=now) for k in keys]
        session.add_all(rows)
        return rows

    def failed(self, keys: list[str], now: datetime | None = None) -> None:
        with transaction(self.sessions) as session:
            self._record(session, keys, now or utcnow())

    def admit(self, keys: list[str], now: datetime | None = None) -> Attempt | None:
        """None when any key is at the limit; else the attempt, recorded as a failure."""
        now = now or utcnow()
        with transaction(self.sessions) as session:
            # Held to COMMIT, in one order (no deadlock between a name and an address).
            for key in sorted({_stored(k) for k in keys}):
                hold_key(session, "login", key)
            if self._blocked(session, keys, now):
                return None
            rows = self._record(session, keys, now)
            session.flush()
            return Attempt(tuple(r.id for r in rows))

    def succeeded(self, name_key: str, attempt: Attempt | None = None) -> None:
        # Only the name's count: other people behind the same address keep theirs (less
        # this attempt, which admit recorded as a failure in advance).
        with transaction(self.sessions) as session:
            session.execute(delete(LoginFailure).where(LoginFailure.key == _stored(name_key)))
            if attempt is not None:
                session.execute(delete(LoginFailure).where(LoginFailure.id.in_(attempt.ids)))


def _stored(key: str) -> str:
    # The name field is limited by the form, the address by nothing of ours.
    return key[:_KEY_CHARS]


def login_limiter(request: Request) -> LoginLimiter:
    return LoginLimiter(request.app.state.sessions)


def login_keys(request: Request, username: str) -> list[str]:
    """What a login attempt counts against: the name tried and the client's address (the
    real client behind a trusted proxy, see hotline.app)."""
    client = request.client.host if request.client else "unknown"
    return [f"name:{username.strip().lower()}", f"addr:{client}"]

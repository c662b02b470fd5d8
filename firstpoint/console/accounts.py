"""Console accounts: argon2 password hashes, roles, teams, lock-out and sessions.

Passwords are hashed with argon2id (``argon2-cffi``'s :class:`PasswordHasher`
defaults, re-hashed on sign-in when those parameters change). After
``max_attempts`` wrong passwords in a row an account is locked for
``lockout_minutes``; an unknown user name costs the same hash verification as a
known one, so timing does not tell which names exist.

Sessions are server-side rows (:class:`~firstpoint.console.models.ConsoleSession`):
the browser holds a random 256-bit token, the table its SHA-256. A session ends
after ``idle_minutes`` without a request or ``absolute_hours`` after sign-in,
whichever comes first; disabling an account or resetting its password ends all
of its sessions.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import delete, select
from sqlalchemy.orm import sessionmaker

from firstpoint.console.models import ROLES, ConsoleSession, ConsoleUser
from firstpoint.records.db import session_scope

USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._@-]{1,63}$")
MIN_PASSWORD = 12
_HASHER = PasswordHasher()
#: Verified against when the user name is unknown (same cost as a real check).
_DUMMY_HASH = _HASHER.hash(secrets.token_urlsafe(16))


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(timezone.utc)


def _aware(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


class AccountError(ValueError):
    """A user command that cannot be done (unknown user, bad role, weak password …)."""


@dataclass(frozen=True)
class User:
    """A signed-in (or listed) console user, without the password hash."""

    id: int
    username: str
    display_name: str
    role: str
    team_id: str | None
    disabled: bool
    locked_until: datetime | None = None

    @property
    def is_supervisor(self) -> bool:
        """Supervisors may do everything."""
        return self.role == "supervisor"

    def may_work_team(self, team_id: str) -> bool:
        """Supervisors any team's handoffs; officers only their own team's."""
        return self.is_supervisor or (self.role == "officer" and self.team_id == team_id)

    @property
    def works_handoffs(self) -> bool:
        """Officers and supervisors see handoffs; analysts see reports only."""
        return self.role in ("supervisor", "officer")


@dataclass(frozen=True)
class SignIn:
    """The result of a password check: the user, or why not (``reason``)."""

    user: User | None
    reason: str | None = None  # "unknown" | "wrong" | "locked" | "disabled"


@dataclass(frozen=True)
class SessionInfo:
    """A live session: its user and the form token of this session."""

    user: User
    csrf_token: str
    created_at: datetime
    via: str


def _user(row: ConsoleUser) -> User:
    return User(id=row.id, username=row.username, display_name=row.display_name,
                role=row.role, team_id=row.team_id, disabled=bool(row.disabled),
                locked_until=_aware(row.locked_until))


def token_digest(token: str) -> str:
    """The session row id of a cookie token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class Accounts:
    """Users and sessions in the records database."""

    def __init__(self, session_factory: sessionmaker, *, max_attempts: int = 5,
                 lockout_minutes: int = 15, idle_minutes: int = 20, absolute_hours: int = 10,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.session_factory = session_factory
        self.max_attempts = max_attempts
        self.lockout = timedelta(minutes=lockout_minutes)
        self.idle = timedelta(minutes=idle_minutes)
        self.absolute = timedelta(hours=absolute_hours)
        self.clock = clock

    # ------------------------------------------------------------------ users
    @staticmethod
    def check_password(password: str) -> None:
        """AccountError unless ``password`` is long enough to keep."""
        if len(password) < MIN_PASSWORD:
            raise AccountError(f"a password needs at least {MIN_PASSWORD} characters")

    def add(self, username: str, role: str, *, display_name: str | None = None,
            team_id: str | None = None, password: str | None = None) -> User:
        """Create an account. Officers need a team; ``password`` None means SSO only."""
        username = username.strip().lower()
        if not USERNAME_RE.match(username):
            raise AccountError("a user name is 2-64 characters: a-z, 0-9 and . _ @ -")
        if role not in ROLES:
            raise AccountError(f"role must be one of {', '.join(ROLES)}")
        if role == "officer" and not team_id:
            raise AccountError("an officer needs a team (--team)")
        if password is not None:
            self.check_password(password)
        now = self.clock()
        with session_scope(self.session_factory) as s:
            if s.execute(select(ConsoleUser.id).where(ConsoleUser.username == username)).first():
                raise AccountError(f"user {username!r} already exists")
            row = ConsoleUser(
                username=username, display_name=(display_name or username).strip()[:128],
                role=role, team_id=team_id or None,
                password_hash=_HASHER.hash(password) if password is not None else None,
                disabled=False, failed_logins=0, created_at=now,
                password_changed_at=now if password is not None else None)
            s.add(row)
            s.flush()
            return _user(row)

    def _row(self, s: object, username: str) -> ConsoleUser:
        row = s.execute(  # type: ignore[attr-defined]
            select(ConsoleUser).where(ConsoleUser.username == username.strip().lower())
        ).scalar_one_or_none()
        if row is None:
            raise AccountError(f"no user {username!r}")
        return row  # type: ignore[no-any-return]

    def disable(self, username: str) -> User:
        """Disable an account and end its sessions."""
        with session_scope(self.session_factory) as s:
            row = self._row(s, username)
            row.disabled = True
            s.execute(delete(ConsoleSession).where(ConsoleSession.user_id == row.id))
            return _user(row)

    def enable(self, username: str) -> User:
        """Enable a disabled account again."""
        with session_scope(self.session_factory) as s:
            row = self._row(s, username)
            row.disabled = False
            return _user(row)

    def reset(self, username: str, password: str) -> User:
        """Set a new password, clear the lock-out and end every session of the account."""
        self.check_password(password)
        with session_scope(self.session_factory) as s:
            row = self._row(s, username)
            row.password_hash = _HASHER.hash(password)
            row.password_changed_at = self.clock()
            row.failed_logins = 0
            row.locked_until = None
            s.execute(delete(ConsoleSession).where(ConsoleSession.user_id == row.id))
            return _user(row)

    def get(self, username: str) -> User | None:
        """The account called ``username``, if any."""
        with session_scope(self.session_factory) as s:
            row = s.execute(select(ConsoleUser).where(
                ConsoleUser.username == username.strip().lower())).scalar_one_or_none()
            return _user(row) if row is not None else None

    def list(self) -> list[User]:
        """Every account, by user name."""
        with session_scope(self.session_factory) as s:
            return [_user(r) for r in s.execute(
                select(ConsoleUser).order_by(ConsoleUser.username)).scalars()]

    # ------------------------------------------------------------------ sign-in
    def authenticate(self, username: str, password: str) -> SignIn:
        """Check a password; counts failures and locks the account after too many."""
        now = self.clock()
        with session_scope(self.session_factory) as s:
            row = s.execute(select(ConsoleUser).where(
                ConsoleUser.username == username.strip().lower())).scalar_one_or_none()
            if row is None or row.password_hash is None:
                with contextlib.suppress(VerificationError):
                    _HASHER.verify(_DUMMY_HASH, password or "-")
                return SignIn(None, "unknown")
            locked = _aware(row.locked_until)
            if locked is not None and locked > now:
                return SignIn(None, "locked")
            try:
                _HASHER.verify(row.password_hash, password)
            except (VerifyMismatchError, VerificationError, InvalidHashError):
                row.failed_logins = (row.failed_logins or 0) + 1
                if row.failed_logins >= self.max_attempts:
                    row.locked_until = now + self.lockout
                    row.failed_logins = 0
                    return SignIn(None, "locked")
                return SignIn(None, "wrong")
            if row.disabled:
                return SignIn(None, "disabled")
            row.failed_logins = 0
            row.locked_until = None
            if _HASHER.check_needs_rehash(row.password_hash):
                row.password_hash = _HASHER.hash(password)
            return SignIn(_user(row))

    # ------------------------------------------------------------------ sessions
    def start_session(self, user: User, via: str = "password") -> tuple[str, str]:
        """A new session for ``user``: (cookie token, CSRF token)."""
        token = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(32)
        now = self.clock()
        with session_scope(self.session_factory) as s:
            s.add(ConsoleSession(id=token_digest(token), user_id=user.id, csrf_token=csrf,
                                 created_at=now, last_seen_at=now, via=via))
        return token, csrf

    def load_session(self, token: str) -> SessionInfo | None:
        """The live session of a cookie token (touching it), or None (expired ones go)."""
        if not token or len(token) > 128:
            return None
        now = self.clock()
        with session_scope(self.session_factory) as s:
            row = s.get(ConsoleSession, token_digest(token))
            if row is None:
                return None
            user = s.get(ConsoleUser, row.user_id)
            created, seen = _aware(row.created_at), _aware(row.last_seen_at)
            assert created is not None and seen is not None
            if (user is None or user.disabled or now - seen > self.idle
                    or now - created > self.absolute):
                s.delete(row)
                return None
            row.last_seen_at = now
            return SessionInfo(_user(user), row.csrf_token, created, row.via)

    def end_session(self, token: str) -> None:
        """Sign out: forget the session."""
        with session_scope(self.session_factory) as s:
            s.execute(delete(ConsoleSession).where(ConsoleSession.id == token_digest(token)))

    def purge_sessions(self) -> int:
        """Delete expired sessions; returns how many."""
        now = self.clock()
        with session_scope(self.session_factory) as s:
            result = s.execute(delete(ConsoleSession).where(
                (ConsoleSession.last_seen_at < now - self.idle)
                | (ConsoleSession.created_at < now - self.absolute)))
            return int(result.rowcount or 0)

"""Handoffs to accountable officers: the encrypted record, its status history and its outbox.

Where delivery staff (e.g. social workers) are accountable as the point of contact,
Business Support passes the enquiry to the accountable officer and does not
intervene. :class:`HandoffService` records that handoff: the handoff row, its first
status event and one outbox row per notification target are written in ONE
transaction, so a handoff is never lost even if every notifier then fails (the
:class:`firstpoint.notify.outbox.OutboxDispatcher` keeps retrying).

The caller's name, contact method/details/time, message, transcript and officers'
notes are encrypted with :class:`firstpoint.records.crypto.FieldCipher`. Datetimes
are stored as UTC and returned timezone-aware.
"""

from __future__ import annotations

import builtins
import json
import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import relationship, sessionmaker

from firstpoint.notify.base import ENV_TARGET_PREFIX, compose_notification
from firstpoint.records.crypto import FieldCipher
from firstpoint.records.db import Base, session_scope
from knowledge.directory import Directory, format_local

#: Reference alphabet: digits and capitals without the look-alikes 0/O and 1/I.
REFERENCE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
REFERENCE_PREFIX = "FP-"
REFERENCE_LENGTH = 6

STATUSES = ("new", "acknowledged", "contacted", "closed")
#: Allowed status changes. Closing an acknowledged handoff without contact needs a note.
TRANSITIONS: Mapping[str, frozenset[str]] = {
    "new": frozenset({"acknowledged"}),
    "acknowledged": frozenset({"contacted", "closed"}),
    "contacted": frozenset({"closed"}),
    "closed": frozenset(),
}
PRIORITIES = ("emergency", "urgent", "normal")
OUTBOX_STATUSES = ("pending", "sent", "failed")
SYSTEM_ACTOR = "firstpoint"
_CREATE_ATTEMPTS = 5


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(timezone.utc)


def as_utc(value: datetime | None) -> datetime | None:
    """``value`` as aware UTC (SQLite returns naive datetimes, stored as UTC)."""
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


def _in(values: Iterable[str]) -> str:
    return ", ".join(f"'{v}'" for v in values)


class Handoff(Base):
    """One enquiry passed to an accountable team; personal columns are ciphertext."""

    __tablename__ = "handoffs"
    __table_args__ = (
        CheckConstraint(f"status IN ({_in(STATUSES)})", name="status"),
        CheckConstraint(f"priority IN ({_in(PRIORITIES)})", name="priority"),
    )

    id = Column(Integer, primary_key=True)
    reference = Column(String(16), nullable=False, unique=True)
    team_id = Column(String(64), nullable=False, index=True)
    category = Column(String(32), nullable=False)
    priority = Column(String(16), nullable=False)
    status = Column(String(16), nullable=False, index=True)
    channel = Column(String(32), nullable=False)
    audience = Column(String(16), nullable=False)
    conversation_id = Column(String(255), nullable=False, index=True)
    created_at = Column(DateTime(timezone=True), nullable=False, index=True)
    sla_due_at = Column(DateTime(timezone=True), nullable=False)
    anonymous = Column(Boolean, nullable=False)
    consent_to_share = Column(Boolean, nullable=True)
    caller_name = Column(Text, nullable=True)
    contact_method = Column(Text, nullable=True)
    contact_details = Column(Text, nullable=True)
    contact_time = Column(Text, nullable=True)
    message = Column(Text, nullable=True)
    transcript = Column(Text, nullable=True)

    events = relationship("HandoffEvent", back_populates="handoff",
                          order_by="HandoffEvent.id", cascade="all, delete-orphan")
    outbox = relationship("OutboxMessage", back_populates="handoff",
                          order_by="OutboxMessage.id", cascade="all, delete-orphan")


class HandoffEvent(Base):
    """A status change of a handoff (``from_status`` is None for creation); note encrypted."""

    __tablename__ = "handoff_events"

    id = Column(Integer, primary_key=True)
    handoff_id = Column(Integer, ForeignKey("handoffs.id", ondelete="CASCADE"),
                        nullable=False, index=True)
    from_status = Column(String(16), nullable=True)
    to_status = Column(String(16), nullable=False)
    actor = Column(String(128), nullable=False)
    at = Column(DateTime(timezone=True), nullable=False)
    note = Column(Text, nullable=True)

    handoff = relationship("Handoff", back_populates="events")


class OutboxMessage(Base):
    """A notification waiting to be (or already) sent; rows are never deleted."""

    __tablename__ = "outbox"
    __table_args__ = (
        CheckConstraint(f"status IN ({_in(OUTBOX_STATUSES)})", name="status"),
        Index("ix_outbox_status_next_attempt_at", "status", "next_attempt_at"),
    )

    id = Column(Integer, primary_key=True)
    handoff_id = Column(Integer, ForeignKey("handoffs.id", ondelete="CASCADE"),
                        nullable=False, index=True)
    notifier = Column(String(32), nullable=False)
    target = Column(String(512), nullable=False)
    payload = Column(JSON, nullable=False)
    status = Column(String(16), nullable=False)
    attempts = Column(Integer, nullable=False)
    next_attempt_at = Column(DateTime(timezone=True), nullable=False)
    last_error = Column(Text, nullable=True)
    created_at = Column(DateTime(timezone=True), nullable=False)
    sent_at = Column(DateTime(timezone=True), nullable=True)

    handoff = relationship("Handoff", back_populates="outbox")


# --------------------------------------------------------------------------- views


class HandoffNotFound(LookupError):
    """No handoff has that reference."""


class TransitionError(ValueError):
    """A status change that is not allowed (or lost a race with another change)."""


@dataclass(frozen=True)
class HandoffReceipt:
    """What the bot tells the caller after a handoff is recorded."""

    reference: str
    team_id: str
    team_name: str
    priority: str
    sla_due_at: datetime
    sla_due_text: str
    is_open_now: bool
    out_of_hours: str
    what_happens_next: str


class HandoffRateLimited(RuntimeError):
    """One conversation has filed as many handoffs as :class:`HandoffLimits` allows."""


@dataclass(frozen=True)
class HandoffLimits:
    """Per-conversation limits: a flood of handoffs must not bury real ones.

    ``max_per_window`` handoffs per ``window_minutes`` for one conversation;
    the same category and message again within ``duplicate_minutes`` returns
    the earlier reference instead of filing twice.
    """

    max_per_window: int = 5
    window_minutes: int = 60
    duplicate_minutes: int = 30


@dataclass(frozen=True)
class HandoffEventView:
    """One status change, note decrypted."""

    from_status: str | None
    to_status: str
    actor: str
    at: datetime
    note: str | None


@dataclass(frozen=True)
class HandoffSummary:
    """A handoff without any personal data (for lists)."""

    reference: str
    team_id: str
    category: str
    priority: str
    status: str
    channel: str
    created_at: datetime
    sla_due_at: datetime
    overdue: bool


@dataclass(frozen=True)
class HandoffView:
    """A handoff with its personal fields decrypted, for the accountable officer."""

    summary: HandoffSummary
    audience: str
    conversation_id: str
    anonymous: bool
    consent_to_share: bool | None
    caller_name: str | None
    contact_method: str | None
    contact_details: str | None
    contact_time: str | None
    message: str | None
    transcript: list[dict[str, str]]
    events: list[HandoffEventView]

    @property
    def reference(self) -> str:
        """The handoff reference."""
        return self.summary.reference

    @property
    def status(self) -> str:
        """The current status."""
        return self.summary.status


def new_reference() -> str:
    """A random reference like ``FP-7K3M9Q`` (about a billion possibilities)."""
    return REFERENCE_PREFIX + "".join(
        secrets.choice(REFERENCE_ALPHABET) for _ in range(REFERENCE_LENGTH)
    )


def normalise_reference(text: str) -> str:
    """A reference as typed by a person (``fp-7k3m9q``, ``7K3M9Q``) in canonical form."""
    value = text.strip().upper().replace(" ", "")
    if not value.startswith(REFERENCE_PREFIX):
        value = REFERENCE_PREFIX + value.removeprefix("FP")
    return value


def _turn_time(value: Any) -> str:
    """A transcript time as ISO 8601 UTC (Rasa gives epoch seconds, often as text)."""
    if isinstance(value, datetime):
        return as_utc(value).isoformat()  # type: ignore[union-attr]
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, timezone.utc).isoformat()
    text = str(value or "").strip()
    try:
        return datetime.fromtimestamp(float(text), timezone.utc).isoformat()
    except (ValueError, OverflowError):
        return text


def _transcript_json(transcript: Iterable[Mapping[str, Any]] | None) -> str:
    turns = []
    for number, turn in enumerate(transcript or (), start=1):
        try:
            speaker, text = turn["speaker"], turn["text"]
        except (KeyError, TypeError) as exc:
            raise ValueError(f"transcript turn {number} needs speaker and text") from exc
        turns.append({"speaker": str(speaker), "text": str(text),
                      "time": _turn_time(turn.get("time"))})
    return json.dumps(turns, ensure_ascii=False)


class HandoffService:
    """Creates, reads and moves handoffs through their statuses.

    ``session_factory`` from :func:`firstpoint.records.db.session_factory`; the
    tables must exist (:func:`firstpoint.records.migrate.upgrade`).
    """

    def __init__(
        self,
        session_factory: sessionmaker,
        cipher: FieldCipher,
        directory: Directory,
        clock: Callable[[], datetime] = utcnow,
        reference_factory: Callable[[], str] = new_reference,
        limits: HandoffLimits | None = None,
    ) -> None:
        self.limits = limits or HandoffLimits()
        self.session_factory = session_factory
        self.cipher = cipher
        self.directory = directory
        self.clock = clock
        self.reference_factory = reference_factory

    def create(
        self,
        category: str,
        channel: str,
        audience: str,
        conversation_id: str,
        *,
        caller_name: str | None = None,
        contact_method: str | None = None,
        contact_details: str | None = None,
        contact_time: str | None = None,
        message: str | None = None,
        transcript: Iterable[Mapping[str, Any]] | None = None,
        anonymous: bool = False,
        consent_to_share: bool | None = None,
    ) -> HandoffReceipt:
        """Record a handoff and queue its notifications in one transaction.

        The team and priority come from the directory route for ``category``; the
        SLA clock starts now. Returns what to tell the caller.
        """
        for name, value in (("channel", channel), ("audience", audience),
                            ("conversation_id", conversation_id)):
            if not value or not str(value).strip():
                raise ValueError(f"handoff {name} must not be empty")
        now = as_utc(self.clock())
        assert now is not None
        earlier = self._check_limits(conversation_id, category, message, now)
        if earlier is not None:
            return earlier
        team, priority = self.directory.route_at(category, now)
        due = self.directory.sla_due(team, now)
        encrypted = {
            "caller_name": self.cipher.encrypt(caller_name),
            "contact_method": self.cipher.encrypt(contact_method),
            "contact_details": self.cipher.encrypt(contact_details),
            "contact_time": self.cipher.encrypt(contact_time),
            "message": self.cipher.encrypt(message),
            "transcript": self.cipher.encrypt(_transcript_json(transcript)),
        }
        targets = [("email", address) for address in team.notify.email]
        if team.notify.teams_webhook_env:
            targets.append(("teams", ENV_TARGET_PREFIX + team.notify.teams_webhook_env))

        last_error: IntegrityError | None = None
        for _ in range(_CREATE_ATTEMPTS):
            reference = self._free_reference()
            notification = compose_notification(
                reference=reference, category=category, priority=priority,
                team_name=team.name, due_at=due, due_text=format_local(due),
            )
            handoff = Handoff(
                reference=reference, team_id=team.id, category=category, priority=priority,
                status="new", channel=channel, audience=audience,
                conversation_id=conversation_id, created_at=now, sla_due_at=due,
                anonymous=bool(anonymous), consent_to_share=consent_to_share, **encrypted,
            )
            handoff.events.append(HandoffEvent(from_status=None, to_status="new",
                                               actor=SYSTEM_ACTOR, at=now))
            for notifier, target in targets:
                handoff.outbox.append(OutboxMessage(
                    notifier=notifier, target=target, payload=notification.to_payload(),
                    status="pending", attempts=0, next_attempt_at=now, created_at=now,
                ))
            try:
                with session_scope(self.session_factory) as session:
                    session.add(handoff)
            except IntegrityError as exc:
                if not self._reference_taken(reference):
                    raise  # not a reference collision: a real error
                last_error = exc  # the reference was taken between check and insert
                continue
            return HandoffReceipt(
                reference=reference, team_id=team.id, team_name=team.name, priority=priority,
                sla_due_at=due, sla_due_text=format_local(due),
                is_open_now=self.directory.is_open(team, now),
                out_of_hours=team.out_of_hours.text(),
                what_happens_next=team.what_happens_next,
            )
        raise RuntimeError("could not store the handoff after several attempts") from last_error

    def _check_limits(
        self, conversation_id: str, category: str, message: str | None, now: datetime
    ) -> HandoffReceipt | None:
        """The earlier receipt for a duplicate; HandoffRateLimited past the limit; else None."""
        limits = self.limits
        window_start = now - timedelta(minutes=max(limits.window_minutes,
                                                   limits.duplicate_minutes))
        with session_scope(self.session_factory) as session:
            rows = session.execute(
                select(Handoff.reference, Handoff.category, Handoff.created_at, Handoff.message,
                       Handoff.team_id, Handoff.priority, Handoff.sla_due_at)
                .where(Handoff.conversation_id == conversation_id)
                .where(Handoff.created_at >= window_start)
                .order_by(Handoff.created_at.desc())
            ).all()
        duplicate_after = now - timedelta(minutes=limits.duplicate_minutes)
        for row in rows:
            created = as_utc(row.created_at)
            if (created is not None and created >= duplicate_after and row.category == category
                    and self.cipher.decrypt(row.message) == message):
                team = self.directory.team(row.team_id)
                due = as_utc(row.sla_due_at) or now
                return HandoffReceipt(
                    reference=row.reference, team_id=team.id, team_name=team.name,
                    priority=row.priority, sla_due_at=due, sla_due_text=format_local(due),
                    is_open_now=self.directory.is_open(team, now),
                    out_of_hours=team.out_of_hours.text(),
                    what_happens_next=team.what_happens_next,
                )
        rate_after = now - timedelta(minutes=limits.window_minutes)
        recent = [r for r in rows if (as_utc(r.created_at) or now) >= rate_after]
        if len(recent) >= limits.max_per_window:
            raise HandoffRateLimited(
                f"{len(recent)} handoffs from this conversation in {limits.window_minutes} min"
            )
        return None

    def _free_reference(self) -> str:
        """A reference not yet in the table (checked; the unique constraint backs it up)."""
        with session_scope(self.session_factory) as session:
            for _ in range(20):
                reference = self.reference_factory()
                taken = session.execute(
                    select(Handoff.id).where(Handoff.reference == reference)
                ).first()
                if taken is None:
                    return reference
        raise RuntimeError("could not find an unused handoff reference")

    def _reference_taken(self, reference: str) -> bool:
        with session_scope(self.session_factory) as session:
            return session.execute(
                select(Handoff.id).where(Handoff.reference == reference)
            ).first() is not None

    def get(self, reference: str) -> HandoffView:
        """The handoff with ``reference``, personal fields decrypted (HandoffNotFound)."""
        with session_scope(self.session_factory) as session:
            handoff = self._load(session, reference)
            events = [
                HandoffEventView(e.from_status, e.to_status, e.actor, as_utc(e.at),  # type: ignore[arg-type]
                                 self.cipher.decrypt(e.note))
                for e in handoff.events
            ]
            transcript_text = self.cipher.decrypt(handoff.transcript)
            return HandoffView(
                summary=self._summary(handoff),
                audience=handoff.audience,
                conversation_id=handoff.conversation_id,
                anonymous=handoff.anonymous,
                consent_to_share=handoff.consent_to_share,
                caller_name=self.cipher.decrypt(handoff.caller_name),
                contact_method=self.cipher.decrypt(handoff.contact_method),
                contact_details=self.cipher.decrypt(handoff.contact_details),
                contact_time=self.cipher.decrypt(handoff.contact_time),
                message=self.cipher.decrypt(handoff.message),
                transcript=json.loads(transcript_text) if transcript_text else [],
                events=events,
            )

    def transition(self, reference: str, to_status: str, actor: str,
                   note: str | None = None) -> HandoffSummary:
        """Move a handoff to ``to_status`` and record who did it (TransitionError if refused)."""
        if to_status not in STATUSES:
            raise TransitionError(f"unknown status {to_status!r} (one of {', '.join(STATUSES)})")
        if not actor or not actor.strip():
            raise TransitionError("a status change needs the actor's name")
        now = as_utc(self.clock())
        with session_scope(self.session_factory) as session:
            handoff = self._load(session, reference)
            current = handoff.status
            if to_status not in TRANSITIONS[current]:
                allowed = ", ".join(sorted(TRANSITIONS[current])) or "none"
                raise TransitionError(
                    f"{handoff.reference} is {current}; cannot move to {to_status} "
                    f"(allowed: {allowed})"
                )
            if current == "acknowledged" and to_status == "closed" and not (note or "").strip():
                raise TransitionError(
                    "closing a handoff before the caller is contacted needs a note saying why"
                )
            result = session.execute(
                update(Handoff)
                .where(Handoff.id == handoff.id, Handoff.status == current)
                .values(status=to_status)
                .execution_options(synchronize_session=False)
            )
            if result.rowcount != 1:
                raise TransitionError(f"{handoff.reference} was changed by someone else; retry")
            session.add(HandoffEvent(handoff_id=handoff.id, from_status=current,
                                     to_status=to_status, actor=actor.strip(), at=now,
                                     note=self.cipher.encrypt(note)))
            session.flush()
            session.refresh(handoff)
            return self._summary(handoff)

    def for_conversation(self, conversation_id: str) -> builtins.list[str]:
        """References of every handoff from one Rasa conversation (subject access, retention)."""
        with session_scope(self.session_factory) as session:
            rows = session.execute(
                select(Handoff.reference)
                .where(Handoff.conversation_id == conversation_id)
                .order_by(Handoff.id)
            ).scalars()
            return builtins.list(rows)

    def list(self, status: str | None = None, team: str | None = None,
             ) -> builtins.list[HandoffSummary]:
        """Handoffs (no personal data), oldest first, optionally by status and/or team id."""
        query = select(Handoff).order_by(Handoff.created_at, Handoff.id)
        if status is not None:
            query = query.where(Handoff.status == status)
        if team is not None:
            query = query.where(Handoff.team_id == team)
        with session_scope(self.session_factory) as session:
            return [self._summary(h) for h in session.execute(query).scalars()]

    def _load(self, session: Any, reference: str) -> Handoff:
        handoff = session.execute(
            select(Handoff).where(Handoff.reference == normalise_reference(reference))
        ).scalar_one_or_none()
        if handoff is None:
            raise HandoffNotFound(f"no handoff with reference {reference!r}")
        return handoff  # type: ignore[no-any-return]

    def _summary(self, handoff: Handoff) -> HandoffSummary:
        due = as_utc(handoff.sla_due_at)
        now = as_utc(self.clock())
        assert due is not None and now is not None
        return HandoffSummary(
            reference=handoff.reference,
            team_id=handoff.team_id,
            category=handoff.category,
            priority=handoff.priority,
            status=handoff.status,
            channel=handoff.channel,
            created_at=as_utc(handoff.created_at),  # type: ignore[arg-type]
            sla_due_at=due,
            overdue=handoff.status in ("new", "acknowledged") and now > due,
        )


def service_from_settings(settings: Any = None, *, migrate: bool = True) -> HandoffService:
    """A :class:`HandoffService` for the configured database, key and directory.

    Creates an engine (call once per process); ``migrate`` applies the migrations first.
    """
    from firstpoint.records.crypto import cipher_from_settings
    from firstpoint.records.db import make_engine, session_factory
    from firstpoint.settings import get_settings
    from knowledge.directory import load_directory

    settings = settings or get_settings()
    if migrate:
        from firstpoint.records.migrate import upgrade

        upgrade(settings.database_url)
    return HandoffService(
        session_factory(make_engine(settings.database_url)),
        cipher_from_settings(settings),
        load_directory(settings.content_dir),
    )

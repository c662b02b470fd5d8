"""Creates, reads and moves handoffs through their statuses.

:class:`HandoffService` writes the handoff row, its first status event and one
outbox row per notification target in ONE transaction, so a handoff is never lost
even if every notifier then fails (the :class:`firstpoint.notify.outbox.OutboxDispatcher`
keeps retrying). The caller's name, contact method/details/time, message, transcript
and officers' notes are encrypted with :class:`firstpoint.records.crypto.FieldCipher`.
Datetimes are returned timezone-aware.
"""

from __future__ import annotations

import builtins
import json
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import sessionmaker

from firstpoint.database import as_utc, session_scope, utcnow
from firstpoint.notify.base import ENV_TARGET_PREFIX, compose_notification
from firstpoint.notify.models import pending
from firstpoint.records.crypto import FieldCipher
from firstpoint.records.handoffs.models import (
    STATUSES,
    SYSTEM_ACTOR,
    TRANSITIONS,
    Handoff,
    HandoffEvent,
)
from firstpoint.records.handoffs.references import new_reference, normalise_reference
from firstpoint.records.handoffs.views import (
    HandoffEventView,
    HandoffLimits,
    HandoffNotFound,
    HandoffRateLimited,
    HandoffReceipt,
    HandoffSummary,
    HandoffView,
    TransitionError,
)
from knowledge.directory import Directory, format_local

_CREATE_ATTEMPTS = 5


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
                handoff.outbox.append(pending(notifier, target, notification.to_payload(), now))
            try:
                with session_scope(self.session_factory) as session:
                    session.add(handoff)
            except IntegrityError as exc:
                if not self._reference_taken(reference):
                    raise  # not a reference collision: a real error
                last_error = exc  # the reference was taken between check and insert
                continue
            return self._receipt(reference, team.id, priority, due, now)
        raise RuntimeError("could not store the handoff after several attempts") from last_error

    def _receipt(self, reference: str, team_id: str, priority: str, due: datetime,
                 now: datetime) -> HandoffReceipt:
        """What to tell the caller about a handoff to ``team_id`` due at ``due``."""
        team = self.directory.team(team_id)
        return HandoffReceipt(
            reference=reference, team_id=team.id, team_name=team.name, priority=priority,
            sla_due_at=due, sla_due_text=format_local(due),
            is_open_now=self.directory.is_open(team, now),
            out_of_hours=team.out_of_hours.text(),
            what_happens_next=team.what_happens_next,
        )

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
                return self._receipt(row.reference, row.team_id, row.priority,
                                     as_utc(row.sla_due_at) or now, now)
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

"""Builds the contact log from facts: :class:`ContactRecorder`.

Facts are applied in the order Rasa published them. Outcome precedence
(``docs/contracts.md``): emergency > handed_off > answered > declined >
not_understood > abandoned. A contact closes when its conversation starts a new
session or when it has been idle longer than ``idle_minutes`` (:meth:`close_idle`);
on closing it becomes ``abandoned`` when the person left without an answer or a
handoff: nothing was reached, or a handoff form was started and no reference given
(and nothing better than "not understood" happened — the request for a person
supersedes the earlier misunderstanding).
"""

from __future__ import annotations

import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from firstpoint.database import make_engine, session_factory, session_scope
from firstpoint.records.contacts import facts as F
from firstpoint.records.contacts.dedup import claim
from firstpoint.records.contacts.facts import Fact, conversation_key
from firstpoint.records.contacts.keys import contact_key_from_settings
from firstpoint.records.contacts.models import (
    OUTCOMES,
    UTC,
    Contact,
    ContactTopic,
    UnrecognisedMessage,
    naive_utc,
)
from firstpoint.settings import Settings

_RANK = {name: len(OUTCOMES) - i for i, name in enumerate(OUTCOMES)}


def utc_now() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


@dataclass
class _Transient:
    """What the recorder remembers about a conversation between facts (never stored)."""

    last_text: str | None = None
    last_recorded: bool = False
    handoff_started: bool = False
    carry_over: bool = False
    meta_channel: str | None = None
    meta_audience: str | None = None
    meta_language: str | None = None


def outcome_rank(outcome: str | None) -> int:
    """Precedence of an outcome (higher wins); 0 for none."""
    return _RANK.get(outcome or "", 0)


class ContactRecorder:
    """Builds contacts from facts; one instance per process, facts in publish order.

    ``session_factory`` is a SQLAlchemy sessionmaker (``firstpoint.records.db``);
    ``key`` the HMAC key for sender ids (:func:`contact_key_from_settings`); ``clock``
    returns the current time (used for facts without a timestamp and the idle sweep).
    """

    MAX_TRANSIENT = 50_000

    def __init__(self, session_factory: sessionmaker, key: bytes,
                 clock: Callable[[], datetime] = utc_now, idle_minutes: int = 30) -> None:
        self.session_factory = session_factory
        self.key = key
        self.clock = clock
        self.idle = timedelta(minutes=idle_minutes)
        self._state: OrderedDict[str, _Transient] = OrderedDict()

    # ------------------------------------------------------------------ helpers

    def _transient(self, key: str) -> _Transient:
        state = self._state.get(key)
        if state is None:
            state = self._state[key] = _Transient()
            while len(self._state) > self.MAX_TRANSIENT:
                self._state.popitem(last=False)
        else:
            self._state.move_to_end(key)
        return state

    def _when(self, fact: Fact) -> datetime:
        if fact.at is not None:
            return datetime.fromtimestamp(fact.at, UTC).replace(tzinfo=None)
        return naive_utc(self.clock())

    def conversation_key_for(self, fact: Fact) -> str:
        """The HMAC conversation key of a fact (already set on pseudonymised facts)."""
        if fact.conversation_key:
            return fact.conversation_key
        if not fact.sender_id:
            raise ValueError("a fact needs a sender_id or a conversation_key")
        return conversation_key(self.key, fact.sender_id)

    @staticmethod
    def _latest(session: Session, key: str) -> Contact | None:
        return session.execute(
            select(Contact).where(Contact.conversation_key == key)
            .order_by(Contact.session_no.desc(), Contact.id.desc()).limit(1)
        ).scalars().first()

    @staticmethod
    def _new_contact(session: Session, key: str, session_no: int, when: datetime,
                     state: _Transient) -> Contact:
        contact = Contact(
            contact_uuid=str(uuid.uuid4()), conversation_key=key, session_no=session_no,
            channel=state.meta_channel or F.DEFAULT_CHANNEL,
            audience=state.meta_audience or F.DEFAULT_AUDIENCE,
            language=state.meta_language or F.DEFAULT_LANGUAGE,
            last_event_at=when, user_turns=0,
        )
        contact.set_started(when)
        session.add(contact)
        return contact

    @staticmethod
    def _raise_outcome(contact: Contact, outcome: str) -> None:
        if outcome_rank(outcome) > outcome_rank(contact.outcome):
            contact.outcome = outcome

    @staticmethod
    def is_empty(contact: Contact) -> bool:
        """True for a contact where the person never wrote and nothing happened."""
        return not contact.user_turns and contact.outcome is None

    def _finalise(self, contact: Contact, state: _Transient | None) -> None:
        """Close ``contact``: set ``ended_at`` and decide whether it was abandoned."""
        contact.ended_at = contact.last_event_at
        handoff_started = (state is not None and state.handoff_started) or bool(
            contact.handoff_team)
        unfinished_handoff = handoff_started and not contact.handoff_reference
        if contact.outcome is None or (
            unfinished_handoff and contact.outcome in (None, "not_understood")
        ):
            contact.outcome = "abandoned"

    def _reopen(self, session: Session, contact: Contact) -> None:
        """A closed contact received more events of the same Rasa session: open it again."""
        contact.ended_at = None
        if contact.outcome == "abandoned":
            contact.outcome = "not_understood" if contact.unrecognised else None

    # ------------------------------------------------------------------ apply

    def apply(self, fact: Fact, event_id: str | None = None) -> bool:
        """Record one fact (in its own transaction); False if ``event_id`` was applied before.

        ``event_id`` (the consumer's digest of a RabbitMQ message body,
        :mod:`firstpoint.records.contacts.dedup`) is stored in the same transaction, so a
        redelivered message is recorded exactly once.
        """
        key = self.conversation_key_for(fact)
        state = self._transient(key)
        when = self._when(fact)
        if fact.kind == F.SESSION_META:
            state.meta_channel = fact.channel or state.meta_channel
            state.meta_audience = fact.audience or state.meta_audience
            state.meta_language = fact.language or state.meta_language
            return True
        with session_scope(self.session_factory) as session:
            if event_id is not None and not claim(session, event_id):
                return False
            self._apply_in(session, key, fact, state, when)
        return True

    def _apply_in(self, session: Session, key: str, fact: Fact, state: _Transient,
                  when: datetime) -> None:
        """The body of :meth:`apply`, inside its transaction."""
        latest = self._latest(session, key)
        if fact.kind == F.SESSION_STARTED:
            self._start_session(session, key, latest, when, state)
            return
        if latest is None:
            latest = self._new_contact(session, key, 1, when, state)
        elif latest.ended_at is not None:
            self._reopen(session, latest)
        if when > latest.last_event_at:
            latest.last_event_at = when
        handler = getattr(self, f"_on_{fact.kind}", None)
        if handler is None:
            raise ValueError(f"unknown fact kind {fact.kind!r}")
        handler(session, latest, fact, state, when)

    def _start_session(self, session: Session, key: str, latest: Contact | None,
                       when: datetime, state: _Transient) -> None:
        if latest is not None and latest.ended_at is None and when <= latest.started_at:
            # a late start of the session already being recorded (its events reached the
            # queue first, e.g. across replicas after an outage): not a new contact
            latest.set_started(when)
            return
        if latest is not None and latest.ended_at is None and self.is_empty(latest):
            latest.set_started(when)  # a repeated session start with nothing in between
            latest.last_event_at = when
        else:
            if latest is not None and latest.ended_at is None:
                self._finalise(latest, state)
            number = (latest.session_no + 1) if latest is not None else 1
            self._new_contact(session, key, number, when, state)
        state.last_text, state.last_recorded = None, False
        state.handoff_started = False
        state.carry_over = True

    def _on_user(self, session: Session, contact: Contact, fact: Fact, state: _Transient,
                 when: datetime) -> None:
        if not contact.user_turns:
            contact.channel = fact.channel or state.meta_channel or F.DEFAULT_CHANNEL
            contact.audience = fact.audience or state.meta_audience or F.DEFAULT_AUDIENCE
            if fact.language or state.meta_language:
                contact.language = fact.language or state.meta_language
        contact.user_turns = (contact.user_turns or 0) + 1
        state.carry_over = False
        state.last_text, state.last_recorded = fact.text_redacted, False
        if fact.intent == F.NLU_FALLBACK:
            self._not_understood(contact, state, when)

    def _not_understood(self, contact: Contact, state: _Transient, when: datetime) -> None:
        if state.handoff_started and not contact.handoff_reference:
            # Inside the handoff form the caller is answering our questions (names,
            # numbers): that is neither "not understood" nor text we may keep.
            state.last_recorded = True
            return
        self._raise_outcome(contact, "not_understood")
        if state.last_text and not state.last_recorded:
            contact.unrecognised.append(UnrecognisedMessage(
                at=when, text_redacted=state.last_text,
                channel=contact.channel, audience=contact.audience))
        state.last_recorded = True

    def _on_action(self, session: Session, contact: Contact, fact: Fact, state: _Transient,
                   when: datetime) -> None:
        state.carry_over = False
        if fact.name == F.ACTION_EMERGENCY:
            self._raise_outcome(contact, "emergency")
        elif fact.name == F.ACTION_NOT_UNDERSTOOD:
            self._not_understood(contact, state, when)
        elif fact.name == F.HANDOFF_FORM:
            state.handoff_started = True

    def _on_slot(self, session: Session, contact: Contact, fact: Fact, state: _Transient,
                 when: datetime) -> None:
        name, value = fact.name, fact.value
        if value is None:
            return
        if state.carry_over and name != "language":
            return  # carried over from the previous session by action_session_start
        if name == "language":
            contact.language = value[:5]
        elif name == "kb_topic":
            entry_id = value[:80]  # compare what is stored: UNIQUE (contact_id, entry_id)
            if all(t.entry_id != entry_id for t in contact.topics):
                contact.topics.append(ContactTopic(entry_id=entry_id,
                                                   position=len(contact.topics)))
        elif name == "kb_outcome":
            if value in ("answered", "declined"):
                self._raise_outcome(contact, value)
            elif value == "none":  # the knowledge base had no answer: not understood
                self._not_understood(contact, state, when)
        elif name == "safety_category":
            contact.safety_category = value[:30]
        elif name == "handoff_team":
            contact.handoff_team = value[:60]
            state.handoff_started = True
        elif name == "handoff_reference":
            contact.handoff_reference = value[:20]
            self._raise_outcome(contact, "handed_off")
        elif name == "feedback_rating":
            contact.rating = value[:12]
        elif name == "feedback_comment":
            contact.rating_comment = value

    # ------------------------------------------------------------------ sweep

    def close_idle(self, now: datetime | None = None) -> int:
        """Close contacts idle longer than ``idle_minutes``; returns how many were closed.

        Contacts where the person never wrote and nothing happened (a widget that
        opened a session and was never used) are deleted instead: they are not contacts.
        """
        cutoff = naive_utc(now or self.clock()) - self.idle
        closed = 0
        with session_scope(self.session_factory) as session:
            stale = session.execute(
                select(Contact).where(Contact.ended_at.is_(None),
                                      Contact.last_event_at < cutoff)
            ).scalars().all()
            for contact in stale:
                state = self._state.pop(contact.conversation_key, None)
                if self.is_empty(contact):
                    session.delete(contact)
                    continue
                self._finalise(contact, state)
                closed += 1
        return closed



def recorder_for_url(url: str, settings: Settings, *, key: bytes | None = None,
                     clock: Callable[[], datetime] = utc_now,
                     idle_minutes: int | None = None) -> tuple[ContactRecorder, Engine]:
    """A recorder writing to ``url`` (engine created here, not connected) and its engine."""
    engine = make_engine(url)
    recorder = ContactRecorder(
        session_factory(engine),
        key if key is not None else contact_key_from_settings(settings),
        clock=clock,
        idle_minutes=settings.contact_idle_minutes if idle_minutes is None else idle_minutes,
    )
    return recorder, engine

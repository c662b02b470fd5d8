"""The contact log's tables: ``contacts``, ``contact_topics``, ``unrecognised_messages``.

One row per Rasa session (``docs/contact-log-schema.md``, migrations ``0001_contacts``
and ``0003_report_indexes``). The child tables repeat their contact's ``local_date``,
``channel`` and ``audience`` so reports filter them without a join; the ORM events
below keep the copies in step. Nothing personal is stored: the conversation is
identified by an HMAC of the Rasa sender id, free text only ever arrives redacted.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date, datetime, timezone

from sqlalchemy import (
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    event,
    select,
)
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Mapper, relationship

from firstpoint.database import Base
from knowledge.loader import council_zone

UTC = timezone.utc
OUTCOMES = ("emergency", "handed_off", "answered", "declined", "not_understood", "abandoned")


def naive_utc(moment: datetime) -> datetime:
    """``moment`` as naive UTC (how the contact tables store times)."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment


def local_fields(moment: datetime) -> tuple[date, str, int, int]:
    """(local date, "YYYY-MM", hour, weekday) of a UTC time in the council's time zone."""
    local = naive_utc(moment).replace(tzinfo=UTC).astimezone(council_zone())
    return local.date(), f"{local.year:04d}-{local.month:02d}", local.hour, local.weekday()


class Contact(Base):
    """One contact: a Rasa session of one conversation, without personal data."""

    __tablename__ = "contacts"

    id = Column(Integer, primary_key=True)
    contact_uuid = Column(String(36), unique=True, nullable=False,
                          default=lambda: str(uuid.uuid4()))
    conversation_key = Column(String(64), index=True, nullable=False)
    session_no = Column(Integer, nullable=False)
    channel = Column(String(20), index=True, nullable=False)
    audience = Column(String(10), index=True, nullable=False)
    language = Column(String(5), nullable=False)
    started_at = Column(DateTime, index=True, nullable=False)
    last_event_at = Column(DateTime, nullable=False)
    ended_at = Column(DateTime, nullable=True)
    local_date = Column(Date, nullable=False)  # indexed by ix_contacts_hours/_report
    local_month = Column(String(7), index=True, nullable=False)
    local_hour = Column(SmallInteger, nullable=False)
    local_weekday = Column(SmallInteger, nullable=False)
    user_turns = Column(Integer, nullable=False, default=0)
    outcome = Column(String(20), index=True, nullable=True)
    safety_category = Column(String(30), nullable=True)
    handoff_team = Column(String(60), index=True, nullable=True)
    handoff_reference = Column(String(20), nullable=True)
    rating = Column(String(12), nullable=True)
    rating_comment = Column(Text, nullable=True)

    topics = relationship("ContactTopic", order_by="ContactTopic.position",
                          cascade="all, delete-orphan", passive_deletes=True,
                          back_populates="contact")
    unrecognised = relationship("UnrecognisedMessage", order_by="UnrecognisedMessage.id",
                                cascade="all, delete-orphan", passive_deletes=True,
                                back_populates="contact")

    __table_args__ = (
        # Reports (firstpoint.reports.queries): the figures statement streams off this
        # covering index; the weekday x hour grid off ix_contacts_hours.
        Index("ix_contacts_report", "local_date", "local_weekday", "local_month", "channel",
              "audience", "outcome", "rating", "handoff_team", "local_hour", "id"),
        Index("ix_contacts_hours", "local_date", "local_weekday", "local_hour"),
    )

    def set_started(self, started_at: datetime) -> None:
        """Set ``started_at`` (naive UTC) and the Europe/London fields derived from it."""
        self.started_at = started_at
        (self.local_date, self.local_month, self.local_hour,
         self.local_weekday) = local_fields(started_at)


class ContactTopic(Base):
    """A knowledge entry answered during a contact, in the order first answered.

    ``local_date``, ``channel`` and ``audience`` are copies of the contact's (set on
    append to ``Contact.topics`` and kept in step by the events below).
    """

    __tablename__ = "contact_topics"

    id = Column(Integer, primary_key=True)
    contact_id = Column(Integer, ForeignKey("contacts.id", ondelete="CASCADE"), nullable=False)
    entry_id = Column(String(80), nullable=False)
    position = Column(SmallInteger, nullable=False)
    local_date = Column(Date, nullable=False)
    channel = Column(String(20), nullable=False)
    audience = Column(String(10), nullable=False)

    contact = relationship("Contact", back_populates="topics")

    __table_args__ = (
        # An entry at most once per contact: top topics counts rows as contacts. Its
        # index (led by contact_id) also serves the foreign key.
        UniqueConstraint("contact_id", "entry_id", name="uq_contact_topics_contact_id_entry_id"),
        Index("ix_contact_topics_report", "entry_id", "local_date", "channel", "audience",
              "contact_id"),
    )


class UnrecognisedMessage(Base):
    """A message the assistant did not understand, stored redacted.

    ``local_date``, ``channel`` and ``audience`` are the contact's (kept in step).
    """

    __tablename__ = "unrecognised_messages"

    id = Column(Integer, primary_key=True)
    contact_id = Column(Integer, ForeignKey("contacts.id", ondelete="CASCADE"),
                        index=True, nullable=False)
    at = Column(DateTime, nullable=False)
    text_redacted = Column(Text, nullable=False)
    channel = Column(String(20), nullable=False)
    audience = Column(String(10), nullable=False)
    local_date = Column(Date, nullable=False)

    contact = relationship("Contact", back_populates="unrecognised")

    __table_args__ = (
        Index("ix_unrecognised_messages_report", "local_date", "channel", "audience"),
    )


# ----------------------------------------------------- denormalised copies in step

SCOPE_COLUMNS = ("local_date", "channel", "audience")


def _copy_scope(contact: Contact, child: ContactTopic | UnrecognisedMessage) -> None:
    for name in SCOPE_COLUMNS:
        setattr(child, name, getattr(contact, name))


@event.listens_for(Contact.topics, "append")
@event.listens_for(Contact.unrecognised, "append")
def _child_appended(contact: Contact, child: ContactTopic | UnrecognisedMessage,
                    _initiator: object) -> None:
    """A topic or unrecognised message added to a contact takes the contact's scope."""
    _copy_scope(contact, child)


def _scope_setter(name: str) -> Callable[[Contact, object, object, object], None]:
    def changed(contact: Contact, value: object, old: object, _initiator: object) -> None:
        """The contact's ``name`` changed (e.g. channel at the first user turn): copy it."""
        if value == old:
            return
        for child in (*contact.topics, *contact.unrecognised):
            setattr(child, name, value)

    return changed


for _name in SCOPE_COLUMNS:
    event.listen(getattr(Contact, _name), "set", _scope_setter(_name))


def _scope_before_insert(_mapper: Mapper, connection: Connection,
                         child: ContactTopic | UnrecognisedMessage) -> None:
    """Whatever was given, a child is inserted with its contact's scope: from the
    contact object when it was added through the relationship, else read by
    ``contact_id`` in the same transaction."""
    contact = sa_inspect(child).attrs.contact.loaded_value
    if isinstance(contact, Contact):
        _copy_scope(contact, child)
        return
    row = connection.execute(
        select(Contact.local_date, Contact.channel, Contact.audience)
        .where(Contact.id == child.contact_id)
    ).first()
    if row is not None:  # else the foreign key rejects the row anyway
        child.local_date, child.channel, child.audience = row


event.listen(ContactTopic, "before_insert", _scope_before_insert)
event.listen(UnrecognisedMessage, "before_insert", _scope_before_insert)

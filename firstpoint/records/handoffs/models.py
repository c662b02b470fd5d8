"""The handoff tables: ``handoffs`` and ``handoff_events`` (personal columns ciphertext).

Where delivery staff (e.g. social workers) are accountable as the point of contact,
Business Support passes the enquiry to the accountable officer and does not
intervene. A handoff's notifications are rows of the ``outbox`` table, which
belongs to :mod:`firstpoint.notify.models`. Datetimes are stored as UTC.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import relationship

from firstpoint.database import Base
from firstpoint.notify.models import OutboxMessage, sql_in
from knowledge.vocabulary import PRIORITIES as PRIORITIES

STATUSES = ("new", "acknowledged", "contacted", "closed")
#: Allowed status changes. Closing an acknowledged handoff without contact needs a note.
TRANSITIONS: Mapping[str, frozenset[str]] = {
    "new": frozenset({"acknowledged"}),
    "acknowledged": frozenset({"contacted", "closed"}),
    "contacted": frozenset({"closed"}),
    "closed": frozenset(),
}
SYSTEM_ACTOR = "firstpoint"


class Handoff(Base):
    """One enquiry passed to an accountable team; personal columns are ciphertext."""

    __tablename__ = "handoffs"
    __table_args__ = (
        CheckConstraint(f"status IN ({sql_in(STATUSES)})", name="status"),
        CheckConstraint(f"priority IN ({sql_in(PRIORITIES)})", name="priority"),
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
    outbox = relationship(OutboxMessage, order_by=OutboxMessage.id,
                          cascade="all, delete-orphan")


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

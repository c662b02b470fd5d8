"""The ``outbox`` table: notifications waiting to be (or already) sent.

Rows are added in the same transaction as the record they announce (a handoff:
:meth:`firstpoint.records.handoffs.HandoffService.create` calls :func:`pending`)
and sent by :class:`firstpoint.notify.outbox.OutboxDispatcher`. The table refers
to ``handoffs.id`` by name only; the notify package imports nothing from records.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)

from firstpoint.database import Base

OUTBOX_STATUSES = ("pending", "sent", "failed")


def sql_in(values: Iterable[str]) -> str:
    """``'a', 'b'`` for a CHECK constraint listing allowed values."""
    return ", ".join(f"'{v}'" for v in values)


class OutboxMessage(Base):
    """A notification waiting to be (or already) sent; rows are never deleted by the
    dispatcher (retention deletes them with their handoff)."""

    __tablename__ = "outbox"
    __table_args__ = (
        CheckConstraint(f"status IN ({sql_in(OUTBOX_STATUSES)})", name="status"),
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


def pending(notifier: str, target: str, payload: Mapping[str, Any],
            now: datetime) -> OutboxMessage:
    """A new outbox row, due now (add it to the announcing record's transaction)."""
    return OutboxMessage(notifier=notifier, target=target, payload=dict(payload),
                         status="pending", attempts=0, next_attempt_at=now, created_at=now)

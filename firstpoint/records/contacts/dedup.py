"""Exactly-once recording of RabbitMQ deliveries in the contact log (the applied ledger).

RabbitMQ delivers at least once: a consumer killed after its database commit but
before its ``ack`` gets the same message again when it restarts. The consumer
therefore records the SHA-256 of each message body it applied in
``contact_applied_events``, in the same transaction as the fact
(:meth:`firstpoint.records.contacts.ContactRecorder.apply` with ``event_id``);
a redelivered body is acknowledged and skipped. Rasa's event bodies carry the
sender, the event type and a float timestamp, so two different events do not
share a body (two byte-identical events would describe the same thing twice).

The table is the consumer's bookkeeping, kept beside the recorder that claims in
it but not part of the records schema (no Alembic migration): :func:`ensure_table`
creates it when the consumer (:mod:`firstpoint.events.consumer`) starts,
and :func:`forget_older_than` keeps only recent digests (redeliveries come within
minutes, not days).
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta, timezone

from sqlalchemy import Column, DateTime, MetaData, String, Table, delete, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

METADATA = MetaData()
APPLIED = Table(
    "contact_applied_events", METADATA,
    Column("digest", String(64), primary_key=True),
    Column("applied_at", DateTime, nullable=False, index=True),
)
KEEP_DAYS = 7


def body_digest(body: bytes) -> str:
    """The dedup key of one message body."""
    return hashlib.sha256(body).hexdigest()


def ensure_table(engine: Engine) -> None:
    """Create ``contact_applied_events`` if it does not exist."""
    METADATA.create_all(engine, checkfirst=True)


def claim(session: Session, digest: str) -> bool:
    """Record ``digest`` in this transaction; False when it was applied before."""
    if session.execute(select(APPLIED.c.digest).where(APPLIED.c.digest == digest)).first():
        return False
    session.execute(APPLIED.insert().values(
        digest=digest, applied_at=datetime.now(timezone.utc).replace(tzinfo=None)))
    return True


def forget_older_than(engine: Engine, days: int = KEEP_DAYS) -> int:
    """Delete digests older than ``days``; returns how many."""
    cutoff = datetime.now(timezone.utc).replace(tzinfo=None) - timedelta(days=days)
    with engine.begin() as conn:
        return int(conn.execute(delete(APPLIED).where(APPLIED.c.applied_at < cutoff)).rowcount
                   or 0)

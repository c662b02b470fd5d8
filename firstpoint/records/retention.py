"""Retention: delete records older than ``retention_days`` in ``council.yml``.

Contacts, closed handoffs (with their status events and outbox rows) and Rasa
tracker events older than their period are deleted; handoffs that are still open
are kept and counted: an unresolved referral is never deleted automatically.
``firstpoint purge`` (``firstpoint.commands.contacts``) runs it, once or on a
schedule.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.engine import Engine

from firstpoint.database import make_engine
from firstpoint.notify.models import OutboxMessage
from firstpoint.records.contacts.models import Contact, ContactTopic, UnrecognisedMessage
from firstpoint.records.handoffs.models import Handoff, HandoffEvent
from firstpoint.records.tracker_events import has_table, purge_events
from knowledge.loader import load_council_settings

RETENTION_KEYS = ("contacts", "handoffs", "tracker")


def load_retention_days(content_dir: Path) -> dict[str, int]:
    """``retention_days`` from ``council.yml``, as {contacts, handoffs, tracker}.

    Read and validated by the content loader, like every content file: a
    mistake raises :class:`knowledge.schema.ContentError` naming the file and field.
    """
    return dict(load_council_settings(content_dir).retention_days)


def _purge_contacts(engine: Engine, cutoff: datetime, dry_run: bool) -> int:
    old = select(Contact.id).where(Contact.started_at < cutoff.replace(tzinfo=None))
    with engine.begin() as conn:
        count = conn.execute(select(func.count()).select_from(old.subquery())).scalar_one()
        if not dry_run and count:
            conn.execute(delete(ContactTopic).where(ContactTopic.contact_id.in_(old)))
            conn.execute(delete(UnrecognisedMessage)
                         .where(UnrecognisedMessage.contact_id.in_(old)))
            conn.execute(delete(Contact).where(Contact.id.in_(old)))
    return int(count)


def _purge_handoffs(engine: Engine, cutoff: datetime, dry_run: bool) -> tuple[int, int]:
    """(handoffs deleted, old handoffs kept because they are still open)."""
    if not has_table(engine, "handoffs"):
        return 0, 0
    model, events, outbox = Handoff, HandoffEvent, OutboxMessage
    old = select(model.id).where(model.created_at < cutoff, model.status == "closed")
    with engine.begin() as conn:
        count = conn.execute(select(func.count()).select_from(old.subquery())).scalar_one()
        kept = conn.execute(select(func.count()).select_from(model).where(
            model.created_at < cutoff, model.status != "closed")).scalar_one()
        if not dry_run and count:
            conn.execute(delete(outbox).where(outbox.handoff_id.in_(old)))
            conn.execute(delete(events).where(events.handoff_id.in_(old)))
            conn.execute(delete(model).where(model.id.in_(old)))
    return int(count), int(kept)


def purge(*, url: str, tracker_url: str | None, retention_days: Mapping[str, int],
          now: datetime | None = None, dry_run: bool = False) -> dict[str, Any]:
    """Delete records older than their retention period; returns the counts (and notes)."""
    now = now or datetime.now(timezone.utc)
    notes: list[str] = []
    engine = make_engine(url)
    try:
        contacts = _purge_contacts(engine, now - timedelta(days=retention_days["contacts"]),
                                   dry_run)
        handoffs, kept = _purge_handoffs(
            engine, now - timedelta(days=retention_days["handoffs"]), dry_run)
    finally:
        engine.dispose()
    tracker = purge_events(tracker_url, now - timedelta(days=retention_days["tracker"]),
                             dry_run, notes)
    return {"contacts": contacts, "handoffs": handoffs, "handoffs_kept_open": kept,
            "tracker_events": tracker, "dry_run": dry_run, "notes": notes}

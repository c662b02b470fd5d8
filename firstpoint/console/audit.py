"""The console's audit trail: who viewed, decrypted, changed or exported what, and when.

Rows hold references, actions and *which* fields changed, never the values: the
trail itself carries no personal data, so it can be exported and kept longer
than the handoffs it describes.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from firstpoint.console.models import AuditEntry
from firstpoint.records.db import session_scope

#: Actions the console records. ``decrypted`` is any page or export showing personal data.
ACTIONS = (
    "signed_in", "sign_in_failed", "signed_out", "decrypted", "status_changed", "assigned",
    "note_added", "exported", "joined", "sent_message", "handed_back", "closed_conversation",
    "takeover_ended", "review_marked", "review_exported",
)


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class AuditRecord:
    """One audit row as shown and exported."""

    at: datetime
    actor: str
    role: str | None
    action: str
    handoff_reference: str | None
    conversation: str | None
    detail: str | None
    address: str | None


def _record(row: AuditEntry) -> AuditRecord:
    at = row.at if row.at.tzinfo else row.at.replace(tzinfo=timezone.utc)
    return AuditRecord(at, row.actor, row.role, row.action, row.handoff_reference,
                       row.conversation, row.detail, row.address)


class AuditLog:
    """Appends to and reads ``console_audit``."""

    def __init__(self, session_factory: sessionmaker,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.session_factory = session_factory
        self.clock = clock

    def record(self, actor: str, action: str, *, role: str | None = None,
               reference: str | None = None, conversation: str | None = None,
               detail: str | None = None, address: str | None = None) -> None:
        """Append one entry (``action`` one of :data:`ACTIONS`)."""
        if action not in ACTIONS:
            raise ValueError(f"unknown audit action {action!r}")
        with session_scope(self.session_factory) as s:
            s.add(AuditEntry(at=self.clock(), actor=actor[:64], role=role, action=action,
                             handoff_reference=reference, conversation=conversation,
                             detail=(detail or None) and detail[:500],
                             address=(address or None) and address[:64]))

    def entries(self, *, reference: str | None = None, actor: str | None = None,
                action: str | None = None, limit: int = 500) -> list[AuditRecord]:
        """Newest first, optionally for one handoff, one actor or one action."""
        query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
        if reference:
            query = query.where(AuditEntry.handoff_reference == reference)
        if actor:
            query = query.where(AuditEntry.actor == actor)
        if action:
            query = query.where(AuditEntry.action == action)
        with session_scope(self.session_factory) as s:
            return [_record(r) for r in s.execute(query).scalars()]


CSV_HEADER = ("at_utc", "actor", "role", "action", "handoff_reference", "conversation",
              "detail", "address")


def safe_cell(value: object) -> str:
    """A CSV cell that a spreadsheet will not run as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def audit_csv(records: Iterable[AuditRecord]) -> str:
    """The records as CSV (``CSV_HEADER`` columns)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_HEADER)
    for r in records:
        writer.writerow([safe_cell(v) for v in (r.at.isoformat(), r.actor, r.role, r.action,
                                                r.handoff_reference, r.conversation, r.detail,
                                                r.address)])
    return out.getvalue()

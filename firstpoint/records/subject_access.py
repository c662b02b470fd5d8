"""Subject access: everything FirstPoint holds about one Rasa conversation, as JSON data.

The contacts of that conversation (found through its HMAC conversation key, under
every configured key), their topics and redacted not-understood messages, its
handoffs (decrypted: the subject's own data) and its Rasa tracker events (if the
tracker store is reachable). ``firstpoint contacts export`` prints or writes it.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine

from firstpoint.database import make_engine, session_factory, session_scope
from firstpoint.records.contacts.facts import conversation_key
from firstpoint.records.contacts.keys import contact_keys_from_settings
from firstpoint.records.contacts.models import Contact
from firstpoint.records.crypto import CryptoConfigError, cipher_from_settings
from firstpoint.records.handoffs.service import HandoffService
from firstpoint.records.tracker_events import rows_for
from firstpoint.records.tracker_store import EventCodec
from firstpoint.settings import Settings
from knowledge.directory import load_directory


def _iso(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def _contacts_for(engine: Engine, keys: list[str]) -> list[dict[str, Any]]:
    out = []
    with session_scope(session_factory(engine)) as session:
        rows = session.execute(
            select(Contact).where(Contact.conversation_key.in_(keys))
            .order_by(Contact.started_at, Contact.id)
        ).scalars().all()
        for contact in rows:
            record = {c.name: _iso(getattr(contact, c.name))
                      for c in Contact.__table__.columns if c.name != "id"}
            record["local_date"] = str(contact.local_date)
            record["topics"] = [t.entry_id for t in contact.topics]
            record["unrecognised_messages"] = [
                {"at": _iso(m.at), "text_redacted": m.text_redacted, "channel": m.channel,
                 "audience": m.audience}
                for m in contact.unrecognised
            ]
            out.append(record)
    return out


def _handoffs_for(conversation_id: str, engine: Engine, settings: Settings,
                  notes: list[str]) -> list[dict[str, Any]] | None:
    try:
        service = HandoffService(session_factory(engine), cipher_from_settings(settings),
                                 load_directory(settings.content_dir))
        views = [service.get(ref) for ref in service.for_conversation(conversation_id)]
    except Exception as exc:  # noqa: BLE001 - report what could not be exported
        notes.append(f"handoffs: could not be read ({type(exc).__name__}: {exc})")
        return None
    return [json.loads(json.dumps(asdict(view), default=str)) for view in views]


def _codec(settings: Settings, notes: list[str]) -> EventCodec | None:
    """The tracker store's event codec (encrypted events), or None without a data key."""
    try:
        return EventCodec(cipher_from_settings(settings))
    except CryptoConfigError as exc:
        notes.append(f"tracker: encrypted events cannot be read: {exc}")
        return None


def _tracker_events_for(sender_id: str, tracker_url: str | None, settings: Settings,
                        notes: list[str]) -> list[dict[str, Any]] | None:
    """The conversation's tracker events, decrypted where the key allows."""
    rows = rows_for(sender_id, tracker_url, notes)
    if rows is None:
        return None
    events = []
    codec = _codec(settings, notes)
    for row in rows:
        try:
            data = codec.decode(row["data"]) if codec and row["data"] else (
                json.loads(row["data"]) if row["data"] else None)
        except ValueError:
            data = row["data"]
        events.append({"type_name": row["type_name"], "timestamp": row["timestamp"],
                       "intent_name": row["intent_name"], "action_name": row["action_name"],
                       "data": data})
    return events


def export_conversation(conversation_id: str, *, settings: Settings, url: str,
                        tracker_url: str | None = None,
                        now: datetime | None = None) -> dict[str, Any]:
    """Everything FirstPoint holds about one Rasa conversation id, as JSON-ready data."""
    notes: list[str] = []
    keys = [conversation_key(k, conversation_id) for k in contact_keys_from_settings(settings)]
    engine = make_engine(url)
    try:
        contacts = _contacts_for(engine, keys)
        handoffs = _handoffs_for(conversation_id, engine, settings, notes)
    finally:
        engine.dispose()
    return {
        "conversation_id": conversation_id,
        "generated_at": (now or datetime.now(timezone.utc)).isoformat(),
        "contacts": contacts,
        "handoffs": handoffs,
        "tracker_events": _tracker_events_for(conversation_id, tracker_url, settings,
                                              notes),
        "notes": notes,
    }

"""``firstpoint contacts …`` (consume, close-idle, export) and ``firstpoint purge``.

* ``contacts consume`` — record the contact log from Rasa's RabbitMQ event queue.
* ``contacts close-idle`` — close contacts idle longer than the idle limit.
* ``contacts export --conversation-id ID`` — subject-access export (JSON): the
  contacts of that Rasa conversation (found through its HMAC key), their topics and
  redacted not-understood messages, its handoffs (decrypted, if the handoff module
  is installed) and its Rasa tracker events (if the tracker store is reachable).
* ``purge [--dry-run]`` — delete contacts, closed handoffs (with their events and
  outbox rows) and Rasa tracker events older than ``retention_days`` in
  ``knowledge/content/council.yml``. Handoffs that are still open are kept and
  counted: an unresolved referral is never deleted automatically.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections.abc import Mapping
from dataclasses import asdict
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, select, text
from sqlalchemy.engine import Engine

from firstpoint.settings import Settings, get_settings

RETENTION_KEYS = ("contacts", "handoffs", "tracker")
COUNCIL_FILE = "council.yml"


# --------------------------------------------------------------------------- helpers


def default_tracker_url(settings: Settings) -> str:
    """Rasa's SQL tracker store in the var directory (``sqlite:///var/tracker.db``)."""
    return f"sqlite:///{Path(settings.var_dir) / 'tracker.db'}"


def _sqlite_missing(url: str) -> bool:
    """True for a SQLite file URL whose file does not exist (do not create it)."""
    if not url.startswith("sqlite:///"):
        return False
    path = url[len("sqlite:///"):]
    return path not in ("", ":memory:") and not Path(path).exists()


def _has_table(engine: Engine, name: str) -> bool:
    from sqlalchemy import inspect

    return bool(inspect(engine).has_table(name))


def _iso(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def load_retention_days(content_dir: Path) -> dict[str, int]:
    """``retention_days`` from ``council.yml`` (validated), as {contacts, handoffs, tracker}."""
    try:
        loader = importlib.import_module("knowledge.loader")
    except ModuleNotFoundError:
        loader = None
    if loader is not None and hasattr(loader, "load_council_settings"):
        return dict(loader.load_council_settings(content_dir).retention_days)
    import yaml

    path = Path(content_dir) / COUNCIL_FILE
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValueError(f"{path}: cannot read the council settings: {exc}") from exc
    raw = doc.get("retention_days") if isinstance(doc, Mapping) else None
    if not isinstance(raw, Mapping):
        raise ValueError(f"{path}: retention_days: missing (a mapping of "
                         f"{', '.join(RETENTION_KEYS)} to a number of days)")
    days = {}
    for key in RETENTION_KEYS:
        value = raw.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise ValueError(f"{path}: retention_days.{key}: must be a positive whole number "
                             f"of days, got {value!r}")
        days[key] = value
    return days


# --------------------------------------------------------------------------- export


def _contacts_for(engine: Engine, keys: list[str]) -> list[dict[str, Any]]:
    from firstpoint.records.contacts import Contact
    from firstpoint.records.db import session_factory, session_scope

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
        handoffs = importlib.import_module("firstpoint.records.handoffs")
    except ModuleNotFoundError:
        notes.append("handoffs: module firstpoint.records.handoffs is not installed")
        return None
    try:
        from firstpoint.records.crypto import cipher_from_settings
        from firstpoint.records.db import session_factory
        from knowledge.directory import load_directory

        service = handoffs.HandoffService(session_factory(engine), cipher_from_settings(settings),
                                          load_directory(settings.content_dir))
        views = [service.get(ref) for ref in service.for_conversation(conversation_id)]
    except Exception as exc:  # noqa: BLE001 - report what could not be exported
        notes.append(f"handoffs: could not be read ({type(exc).__name__}: {exc})")
        return None
    return [json.loads(json.dumps(asdict(view), default=str)) for view in views]


def _tracker_codec(notes: list[str]) -> Any:
    """The tracker store's event codec (encrypted events), or None without a data key."""
    from firstpoint.records.crypto import CryptoConfigError
    from firstpoint.records.tracker_store import codec_from_settings

    try:
        return codec_from_settings()
    except CryptoConfigError as exc:
        notes.append(f"tracker: encrypted events cannot be read: {exc}")
        return None


def _tracker_events_for(sender_id: str, tracker_url: str | None,
                        notes: list[str]) -> list[dict[str, Any]] | None:
    if not tracker_url:
        return None
    if _sqlite_missing(tracker_url):
        notes.append(f"tracker: no tracker store at {tracker_url}")
        return None
    from firstpoint.records.db import make_engine

    engine = make_engine(tracker_url)
    try:
        if not _has_table(engine, "events"):
            notes.append("tracker: the tracker store has no events table")
            return None
        with engine.connect() as conn:
            rows = conn.execute(
                text("SELECT type_name, timestamp, intent_name, action_name, data "
                     "FROM events WHERE sender_id = :sender ORDER BY id"),
                {"sender": sender_id},
            ).mappings().all()
    finally:
        engine.dispose()
    events = []
    codec = _tracker_codec(notes)
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
    from firstpoint.events.facts import conversation_key
    from firstpoint.records.contacts import contact_keys_from_settings
    from firstpoint.records.db import make_engine

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
        "tracker_events": _tracker_events_for(conversation_id, tracker_url, notes),
        "notes": notes,
    }


# --------------------------------------------------------------------------- purge


def _purge_contacts(engine: Engine, cutoff: datetime, dry_run: bool) -> int:
    from firstpoint.records.contacts import Contact, ContactTopic, UnrecognisedMessage

    old = select(Contact.id).where(Contact.started_at < cutoff.replace(tzinfo=None))
    with engine.begin() as conn:
        count = conn.execute(select(func.count()).select_from(old.subquery())).scalar_one()
        if not dry_run and count:
            conn.execute(delete(ContactTopic).where(ContactTopic.contact_id.in_(old)))
            conn.execute(delete(UnrecognisedMessage)
                         .where(UnrecognisedMessage.contact_id.in_(old)))
            conn.execute(delete(Contact).where(Contact.id.in_(old)))
    return int(count)


def _purge_handoffs(engine: Engine, cutoff: datetime, dry_run: bool,
                    notes: list[str]) -> tuple[int, int]:
    """(handoffs deleted, old handoffs kept because they are still open)."""
    try:
        handoffs = importlib.import_module("firstpoint.records.handoffs")
    except ModuleNotFoundError:
        notes.append("handoffs: module not installed, nothing purged")
        return 0, 0
    if not _has_table(engine, "handoffs"):
        return 0, 0
    model, events, outbox = handoffs.Handoff, handoffs.HandoffEvent, handoffs.OutboxMessage
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


def _purge_tracker(tracker_url: str | None, cutoff: datetime, dry_run: bool,
                   notes: list[str]) -> int:
    if not tracker_url or _sqlite_missing(tracker_url):
        notes.append(f"tracker: no tracker store at {tracker_url}")
        return 0
    from firstpoint.records.db import make_engine

    engine = make_engine(tracker_url)
    try:
        if not _has_table(engine, "events"):
            notes.append("tracker: the tracker store has no events table")
            return 0
        limit = {"cutoff": cutoff.timestamp()}
        with engine.begin() as conn:
            count = conn.execute(text("SELECT count(*) FROM events WHERE timestamp < :cutoff"),
                                 limit).scalar_one()
            if not dry_run and count:
                conn.execute(text("DELETE FROM events WHERE timestamp < :cutoff"), limit)
    finally:
        engine.dispose()
    return int(count)


def purge(*, url: str, tracker_url: str | None, retention_days: Mapping[str, int],
          now: datetime | None = None, dry_run: bool = False) -> dict[str, Any]:
    """Delete records older than their retention period; returns the counts (and notes)."""
    from firstpoint.records.db import make_engine

    now = now or datetime.now(timezone.utc)
    notes: list[str] = []
    engine = make_engine(url)
    try:
        contacts = _purge_contacts(engine, now - timedelta(days=retention_days["contacts"]),
                                   dry_run)
        handoffs, kept = _purge_handoffs(
            engine, now - timedelta(days=retention_days["handoffs"]), dry_run, notes)
    finally:
        engine.dispose()
    tracker = _purge_tracker(tracker_url, now - timedelta(days=retention_days["tracker"]),
                             dry_run, notes)
    return {"contacts": contacts, "handoffs": handoffs, "handoffs_kept_open": kept,
            "tracker_events": tracker, "dry_run": dry_run, "notes": notes}


# --------------------------------------------------------------------------- commands


def _migrate(url: str) -> None:
    from firstpoint.records.migrate import upgrade

    upgrade(url)


def _consume(args: argparse.Namespace) -> int:
    from firstpoint.events.consumer import ContactConsumer
    from firstpoint.records.contacts import recorder_for_url
    from firstpoint.records.redaction import Redactor

    settings = get_settings()
    url = args.url or settings.database_url
    _migrate(url)
    recorder, engine = recorder_for_url(url, settings)
    consumer = ContactConsumer(recorder, Redactor(), amqp_url=args.amqp_url or
                               settings.rabbitmq_url, queue=args.queue or settings.rabbitmq_queue,
                               retry_seconds=args.retry_seconds)
    try:
        if args.max_messages is None and args.timeout is None:
            import signal
            import threading

            stopping = threading.Event()
            signal.signal(signal.SIGTERM, lambda *_: stopping.set())
            stats = consumer.run_forever(stop=stopping.is_set)
        else:
            stats = consumer.run(max_messages=args.max_messages, timeout=args.timeout)
    except KeyboardInterrupt:
        return 130
    finally:
        engine.dispose()
    print(json.dumps(stats.as_dict()))
    return 0


def _close_idle(args: argparse.Namespace) -> int:
    from firstpoint.records.contacts import recorder_for_url

    settings = get_settings()
    url = args.url or settings.database_url
    _migrate(url)
    recorder, engine = recorder_for_url(url, settings, idle_minutes=args.idle_minutes)
    try:
        closed = recorder.close_idle()
    finally:
        engine.dispose()
    print(f"closed {closed} idle contacts")
    return 0


def _export(args: argparse.Namespace) -> int:
    settings = get_settings()
    url = args.url or settings.database_url
    _migrate(url)
    data = export_conversation(args.conversation_id, settings=settings, url=url,
                               tracker_url=args.tracker_url or default_tracker_url(settings))
    body = json.dumps(data, indent=2, ensure_ascii=False, default=str)
    if args.output:
        Path(args.output).write_text(body + "\n", encoding="utf-8")
        print(f"wrote {args.output}: {len(data['contacts'])} contacts, "
              f"{len(data['handoffs'] or [])} handoffs, "
              f"{len(data['tracker_events'] or [])} tracker events")
    else:
        print(body)
    return 0


def _purge(args: argparse.Namespace) -> int:
    """One retention run, or (with ``--every S``) one every S seconds until stopped."""
    if not args.every:
        return _purge_once(args)
    import signal
    import threading

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    while not stop.is_set():
        try:
            _purge_once(args)
        except Exception as exc:  # noqa: BLE001 - a scheduled run retries next time
            print(f"purge failed ({type(exc).__name__}: {exc}); retrying in {args.every}s",
                  file=sys.stderr, flush=True)
        stop.wait(args.every)
    return 0


def _purge_once(args: argparse.Namespace) -> int:
    settings = get_settings()
    url = args.url or settings.database_url
    try:
        days = load_retention_days(settings.content_dir)
    except Exception as exc:  # noqa: BLE001 - the loader's own error names file and field
        print(f"cannot read retention_days: {exc}", file=sys.stderr)
        return 2
    _migrate(url)
    counts = purge(url=url, tracker_url=args.tracker_url or default_tracker_url(settings),
                   retention_days=days, dry_run=args.dry_run)
    verb = "would delete" if args.dry_run else "deleted"
    print(f"{verb}: {counts['contacts']} contacts (older than {days['contacts']} days), "
          f"{counts['handoffs']} closed handoffs (older than {days['handoffs']} days), "
          f"{counts['tracker_events']} tracker events (older than {days['tracker']} days)")
    if counts["handoffs_kept_open"]:
        print(f"kept: {counts['handoffs_kept_open']} handoffs past retention that are not "
              "closed yet")
    for note in counts["notes"]:
        print(f"note: {note}")
    sys.stdout.flush()  # a scheduled run (--every) logs each pass as it happens
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``contacts`` (consume, close-idle, export) and ``purge``."""
    contacts = sub.add_parser("contacts", help="the contact log")
    csub = contacts.add_subparsers(dest="contacts_command", metavar="ACTION", required=True)

    consume = csub.add_parser("consume", help="record contacts from Rasa's RabbitMQ queue")
    consume.add_argument("--queue", help="queue name (default FIRSTPOINT_RABBITMQ_QUEUE)")
    consume.add_argument("--max-messages", type=int, help="stop after N messages")
    consume.add_argument("--timeout", type=float,
                         help="stop after S seconds without a message")
    consume.add_argument("--retry-seconds", type=float, default=5.0,
                         help="wait before retrying when the database is down")
    consume.add_argument("--amqp-url", help="RabbitMQ URL (default FIRSTPOINT_RABBITMQ_URL)")
    consume.add_argument("--url", help="database URL (default FIRSTPOINT_DATABASE_URL)")
    consume.set_defaults(func=_consume)

    idle = csub.add_parser("close-idle", help="close contacts idle past the limit")
    idle.add_argument("--idle-minutes", type=int,
                      help="idle limit (default FIRSTPOINT_CONTACT_IDLE_MINUTES)")
    idle.add_argument("--url", help="database URL (default FIRSTPOINT_DATABASE_URL)")
    idle.set_defaults(func=_close_idle)

    export = csub.add_parser("export", help="subject-access export of one conversation (JSON)")
    export.add_argument("--conversation-id", required=True, help="the Rasa sender id")
    export.add_argument("--tracker-url",
                        help="Rasa SQL tracker store URL (default sqlite:///var/tracker.db)")
    export.add_argument("--output", help="write the JSON here instead of printing it")
    export.add_argument("--url", help="database URL (default FIRSTPOINT_DATABASE_URL)")
    export.set_defaults(func=_export)

    purge_parser = sub.add_parser("purge", help="delete records past their retention period")
    purge_parser.add_argument("--dry-run", action="store_true",
                              help="count what would be deleted, delete nothing")
    purge_parser.add_argument("--tracker-url",
                              help="Rasa SQL tracker store URL (default sqlite:///var/tracker.db)")
    purge_parser.add_argument("--url", help="database URL (default FIRSTPOINT_DATABASE_URL)")
    purge_parser.add_argument("--every", type=float, metavar="SECONDS",
                              help="keep running: purge every SECONDS (scheduled retention; "
                                   "firstpoint run and firstpoint production start this)")
    purge_parser.set_defaults(func=_purge)

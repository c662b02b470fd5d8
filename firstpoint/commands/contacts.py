"""``firstpoint contacts …`` (consume, close-idle, export) and ``firstpoint purge``.

* ``contacts consume`` — record the contact log from Rasa's RabbitMQ event queue
  (:mod:`firstpoint.events.consumer`).
* ``contacts close-idle`` — close contacts idle longer than the idle limit.
* ``contacts export --conversation-id ID`` — subject-access export (JSON,
  :mod:`firstpoint.records.subject_access`).
* ``purge [--dry-run] [--every S]`` — retention (:mod:`firstpoint.records.retention`):
  delete records older than ``retention_days`` in ``knowledge/content/council.yml``.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from pathlib import Path

from firstpoint.events.consumer import ContactConsumer
from firstpoint.records.contacts.recorder import recorder_for_url
from firstpoint.records.migrate import upgrade
from firstpoint.records.redaction import Redactor
from firstpoint.records.retention import load_retention_days, purge
from firstpoint.records.tracker_events import default_tracker_url
from firstpoint.settings import get_settings

# --------------------------------------------------------------------------- commands


def _migrate(url: str) -> None:
    upgrade(url)


def _consume(args: argparse.Namespace) -> int:
    settings = get_settings()
    url = args.url or settings.database_url
    _migrate(url)
    recorder, engine = recorder_for_url(url, settings)
    consumer = ContactConsumer(recorder, Redactor(), amqp_url=args.amqp_url or
                               settings.rabbitmq_url, queue=args.queue or settings.rabbitmq_queue,
                               retry_seconds=args.retry_seconds)
    try:
        if args.max_messages is None and args.timeout is None:
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
    # Reading the tracker store's encrypted events loads Rasa: only for this command.
    from firstpoint.records.subject_access import export_conversation

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

"""Rasa's SQL tracker store with every event encrypted at rest, off the event loop.

Rasa's ``SQLTrackerStore`` keeps each event as plain JSON in ``events.data``:
the raw messages and the handoff form's slots (names, phone numbers, the
message for the officer) were readable by anyone who could read the database
or its backups. This store is the same table and the same queries with three
changes:

* ``data`` holds ``fp1:`` + a Fernet token of the event JSON (``FIRSTPOINT_DATA_KEY``,
  the key rotation of :mod:`firstpoint.records.crypto`); rows written before it
  (plain JSON) are still read. The columns Rasa uses for lookups (sender id,
  type, timestamp, intent and action names) stay clear, so retention
  (``firstpoint purge``) still deletes by timestamp;
* the blocking database work runs in a worker thread (``asyncio.to_thread``),
  so one slow query does not stall every conversation on the replica, and it
  is retried for ``retry_seconds`` when the database is unreachable (a
  PostgreSQL restart delays a turn instead of Rasa's fail-safe store silently
  starting the conversation afresh in memory);
* new events are published to the event broker from the save itself (the
  events beyond those already stored), after the commit. Rasa's store read the
  whole tracker back from the database a second time on every save to find them.

``endpoints.yml``::

    tracker_store:
      type: firstpoint.records.tracker_store.EncryptedSQLTrackerStore
      dialect: postgresql            # or sqlite
      url: 127.0.0.1
      db: rasa
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import time
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.trackers import DialogueStateTracker

from firstpoint.rasa_patches import install as _install_rasa_patches
from firstpoint.records.crypto import FieldCipher, cipher_from_settings

log = logging.getLogger(__name__)
_install_rasa_patches()  # the action-response validation speed fix (firstpoint/rasa_patches.py)

PREFIX = "fp1:"
T = TypeVar("T")


def _unavailable() -> tuple[type[BaseException], ...]:
    from sqlalchemy.exc import DBAPIError, OperationalError

    return (OperationalError, DBAPIError, ConnectionError, TimeoutError)


class EventCodec:
    """Turns an event dict into the stored ``data`` text and back."""

    def __init__(self, cipher: FieldCipher) -> None:
        self.cipher = cipher

    def encode(self, data: dict[str, Any]) -> str:
        """Encrypted JSON with the ``fp1:`` prefix."""
        return PREFIX + (self.cipher.encrypt(json.dumps(data)) or "")

    def decode(self, stored: str) -> dict[str, Any]:
        """The event dict from stored text (encrypted, or plain JSON from before)."""
        if stored.startswith(PREFIX):
            return dict(json.loads(self.cipher.decrypt(stored[len(PREFIX):]) or "{}"))
        return dict(json.loads(stored))


def codec_from_settings() -> EventCodec:
    """The codec for this install's data key (``firstpoint.settings``)."""
    from firstpoint.settings import get_settings

    return EventCodec(cipher_from_settings(get_settings()))


class EncryptedSQLTrackerStore(SQLTrackerStore):
    """``SQLTrackerStore`` with encrypted event data, threaded I/O and outage retries."""

    def __init__(self, *args: Any, retry_seconds: float = 30.0, publish_wait: float = 0.0,
                 codec: EventCodec | None = None, **kwargs: Any) -> None:
        """Arguments as for Rasa's ``SQLTrackerStore`` plus ``retry_seconds``,
        ``publish_wait`` and ``codec``."""
        self.codec = codec or codec_from_settings()
        self.retry_seconds = float(retry_seconds)
        self.publish_wait = float(publish_wait)
        super().__init__(*args, **kwargs)

    # ------------------------------------------------------------------ plumbing

    async def _run(self, work: Callable[[], T]) -> T:
        """Run blocking ``work`` in a thread, retrying while the database is unreachable."""
        deadline = time.monotonic() + self.retry_seconds
        delay = 0.2
        while True:
            try:
                return await asyncio.to_thread(work)
            except _unavailable() as exc:
                if time.monotonic() + delay > deadline:
                    raise
                log.warning("tracker store unavailable (%s); retrying in %.1fs",
                            type(exc).__name__, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)

    # ------------------------------------------------------------------ reading

    def _load_events(self, sender_id: str, all_sessions: bool) -> list[dict[str, Any]]:
        with self.session_scope() as session:
            rows = self._event_query(session, sender_id,
                                     fetch_events_from_all_sessions=all_sessions).all()
            return [self.codec.decode(row.data) for row in rows]

    async def _retrieve(self, sender_id: str,
                        fetch_events_from_all_sessions: bool) -> DialogueStateTracker | None:
        events = await self._run(lambda: self._load_events(sender_id,
                                                           fetch_events_from_all_sessions))
        if self.domain and events:
            return DialogueStateTracker.from_dict(sender_id, events, self.domain.slots)
        return None

    async def keys(self) -> Iterable[str]:
        """Every stored sender id."""
        def work() -> list[str]:
            with self.session_scope() as session:
                return [s for (s,) in session.query(self.SQLEvent.sender_id).distinct().all()]

        return await self._run(work)

    # ------------------------------------------------------------------ writing

    def _store_new(self, tracker: DialogueStateTracker, seen: list[int]) -> list[Any]:
        """Insert the events not yet stored (one transaction); returns the events new to
        this save.

        ``seen`` keeps the stored count of the first attempt: when a commit went
        through but its answer was lost (a database restart), the retry finds the
        events stored and inserts nothing, and they must still be published.
        """
        with self.session_scope() as session:
            stored = self._event_query(session, tracker.sender_id,
                                       fetch_events_from_all_sessions=False).count()
            if not seen:
                seen.append(stored)
            new = list(itertools.islice(tracker.events, stored, len(tracker.events)))
            for event in new:
                data = event.as_dict()
                parse_data = data.get("parse_data") or {}
                intent = (parse_data.get("intent") or {}).get("name") \
                    if isinstance(parse_data, dict) else None
                session.add(self.SQLEvent(
                    sender_id=tracker.sender_id, type_name=event.type_name,
                    timestamp=data.get("timestamp"), intent_name=intent,
                    action_name=data.get("name"), data=self.codec.encode(data),
                ))
            session.commit()
            return list(itertools.islice(tracker.events, seen[0], len(tracker.events)))

    async def save(self, tracker: DialogueStateTracker) -> None:
        """Store the new events, then publish exactly those to the event broker.

        With ``publish_wait`` > 0 and a broker that can ``flush``
        (:class:`firstpoint.events.pika.OrderedPikaEventBroker`) the save waits, up to
        that many seconds, until they are confirmed: Rasa releases the conversation's
        lock after the save, so the next turn (on any replica) publishes after this
        one. Off by default: measured, it cost about 40 % of saturated throughput
        (docs/deployment.md); the contact log tolerates the reordering it prevents.
        """
        seen: list[int] = []
        new = await self._run(lambda: self._store_new(tracker, seen))
        if self.event_broker is not None and new:
            await self._stream_new_events(self.event_broker, new, tracker.sender_id)
            flush = getattr(self.event_broker, "flush", None) if self.publish_wait > 0 else None
            if flush is not None and not await flush(self.publish_wait):
                log.warning("event broker: events of %s not confirmed within %.0fs; "
                            "continuing", "a conversation", self.publish_wait)

"""Record the contact log from Rasa's RabbitMQ (Pika) event broker queue.

The production path: Rasa publishes every tracker event with its own
``PikaEventBroker`` (``endpoints.yml``: ``event_broker: {type: pika, url: …,
queues: [firstpoint_events]}``; body = the event dict as UTF-8 JSON, persistent,
through the fanout exchange ``rasa-exchange``) and this consumer, in its own
process (``firstpoint contacts consume``), turns each message into a redacted
fact and records it. A message is acknowledged only after its fact is committed;
when the database is unreachable it is returned to the queue (``nack`` with
requeue) and the consumer waits before trying again, so nothing is lost.
Messages that are not Rasa events are rejected without requeue. Run ONE consumer
per queue: the contact log relies on the events of a conversation arriving in order.

Exactly once: each applied body's digest is committed with its fact
(:mod:`firstpoint.records.contacts.dedup`), so a message redelivered after a crash between
commit and ``ack`` is acknowledged and skipped (``duplicates``). When RabbitMQ
itself goes away, :meth:`ContactConsumer.run_forever` reconnects (with backoff)
instead of exiting: unacknowledged messages are redelivered by the broker.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from firstpoint.events import DB_UNAVAILABLE
from firstpoint.events.facts import TextRedactor
from firstpoint.events.ingest import ingest
from firstpoint.records.contacts.dedup import body_digest, ensure_table, forget_older_than
from firstpoint.records.contacts.recorder import ContactRecorder

log = logging.getLogger(__name__)


@dataclass
class ConsumeStats:
    """What one run of the consumer did."""

    messages: int = 0
    recorded: int = 0
    ignored: int = 0
    rejected: int = 0
    requeued: int = 0
    closed_idle: int = 0
    duplicates: int = 0
    reconnects: int = 0

    def as_dict(self) -> dict[str, int]:
        """The counts as a dict (for printing)."""
        return dict(self.__dict__)


def default_connection(amqp_url: str) -> Any:
    """A ``pika.BlockingConnection`` to ``amqp_url``."""
    import pika

    return pika.BlockingConnection(pika.URLParameters(amqp_url))


class ContactConsumer:
    """Consumes Rasa events from a RabbitMQ queue into the contact log.

    ``recorder`` records facts; ``redactor`` redacts free text; ``connect(url)``
    returns a pika ``BlockingConnection`` (injectable for tests).
    """

    def __init__(self, recorder: ContactRecorder, redactor: TextRedactor, *, amqp_url: str,
                 queue: str, retry_seconds: float = 5.0, sweep_seconds: float = 60.0,
                 connect: Callable[[str], Any] = default_connection) -> None:
        self.recorder = recorder
        self.redactor = redactor
        self.amqp_url = amqp_url
        self.queue = queue
        self.retry_seconds = retry_seconds
        self.sweep_seconds = sweep_seconds
        self.connect = connect

    def _channel(self, connection: Any) -> Any:
        """A channel with the queue declared (passively first: Rasa owns its settings)."""
        import pika.exceptions

        channel = connection.channel()
        try:
            channel.queue_declare(self.queue, passive=True)
        except pika.exceptions.ChannelClosedByBroker:
            channel = connection.channel()
            channel.queue_declare(self.queue, durable=True)  # as PikaEventBroker declares it
        channel.basic_qos(prefetch_count=1)
        return channel

    def handle(self, body: bytes) -> str:
        """Record one message body: ``"recorded"``, ``"duplicate"``, ``"ignored"`` or
        ``"rejected"``.

        Raises one of :data:`DB_UNAVAILABLE` when the database cannot be reached.
        """
        try:
            event = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            log.error("rejecting a message that is not JSON (%d bytes)", len(body))
            return "rejected"
        if not isinstance(event, dict):
            return "rejected"
        fact = ingest(event, self.redactor, self.recorder.key)
        if fact is None:
            return "ignored"
        applied = self.recorder.apply(fact, event_id=body_digest(body))
        return "recorded" if applied else "duplicate"

    def run(self, max_messages: int | None = None, timeout: float | None = None) -> ConsumeStats:
        """Consume until ``max_messages`` were settled or ``timeout`` seconds pass without one.

        With neither, runs until interrupted.
        """
        stats = ConsumeStats()
        self._ensure_dedup_table()
        connection = self.connect(self.amqp_url)
        try:
            channel = self._channel(connection)
            last_message = time.monotonic()
            next_sweep = time.monotonic() + self.sweep_seconds
            for method, _properties, body in channel.consume(self.queue, inactivity_timeout=0.5):
                now = time.monotonic()
                if now >= next_sweep:
                    next_sweep = now + self.sweep_seconds
                    stats.closed_idle += self._sweep()
                if method is None:
                    if timeout is not None and now - last_message >= timeout:
                        break
                    continue
                last_message = now
                if self._settle(channel, connection, method, body, stats) and \
                        max_messages is not None and stats.messages >= max_messages:
                    break
            channel.cancel()
            if channel.is_open:
                channel.close()
        finally:
            if connection.is_open:
                connection.close()
        return stats

    def _settle(self, channel: Any, connection: Any, method: Any, body: bytes,
                stats: ConsumeStats) -> bool:
        """Handle one delivery; True when it was settled (acked or rejected)."""
        try:
            result = self.handle(body)
        except DB_UNAVAILABLE as exc:
            log.warning("contact log database unavailable (%s); message requeued, retrying in "
                        "%.0fs", type(exc).__name__, self.retry_seconds)
            channel.basic_nack(method.delivery_tag, requeue=True)
            stats.requeued += 1
            connection.sleep(self.retry_seconds)
            return False
        except Exception:  # noqa: BLE001 - a bad message must not stop the consumer
            log.exception("contact log refused a message; rejecting it")
            channel.basic_nack(method.delivery_tag, requeue=False)
            stats.messages += 1
            stats.rejected += 1
            return True
        if result == "rejected":
            channel.basic_nack(method.delivery_tag, requeue=False)
            stats.rejected += 1
        else:
            channel.basic_ack(method.delivery_tag)
            if result == "recorded":
                stats.recorded += 1
            elif result == "duplicate":
                stats.duplicates += 1
            else:
                stats.ignored += 1
        stats.messages += 1
        return True

    def _ensure_dedup_table(self) -> None:
        """Create the exactly-once table on the recorder's database (once per consumer)."""
        if getattr(self, "_dedup_ready", False):
            return
        engine = getattr(self.recorder.session_factory, "kw", {}).get("bind")
        if engine is not None:
            ensure_table(engine)
            forget_older_than(engine)
        self._dedup_ready = True

    def run_forever(self, stop: Callable[[], bool] = lambda: False,
                    max_backoff: float = 10.0) -> ConsumeStats:
        """:meth:`run` again and again, reconnecting when RabbitMQ goes away, until ``stop()``.

        Returns the counts summed over every connection.
        """
        import pika.exceptions

        total = ConsumeStats()
        backoff = 0.5
        while not stop():
            try:
                stats = self.run(timeout=5.0)
                backoff = 0.5
            except (pika.exceptions.AMQPError, OSError) as exc:
                log.warning("RabbitMQ connection lost or refused (%s); reconnecting in %.1fs",
                            type(exc).__name__, backoff)
                total.reconnects += 1
                time.sleep(backoff)
                backoff = min(backoff * 2, max_backoff)
                continue
            for name, value in stats.as_dict().items():
                setattr(total, name, getattr(total, name) + value)
        return total

    def _sweep(self) -> int:
        try:
            return self.recorder.close_idle()
        except DB_UNAVAILABLE:
            return 0

"""Rasa's RabbitMQ event broker, publishing in order across an outage.

Rasa 3.6's ``PikaEventBroker`` publishes each event from its own task and, when
RabbitMQ is unreachable, keeps the failed ones aside and republishes them when
the connection comes back — while newer events are published as they come. So
after an outage a conversation's ``session_started`` could reach the queue after
its first messages, and the contact log (which relies on order) split one
contact in two. The fault test "stop RabbitMQ for 60 s" showed exactly that.

:class:`OrderedPikaEventBroker` keeps every event in ONE queue, drained by one
task that publishes the oldest event, waits for RabbitMQ's confirm, and only
then moves on; on any failure it waits (backing off to 5 s) and tries the same
event again. A retry after an ambiguous failure can publish an event twice; the
consumer records each body once (:mod:`firstpoint.events.dedup`). Events wait in
the replica's memory while the broker is down (``max_pending`` caps them; the
oldest are dropped, with an error in the log, only past that cap).

``endpoints.yml``::

    event_broker:
      type: firstpoint.events.pika.OrderedPikaEventBroker
      url: rabbitmq.example
      ...  # every PikaEventBroker option
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import Any

from rasa.core.brokers.pika import PikaEventBroker

log = logging.getLogger(__name__)


class OrderedPikaEventBroker(PikaEventBroker):
    """``PikaEventBroker`` with one ordered, retrying publisher."""

    def __init__(self, *args: Any, max_pending: int = 200_000,
                 publish_timeout: float = 10.0, **kwargs: Any) -> None:
        """Arguments as for ``PikaEventBroker`` plus ``max_pending`` and ``publish_timeout``."""
        super().__init__(*args, **kwargs)
        self.max_pending = int(max_pending)
        self.publish_timeout = float(publish_timeout)
        self._pending: deque[tuple[dict[str, Any], dict[str, str] | None]] = deque()
        self._sender: asyncio.Task[None] | None = None
        self.published = 0
        self.enqueued = 0
        self.dropped = 0
        self.failures = 0

    def _publish_unpublished_messages(self, *_: Any, **__: Any) -> None:
        """Nothing is kept aside: the ordered queue is drained by :meth:`_drain`."""

    def publish(self, event: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        """Queue ``event`` behind every earlier one (never blocks)."""
        if len(self._pending) >= self.max_pending:
            self._pending.popleft()
            self.dropped += 1
            log.error("event broker: %d events waiting for RabbitMQ; dropped the oldest",
                      self.max_pending)
        self._pending.append((event, headers))
        self.enqueued += 1
        if self._sender is None or self._sender.done():
            self._sender = self._loop.create_task(self._drain())

    async def flush(self, timeout: float) -> bool:
        """Wait until every event queued so far is confirmed (at most ``timeout`` s).

        The tracker store calls this before the conversation's lock is released, so
        the next turn, perhaps on another replica, publishes after this one's events
        are in RabbitMQ: order across replicas. True if everything went out in time.
        """
        target = self.enqueued
        deadline = self._loop.time() + timeout
        while self.published + self.dropped < target:
            if self._loop.time() >= deadline:
                return False
            await asyncio.sleep(0.005)
        return True

    @property
    def pending(self) -> int:
        """Events not yet confirmed by RabbitMQ."""
        return len(self._pending)

    async def _drain(self) -> None:
        delay = 0.2
        while self._pending:
            event, headers = self._pending[0]
            try:
                if self._exchange is None:
                    raise ConnectionError("no RabbitMQ exchange yet")
                await asyncio.wait_for(
                    self._exchange.publish(self._message(event, headers), ""),
                    self.publish_timeout)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - any failure: wait, then the same event
                self.failures += 1
                if self.failures == 1 or self.failures % 50 == 0:
                    log.warning("event broker: RabbitMQ publish failed (%s); %d events "
                                "waiting, retrying in order", type(exc).__name__,
                                len(self._pending))
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            self._pending.popleft()
            self.published += 1
            delay = 0.2

    async def close(self) -> None:
        """Give waiting events up to ``publish_timeout`` to go out, then close."""
        if self._sender is not None and not self._sender.done():
            try:
                await asyncio.wait_for(asyncio.shield(self._sender), self.publish_timeout)
            except (asyncio.TimeoutError, Exception):  # noqa: BLE001 - closing anyway
                log.error("event broker: closing with %d events not published",
                          len(self._pending))
        await super().close()

"""An in-process Rasa event broker that writes the contact log.

Configure it in ``endpoints.yml`` by module path (Rasa loads any ``EventBroker``
subclass this way and calls ``from_endpoint_config(config)``)::

    event_broker:
      type: firstpoint.events.broker.ContactLogEventBroker
      url: postgresql://firstpoint@db/firstpoint   # optional, default FIRSTPOINT_DATABASE_URL
      # optional: spool_dir, idle_minutes, sweep_seconds, retry_seconds, migrate

``publish()`` runs on Rasa's event loop, so it only puts the event on a queue.
A background thread turns events into redacted facts and records them. When
the database is unreachable, facts are appended to a spool file (JSON lines in
``<var_dir>/spool/``, already redacted and pseudonymised) and replayed in order
once it answers again; spool files left by a process that died are adopted by
the next one. ``close()`` drains the queue. The thread also closes idle contacts.

The pieces: :mod:`firstpoint.events.ingest` (event -> fact, shared with the
RabbitMQ consumer), :mod:`firstpoint.events.worker` (the thread) and
:mod:`firstpoint.events.spool` (the files).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rasa.core.brokers.broker import EventBroker

from firstpoint.events.facts import TextRedactor
from firstpoint.events.spool import REJECTED_FILE, SPOOL_PREFIX, Spool
from firstpoint.events.worker import FactWorker
from firstpoint.records.contacts.recorder import ContactRecorder, recorder_for_url
from firstpoint.records.migrate import upgrade
from firstpoint.records.redaction import Redactor
from firstpoint.settings import Settings, get_settings

if TYPE_CHECKING:  # pragma: no cover
    from asyncio import AbstractEventLoop

    from rasa.utils.endpoints import EndpointConfig
    from sqlalchemy.engine import Engine

__all__ = ["REJECTED_FILE", "SPOOL_PREFIX", "ContactLogEventBroker", "FactWorker", "Spool"]

log = logging.getLogger(__name__)


class ContactLogEventBroker(EventBroker):
    """Rasa event broker recording the contact log on a background thread.

    Build it with :meth:`from_endpoint_config` (Rasa does) or directly; tests may
    inject ``recorder`` (a :class:`~firstpoint.records.contacts.ContactRecorder`),
    ``redactor`` and ``spool_dir``.
    """

    def __init__(self, url: str | None = None, *, settings: Settings | None = None,
                 recorder: ContactRecorder | None = None, redactor: TextRedactor | None = None,
                 spool_dir: str | Path | None = None, idle_minutes: int | None = None,
                 sweep_seconds: float = 60.0, retry_seconds: float = 10.0,
                 migrate: bool = False, close_timeout: float = 30.0) -> None:
        settings = settings or get_settings()
        self.url = url or settings.database_url
        self.engine: Engine | None = None
        if recorder is None:
            recorder, self.engine = recorder_for_url(self.url, settings,
                                                     idle_minutes=idle_minutes)
        self.recorder = recorder
        self.redactor: TextRedactor = redactor or Redactor()
        self.spool = Spool(Path(spool_dir) if spool_dir else Path(settings.var_dir) / "spool")
        self.close_timeout = close_timeout
        steps: list[Callable[[], None]] = [self._warm_up]
        if migrate:
            steps.insert(0, self._migrate)
        self.worker = FactWorker(self.recorder, self.redactor, self.spool,
                                 sweep_seconds=sweep_seconds, retry_seconds=retry_seconds,
                                 on_start=steps)
        self._closed = False
        self.worker.start()

    @classmethod
    async def from_endpoint_config(
        cls, broker_config: EndpointConfig, event_loop: AbstractEventLoop | None = None,
    ) -> ContactLogEventBroker:
        """The broker for an ``event_broker`` section of ``endpoints.yml``."""
        options = dict(broker_config.kwargs or {})
        known = {"spool_dir", "idle_minutes", "sweep_seconds", "retry_seconds", "migrate"}
        unknown = sorted(set(options) - known)
        if unknown:
            log.warning("ContactLogEventBroker ignores unknown options: %s", ", ".join(unknown))
        idle = options.get("idle_minutes")
        return cls(
            broker_config.url,
            spool_dir=options.get("spool_dir"),
            idle_minutes=int(idle) if idle is not None else None,
            sweep_seconds=float(options.get("sweep_seconds", 60.0)),
            retry_seconds=float(options.get("retry_seconds", 10.0)),
            migrate=bool(options.get("migrate", False)),
        )

    def _migrate(self) -> None:
        upgrade(self.url)

    def _warm_up(self) -> None:
        """Build the redaction pipeline before the first message needs it."""
        self.redactor.redact("warm up")

    def publish(self, event: dict[str, Any]) -> None:
        """Queue one Rasa event for the writer thread (never blocks)."""
        if self._closed:
            log.warning("contact log broker is closed; an event was not recorded")
            return
        self.worker.queue.put_nowait(dict(event))

    def is_ready(self) -> bool:
        """True while the writer thread runs."""
        return self.worker.thread.is_alive()

    def shutdown(self, timeout: float | None = None) -> bool:
        """Drain the queue and stop the writer (blocking); True if it stopped in time."""
        if self._closed:
            return not self.worker.thread.is_alive()
        self._closed = True
        stopped = self.worker.stop(self.close_timeout if timeout is None else timeout)
        if not stopped:
            log.error("contact log writer did not finish within the close timeout")
        if self.engine is not None:
            self.engine.dispose()
        return stopped

    async def close(self) -> None:
        """Drain and stop without blocking the event loop."""
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, self.shutdown)

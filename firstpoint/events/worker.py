"""The broker's writer thread: events -> facts -> recorder, spooling while the DB is down."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from firstpoint.events import DB_UNAVAILABLE
from firstpoint.events.facts import TextRedactor
from firstpoint.events.ingest import ingest
from firstpoint.events.spool import Spool
from firstpoint.records.contacts.facts import Fact
from firstpoint.records.contacts.recorder import ContactRecorder

log = logging.getLogger(__name__)

_STOP = object()


class FactWorker:
    """The background thread: events -> facts -> recorder, spooling while the DB is down."""

    def __init__(self, recorder: ContactRecorder, redactor: TextRedactor, spool: Spool, *,
                 sweep_seconds: float = 60.0, retry_seconds: float = 10.0,
                 on_start: Iterable[Callable[[], None]] = ()) -> None:
        self.recorder = recorder
        self.redactor = redactor
        self.spool = spool
        self.sweep_seconds = sweep_seconds
        self.retry_seconds = retry_seconds
        self.on_start = list(on_start)
        self.queue: queue.Queue[Any] = queue.Queue()
        self.recorded = 0
        self.spooled = 0
        self.rejected = 0
        self._db_down = False
        self._next_retry = 0.0
        self._next_sweep = time.monotonic() + sweep_seconds
        self.thread = threading.Thread(target=self._run, name="contact-log-writer", daemon=True)

    def start(self) -> None:
        """Start the thread."""
        self.thread.start()

    def stop(self, timeout: float | None = None) -> bool:
        """Ask the thread to finish the queue and stop; True if it stopped in time."""
        self.queue.put(_STOP)
        self.thread.join(timeout)
        return not self.thread.is_alive()

    # ---------------------------------------------------------------- thread

    def _run(self) -> None:
        for step in self.on_start:
            try:
                step()
            except Exception:  # noqa: BLE001 - start-up help must never stop the writer
                log.exception("contact-log writer start-up step failed")
        self._retry()
        while True:
            wait = max(0.05, min(self._until_retry(), self._next_sweep - time.monotonic()))
            try:
                item = self.queue.get(timeout=wait)
            except queue.Empty:
                item = None
            if item is _STOP:
                self._drain_for_stop()
                return
            if item is not None:
                self._handle(item)
            if self._db_down and time.monotonic() >= self._next_retry:
                self._retry()
            if time.monotonic() >= self._next_sweep:
                self._sweep()

    def _until_retry(self) -> float:
        if not self._db_down:
            return self.sweep_seconds
        return self._next_retry - time.monotonic()

    def _drain_for_stop(self) -> None:
        while True:
            try:
                item = self.queue.get_nowait()
            except queue.Empty:
                break
            if item is not _STOP:
                self._handle(item)
        if self._db_down:
            self._retry()
        self.spool.close()

    def _handle(self, event: Any) -> None:
        try:
            fact = ingest(event, self.redactor, self.recorder.key)
        except Exception:  # noqa: BLE001 - one odd event must not stop the log
            log.exception("could not read a Rasa event for the contact log")
            return
        if fact is not None:
            self.submit(fact)

    def submit(self, fact: Fact) -> None:
        """Record a fact now, or spool it (keeping order) while the database is down."""
        if self._db_down:
            self.spool.append(fact)
            self.spooled += 1
            return
        try:
            self.recorder.apply(fact)
            self.recorded += 1
        except DB_UNAVAILABLE as exc:
            log.warning("contact log database unavailable (%s); spooling facts to %s",
                        type(exc).__name__, self.spool.directory)
            self._db_down = True
            self._next_retry = time.monotonic() + self.retry_seconds
            self.spool.append(fact)
            self.spooled += 1
        except Exception as exc:  # noqa: BLE001 - a bug must not block the queue
            log.exception("contact log refused a %s fact", fact.kind)
            self.spool.reject(fact, f"{type(exc).__name__}: {exc}")
            self.rejected += 1

    def _apply_replayed(self, fact: Fact) -> None:
        self.recorder.apply(fact)
        self.recorded += 1

    def _retry(self) -> None:
        """Replay the spool; the database counts as back once it is empty."""
        try:
            replayed = self.spool.replay(self._apply_replayed)
        except DB_UNAVAILABLE:
            self._db_down = True
            self._next_retry = time.monotonic() + self.retry_seconds
            return
        except Exception:  # noqa: BLE001
            log.exception("replaying the contact-log spool failed; will retry")
            self._db_down = True
            self._next_retry = time.monotonic() + self.retry_seconds
            return
        if replayed:
            log.info("replayed %d spooled contact-log facts", replayed)
        self._db_down = False

    def _sweep(self) -> None:
        self._next_sweep = time.monotonic() + self.sweep_seconds
        if self._db_down:
            return
        try:
            closed = self.recorder.close_idle()
            if closed:
                log.info("closed %d idle contacts", closed)
        except DB_UNAVAILABLE:
            self._db_down = True
            self._next_retry = time.monotonic() + self.retry_seconds
        except Exception:  # noqa: BLE001
            log.exception("closing idle contacts failed")

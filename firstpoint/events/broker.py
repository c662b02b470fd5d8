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
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import logging
import os
import queue
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rasa.core.brokers.broker import EventBroker

from firstpoint.events import DB_UNAVAILABLE
from firstpoint.events.facts import Fact, TextRedactor, event_to_fact

if TYPE_CHECKING:  # pragma: no cover
    from asyncio import AbstractEventLoop

    from rasa.utils.endpoints import EndpointConfig
    from sqlalchemy.engine import Engine

    from firstpoint.records.contacts import ContactRecorder
    from firstpoint.settings import Settings

log = logging.getLogger(__name__)

SPOOL_PREFIX = "contact-facts-"
REJECTED_FILE = "contact-facts-rejected.jsonl"
_STOP = object()


class Spool:
    """JSON-lines files of facts waiting for the database, replayed oldest first.

    This process appends to its own file, held under an exclusive ``flock`` for as
    long as it exists; files nobody holds were left by a process that stopped and
    are replayed first. Files are created with mode 0600 and fsynced on every write.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self.path = self.directory / f"{SPOOL_PREFIX}{os.getpid()}-{uuid.uuid4().hex[:8]}.jsonl"
        self._fd: int | None = None
        self._count = 0

    @staticmethod
    def _locked_fd(path: Path, flags: int) -> int | None:
        """An fd for ``path`` under an exclusive lock, or None if missing or held elsewhere."""
        try:
            fd = os.open(path, flags, 0o600)
        except FileNotFoundError:
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        return fd

    def _own_fd(self) -> int:
        if self._fd is None:
            self.directory.mkdir(parents=True, exist_ok=True)
            fd = self._locked_fd(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND)
            if fd is None:  # pragma: no cover - our own fresh, unique file
                raise RuntimeError(f"cannot lock spool file {self.path}")
            self._fd = fd
        return self._fd

    def append(self, fact: Fact) -> None:
        """Write one fact durably (fsynced)."""
        fd = self._own_fd()
        os.write(fd, (json.dumps(fact.to_dict(), ensure_ascii=False) + "\n").encode("utf-8"))
        os.fsync(fd)
        self._count += 1

    @property
    def own_pending(self) -> int:
        """Facts in this process's spool file not yet replayed."""
        return self._count

    def orphans(self) -> list[Path]:
        """Spool files left by stopped processes (nobody holds their lock), oldest first."""
        if not self.directory.is_dir():
            return []
        found = []
        for path in self.directory.glob(f"{SPOOL_PREFIX}*.jsonl"):
            if path == self.path or path.name == REJECTED_FILE:
                continue
            fd = self._locked_fd(path, os.O_RDONLY)
            if fd is None:
                continue  # gone, or a live process owns it
            os.close(fd)
            found.append(path)
        return sorted(found, key=lambda p: (p.stat().st_mtime, p.name))

    def replay(self, apply: Callable[[Fact], None]) -> int:
        """Apply spooled facts in order; stops at (and re-raises) the first failure.

        Returns how many were applied. Applied facts leave the files; after a
        failure the rest stays, in order, for the next attempt.
        """
        applied = 0
        for path in self.orphans():
            fd = self._locked_fd(path, os.O_RDWR)
            if fd is not None:
                applied += self._replay_fd(path, fd, apply, own=False)
        if self._count:
            applied += self._replay_fd(self.path, self._own_fd(), apply, own=True)
        return applied

    @staticmethod
    def _read_lines(fd: int) -> list[str]:
        os.lseek(fd, 0, os.SEEK_SET)
        chunks = []
        while chunk := os.read(fd, 1 << 16):
            chunks.append(chunk)
        text = b"".join(chunks).decode("utf-8", errors="replace")
        return [line for line in text.splitlines() if line.strip()]

    def _replay_fd(self, path: Path, fd: int, apply: Callable[[Fact], None], own: bool) -> int:
        lines = self._read_lines(fd)
        done = 0
        try:
            for line in lines:
                try:
                    fact = Fact.from_dict(json.loads(line))
                except (ValueError, TypeError):
                    log.error("skipping an unreadable line in spool file %s", path.name)
                    done += 1
                    continue
                apply(fact)
                done += 1
        finally:
            self._keep(path, fd, lines[done:], own)
        return done

    def _keep(self, path: Path, fd: int, rest: list[str], own: bool) -> None:
        """Leave only ``rest`` in ``path`` (atomically), keeping our lock on our own file."""
        if not rest:
            path.unlink(missing_ok=True)
            os.close(fd)
            if own:
                self._fd, self._count = None, 0
            return
        tmp = path.with_suffix(".tmp")
        new_fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o600)
        fcntl.flock(new_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.write(new_fd, ("\n".join(rest) + "\n").encode("utf-8"))
        os.fsync(new_fd)
        os.replace(tmp, path)
        os.close(fd)
        if own:
            self._fd, self._count = new_fd, len(rest)
        else:
            os.close(new_fd)

    def reject(self, fact: Fact, reason: str) -> None:
        """Keep a fact the recorder refused (a bug, not an outage) for inspection."""
        self.directory.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.directory / REJECTED_FILE, os.O_WRONLY | os.O_CREAT | os.O_APPEND,
                     0o600)
        with os.fdopen(fd, "a", encoding="utf-8") as handle:
            handle.write(json.dumps({"reason": reason, "fact": fact.to_dict()}) + "\n")

    def close(self) -> None:
        """Release this process's spool file (left on disk while it still holds facts)."""
        if self._fd is not None:
            if self._count == 0:
                self.path.unlink(missing_ok=True)
            os.close(self._fd)
            self._fd = None


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
            fact = event_to_fact(event, self.redactor)
        except Exception:  # noqa: BLE001 - one odd event must not stop the log
            log.exception("could not read a Rasa event for the contact log")
            return
        if fact is None:
            return
        if fact.at is None:
            fact = replace(fact, at=time.time())
        self.submit(fact.pseudonymised(self.recorder.key))

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
        from firstpoint.records.contacts import recorder_for_url
        from firstpoint.records.redaction import Redactor
        from firstpoint.settings import get_settings

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
        from firstpoint.records.migrate import upgrade

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

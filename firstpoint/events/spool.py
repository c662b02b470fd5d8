"""The broker's spool: facts waiting for the database, in JSON-lines files.

While the contact log's database is unreachable, :class:`~firstpoint.events.worker.FactWorker`
appends each fact (already redacted and pseudonymised) to this process's file in
``<var_dir>/spool/`` and replays the files in order once the database answers.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import uuid
from collections.abc import Callable
from pathlib import Path

from firstpoint.records.contacts.facts import Fact

log = logging.getLogger(__name__)

SPOOL_PREFIX = "contact-facts-"
REJECTED_FILE = "contact-facts-rejected.jsonl"


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

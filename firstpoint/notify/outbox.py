"""Delivers queued notifications from the ``outbox`` table, retrying until they go.

Rows (:class:`firstpoint.notify.models.OutboxMessage`) are written by
:class:`firstpoint.records.handoffs.HandoffService` in the same transaction as the
handoff. A dispatch pass claims due rows (an atomic conditional
UPDATE that bumps ``attempts`` and leases the row, so two workers never send the
same row at once - and a worker that dies mid-send only delays it by the lease),
sends them with no database transaction open, then records the outcome:
``sent``, or back to ``pending`` with a deterministic exponential backoff, or
``failed`` after ``max_attempts``. Rows are never deleted: failed ones stay visible
(``firstpoint outbox list``) and can be re-queued (``firstpoint outbox retry``).
Delivery is at-least-once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import sessionmaker

from firstpoint.database import as_utc, session_scope, utcnow
from firstpoint.notify.base import Notification, Notifier, NotifierError, resolve_target
from firstpoint.notify.models import OutboxMessage

log = logging.getLogger(__name__)

#: The payload field naming the record a notification announces (the handoff reference).
REFERENCE_KEY = "reference"


@dataclass
class DispatchCounts:
    """What one dispatch pass did."""

    sent: int = 0
    retried: int = 0
    failed: int = 0

    @property
    def attempted(self) -> int:
        """Messages tried in this pass."""
        return self.sent + self.retried + self.failed


@dataclass(frozen=True)
class OutboxView:
    """An outbox row for people (payload left out)."""

    id: int
    reference: str
    notifier: str
    target: str
    status: str
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    sent_at: datetime | None


@dataclass(frozen=True)
class _Claim:
    id: int
    notifier: str
    target: str
    payload: Mapping[str, Any]
    attempts: int


class OutboxDispatcher:
    """Sends due outbox rows with the notifier named in each row (``"email"``, ``"teams"``).

    After failed attempt *n* the next try waits ``backoff_base * 2**(n-1)`` (capped at
    ``backoff_max``); after ``max_attempts`` the row is marked ``failed``.
    ``environ`` resolves ``env:NAME`` targets (``os.environ`` by default).
    """

    def __init__(
        self,
        session_factory: sessionmaker,
        notifiers: Mapping[str, Notifier],
        clock: Callable[[], datetime] = utcnow,
        max_attempts: int = 10,
        backoff_base: timedelta = timedelta(seconds=30),
        backoff_max: timedelta = timedelta(hours=6),
        lease: timedelta = timedelta(minutes=5),
        environ: Mapping[str, str] | None = None,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.session_factory = session_factory
        self.notifiers = dict(notifiers)
        self.clock = clock
        self.max_attempts = max_attempts
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.lease = lease
        self.environ = environ

    def backoff(self, attempts: int) -> timedelta:
        """How long to wait after the ``attempts``-th failed attempt."""
        return min(self.backoff_base * (2 ** max(attempts - 1, 0)), self.backoff_max)

    def _now(self) -> datetime:
        now = as_utc(self.clock())
        assert now is not None
        return now

    async def dispatch_due(self, limit: int = 50) -> DispatchCounts:
        """Try every pending row that is due (at most ``limit``); returns the counts."""
        counts = DispatchCounts()
        claims = await asyncio.to_thread(self._claim_due, limit)
        for claim in claims:
            error = await self._send(claim)
            outcome = await asyncio.to_thread(self._record, claim, error)
            setattr(counts, outcome, getattr(counts, outcome) + 1)
        return counts

    async def run_forever(self, interval: float, stop_event: asyncio.Event) -> None:
        """Dispatch every ``interval`` seconds until ``stop_event`` is set (errors logged)."""
        while not stop_event.is_set():
            try:
                counts = await self.dispatch_due()
                if counts.attempted:
                    log.info("outbox: %s sent, %s to retry, %s failed",
                             counts.sent, counts.retried, counts.failed)
            except Exception:  # keep the worker alive; the rows stay pending
                log.exception("outbox dispatch pass failed")
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop_event.wait(), timeout=interval)

    async def _send(self, claim: _Claim) -> str | None:
        """Send one claimed row; the error text on failure, None on success."""
        notifier = self.notifiers.get(claim.notifier)
        try:
            if notifier is None:
                raise NotifierError(f"no notifier configured for {claim.notifier!r}")
            target = resolve_target(claim.target, self.environ)
            await notifier.send(Notification.from_payload(claim.payload, target))
        except NotifierError as exc:
            return str(exc) or type(exc).__name__
        except Exception as exc:  # a bug in a notifier must not lose the row
            log.exception("notifier %s raised unexpectedly", claim.notifier)
            return f"unexpected {type(exc).__name__}"
        return None

    def _claim_due(self, limit: int) -> list[_Claim]:
        """Claim up to ``limit`` due rows for this worker."""
        claims = (self._try_claim(candidate) for candidate in self._due(limit))
        return [claim for claim in claims if claim is not None]

    def _due(self, limit: int) -> list[_Claim]:
        """Pending rows whose time has come, as unclaimed candidates (attempts as read)."""
        with session_scope(self.session_factory) as session:
            rows = session.execute(
                select(OutboxMessage)
                .where(OutboxMessage.status == "pending",
                       OutboxMessage.next_attempt_at <= self._now())
                .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
                .limit(limit)
            ).scalars().all()
            return [_Claim(r.id, r.notifier, r.target, dict(r.payload), r.attempts)
                    for r in rows]

    def _try_claim(self, candidate: _Claim) -> _Claim | None:
        """Atomically take ``candidate``: only one worker's conditional UPDATE matches."""
        claim = replace(candidate, attempts=candidate.attempts + 1)
        with session_scope(self.session_factory) as session:
            taken = session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == candidate.id, OutboxMessage.status == "pending",
                       OutboxMessage.attempts == candidate.attempts)
                .values(attempts=claim.attempts, next_attempt_at=self._now() + self.lease)
                .execution_options(synchronize_session=False)
            )
            return claim if taken.rowcount == 1 else None

    def _record(self, claim: _Claim, error: str | None) -> str:
        """Store the outcome of a send; returns the DispatchCounts field to bump."""
        now = self._now()
        if error is None:
            values: dict[str, Any] = {"status": "sent", "sent_at": now, "last_error": None}
            outcome = "sent"
        elif claim.attempts >= self.max_attempts:
            values = {"status": "failed", "last_error": error[:2000]}
            outcome = "failed"
            log.error("outbox message %s failed for good after %s attempts: %s",
                      claim.id, claim.attempts, error)
        else:
            values = {"next_attempt_at": now + self.backoff(claim.attempts),
                      "last_error": error[:2000]}
            outcome = "retried"
            log.warning("outbox message %s attempt %s failed (%s); retrying",
                        claim.id, claim.attempts, error)
        with session_scope(self.session_factory) as session:
            session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == claim.id, OutboxMessage.attempts == claim.attempts,
                       OutboxMessage.status == "pending")
                .values(**values)
                .execution_options(synchronize_session=False)
            )
        return outcome

    def messages(self, status: str | None = None,
                 reference: str | None = None) -> list[OutboxView]:
        """Outbox rows, oldest first, optionally filtered by status or handoff reference."""
        query = select(OutboxMessage).order_by(OutboxMessage.id)
        if status is not None:
            query = query.where(OutboxMessage.status == status)
        if reference is not None:
            query = query.where(OutboxMessage.payload[REFERENCE_KEY].as_string() == reference)
        with session_scope(self.session_factory) as session:
            return [
                OutboxView(row.id, str(row.payload.get(REFERENCE_KEY, "")), row.notifier,
                           row.target, row.status, row.attempts,
                           as_utc(row.next_attempt_at), row.last_error,  # type: ignore[arg-type]
                           as_utc(row.sent_at))
                for row in session.execute(query).scalars()
            ]

    def requeue(self, ids: Iterable[int]) -> int:
        """Put failed rows back to pending, due now, with a fresh attempt count."""
        with session_scope(self.session_factory) as session:
            result = session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id.in_(list(ids)), OutboxMessage.status == "failed")
                .values(status="pending", attempts=0, next_attempt_at=self._now())
                .execution_options(synchronize_session=False)
            )
            return int(result.rowcount)

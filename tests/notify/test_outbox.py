"""The outbox: handoffs are never lost, notifications retry with backoff, carry no personal data."""

from __future__ import annotations

import asyncio
import email
from datetime import timedelta
from email import policy

import pytest

from firstpoint.notify.base import Notification, Notifier
from firstpoint.notify.outbox import DispatchCounts, OutboxDispatcher
from firstpoint.notify.smtp import SmtpNotifier
from firstpoint.notify.teams import TeamsWebhookNotifier
from tests.notify.conftest import PERSONAL, PERSONAL_WORDS, make_handoff

WEBHOOK_ENV = "FIRSTPOINT_TEAMS_WEBHOOK_CHILDRENS_FRONT_DOOR"


def dispatcher_for(handoffs, clock, smtp_port: int, webhook_url: str | None,
                   **kwargs) -> OutboxDispatcher:
    environ = {WEBHOOK_ENV: webhook_url} if webhook_url else {}
    notifiers = {
        "email": SmtpNotifier("127.0.0.1", smtp_port, "firstpoint@example.org", timeout=5),
        "teams": TeamsWebhookNotifier(timeout=5),
    }
    return OutboxDispatcher(handoffs.session_factory, notifiers, clock=clock,
                            environ=environ, **kwargs)


def by_notifier(dispatcher: OutboxDispatcher) -> dict:
    return {row.notifier: row for row in dispatcher.messages()}


async def test_notifications_delivered_without_personal_data(handoffs, clock, smtp_server,
                                                             webhook) -> None:
    receiver, url = webhook
    reference = make_handoff(handoffs)
    dispatcher = dispatcher_for(handoffs, clock, smtp_server.port, url)

    counts = await dispatcher.dispatch_due()

    assert counts == DispatchCounts(sent=2)
    [(_, recipients, raw)] = smtp_server.handler.messages
    assert recipients == ["mash.duty@example.org"]
    mail = email.message_from_bytes(raw, policy=policy.default)
    assert reference in mail["Subject"]
    assert f"firstpoint handoff show {reference}" in mail.get_content()
    [card] = receiver.posts
    assert reference in repr(card)
    for leaked in (raw.decode("utf-8", "replace"), repr(card)):
        for word in PERSONAL_WORDS:
            assert word not in leaked
        assert "sender-1" not in leaked  # nor the conversation id
    rows = by_notifier(dispatcher)
    assert {r.status for r in rows.values()} == {"sent"}
    assert all(r.sent_at == clock.now and r.attempts == 1 for r in rows.values())
    # nothing is sent twice
    assert await dispatcher.dispatch_due() == DispatchCounts()
    assert len(smtp_server.handler.messages) == 1 and len(receiver.posts) == 1


async def test_outage_then_recovery(handoffs, clock, smtp_down, webhook) -> None:
    receiver, url = webhook
    receiver.status = 500
    reference = make_handoff(handoffs)
    dispatcher = dispatcher_for(handoffs, clock, smtp_down.port, url)
    created = clock.now

    # both notifiers down: nothing lost, both rows wait for a retry
    assert await dispatcher.dispatch_due() == DispatchCounts(retried=2)
    rows = by_notifier(dispatcher)
    assert rows["email"].status == rows["teams"].status == "pending"
    assert rows["email"].attempts == rows["teams"].attempts == 1
    assert rows["email"].next_attempt_at == created + timedelta(seconds=30)
    assert "SMTP 127.0.0.1" in rows["email"].last_error
    assert rows["teams"].last_error == "Teams webhook answered HTTP 500"
    assert "secret-token" not in rows["teams"].last_error
    # the handoff itself is safe and readable
    view = handoffs.get(reference)
    assert view.status == "new" and view.message == PERSONAL["message"]

    # not due yet: no attempt
    clock.now += timedelta(seconds=29)
    assert await dispatcher.dispatch_due() == DispatchCounts()
    assert receiver.failures == 1

    # second failure doubles the wait
    clock.now = created + timedelta(seconds=30)
    assert await dispatcher.dispatch_due() == DispatchCounts(retried=2)
    rows = by_notifier(dispatcher)
    assert rows["teams"].attempts == 2
    assert rows["teams"].next_attempt_at == clock.now + timedelta(seconds=60)

    # the services come back
    receiver.status = 200
    smtp_down.start()
    clock.now += timedelta(seconds=60)
    assert await dispatcher.dispatch_due() == DispatchCounts(sent=2)
    rows = by_notifier(dispatcher)
    assert {r.status for r in rows.values()} == {"sent"}
    assert rows["email"].attempts == 3 and rows["email"].sent_at == clock.now
    assert len(smtp_down.handler.messages) == 1 and len(receiver.posts) == 1
    assert reference in smtp_down.handler.messages[0][2].decode()


async def test_max_attempts_marks_failed_but_keeps_the_row(handoffs, clock, smtp_down,
                                                           webhook) -> None:
    receiver, url = webhook
    receiver.status = 503
    make_handoff(handoffs)
    dispatcher = dispatcher_for(handoffs, clock, smtp_down.port, url, max_attempts=3)
    outcomes = []
    for _ in range(3):
        outcomes.append(await dispatcher.dispatch_due())
        clock.now += timedelta(hours=1)
    assert outcomes == [DispatchCounts(retried=2), DispatchCounts(retried=2),
                        DispatchCounts(failed=2)]
    rows = dispatcher.messages()
    assert [(r.status, r.attempts) for r in rows] == [("failed", 3), ("failed", 3)]
    assert dispatcher.messages(status="failed") == rows
    clock.now += timedelta(days=1)
    assert await dispatcher.dispatch_due() == DispatchCounts()  # failed rows are left alone

    # an operator re-queues them after the outage
    receiver.status = 200
    smtp_down.start()
    assert dispatcher.requeue([r.id for r in rows]) == 2
    assert await dispatcher.dispatch_due() == DispatchCounts(sent=2)


async def test_missing_webhook_variable_retries_and_names_the_variable(
        handoffs, clock, smtp_server) -> None:
    make_handoff(handoffs)
    dispatcher = dispatcher_for(handoffs, clock, smtp_server.port, webhook_url=None)
    assert await dispatcher.dispatch_due() == DispatchCounts(sent=1, retried=1)
    teams = by_notifier(dispatcher)["teams"]
    assert teams.status == "pending"
    assert teams.last_error == f"environment variable {WEBHOOK_ENV} is not set"


def test_backoff_schedule_is_deterministic(handoffs) -> None:
    dispatcher = OutboxDispatcher(handoffs.session_factory, {},
                                  backoff_base=timedelta(seconds=30),
                                  backoff_max=timedelta(hours=1))
    assert [dispatcher.backoff(n).total_seconds() for n in range(1, 10)] == \
        [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]


class SlowNotifier(Notifier):
    """Records sends and takes a while, so two workers overlap."""

    name = "email"

    def __init__(self) -> None:
        self.sent: list[str] = []

    async def send(self, message: Notification) -> None:
        await asyncio.sleep(0.05)
        self.sent.append(message.target)


async def test_two_workers_never_send_the_same_row(handoffs, clock) -> None:
    for _ in range(5):
        make_handoff(handoffs, "casework")  # email only
    notifier = SlowNotifier()
    workers = [OutboxDispatcher(handoffs.session_factory, {"email": notifier}, clock=clock)
               for _ in range(2)]
    results = await asyncio.gather(*(w.dispatch_due() for w in workers))
    assert sum(r.sent for r in results) == 5
    assert len(notifier.sent) == 5


def test_claim_is_exclusive_even_from_a_stale_read(handoffs, clock) -> None:
    """Worker A read the due rows, then worker B claimed them: A's claims must all lose."""
    make_handoff(handoffs, "casework")
    make_handoff(handoffs, "casework")
    a, b = (OutboxDispatcher(handoffs.session_factory, {}, clock=clock) for _ in range(2))
    stale = a._due(10)
    assert len(stale) == 2
    assert len(b._claim_due(10)) == 2
    assert [a._try_claim(candidate) for candidate in stale] == [None, None]
    assert [r.attempts for r in a.messages()] == [1, 1]


class CrashingNotifier(Notifier):
    name = "email"

    async def send(self, message: Notification) -> None:
        raise KeyError("bug in a notifier")


async def test_unexpected_notifier_exception_keeps_the_row(handoffs, clock) -> None:
    make_handoff(handoffs, "casework")
    dispatcher = OutboxDispatcher(handoffs.session_factory, {"email": CrashingNotifier()},
                                  clock=clock)
    assert await dispatcher.dispatch_due() == DispatchCounts(retried=1)
    [row] = dispatcher.messages()
    assert (row.status, row.last_error) == ("pending", "unexpected KeyError")


async def test_unknown_notifier_name_is_retried_not_dropped(handoffs, clock) -> None:
    make_handoff(handoffs, "casework")
    dispatcher = OutboxDispatcher(handoffs.session_factory, {}, clock=clock)
    assert await dispatcher.dispatch_due() == DispatchCounts(retried=1)
    assert dispatcher.messages()[0].last_error == "no notifier configured for 'email'"


async def test_a_worker_that_dies_mid_send_only_delays_the_row(handoffs, clock) -> None:
    make_handoff(handoffs, "casework")
    notifier = SlowNotifier()
    dispatcher = OutboxDispatcher(handoffs.session_factory, {"email": notifier}, clock=clock,
                                  lease=timedelta(minutes=5))
    assert len(dispatcher._claim_due(10)) == 1  # claimed, then the worker "dies"
    assert await dispatcher.dispatch_due() == DispatchCounts()  # leased to the dead worker
    clock.now += timedelta(minutes=5)
    assert await dispatcher.dispatch_due() == DispatchCounts(sent=1)
    assert dispatcher.messages()[0].attempts == 2


async def test_run_forever_sends_and_stops(handoffs, clock) -> None:
    make_handoff(handoffs, "casework")
    notifier = SlowNotifier()
    dispatcher = OutboxDispatcher(handoffs.session_factory, {"email": notifier}, clock=clock)
    stop = asyncio.Event()
    worker = asyncio.create_task(dispatcher.run_forever(interval=0.01, stop_event=stop))
    for _ in range(200):
        if notifier.sent:
            break
        await asyncio.sleep(0.01)
    stop.set()
    await asyncio.wait_for(worker, timeout=5)
    assert notifier.sent == ["business.support.duty@example.org"]


def test_max_attempts_must_be_positive(handoffs) -> None:
    with pytest.raises(ValueError):
        OutboxDispatcher(handoffs.session_factory, {}, max_attempts=0)

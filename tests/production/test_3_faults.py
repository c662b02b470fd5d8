"""Fault tests: break one piece of the production stack under load, then count.

Each test drives scripted conversations (knowledge answers with a rating, the
handoff form, plain questions) through nginx while it kills the contact-log
consumer, stops RabbitMQ for 60 s, restarts PostgreSQL, or kills a Rasa replica
(last, because the replica stays down). Afterwards every conversation must have
exactly one contact (none lost, none duplicated), every message its user turn,
every handoff conversation exactly one handoff, and every handoff e-mail must
have been delivered exactly once. Each test prints its counts (``-s`` shows them).

Marked ``production`` and ``services``; in CI (``.ci/run``) they run with the
rest. The whole module costs about 5 minutes on 2 shared cores (stack start
about 75 s, the RabbitMQ outage 60 s by definition).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, select

from tests.production.conftest import Mailbox, load_client

pytestmark = [pytest.mark.production, pytest.mark.services]

SETTLE_SECONDS = 120
LATE_SECONDS = 60


def _counts(stack: Any, result: Any, mailbox: Mailbox) -> dict[str, Any]:
    """Contacts, turns, handoffs and e-mails of the run's conversations."""
    from firstpoint.events.facts import conversation_key
    from firstpoint.records.contacts import Contact, contact_key_from_settings
    from firstpoint.records.db import make_engine, session_factory, session_scope
    from firstpoint.records.handoffs import Handoff, OutboxMessage

    key = contact_key_from_settings(stack.settings)
    engine = make_engine(stack.plan.records_url)
    counts: dict[str, Any] = {"conversations": len(result.conversations), "lost": 0,
                              "duplicated": 0, "turns_missing": 0, "turns_extra": 0,
                              "handoffs_expected": 0, "handoffs_missing": 0,
                              "handoffs_duplicated": 0, "emails_missing": 0,
                              "emails_duplicated": 0, "outbox_not_sent": 0,
                              "emails_expected": 0,
                              "retries": result.retries, "failures": len(result.failures)}
    try:
        with session_scope(session_factory(engine)) as session:
            for conv in result.conversations:
                ckey = conversation_key(key, conv.sender)
                contacts = session.execute(
                    select(Contact).where(Contact.conversation_key == ckey)).scalars().all()
                if not contacts:
                    counts["lost"] += 1
                counts["duplicated"] += max(0, len(contacts) - 1)
                turns = sum(c.user_turns or 0 for c in contacts)
                sent = len(conv.latencies)
                counts["turns_missing"] += max(0, sent - turns)
                # a retried message may have been processed before its replica died
                counts["turns_extra"] += max(0, turns - sent - conv.retries)
                if not conv.is_handoff:
                    continue
                counts["handoffs_expected"] += 1
                handoffs = session.execute(
                    select(Handoff).where(Handoff.conversation_id == conv.sender)
                ).scalars().all()
                if not handoffs:
                    counts["handoffs_missing"] += 1
                counts["handoffs_duplicated"] += max(0, len(handoffs) - 1)
                for handoff in handoffs:
                    rows = session.execute(select(OutboxMessage).where(
                        OutboxMessage.handoff_id == handoff.id)).scalars().all()
                    emails = [r for r in rows if r.notifier == "email"]
                    counts["outbox_not_sent"] += sum(1 for r in emails if r.status != "sent")
                    # Teams rows: no incoming webhook is configured in the test stack, so
                    # they wait (failed, retried by an officer); counted, not asserted
                    counts["other_notifiers_waiting"] = counts.get(
                        "other_notifiers_waiting", 0) + sum(
                        1 for r in rows if r.notifier != "email" and r.status != "sent")
                    counts["emails_expected"] = counts.get("emails_expected", 0) + len(emails)
                    delivered = mailbox.count(handoff.reference)
                    counts["emails_missing"] += max(0, len(emails) - sum(delivered.values()))
                    counts["emails_duplicated"] += sum(max(0, n - 1)
                                                       for n in delivered.values())
    finally:
        engine.dispose()
    return counts


def _queue_depth(stack: Any) -> int | None:
    import pika

    try:
        connection = pika.BlockingConnection(pika.URLParameters(stack.plan.amqp_url))
    except Exception:  # noqa: BLE001 - broker down: unknown
        return None
    try:
        method = connection.channel().queue_declare(stack.plan.queue, passive=True).method
        return int(method.message_count)
    finally:
        connection.close()


def _pending_outbox(stack: Any) -> int:
    from firstpoint.records.db import make_engine, session_factory, session_scope
    from firstpoint.records.handoffs import OutboxMessage

    engine = make_engine(stack.plan.records_url)
    try:
        with session_scope(session_factory(engine)) as session:
            return int(session.execute(select(func.count(OutboxMessage.id)).where(
                OutboxMessage.status == "pending", OutboxMessage.notifier == "email",
            )).scalar() or 0)
    finally:
        engine.dispose()


def _settle(stack: Any, timeout: float = SETTLE_SECONDS) -> None:
    """Wait until the event queue is empty and no e-mail is pending, three polls running."""
    deadline = time.monotonic() + timeout
    quiet = 0
    while time.monotonic() < deadline:
        try:
            idle = _queue_depth(stack) == 0 and _pending_outbox(stack) == 0
        except Exception:  # noqa: BLE001 - the database may still be coming back
            idle = False
        quiet = quiet + 1 if idle else 0
        if quiet >= 3:
            return
        time.sleep(1.0)


def _under_load(stack: Any, fault: Callable[[], None], *, conversations: int = 12,
                fault_after: float = 4.0, think: float = 0.5) -> Any:
    """Run conversations through nginx and call ``fault`` ``fault_after`` seconds in."""
    client = load_client()
    url = f"{stack.rasa_url}/webhooks/rest/webhook"
    box: dict[str, Any] = {}

    def drive() -> None:
        box["result"] = client.run_load_sync(url, client.FIRSTPOINT_SCRIPTS, conversations,
                                             concurrency=conversations, think=think,
                                             retries=8, ramp=2.0, prefix="fault",
                                             timeout=150)

    thread = threading.Thread(target=drive)
    thread.start()
    time.sleep(fault_after)
    fault()
    thread.join(400)
    assert not thread.is_alive(), "the load did not finish"
    return box["result"]


def _check(name: str, stack: Any, result: Any, mailbox: Mailbox) -> dict[str, Any]:
    _settle(stack)
    # events held by a replica during an outage arrive late: "late" is not "lost", so
    # give them LATE_SECONDS to arrive before counting
    deadline = time.monotonic() + LATE_SECONDS
    counts = _counts(stack, result, mailbox)
    while (counts["lost"] or counts["turns_missing"] or counts["emails_missing"]) and \
            time.monotonic() < deadline:
        time.sleep(2)
        counts = _counts(stack, result, mailbox)
    print(f"\nfault test {name}: {counts}")
    assert not result.failures, result.failures[:5]
    assert counts["lost"] == 0 and counts["duplicated"] == 0, counts
    assert counts["turns_missing"] == 0 and counts["turns_extra"] == 0, counts
    assert counts["handoffs_expected"] > 0, "the load had no handoff conversation"
    assert counts["emails_expected"] >= counts["handoffs_expected"], counts
    assert counts["handoffs_missing"] == 0 and counts["handoffs_duplicated"] == 0, counts
    assert counts["outbox_not_sent"] == 0, counts
    assert counts["emails_missing"] == 0 and counts["emails_duplicated"] == 0, counts
    return counts


def test_killing_the_contact_log_consumer(prod: Any, mailbox: tuple[Mailbox, int]) -> None:
    """SIGKILL the consumer mid-load; a new one takes over the queue."""
    def fault() -> None:
        prod.kill("consumer")
        time.sleep(3)
        prod.restart("consumer")

    result = _under_load(prod, fault)
    _check("consumer killed", prod, result, mailbox[0])


def test_stopping_rabbitmq_for_60_seconds(prod: Any, services: Any,
                                          mailbox: tuple[Mailbox, int]) -> None:
    """The broker goes away for a minute while people talk; events wait, nothing is lost."""
    def fault() -> None:
        services.rabbitmq.stop()
        time.sleep(60)
        services.rabbitmq.start()

    result = _under_load(prod, fault, conversations=12, think=3.0, fault_after=2.0)
    _check("RabbitMQ stopped 60 s", prod, result, mailbox[0])


@pytest.mark.xfail(
    strict=False,
    reason="issue 13 open: on 2 shared cores the last runs saw contacts duplicated or turns "
           "missing after this fault (figures printed above); still run in CI and reported",
)
def test_restarting_postgresql(prod: Any, services: Any, mailbox: tuple[Mailbox, int]) -> None:
    """A real ``pg_ctl restart -m fast`` cuts every connection of every process."""
    result = _under_load(prod, services.postgres.restart)
    _check("PostgreSQL restarted", prod, result, mailbox[0])


@pytest.mark.xfail(
    strict=False,
    reason="issue 13 open: on 2 shared cores the last runs saw contacts duplicated or turns "
           "missing after this fault (figures printed above); still run in CI and reported",
)
def test_killing_a_rasa_replica(prod: Any, mailbox: tuple[Mailbox, int]) -> None:
    """SIGKILL one replica mid-load: nginx sends the rest to the other (runs last)."""
    result = _under_load(prod, lambda: prod.kill("rasa-1"), conversations=12)
    counts = _check("Rasa replica killed", prod, result, mailbox[0])
    assert prod.processes["rasa-2"].poll() is None
    assert counts["conversations"] == 12

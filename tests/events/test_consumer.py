"""The RabbitMQ consumer against the real local RabbitMQ (services marker)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from firstpoint.events.consumer import ContactConsumer
from firstpoint.events.facts import conversation_key
from firstpoint.records.contacts import Contact, ContactRecorder
from firstpoint.records.db import make_engine, session_factory, session_scope
from firstpoint.records.migrate import upgrade
from tests.events.rasa_stream import WEB, Clock, action, published_sync, session_start, slot, user

pytestmark = pytest.mark.services
KEY = b"consumer-test-key-0123456789abcd"


@pytest.fixture
def queue(rabbitmq_url) -> Iterator[tuple[str, str]]:
    """A unique throwaway queue, deleted afterwards."""
    import pika

    from tests.services import require_service

    name = f"fp_test_events_{uuid.uuid4().hex[:10]}"
    try:
        connection = pika.BlockingConnection(pika.URLParameters(rabbitmq_url))
    except Exception as exc:  # noqa: BLE001 - any connection failure means "absent"
        require_service("rabbitmq", exc)
    channel = connection.channel()
    channel.queue_declare(name, durable=True)  # as rasa's PikaEventBroker declares queues
    try:
        yield rabbitmq_url, name
    finally:
        channel.queue_delete(name)
        connection.close()


def publish_like_rasa(url: str, queue: str, events: list[dict]) -> None:
    """Publish bodies the way PikaEventBroker._message builds them (JSON, persistent)."""
    import pika

    connection = pika.BlockingConnection(pika.URLParameters(url))
    channel = connection.channel()
    for event in events:
        channel.basic_publish("", queue, json.dumps(event).encode("utf-8"),
                              pika.BasicProperties(delivery_mode=2))
    connection.close()


def message_count(url: str, queue: str) -> int:
    import pika

    connection = pika.BlockingConnection(pika.URLParameters(url))
    count = connection.channel().queue_declare(queue, passive=True).method.message_count
    connection.close()
    return int(count)


def conversation() -> list[dict]:
    clock = Clock()
    return published_sync("amqp-sender", session_start(clock, WEB) + [
        user(clock, "I'm Jo Bloggs, can you take minutes?", "ask_service", WEB),
        action(clock, "action_answer_service"), slot(clock, "kb_topic", "menu.minute-taking"),
        slot(clock, "kb_outcome", "answered"), slot(clock, "contact_details", "07700 900123"),
    ])


def stored(url: str) -> list[Contact]:
    engine = make_engine(url)
    with session_scope(session_factory(engine)) as session:
        rows = session.execute(select(Contact)).scalars().all()
        for row in rows:
            _ = list(row.topics)
    engine.dispose()
    return list(rows)


def test_consumer_records_rasa_events_from_the_queue(queue, sqlite_url, redactor) -> None:
    amqp_url, name = queue
    upgrade(sqlite_url)
    events = conversation()
    publish_like_rasa(amqp_url, name, events + [{"not": "an event"}])
    engine = make_engine(sqlite_url)
    recorder = ContactRecorder(session_factory(engine), KEY)
    consumer = ContactConsumer(recorder, redactor, amqp_url=amqp_url, queue=name)
    stats = consumer.run(max_messages=len(events) + 1, timeout=10)
    engine.dispose()
    assert stats.messages == len(events) + 1
    assert stats.recorded == 5  # session_meta, session_started, user, kb_topic, kb_outcome
    assert stats.ignored == len(events) - 5 + 1  # other events and the non-Rasa dict
    [contact] = stored(sqlite_url)
    assert contact.conversation_key == conversation_key(KEY, "amqp-sender")
    assert contact.outcome == "answered"
    assert [t.entry_id for t in contact.topics] == ["menu.minute-taking"]
    assert message_count(amqp_url, name) == 0  # every message acknowledged


def test_consumer_requeues_while_the_database_is_down(queue, sqlite_url, redactor) -> None:
    amqp_url, name = queue
    upgrade(sqlite_url)
    events = conversation()
    publish_like_rasa(amqp_url, name, events)

    class Outage(ContactRecorder):
        failures = 2

        def apply(self, fact, event_id=None):  # type: ignore[no-untyped-def]
            if fact.kind == "user" and self.failures:
                self.failures -= 1
                raise OperationalError("INSERT", {}, Exception("database is down"))
            return super().apply(fact, event_id)

    engine = make_engine(sqlite_url)
    consumer = ContactConsumer(Outage(session_factory(engine), KEY), redactor,
                               amqp_url=amqp_url, queue=name, retry_seconds=0.1)
    stats = consumer.run(max_messages=len(events), timeout=10)
    engine.dispose()
    assert stats.requeued == 2 and stats.messages == len(events)
    [contact] = stored(sqlite_url)
    assert contact.user_turns == 1 and contact.outcome == "answered"
    assert message_count(amqp_url, name) == 0


def test_non_json_messages_are_rejected(queue, sqlite_url, redactor) -> None:
    import pika

    amqp_url, name = queue
    upgrade(sqlite_url)
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    connection.channel().basic_publish("", name, b"\xff not json")
    connection.close()
    engine = make_engine(sqlite_url)
    consumer = ContactConsumer(ContactRecorder(session_factory(engine), KEY), redactor,
                               amqp_url=amqp_url, queue=name)
    stats = consumer.run(max_messages=1, timeout=10)
    engine.dispose()
    assert (stats.messages, stats.rejected) == (1, 1)
    assert message_count(amqp_url, name) == 0


def test_cli_consume(queue, sqlite_url, tmp_path, monkeypatch, capsys) -> None:
    from firstpoint.cli import main
    from firstpoint.settings import get_settings

    amqp_url, name = queue
    events = conversation()
    publish_like_rasa(amqp_url, name, events)
    monkeypatch.setenv("FIRSTPOINT_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("FIRSTPOINT_DATA_KEY", "cli-consume-key")
    monkeypatch.setenv("FIRSTPOINT_RABBITMQ_URL", amqp_url)
    get_settings.cache_clear()
    try:
        assert main(["contacts", "consume", "--queue", name, "--url", sqlite_url,
                     "--max-messages", str(len(events)), "--timeout", "10"]) == 0
        assert main(["contacts", "close-idle", "--url", sqlite_url]) == 0
    finally:
        get_settings.cache_clear()
    out = capsys.readouterr().out
    assert json.loads(out.splitlines()[0])["recorded"] == 5
    assert "closed 1 idle contacts" in out
    [contact] = stored(sqlite_url)
    assert contact.outcome == "answered" and contact.ended_at is not None


async def test_events_published_by_rasas_own_pika_broker(queue, sqlite_url, redactor) -> None:
    """Rasa's PikaEventBroker publishes (to a throwaway exchange) and the consumer records."""
    import asyncio
    from urllib.parse import urlparse

    import pika
    from rasa.core.brokers.pika import PikaEventBroker

    amqp_url, name = queue
    upgrade(sqlite_url)
    parsed = urlparse(amqp_url)
    exchange = f"fp_test_exchange_{uuid.uuid4().hex[:10]}"
    broker = PikaEventBroker(parsed.hostname or "127.0.0.1", parsed.username or "guest",
                             parsed.password or "guest", port=parsed.port or 5672,
                             queues=[name], exchange_name=exchange)
    events = await asyncio.to_thread(conversation)
    try:
        await broker.connect()
        for event in events:
            broker.publish(event)
        for _ in range(200):
            if await asyncio.to_thread(message_count, amqp_url, name) == len(events):
                break
            await asyncio.sleep(0.05)
        await broker.close()
        engine = make_engine(sqlite_url)
        consumer = ContactConsumer(ContactRecorder(session_factory(engine), KEY), redactor,
                                   amqp_url=amqp_url, queue=name)
        stats = await asyncio.to_thread(consumer.run, len(events), 10)
        engine.dispose()
    finally:
        connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
        connection.channel().exchange_delete(exchange)
        connection.close()
    assert stats.messages == len(events) and stats.recorded == 5
    [contact] = stored(sqlite_url)
    assert contact.outcome == "answered" and contact.user_turns == 1


def test_a_redelivered_message_is_recorded_once(queue, sqlite_url, redactor) -> None:
    """Issue 13: a consumer killed between its commit and its ack gets the message again."""
    amqp_url, name = queue
    upgrade(sqlite_url)
    events = conversation()
    publish_like_rasa(amqp_url, name, events)
    publish_like_rasa(amqp_url, name, events)  # every body delivered a second time
    engine = make_engine(sqlite_url)
    consumer = ContactConsumer(ContactRecorder(session_factory(engine), KEY), redactor,
                               amqp_url=amqp_url, queue=name)
    stats = consumer.run(max_messages=2 * len(events), timeout=10)
    engine.dispose()
    [contact] = stored(sqlite_url)
    assert contact.user_turns == 1  # not 2: the second user event was a duplicate
    assert stats.duplicates >= 1
    assert message_count(amqp_url, name) == 0


async def test_the_ordered_broker_keeps_order_across_an_outage() -> None:
    """Issue 13: after RabbitMQ came back, Rasa's broker republished held events AFTER
    newer ones; the contact log split a conversation in two. Ours waits and keeps order."""
    import asyncio

    from firstpoint.events.pika import OrderedPikaEventBroker

    class Exchange:
        def __init__(self) -> None:
            self.down = True
            self.bodies: list[dict] = []

        async def publish(self, message, routing_key):  # type: ignore[no-untyped-def]
            if self.down:
                raise ConnectionError("RabbitMQ is down")
            self.bodies.append(json.loads(message.body))

    broker = OrderedPikaEventBroker("127.0.0.1", "guest", "guest", queues=["q"],
                                    event_loop=asyncio.get_running_loop())
    exchange = Exchange()
    broker._exchange = exchange  # type: ignore[assignment]
    for n in range(5):
        broker.publish({"event": "user", "n": n})
    for _ in range(200):  # until the publisher has met the outage (not a fixed wait)
        if broker.failures:
            break
        await asyncio.sleep(0.05)
    assert broker.failures >= 1 and exchange.bodies == []
    exchange.down = False
    for n in range(5, 10):
        broker.publish({"event": "user", "n": n})
    for _ in range(100):
        if not broker.pending:
            break
        await asyncio.sleep(0.1)
    assert [b["n"] for b in exchange.bodies] == list(range(10))
    assert broker.failures >= 1

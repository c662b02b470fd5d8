"""ContactLogEventBroker: Rasa's loading path, a non-blocking publish, the spool."""

from __future__ import annotations

import asyncio
import json
import os
import stat
import threading
import time
import uuid
from datetime import datetime, timezone

import pytest
from sqlalchemy import event, select, text

from firstpoint.events.broker import ContactLogEventBroker, Spool
from firstpoint.events.facts import Fact, conversation_key
from firstpoint.records.contacts import Contact, ContactRecorder, contact_key_from_settings
from firstpoint.records.db import make_engine, session_factory, session_scope
from firstpoint.records.migrate import upgrade
from tests.events.rasa_stream import (
    WEB,
    Clock,
    action,
    loop,
    published,
    session_start,
    slot,
    user,
)

UTC = timezone.utc
KEY = b"broker-test-key-0123456789abcdef"


def conversation(clock: Clock) -> list:
    return session_start(clock, WEB) + [
        user(clock, "Hi, I'm Jo Bloggs on 07700 900123, can you book travel?", "ask_service",
             WEB),
        action(clock, "action_answer_service"), slot(clock, "kb_topic", "menu.travel"),
        slot(clock, "kb_outcome", "answered"), slot(clock, "caller_name", "Jo Bloggs"),
        user(clock, "zzz my email is jo@example.com", "nlu_fallback", WEB),
        action(clock, "action_not_understood"),
    ]


def rows(engine) -> list[Contact]:
    with session_scope(session_factory(engine)) as session:
        found = session.execute(select(Contact).order_by(Contact.id)).scalars().all()
        for c in found:
            _ = (list(c.topics), list(c.unrecognised))
        return list(found)


def wait_for(condition, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.02)
    raise AssertionError("condition not met in time")


@pytest.fixture
def db(sqlite_url):
    upgrade(sqlite_url)
    engine = make_engine(sqlite_url)
    yield engine
    engine.dispose()


# ----------------------------------------------------------------- Rasa's own loading path

async def test_created_by_rasa_from_endpoint_config(sqlite_url, tmp_path, monkeypatch) -> None:
    from rasa.core.brokers.broker import EventBroker
    from rasa.core.tracker_store import InMemoryTrackerStore
    from rasa.shared.core.trackers import DialogueStateTracker
    from rasa.utils.endpoints import EndpointConfig, read_endpoint_config

    from firstpoint.settings import get_settings
    from tests.events.rasa_stream import DOMAIN

    upgrade(sqlite_url)
    monkeypatch.setenv("FIRSTPOINT_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("FIRSTPOINT_DATA_KEY", "endpoint-test-key")
    get_settings.cache_clear()
    endpoints = tmp_path / "endpoints.yml"
    endpoints.write_text(
        "event_broker:\n"
        "  type: firstpoint.events.broker.ContactLogEventBroker\n"
        f"  url: {sqlite_url}\n"
        f"  spool_dir: {tmp_path / 'spool'}\n"
        "  sweep_seconds: 3600\n")
    try:
        config = read_endpoint_config(str(endpoints), "event_broker")
        assert isinstance(config, EndpointConfig)
        broker = await EventBroker.create(config)
        assert isinstance(broker, ContactLogEventBroker) and broker.is_ready()
        assert broker.spool.directory == tmp_path / "spool"
        # the real tracker store streams the conversation into the broker
        store = InMemoryTrackerStore(DOMAIN, event_broker=broker)
        tracker = DialogueStateTracker("rasa-path-sender", DOMAIN.slots)
        tracker.model_id = "model"
        for e in conversation(Clock()):
            tracker.update(e, DOMAIN)
        await store.save(tracker)
        await broker.close()
        assert not broker.is_ready()
        key = contact_key_from_settings(get_settings())
    finally:
        get_settings.cache_clear()
    engine = make_engine(sqlite_url)
    [contact] = rows(engine)
    engine.dispose()
    assert contact.conversation_key == conversation_key(key, "rasa-path-sender")
    assert contact.outcome == "answered" and contact.user_turns == 2
    assert [t.entry_id for t in contact.topics] == ["menu.travel"]
    assert [m.text_redacted for m in contact.unrecognised] == ["zzz my email is [EMAIL]"]


# ----------------------------------------------------------------- non-blocking publish

async def test_publish_does_not_block_the_loop_while_the_db_is_busy(db, tmp_path,
                                                                    redactor) -> None:
    """Every SQL statement waits until the test lets it go: publish() still returns,
    no statement runs on the loop's thread, and close() waits for the writer without
    blocking the loop. Nothing is timed (a blocking call would stall at the gate and
    fail an assertion below instead)."""
    gate = threading.Event()
    sql_threads: list[int] = []

    @event.listens_for(db, "before_cursor_execute")
    def held(*_args) -> None:
        sql_threads.append(threading.get_ident())
        gate.wait(timeout=30)

    recorder = ContactRecorder(session_factory(db), KEY)
    broker = ContactLogEventBroker(recorder=recorder, redactor=redactor,
                                   spool_dir=tmp_path / "spool", sweep_seconds=3600)
    events = await published("busy-sender", conversation(Clock()))
    loop_thread = threading.get_ident()
    for e in events:
        broker.publish(e)  # only queues: the database is held and this still returns
    await asyncio.to_thread(wait_for, lambda: bool(sql_threads))
    assert not gate.is_set()
    # the writer holds the second fact (the session start) at its first statement; only
    # the session metadata, which touches no table, is done
    assert broker.worker.recorded == 1

    closing = asyncio.ensure_future(broker.close())
    ticks = 0
    for _ in range(50):
        await asyncio.sleep(0)
        ticks += 1
    assert ticks == 50 and not closing.done()  # the loop runs while close() waits
    gate.set()
    await closing
    assert sql_threads and loop_thread not in sql_threads
    assert broker.worker.recorded == 7  # every fact: metadata + six that write
    [contact] = rows(db)
    assert contact.outcome == "answered" and contact.user_turns == 2


# ----------------------------------------------------------------- DB down -> spool -> back

async def test_db_down_spools_then_replays_when_it_returns(tmp_path, redactor) -> None:
    url = f"sqlite:///{tmp_path / 'not-yet' / 'contacts.db'}"  # directory missing: fails
    spool_dir = tmp_path / "spool"
    broker = ContactLogEventBroker(url, recorder=None, redactor=redactor, spool_dir=spool_dir,
                                   retry_seconds=0.1, sweep_seconds=3600,
                                   settings=_settings(tmp_path))
    events = await published("down-sender", conversation(Clock()))
    for e in events:
        broker.publish(e)
    await asyncio.to_thread(wait_for, lambda: broker.worker.spooled >= 6)
    [spool_file] = list(spool_dir.glob("contact-facts-*.jsonl"))
    assert stat.S_IMODE(spool_file.stat().st_mode) == 0o600
    spooled = spool_file.read_text()
    for secret in ("Bloggs", "900123", "jo@example.com", "down-sender"):
        assert secret not in spooled
    assert "[EMAIL]" in spooled  # redacted text is kept for the unrecognised message
    assert not (tmp_path / "not-yet").exists()

    upgrade(url)  # the database comes back
    await asyncio.to_thread(wait_for, lambda: broker.spool.own_pending == 0
                            and not broker.worker._db_down)
    broker.publish({**events[-1], "event": "slot", "name": "feedback_rating",
                    "value": "not_helpful"})
    await broker.close()
    engine = make_engine(url)
    [contact] = rows(engine)
    engine.dispose()
    assert contact.outcome == "answered" and contact.user_turns == 2
    assert contact.rating == "not_helpful"  # after the replay, in order
    assert [m.text_redacted for m in contact.unrecognised] == ["zzz my email is [EMAIL]"]
    assert list(spool_dir.glob("contact-facts-*.jsonl")) == []


def _settings(tmp_path):
    from firstpoint.settings import settings_from_env

    return settings_from_env({"FIRSTPOINT_VAR_DIR": str(tmp_path / "var"),
                              "FIRSTPOINT_DATA_KEY": "spool-test"})


async def test_facts_still_spooled_at_close_survive_for_the_next_process(tmp_path,
                                                                         redactor) -> None:
    url = f"sqlite:///{tmp_path / 'later' / 'contacts.db'}"
    spool_dir = tmp_path / "spool"
    settings = _settings(tmp_path)
    first = ContactLogEventBroker(url, redactor=redactor, spool_dir=spool_dir,
                                  retry_seconds=0.1, sweep_seconds=3600, settings=settings)
    for e in await published("restart-sender", conversation(Clock())):
        first.publish(e)
    await first.close()  # DB still down: facts stay in the spool file
    assert not (tmp_path / "later").exists()
    assert len(list(spool_dir.glob("contact-facts-*.jsonl"))) == 1

    upgrade(url)
    second = ContactLogEventBroker(url, redactor=redactor, spool_dir=spool_dir,
                                   sweep_seconds=3600, settings=settings)
    await second.close()
    engine = make_engine(url)
    [contact] = rows(engine)
    engine.dispose()
    assert contact.outcome == "answered"
    assert list(spool_dir.glob("contact-facts-*.jsonl")) == []


def test_live_spool_files_are_not_adopted(tmp_path) -> None:
    live = Spool(tmp_path)
    live.append(Fact(kind="user", at=1.0, conversation_key="k" * 64, intent="greet"))
    other = Spool(tmp_path)
    assert other.orphans() == []  # held by a live process
    assert other.replay(lambda f: None) == 0
    live.close()  # the process stops with a fact unreplayed
    assert other.orphans() == [live.path]
    applied: list[Fact] = []
    assert other.replay(applied.append) == 1
    assert applied[0].intent == "greet" and not live.path.exists()


def test_partial_replay_keeps_the_rest_in_order(tmp_path) -> None:
    spool = Spool(tmp_path)
    for n in range(5):
        spool.append(Fact(kind="user", at=float(n), conversation_key="k" * 64))
    seen: list[float | None] = []
    failed: list[bool] = []

    def flaky(fact: Fact) -> None:
        if fact.at == 2.0 and not failed:
            failed.append(True)
            from sqlalchemy.exc import OperationalError

            raise OperationalError("x", {}, Exception("down"))
        seen.append(fact.at)

    with pytest.raises(Exception, match="down"):
        spool.replay(flaky)
    assert spool.own_pending == 3
    assert spool.replay(flaky) == 3
    assert seen == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert spool.own_pending == 0 and not spool.path.exists()


# ----------------------------------------------------------------- worker duties

async def test_worker_sweeps_idle_contacts(db, tmp_path, redactor) -> None:
    recorder = ContactRecorder(session_factory(db), KEY,
                               clock=lambda: datetime(2030, 1, 1, tzinfo=UTC))
    broker = ContactLogEventBroker(recorder=recorder, redactor=redactor,
                                   spool_dir=tmp_path / "spool", sweep_seconds=0.2)
    for e in await published("idle-sender", session_start(Clock(), WEB) + [
            user(Clock(start=1_767_225_700), "hello", "greet", WEB),
            loop(Clock(start=1_767_225_705), "handoff_form")]):
        broker.publish(e)
    await asyncio.to_thread(wait_for, lambda: bool(rows(db)) and rows(db)[0].ended_at)
    await broker.close()
    assert rows(db)[0].outcome == "abandoned"


async def test_a_refused_fact_is_set_aside_not_blocking(db, tmp_path, redactor) -> None:
    class Picky(ContactRecorder):
        def apply(self, fact: Fact) -> None:
            if fact.kind == "session_started":
                raise RuntimeError("a bug")
            super().apply(fact)

    broker = ContactLogEventBroker(recorder=Picky(session_factory(db), KEY), redactor=redactor,
                                   spool_dir=tmp_path / "spool", sweep_seconds=3600)
    for e in await published("picky", conversation(Clock())):
        broker.publish(e)
    await broker.close()
    assert broker.worker.rejected == 1
    rejected = (tmp_path / "spool" / "contact-facts-rejected.jsonl").read_text()
    assert json.loads(rejected)["fact"]["kind"] == "session_started"
    assert rows(db)[0].user_turns == 2


# ----------------------------------------------------------------- PostgreSQL outage

@pytest.mark.services
async def test_postgres_database_missing_then_created(tmp_path, redactor) -> None:
    from sqlalchemy import create_engine

    from firstpoint.settings import get_settings
    from tests.services import require_port, require_service

    require_port("postgresql")
    admin_url = get_settings().postgres_test_url
    name = f"fp_test_{uuid.uuid4().hex[:12]}"
    url = f"{admin_url.rpartition('/')[0]}/{name}"
    try:
        admin = create_engine(admin_url, isolation_level="AUTOCOMMIT", future=True)
        with admin.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001
        require_service("postgresql", exc)
    broker = ContactLogEventBroker(url, redactor=redactor, spool_dir=tmp_path / "spool",
                                   retry_seconds=0.1, sweep_seconds=3600,
                                   settings=_settings(tmp_path))
    try:
        for e in await published("pg-down", conversation(Clock())):
            broker.publish(e)
        await asyncio.to_thread(wait_for, lambda: broker.worker.spooled >= 6)
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        upgrade(url)
        await asyncio.to_thread(wait_for, lambda: broker.worker.recorded >= 6)
        await broker.close()
        engine = make_engine(url)
        [contact] = rows(engine)
        engine.dispose()
        assert contact.outcome == "answered" and contact.user_turns == 2
    finally:
        broker.shutdown(5)
        with admin.connect() as conn:
            conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                              "WHERE datname = :n AND pid <> pg_backend_pid()"), {"n": name})
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()
    assert os.listdir(tmp_path / "spool") == []

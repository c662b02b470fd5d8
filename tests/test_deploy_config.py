"""The production endpoints file is valid for Rasa and names the production stores."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _production_env(monkeypatch: pytest.MonkeyPatch, **overrides: str) -> None:
    values = {
        "FIRSTPOINT_ACTION_URL": "http://actions:5055/webhook",
        "FIRSTPOINT_PG_HOST": "db", "FIRSTPOINT_PG_PORT": "5432", "FIRSTPOINT_PG_DB": "rasa",
        "FIRSTPOINT_PG_USER": "rasa", "FIRSTPOINT_PG_PASSWORD": "secret",
        "FIRSTPOINT_REDIS_HOST": "redis", "FIRSTPOINT_REDIS_PORT": "6379",
        "FIRSTPOINT_RABBITMQ_HOST": "mq", "FIRSTPOINT_RABBITMQ_USER": "u",
        "FIRSTPOINT_RABBITMQ_PASSWORD": "p", "FIRSTPOINT_RABBITMQ_PORT": "5672",
        "FIRSTPOINT_RABBITMQ_EXCHANGE": "rasa-exchange",
        "FIRSTPOINT_RABBITMQ_QUEUE": "firstpoint_events",
        "FIRSTPOINT_REDIS_DB": "1", "FIRSTPOINT_REDIS_PREFIX": "firstpoint",
        "FIRSTPOINT_ACTION_TOKEN": "t0ken",
    }
    for name, value in {**values, **overrides}.items():
        monkeypatch.setenv(name, value)


def test_production_endpoints_parse_with_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from rasa.utils.endpoints import read_endpoint_config

    _production_env(monkeypatch)
    path = str(ROOT / "deploy/endpoints.production.yml")
    tracker = read_endpoint_config(path, "tracker_store")
    broker = read_endpoint_config(path, "event_broker")
    lock = read_endpoint_config(path, "lock_store")
    action = read_endpoint_config(path, "action_endpoint")
    assert tracker and tracker.type == "firstpoint.records.tracker_store.EncryptedSQLTrackerStore"
    assert tracker.kwargs["dialect"] == "postgresql"
    assert broker and broker.type == "firstpoint.events.pika.OrderedPikaEventBroker"
    assert broker.kwargs["queues"] == ["firstpoint_events"]
    assert lock and lock.type == "redis"
    assert action and action.url == "http://actions:5055/webhook"
    # the action server token really is substituted (a quoted YAML string was not)
    assert action.headers == {"Authorization": "Bearer t0ken"}


def test_embedded_endpoints_use_the_contact_log_broker(monkeypatch: pytest.MonkeyPatch) -> None:
    from rasa.utils.endpoints import read_endpoint_config

    monkeypatch.setenv("FIRSTPOINT_ACTION_PORT", "5055")
    monkeypatch.setenv("FIRSTPOINT_TRACKER_DB", "/tmp/t.db")
    monkeypatch.setenv("FIRSTPOINT_ACTION_TOKEN", "dev-token")
    path = str(ROOT / "endpoints.yml")
    broker = read_endpoint_config(path, "event_broker")
    action = read_endpoint_config(path, "action_endpoint")
    assert broker and broker.type == "firstpoint.events.broker.ContactLogEventBroker"
    assert action and action.url == "http://127.0.0.1:5055/webhook"
    assert action.headers == {"Authorization": "Bearer dev-token"}


@pytest.mark.services
async def test_redis_lock_store_from_the_production_config(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rasa's Redis lock store, built from our production file, locks a conversation."""
    from rasa.core.lock_store import LockStore
    from rasa.utils.endpoints import read_endpoint_config

    from tests.services import require_port, require_service

    require_port("redis")
    _production_env(monkeypatch, FIRSTPOINT_REDIS_HOST="127.0.0.1", FIRSTPOINT_REDIS_PORT="6379")
    config = read_endpoint_config(str(ROOT / "deploy/endpoints.production.yml"), "lock_store")
    try:
        store = LockStore.create(config)
        conversation = f"fp-lock-test-{id(store)}"
        async with store.lock(conversation, wait_time_in_seconds=0.05):
            held = store.get_lock(conversation)
            assert held is not None and held.tickets  # stored in Redis while held
        assert store.get_lock(conversation) is None  # released and cleaned up
    except ConnectionError as exc:  # pragma: no cover - service went away
        require_service("redis", exc)

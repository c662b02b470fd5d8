"""Shared fixtures: a throwaway PostgreSQL database, SQLite URLs, service skips."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from firstpoint.settings import get_settings  # noqa: E402
from tests.services import require_port, require_service  # noqa: E402


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    """A fresh SQLite database URL in the test's temporary directory."""
    return f"sqlite:///{tmp_path / 'firstpoint-test.db'}"


@pytest.fixture
def fixture_url(sqlite_url: str) -> str:
    """A migrated SQLite database holding the hand-checked contacts of tests/reports/fixtures.py."""
    from tests.reports.fixtures import load_fixture

    load_fixture(sqlite_url)
    return sqlite_url


@pytest.fixture
def fixture_engine(fixture_url: str) -> Iterator[Any]:
    """An engine on :func:`fixture_url`, disposed afterwards."""
    from firstpoint.records.db import make_engine

    engine = make_engine(fixture_url)
    yield engine
    engine.dispose()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database on the local server, dropped afterwards.

    Skips when PostgreSQL is absent (fails with FIRSTPOINT_REQUIRE_SERVICES=1).
    """
    require_port("postgresql")
    from sqlalchemy import create_engine, text

    admin_url = get_settings().postgres_test_url
    name = f"fp_test_{uuid.uuid4().hex[:12]}"
    try:
        admin = create_engine(admin_url, isolation_level="AUTOCOMMIT", future=True)
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # noqa: BLE001 - any connection failure means "absent"
        require_service("postgresql", exc)
    base, _, _ = admin_url.rpartition("/")
    try:
        yield f"{base}/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = :n AND pid <> pg_backend_pid()"
                ),
                {"n": name},
            )
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


@pytest.fixture
def rabbitmq_url() -> str:
    """The local RabbitMQ URL (skips/fails when absent)."""
    require_port("rabbitmq")
    return get_settings().rabbitmq_url

"""Fixtures for the report tests: the hand-checked contact log on SQLite."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.engine import Engine

from tests.reports.fixtures import load_fixture


@pytest.fixture
def fixture_url(sqlite_url: str) -> str:
    """A migrated SQLite database holding the fixture contacts."""
    load_fixture(sqlite_url)
    return sqlite_url


@pytest.fixture
def fixture_engine(fixture_url: str) -> Iterator[Engine]:
    """An engine on :func:`fixture_url`, disposed afterwards."""
    from firstpoint.records.db import make_engine

    engine = make_engine(fixture_url)
    yield engine
    engine.dispose()

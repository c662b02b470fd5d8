"""Fixtures for the API tests: the hand-checked report fixture on SQLite."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.engine import Engine

from firstpoint.settings import Settings
from tests.reports.fixtures import load_fixture


@pytest.fixture
def fixture_url(sqlite_url: str) -> str:
    """A migrated SQLite database holding tests/reports/fixtures.py."""
    load_fixture(sqlite_url)
    return sqlite_url


@pytest.fixture
def fixture_engine(fixture_url: str) -> Iterator[Engine]:
    """An engine on the fixture database, disposed afterwards."""
    from firstpoint.records.db import make_engine

    engine = make_engine(fixture_url)
    yield engine
    engine.dispose()


@pytest.fixture
def api_settings(fixture_url: str, tmp_path) -> Settings:
    """Settings pointing at the fixture database (content dir without council.yml)."""
    return Settings(database_url=fixture_url, var_dir=tmp_path, content_dir=tmp_path)

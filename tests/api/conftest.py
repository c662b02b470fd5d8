"""Fixtures for the API tests (``fixture_url`` comes from tests/conftest.py)."""

from __future__ import annotations

import pytest

from firstpoint.settings import Settings


@pytest.fixture
def api_settings(fixture_url: str, tmp_path) -> Settings:
    """Settings pointing at the fixture database (content dir without council.yml)."""
    return Settings(database_url=fixture_url, var_dir=tmp_path, content_dir=tmp_path)

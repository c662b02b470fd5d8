"""Report tests use ``fixture_url`` / ``fixture_engine`` from tests/conftest.py."""

"""Fixtures for the event-stream tests: one redactor per session."""

from __future__ import annotations

from datetime import date

import pytest

from firstpoint.records.redaction import Redactor


@pytest.fixture(scope="session")
def redactor() -> Redactor:
    """A warmed-up redactor (the spaCy pipeline is built once)."""
    r = Redactor(today=date(2026, 11, 24))
    r.redact("warm up")
    return r

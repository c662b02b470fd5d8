"""A :class:`HandoffService` built from the settings (database, data key, directory)."""

from __future__ import annotations

from typing import Any

from firstpoint.database import make_engine, session_factory
from firstpoint.records.crypto import cipher_from_settings
from firstpoint.records.handoffs.service import HandoffService
from firstpoint.records.migrate import upgrade
from firstpoint.settings import get_settings
from knowledge.directory import load_directory


def service_from_settings(settings: Any = None, *, migrate: bool = True) -> HandoffService:
    """A :class:`HandoffService` for the configured database, key and directory.

    Creates an engine (call once per process); ``migrate`` applies the migrations first.
    """
    settings = settings or get_settings()
    if migrate:
        upgrade(settings.database_url)
    return HandoffService(
        session_factory(make_engine(settings.database_url)),
        cipher_from_settings(settings),
        load_directory(settings.content_dir),
    )

"""Rasa's tracker store as FirstPoint reads it: the ``events`` table, by raw SQL.

Rasa owns that table (``SQLTrackerStore``); subject access reads one sender's
events and retention deletes old ones. Both go through here, so the SQL on a
table FirstPoint does not define lives in one place. A SQLite URL whose file does
not exist is never created.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import inspect, text
from sqlalchemy.engine import Engine

from firstpoint.database import make_engine
from firstpoint.settings import Settings

EVENTS_TABLE = "events"


def default_tracker_url(settings: Settings) -> str:
    """Rasa's SQL tracker store in the var directory (``sqlite:///var/tracker.db``)."""
    return f"sqlite:///{Path(settings.var_dir) / 'tracker.db'}"


def sqlite_missing(url: str) -> bool:
    """True for a SQLite file URL whose file does not exist (do not create it)."""
    if not url.startswith("sqlite:///"):
        return False
    path = url[len("sqlite:///"):]
    return path not in ("", ":memory:") and not Path(path).exists()


def has_table(engine: Engine, name: str) -> bool:
    """True when the database behind ``engine`` has table ``name``."""
    return bool(inspect(engine).has_table(name))


def rows_for(sender_id: str, tracker_url: str | None,
             notes: list[str]) -> list[Mapping[str, Any]] | None:
    """One conversation's rows (type, timestamp, intent, action, stored data), oldest
    first; None when there is no tracker store (said in ``notes``)."""
    if not tracker_url:
        return None
    if sqlite_missing(tracker_url):
        notes.append(f"tracker: no tracker store at {tracker_url}")
        return None
    engine = make_engine(tracker_url)
    try:
        if not has_table(engine, EVENTS_TABLE):
            notes.append("tracker: the tracker store has no events table")
            return None
        with engine.connect() as conn:
            return list(conn.execute(
                text("SELECT type_name, timestamp, intent_name, action_name, data "
                     "FROM events WHERE sender_id = :sender ORDER BY id"),
                {"sender": sender_id},
            ).mappings().all())
    finally:
        engine.dispose()


def purge_events(tracker_url: str | None, cutoff: datetime, dry_run: bool,
                 notes: list[str]) -> int:
    """Delete (or with ``dry_run`` count) tracker events older than ``cutoff``."""
    if not tracker_url or sqlite_missing(tracker_url):
        notes.append(f"tracker: no tracker store at {tracker_url}")
        return 0
    engine = make_engine(tracker_url)
    try:
        if not has_table(engine, EVENTS_TABLE):
            notes.append("tracker: the tracker store has no events table")
            return 0
        limit = {"cutoff": cutoff.timestamp()}
        with engine.begin() as conn:
            count = conn.execute(text("SELECT count(*) FROM events WHERE timestamp < :cutoff"),
                                 limit).scalar_one()
            if not dry_run and count:
                conn.execute(text("DELETE FROM events WHERE timestamp < :cutoff"), limit)
    finally:
        engine.dispose()
    return int(count)

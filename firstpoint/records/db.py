"""The records' import path for :mod:`firstpoint.database` (engine, sessions, base).

The database layer sits below ``records`` and ``notify`` (the outbox table shares
the base), so it lives in :mod:`firstpoint.database`; this name stays for the
code that imports it from here.
"""

from __future__ import annotations

from firstpoint.database import (
    NAMING_CONVENTION,
    SQLITE_READ_PRAGMAS,
    Base,
    as_utc,
    make_engine,
    session_factory,
    session_scope,
    utcnow,
)

__all__ = ["NAMING_CONVENTION", "SQLITE_READ_PRAGMAS", "Base", "as_utc", "make_engine",
           "session_factory", "session_scope", "utcnow"]

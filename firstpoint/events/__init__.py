"""Rasa's event stream into the contact log.

``facts`` turns a published Rasa event into a small redacted fact; ``broker`` is
an in-process Rasa event broker that records facts on a background thread (with
a spool for database outages); ``consumer`` reads Rasa's RabbitMQ (Pika) queue.
"""

from __future__ import annotations

from sqlalchemy import exc as _sa_exc

#: Errors meaning "the database is not reachable now": keep the fact and retry later.
DB_UNAVAILABLE: tuple[type[BaseException], ...] = (
    _sa_exc.OperationalError,
    _sa_exc.InterfaceError,
    _sa_exc.DisconnectionError,
    _sa_exc.TimeoutError,
)

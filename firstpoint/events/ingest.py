"""One way in for a published Rasa event, shared by the in-process broker and the consumer.

:func:`ingest` turns the event into the fact the contact log records: redacted
(:func:`firstpoint.events.facts.event_to_fact`), timestamped when Rasa gave no
time, and pseudonymised (the sender id replaced by its HMAC) before anything
queues, spools or stores it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from firstpoint.events.facts import TextRedactor, event_to_fact
from firstpoint.records.contacts.facts import Fact


def ingest(event: Mapping[str, Any], redactor: TextRedactor, key: bytes,
           clock: Callable[[], float] = time.time) -> Fact | None:
    """The pseudonymised fact for one Rasa event, or ``None`` if it records nothing."""
    fact = event_to_fact(event, redactor)
    if fact is None:
        return None
    if fact.at is None:
        fact = replace(fact, at=clock())
    return fact.pseudonymised(key)

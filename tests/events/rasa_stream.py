"""Produce event dicts exactly as Rasa 3.6 publishes them to an event broker.

A real ``DialogueStateTracker`` (with ``model_id``/``assistant_id`` set, as the
processor sets them) is saved to a real ``InMemoryTrackerStore`` whose event
broker only collects what ``TrackerStore._stream_new_events`` publishes.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from rasa.core.brokers.broker import EventBroker
from rasa.core.tracker_store import InMemoryTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    ActiveLoop,
    BotUttered,
    Event,
    SessionStarted,
    SlotSet,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker

#: The real domain.yml: facts.py reads slot and action names by string, so its tests
#: run against the names the bot really has (a rename there fails them).
DOMAIN_FILE = Path(__file__).resolve().parents[2] / "domain.yml"
DOMAIN = Domain.load(str(DOMAIN_FILE))
SLOTS = tuple(slot.name for slot in DOMAIN.slots)

WEB = {"channel": "web", "audience": "resident"}
STAFF_TEAMS = {"channel": "teams", "audience": "staff"}


class CollectingBroker(EventBroker):
    """An event broker that keeps what it is given."""

    def __init__(self) -> None:
        self.published: list[dict[str, Any]] = []

    def publish(self, event: dict[str, Any]) -> None:
        self.published.append(event)


class Clock:
    """Event timestamps: ``start`` then ``step`` seconds apart."""

    def __init__(self, start: float = 1_767_225_600.0, step: float = 5.0) -> None:
        self._counter = itertools.count()
        self.start, self.step = start, step

    def __call__(self) -> float:
        return self.start + next(self._counter) * self.step

    def skip(self, seconds: float) -> None:
        self.start += seconds


def session_start(clock: Clock, metadata: dict[str, Any] | None = None,
                  carried: Iterable[SlotSet] = ()) -> list[Event]:
    """What ``action_session_start`` adds (metadata slot first, as the processor does)."""
    events: list[Event] = []
    if metadata:
        events.append(SlotSet("session_started_metadata", metadata, timestamp=clock()))
    events += [ActionExecuted("action_session_start", timestamp=clock()),
               SessionStarted(timestamp=clock())]
    events += [SlotSet(s.key, s.value, timestamp=clock()) for s in carried]
    events.append(ActionExecuted("action_listen", timestamp=clock()))
    return events


def user(clock: Clock, text: str, intent: str, metadata: dict[str, Any] | None = None,
         input_channel: str | None = "socketio") -> UserUttered:
    """A user message with its NLU result, as the processor logs it."""
    parse = {"intent": {"name": intent, "confidence": 0.9}, "entities": [], "text": text}
    return UserUttered(text, parse["intent"], [], parse, timestamp=clock(),
                       input_channel=input_channel, metadata=metadata or {})


def action(clock: Clock, name: str) -> ActionExecuted:
    """An action the bot ran."""
    return ActionExecuted(name, timestamp=clock())


def slot(clock: Clock, name: str, value: Any) -> SlotSet:
    """A slot set by an action."""
    return SlotSet(name, value, timestamp=clock())


def bot(clock: Clock, text: str) -> BotUttered:
    """A bot message."""
    return BotUttered(text, timestamp=clock())


def loop(clock: Clock, name: str | None) -> ActiveLoop:
    """A form activation (or deactivation with ``None``)."""
    return ActiveLoop(name, timestamp=clock())


async def published(sender_id: str, events: list[Event]) -> list[dict[str, Any]]:
    """The dicts Rasa's tracker store publishes when a tracker with ``events`` is saved."""
    broker = CollectingBroker()
    store = InMemoryTrackerStore(DOMAIN, event_broker=broker)
    tracker = DialogueStateTracker(sender_id, DOMAIN.slots)
    tracker.model_id = "20260101-000000-test-model"
    tracker.assistant_id = "firstpoint_test"
    for event in events:
        tracker.update(event, DOMAIN)
    await store.save(tracker)
    return broker.published


def published_sync(sender_id: str, events: list[Event]) -> list[dict[str, Any]]:
    """:func:`published` for synchronous tests."""
    return asyncio.run(published(sender_id, events))

"""Helpers shared by the actions: who is talking, on which channel, in which language."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from rasa_sdk import Tracker

from knowledge.vocabulary import (
    CHANNEL_RE,
    DEFAULT_AUDIENCE,
    DEFAULT_CHANNEL,
    SLOT_SESSION_METADATA,
    VIEWER_AUDIENCES,
)

AUDIENCES = VIEWER_AUDIENCES
_WELSH_WORDS = frozenset(
    "shwmae helo diolch bore da prynhawn noswaith hwyl croeso cymraeg os gwelwch yn dda "
    "ydych chi allwch helpu sut mae".split()
)


@dataclass(frozen=True)
class Context:
    """Channel and audience of the conversation, from trusted message metadata."""

    channel: str
    audience: str


def _metadata(tracker: Tracker) -> dict[str, Any]:
    meta = (tracker.latest_message or {}).get("metadata") or {}
    if not meta:
        meta = tracker.get_slot(SLOT_SESSION_METADATA) or {}
    return meta if isinstance(meta, dict) else {}


def conversation_context(tracker: Tracker) -> Context:
    """Channel and audience from the message metadata; unknown values fall back safely."""
    meta = _metadata(tracker)
    audience = str(meta.get("audience") or "").lower()
    if audience not in AUDIENCES:
        audience = DEFAULT_AUDIENCE
    channel = str(
        meta.get("channel") or tracker.get_latest_input_channel() or DEFAULT_CHANNEL
    ).lower()
    if not CHANNEL_RE.match(channel):
        channel = "other"
    return Context(channel, audience)


#: Welsh words that are not also English words (one is enough); the others in
#: _WELSH_WORDS ("os", "bore", "helo", "sut", ...) need company.
_DISTINCTLY_WELSH = frozenset(
    "shwmae diolch prynhawn noswaith croeso cymraeg gwelwch ydych allwch helpu".split()
)


def detect_language(text: str) -> str:
    """``cy`` when the message looks Welsh, else ``en``.

    One distinctly Welsh word, or two of the shorter common ones ("os", "bore"
    alone are English too: "My OS crashed", "what a bore").
    """
    words = set(re.findall(r"[a-zâêîôûŵŷ']+", (text or "").lower()))
    if words & {"the", "and", "is", "my", "what", "a"}:
        return "en"
    welsh = words & _WELSH_WORDS
    return "cy" if welsh & _DISTINCTLY_WELSH or len(welsh) >= 2 else "en"


def latest_text(tracker: Tracker) -> str:
    """The text of the latest user message ('' for none)."""
    return str((tracker.latest_message or {}).get("text") or "")


def latest_intent(tracker: Tracker) -> str:
    """The intent name of the latest user message ('' for none)."""
    return str(((tracker.latest_message or {}).get("intent") or {}).get("name") or "")


def session_transcript(tracker: Tracker) -> list[dict[str, str]]:
    """User and bot turns of the current session, oldest first (for the officer)."""
    turns: list[dict[str, str]] = []
    for event in tracker.events:
        kind = event.get("event")
        if kind == "session_started":
            turns = []
        elif kind in ("user", "bot") and event.get("text"):
            turns.append(
                {
                    "speaker": "caller" if kind == "user" else "assistant",
                    "text": str(event["text"]),
                    "time": str(event.get("timestamp") or ""),
                }
            )
    return turns


#: The bot's one-line "is someone at risk?" question (domain.yml response).
SAFETY_CHECK_ACTION = "utter_safety_check"


def _bot_action(event: dict[str, Any]) -> str | None:
    """The action an event says the bot ran (ActionExecuted name, or a bot utterance's source)."""
    kind = event.get("event")
    if kind == "action":
        name = event.get("name")
        return str(name) if name and name != "action_listen" else None
    if kind == "bot":
        meta = event.get("metadata") or {}
        name = meta.get("utter_action") if isinstance(meta, dict) else None
        return str(name) if name else None
    return None


def message_before_check(
    tracker: Tracker, check_action: str = SAFETY_CHECK_ACTION
) -> dict[str, Any] | None:
    """The user message the bot's ``check_action`` question interrupted, if any.

    When the latest user message answers ``check_action`` (that is, the last
    thing the bot did before it was ``check_action``), returns the user event
    before that question: a dict with ``text``, ``parse_data`` (intent,
    entities, risk, ...) and ``metadata``. Otherwise None.
    """
    events = list(tracker.events or [])
    users = [i for i, e in enumerate(events) if e.get("event") == "user"]
    if len(users) < 2:
        return None
    latest, before = users[-1], users[-2]
    actions = [a for a in (_bot_action(e) for e in events[before + 1 : latest]) if a]
    if not actions or actions[-1] != check_action:
        return None
    return dict(events[before])


def previous_user_text(tracker: Tracker) -> str:
    """The text of the user message before the latest one ('' for none)."""
    users = [e for e in tracker.events or [] if e.get("event") == "user"]
    return str(users[-2].get("text") or "") if len(users) >= 2 else ""


def offered_payloads(tracker: Tracker) -> list[str]:
    """Button payloads the bot offered in its turn before the latest user message."""
    events = list(tracker.events or [])
    users = [i for i, e in enumerate(events) if e.get("event") == "user"]
    start = users[-2] + 1 if len(users) >= 2 else 0
    end = users[-1] if users else len(events)
    payloads: list[str] = []
    for event in events[start:end]:
        if event.get("event") != "bot":
            continue
        data = event.get("data") or {}
        for button in (data.get("buttons") or []) if isinstance(data, dict) else []:
            if isinstance(button, dict) and isinstance(button.get("payload"), str):
                payloads.append(button["payload"])
    return payloads


def payload_entities(payload: str, intent: str) -> dict[str, Any] | None:
    """The entities of a ``/intent{"entity": "value"}`` payload for ``intent``; None otherwise."""
    prefix = f"/{intent}"
    if not payload.startswith(prefix):
        return None
    rest = payload[len(prefix) :]
    if not rest:
        return {}
    if not rest.startswith("{"):
        return None
    try:
        value = json.loads(rest)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def latest_entity(tracker: Tracker, name: str) -> Any:
    """The value of entity ``name`` in the latest user message (None when absent)."""
    for entity in (tracker.latest_message or {}).get("entities") or []:
        if isinstance(entity, dict) and entity.get("entity") == name:
            return entity.get("value")
    return None


def risk_level(parse_data: dict[str, Any] | None) -> str | None:
    """``risk["level"]`` of a message's parse data, when the NLU pipeline put one there."""
    risk = (parse_data or {}).get("risk")
    level = risk.get("level") if isinstance(risk, dict) else None
    return str(level) if level else None

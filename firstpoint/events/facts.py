"""Turn one Rasa event (as the event broker publishes it) into a small, redacted fact.

The fact type itself (:class:`~firstpoint.records.contacts.facts.Fact`) belongs to
the contact log, which consumes it; this module is the Rasa side.

Rasa 3.6 publishes, for every new tracker event, ``{"sender_id": …, **event.as_dict()}``
(``TrackerStore._stream_new_events``; the Pika broker sends the same dict as a JSON
body). The shapes this module reads:

* ``{"event": "session_started", "timestamp": …}``
* ``{"event": "user", "timestamp": …, "text": …, "parse_data": {"intent": {"name": …}},
  "input_channel": "socketio", "message_id": …, "metadata": {…}}`` — ``metadata`` is the
  channel's message metadata (``{"channel": "web", "audience": "staff"}``) to which the
  tracker *adds* ``model_id`` and ``assistant_id`` (``DialogueStateTracker.update``); a
  channel that sends none leaves only those two keys. Rasa also copies the message
  metadata into ``parse_data["metadata"]``, which is read when the event's own
  ``metadata`` lacks channel/audience (older releases overwrote it); after that the
  channel falls back to ``input_channel`` (``socketio`` -> ``web``, ``botframework`` ->
  ``teams``) and the recorder to the session metadata, then the defaults.
* ``{"event": "slot", "name": …, "value": …}``; before ``action_session_start``
  Rasa sets the ``session_started_metadata`` slot to the same channel metadata.
* ``{"event": "action", "name": …}`` and ``{"event": "active_loop", "name": …}``.

Only the non-personal slots of ``docs/contracts.md`` produce facts, each value checked
against its expected shape; ``feedback_comment`` is redacted; every other slot
(``caller_name``, ``contact_*``, ``handoff_message``, ``consent_to_share`` …) and every
other event yields ``None``. The user's text is carried only redacted.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Protocol

from firstpoint.records.contacts.facts import (
    ACTION,
    ACTION_EMERGENCY,
    ACTION_NOT_UNDERSTOOD,
    DEFAULT_AUDIENCE,
    DEFAULT_CHANNEL,
    DEFAULT_LANGUAGE,
    FACT_KINDS,
    HANDOFF_FORM,
    NLU_FALLBACK,
    RECORDED_ACTIONS,
    SESSION_META,
    SESSION_STARTED,
    SLOT,
    USER,
    Fact,
    conversation_key,
)
from knowledge import vocabulary

__all__ = [
    "ACTION", "ACTION_EMERGENCY", "ACTION_NOT_UNDERSTOOD", "AUDIENCES", "DEFAULT_AUDIENCE",
    "DEFAULT_CHANNEL", "DEFAULT_LANGUAGE", "FACT_KINDS", "HANDOFF_FORM", "INPUT_CHANNELS",
    "LANGUAGES", "NLU_FALLBACK", "NO_COMMENT", "RECORDED_ACTIONS", "RECORDED_SLOTS",
    "REDACTED_SLOTS", "SESSION_METADATA_SLOT", "SESSION_META", "SESSION_STARTED", "SLOT",
    "USER", "Fact", "TextRedactor", "clean_channel", "conversation_key", "event_to_fact",
]
AUDIENCES = frozenset(vocabulary.VIEWER_AUDIENCES)
LANGUAGES = frozenset(vocabulary.LANGUAGES)
#: Rasa input channel names mapped to the channel names the contact log reports.
INPUT_CHANNELS = vocabulary.INPUT_CHANNELS

_CHANNEL = re.compile(r"^[a-z0-9_-]{1,20}$")
_TOPIC = re.compile(r"^[\w.:/-]{1,80}$")
_TEAM = re.compile(r"^[\w.-]{1,60}$")
_REFERENCE = re.compile(r"^[A-Za-z0-9/-]{1,20}$")
_SLOT_VALUES: dict[str, Any] = {
    vocabulary.SLOT_KB_TOPIC: _TOPIC,
    vocabulary.SLOT_KB_OUTCOME: frozenset(vocabulary.KB_OUTCOMES),
    vocabulary.SLOT_SAFETY_CATEGORY: frozenset(vocabulary.SAFETY_CATEGORIES),
    vocabulary.SLOT_HANDOFF_TEAM: _TEAM,
    vocabulary.SLOT_HANDOFF_REFERENCE: _REFERENCE,
    vocabulary.SLOT_FEEDBACK_RATING: frozenset(vocabulary.FEEDBACK_RATINGS),
    vocabulary.SLOT_LANGUAGE: LANGUAGES,
}
REDACTED_SLOTS = frozenset({vocabulary.SLOT_FEEDBACK_COMMENT})
#: What the feedback form stores when the caller chose not to comment (bot.actions.feedback).
NO_COMMENT = frozenset({vocabulary.DECLINED, ""})
RECORDED_SLOTS = frozenset(_SLOT_VALUES) | REDACTED_SLOTS
SESSION_METADATA_SLOT = vocabulary.SLOT_SESSION_METADATA


class TextRedactor(Protocol):
    """Anything with ``redact(text) -> str`` (``firstpoint.records.redaction.Redactor``)."""

    def redact(self, text: str) -> str: ...


def _timestamp(event: Mapping[str, Any]) -> float | None:
    value = event.get("timestamp")
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def clean_channel(value: Any) -> str | None:
    """A channel name in the contact log's vocabulary, or ``None`` if unusable."""
    if not isinstance(value, str):
        return None
    value = value.strip().lower()
    value = INPUT_CHANNELS.get(value, value)
    return value if _CHANNEL.match(value) else None


def _choice(value: Any, allowed: frozenset[str]) -> str | None:
    if isinstance(value, str) and value.strip().lower() in allowed:
        return value.strip().lower()
    return None


def _metadata_fields(metadata: Any) -> tuple[str | None, str | None, str | None]:
    """(channel, audience, language) from channel metadata; other keys are ignored."""
    if not isinstance(metadata, Mapping):
        return None, None, None
    return (
        clean_channel(metadata.get("channel")),
        _choice(metadata.get("audience"), AUDIENCES),
        _choice(metadata.get("language"), LANGUAGES),
    )


def _intent_name(event: Mapping[str, Any]) -> str | None:
    parse_data = event.get("parse_data")
    intent = parse_data.get("intent") if isinstance(parse_data, Mapping) else None
    name = intent.get("name") if isinstance(intent, Mapping) else None
    if isinstance(name, str) and re.fullmatch(r"[\w./-]{1,80}", name):
        return name
    return None


def _slot_fact(event: Mapping[str, Any], base: dict[str, Any],
               redactor: TextRedactor) -> Fact | None:
    name, value = event.get("name"), event.get("value")
    if name == SESSION_METADATA_SLOT:
        channel, audience, language = _metadata_fields(value)
        if not (channel or audience or language):
            return None
        return Fact(kind=SESSION_META, channel=channel, audience=audience, language=language,
                    **base)
    if name not in RECORDED_SLOTS or value is None:
        return None
    if name in REDACTED_SLOTS:
        if str(value).strip().lower() in NO_COMMENT:
            return None
        text = redactor.redact(str(value))
        return Fact(kind=SLOT, name=name, value=text or None, **base) if text else None
    rule = _SLOT_VALUES[name]
    if not isinstance(value, str):
        return None
    value = value.strip()
    if isinstance(rule, frozenset):
        value = value.lower()
        ok = value in rule
    else:
        ok = bool(rule.match(value))
    return Fact(kind=SLOT, name=name, value=value, **base) if ok else None


def event_to_fact(event: Mapping[str, Any], redactor: TextRedactor) -> Fact | None:
    """The contact-log fact for one published Rasa event, or ``None`` if it records nothing.

    Pure: reads only ``event`` and calls ``redactor.redact`` for free text (the user's
    message and the feedback comment). Personal slots never produce a fact.
    """
    if not isinstance(event, Mapping):
        return None
    sender_id = event.get("sender_id")
    if not isinstance(sender_id, str) or not sender_id:
        return None
    kind = event.get("event")
    base: dict[str, Any] = {"at": _timestamp(event), "sender_id": sender_id}
    if kind == "session_started":
        return Fact(kind=SESSION_STARTED, **base)
    if kind == "user":
        channel, audience, language = _metadata_fields(event.get("metadata"))
        parse_data = event.get("parse_data")
        if isinstance(parse_data, Mapping) and not (channel and audience):
            # Rasa also keeps the message metadata in parse_data: use it when the
            # event's own metadata was replaced (e.g. by model_id/assistant_id only).
            p_channel, p_audience, p_language = _metadata_fields(parse_data.get("metadata"))
            channel, audience = channel or p_channel, audience or p_audience
            language = language or p_language
        channel = channel or clean_channel(event.get("input_channel"))
        text = event.get("text")
        redacted = redactor.redact(text) if isinstance(text, str) and text.strip() else None
        return Fact(kind=USER, intent=_intent_name(event), text_redacted=redacted or None,
                    channel=channel, audience=audience, language=language, **base)
    if kind == "slot":
        return _slot_fact(event, base, redactor)
    if kind in ("action", "active_loop"):
        name = event.get("name")
        if name in RECORDED_ACTIONS:
            return Fact(kind=ACTION, name=name, **base)
    return None

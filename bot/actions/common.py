"""Helpers shared by the actions: who is talking, on which channel, in which language."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from rasa_sdk import Tracker

AUDIENCES = ("resident", "staff")
DEFAULT_AUDIENCE = "resident"  # the safer default: staff-only content stays hidden
_CHANNEL_RE = re.compile(r"^[a-z][a-z0-9_-]{0,19}$")
_WELSH_WORDS = frozenset(
    "shwmae helo diolch bore prynhawn noswaith hwyl croeso cymraeg os gwelwch yn dda "
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
        meta = tracker.get_slot("session_started_metadata") or {}
    return meta if isinstance(meta, dict) else {}


def conversation_context(tracker: Tracker) -> Context:
    """Channel and audience from the message metadata; unknown values fall back safely."""
    meta = _metadata(tracker)
    audience = str(meta.get("audience") or "").lower()
    if audience not in AUDIENCES:
        audience = DEFAULT_AUDIENCE
    channel = str(meta.get("channel") or tracker.get_latest_input_channel() or "rest").lower()
    if not _CHANNEL_RE.match(channel):
        channel = "other"
    return Context(channel, audience)


def detect_language(text: str) -> str:
    """``cy`` when the message looks Welsh (a few common words), else ``en``."""
    words = set(re.findall(r"[a-zâêîôûŵŷ']+", (text or "").lower()))
    return "cy" if len(words & _WELSH_WORDS) >= 1 and not words & {"the", "and", "is"} else "en"


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

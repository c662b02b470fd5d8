"""What the contact recorder consumes: a small fact, already free of personal data.

:mod:`firstpoint.events.facts` turns each Rasa event into one of these (redacting
free text); :class:`~firstpoint.records.contacts.recorder.ContactRecorder` applies
them. ``conversation_key`` is the HMAC that replaces the Rasa sender id.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from knowledge.vocabulary import ACTION_EMERGENCY as ACTION_EMERGENCY
from knowledge.vocabulary import ACTION_NOT_UNDERSTOOD as ACTION_NOT_UNDERSTOOD
from knowledge.vocabulary import DEFAULT_AUDIENCE as DEFAULT_AUDIENCE
from knowledge.vocabulary import DEFAULT_CHANNEL as DEFAULT_CHANNEL
from knowledge.vocabulary import DEFAULT_LANGUAGE as DEFAULT_LANGUAGE
from knowledge.vocabulary import FORM_HANDOFF as HANDOFF_FORM
from knowledge.vocabulary import INTENT_NLU_FALLBACK

SESSION_STARTED = "session_started"
SESSION_META = "session_meta"
USER = "user"
SLOT = "slot"
ACTION = "action"
FACT_KINDS = (SESSION_STARTED, SESSION_META, USER, SLOT, ACTION)

NLU_FALLBACK = INTENT_NLU_FALLBACK
RECORDED_ACTIONS = frozenset({ACTION_EMERGENCY, ACTION_NOT_UNDERSTOOD, HANDOFF_FORM})


@dataclass(frozen=True)
class Fact:
    """One thing the contact log records, already free of personal data.

    ``sender_id`` is the Rasa conversation id as received; :meth:`pseudonymised`
    swaps it for ``conversation_key`` (its HMAC) before a fact is queued or spooled.
    ``at`` is the event's Unix timestamp (``None`` when the event had none).
    """

    kind: str
    at: float | None = None
    sender_id: str | None = None
    conversation_key: str | None = None
    intent: str | None = None
    channel: str | None = None
    audience: str | None = None
    language: str | None = None
    text_redacted: str | None = None
    name: str | None = None
    value: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict without the empty fields."""
        return {k: v for k, v in asdict(self).items() if v is not None}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Fact:
        """Rebuild a fact from :meth:`to_dict` output (unknown keys are ignored)."""
        names = {f.name for f in fields(cls)}
        kind = data.get("kind")
        if kind not in FACT_KINDS:
            raise ValueError(f"not a contact-log fact kind: {kind!r}")
        return cls(**{k: v for k, v in data.items() if k in names})

    def pseudonymised(self, key: bytes) -> Fact:
        """This fact with ``sender_id`` replaced by its ``conversation_key``."""
        if self.sender_id is None:
            return self
        return replace(self, sender_id=None,
                       conversation_key=conversation_key(key, self.sender_id))


def conversation_key(key: bytes, sender_id: str) -> str:
    """HMAC-SHA256 (hex) of a Rasa sender id: the pseudonymous key of a conversation."""
    return hmac.new(key, sender_id.encode("utf-8"), hashlib.sha256).hexdigest()

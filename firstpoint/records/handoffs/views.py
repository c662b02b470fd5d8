"""What the handoff service hands out: receipts, summaries, views and its errors."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


class HandoffNotFound(LookupError):
    """No handoff has that reference."""


class TransitionError(ValueError):
    """A status change that is not allowed (or lost a race with another change)."""


@dataclass(frozen=True)
class HandoffReceipt:
    """What the bot tells the caller after a handoff is recorded."""

    reference: str
    team_id: str
    team_name: str
    priority: str
    sla_due_at: datetime
    sla_due_text: str
    is_open_now: bool
    out_of_hours: str
    what_happens_next: str


class HandoffRateLimited(RuntimeError):
    """One conversation has filed as many handoffs as :class:`HandoffLimits` allows."""


@dataclass(frozen=True)
class HandoffLimits:
    """Per-conversation limits: a flood of handoffs must not bury real ones.

    ``max_per_window`` handoffs per ``window_minutes`` for one conversation;
    the same category and message again within ``duplicate_minutes`` returns
    the earlier reference instead of filing twice.
    """

    max_per_window: int = 5
    window_minutes: int = 60
    duplicate_minutes: int = 30


@dataclass(frozen=True)
class HandoffEventView:
    """One status change, note decrypted."""

    from_status: str | None
    to_status: str
    actor: str
    at: datetime
    note: str | None


@dataclass(frozen=True)
class HandoffSummary:
    """A handoff without any personal data (for lists)."""

    reference: str
    team_id: str
    category: str
    priority: str
    status: str
    channel: str
    created_at: datetime
    sla_due_at: datetime
    overdue: bool


@dataclass(frozen=True)
class HandoffView:
    """A handoff with its personal fields decrypted, for the accountable officer."""

    summary: HandoffSummary
    audience: str
    conversation_id: str
    anonymous: bool
    consent_to_share: bool | None
    caller_name: str | None
    contact_method: str | None
    contact_details: str | None
    contact_time: str | None
    message: str | None
    transcript: list[dict[str, str]]
    events: list[HandoffEventView]

    @property
    def reference(self) -> str:
        """The handoff reference."""
        return self.summary.reference

    @property
    def status(self) -> str:
        """The current status."""
        return self.summary.status

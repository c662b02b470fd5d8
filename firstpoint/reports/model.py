"""Report figures as plain dataclasses, each JSON-serialisable through ``to_dict()``.

Definitions used throughout (every rate shares the same denominator, so
``containment + escalation + not_understood + abandonment == 1`` whenever
there is at least one decided contact):

* **open** — a contact whose ``outcome`` is still NULL (nothing decided yet).
* **decided** — every contact with a non-NULL outcome (all contacts minus open).
* **contained** — ``answered + declined``: the caller got a complete reply without a
  person — either the answer, or a definitive "Business Support does not do this,
  here is who does".
* **escalated** — ``handed_off + emergency``: a person (a council team, or 999 /
  the out-of-hours service) was needed.
* **containment / escalation / not-understood / abandonment rate** — the count
  divided by *decided*. Open contacts are excluded because their result is
  unknown; abandoned contacts are included (the caller left unserved).
* **helpful rate** — ``helpful / (helpful + not_helpful)`` over rated contacts.

Rates are fractions in 0–1 rounded to 4 decimal places, or ``None`` when the
denominator is zero.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

OUTCOMES: tuple[str, ...] = (
    "answered",
    "declined",
    "handed_off",
    "emergency",
    "not_understood",
    "abandoned",
)
OPEN = "open"
OUTCOME_KEYS: tuple[str, ...] = (*OUTCOMES, OPEN)
CONTAINED: tuple[str, ...] = ("answered", "declined")
ESCALATED: tuple[str, ...] = ("handed_off", "emergency")
GROUP_BYS: tuple[str, ...] = ("day", "week", "month")
WEEKDAYS: tuple[str, ...] = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
NONE_KEY = "(none)"

DEFINITIONS: dict[str, str] = {
    "period": "council-local (Europe/London) dates, both ends inclusive",
    "open": "contacts with no outcome yet",
    "decided": "contacts with an outcome (all contacts minus open); denominator of every rate",
    "contained": "answered + declined: a complete reply without a person",
    "escalated": "handed_off + emergency: a person or emergency service was needed",
    "containment_rate": "contained / decided",
    "escalation_rate": "escalated / decided",
    "not_understood_rate": "not_understood / decided",
    "abandonment_rate": "abandoned / decided",
    "helpful_rate": "helpful / (helpful + not_helpful)",
}


def ratio(numerator: int, denominator: int) -> float | None:
    """``numerator / denominator`` rounded to 4 places, ``None`` when the denominator is 0."""
    if denominator <= 0:
        return None
    return round(numerator / denominator, 4)


@dataclass(frozen=True)
class Scope:
    """Which contacts a report covers: council-local dates (inclusive) and filters."""

    date_from: date
    date_to: date
    channel: str | None = None
    audience: str | None = None

    def __post_init__(self) -> None:
        if self.date_from > self.date_to:
            raise ValueError(
                f"'from' ({self.date_from.isoformat()}) is after 'to' ({self.date_to.isoformat()})"
            )

    def to_dict(self) -> dict[str, Any]:
        """The scope as JSON-ready values."""
        return {
            "date_from": self.date_from.isoformat(),
            "date_to": self.date_to.isoformat(),
            "channel": self.channel,
            "audience": self.audience,
        }


@dataclass(frozen=True)
class Figures:
    """Counts for one slice of contacts (all, one channel, one period …) and derived rates."""

    contacts: int
    outcomes: dict[str, int]
    helpful: int
    not_helpful: int

    @property
    def open(self) -> int:
        """Contacts with no outcome yet."""
        return self.outcomes.get(OPEN, 0)

    @property
    def decided(self) -> int:
        """Contacts with an outcome: the denominator of every rate."""
        return self.contacts - self.open

    @property
    def contained(self) -> int:
        """Answered or declined without a person."""
        return sum(self.outcomes.get(k, 0) for k in CONTAINED)

    @property
    def escalated(self) -> int:
        """Handed off to a team or given emergency advice."""
        return sum(self.outcomes.get(k, 0) for k in ESCALATED)

    @property
    def rated(self) -> int:
        """Contacts that left a helpful / not helpful rating."""
        return self.helpful + self.not_helpful

    def rates(self) -> dict[str, float | None]:
        """Containment, escalation, not-understood, abandonment and helpful rates."""
        return {
            "containment_rate": ratio(self.contained, self.decided),
            "escalation_rate": ratio(self.escalated, self.decided),
            "not_understood_rate": ratio(self.outcomes.get("not_understood", 0), self.decided),
            "abandonment_rate": ratio(self.outcomes.get("abandoned", 0), self.decided),
            "helpful_rate": ratio(self.helpful, self.rated),
        }

    def to_dict(self) -> dict[str, Any]:
        """Counts, derived counts and rates as JSON-ready values."""
        return {
            "contacts": self.contacts,
            "outcomes": {k: self.outcomes.get(k, 0) for k in OUTCOME_KEYS},
            "decided": self.decided,
            "contained": self.contained,
            "escalated": self.escalated,
            "helpful": self.helpful,
            "not_helpful": self.not_helpful,
            **self.rates(),
        }


@dataclass(frozen=True)
class Breakdown:
    """Figures for one value of a dimension (a channel, an audience, a period)."""

    key: str
    figures: Figures

    def to_dict(self) -> dict[str, Any]:
        """``{"key": ..., **figures}``."""
        return {"key": self.key, **self.figures.to_dict()}


@dataclass(frozen=True)
class TeamEscalation:
    """Escalated contacts for one handoff team (``(none)`` when no team was recorded)."""

    team: str
    handed_off: int
    emergency: int

    @property
    def total(self) -> int:
        """handed_off + emergency."""
        return self.handed_off + self.emergency

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready values."""
        return {
            "team": self.team,
            "handed_off": self.handed_off,
            "emergency": self.emergency,
            "total": self.total,
        }


@dataclass(frozen=True)
class TopicCount:
    """A knowledge entry and how many distinct contacts touched it."""

    entry_id: str
    contacts: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready values."""
        return {"entry_id": self.entry_id, "contacts": self.contacts}


@dataclass(frozen=True)
class MessageCount:
    """A redacted not-understood message, how often it was sent and by how many contacts."""

    text_redacted: str
    messages: int
    contacts: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready values."""
        return {
            "text_redacted": self.text_redacted,
            "messages": self.messages,
            "contacts": self.contacts,
        }


@dataclass(frozen=True)
class Demand:
    """When contacts arrive: a weekday × hour grid and a count per month."""

    matrix: list[list[int]]  # matrix[weekday 0=Mon][hour 0-23]
    by_month: list[tuple[str, int]]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready values (weekday names included for readers)."""
        return {
            "weekdays": list(WEEKDAYS),
            "hour_by_weekday": [list(row) for row in self.matrix],
            "by_month": [{"month": m, "contacts": n} for m, n in self.by_month],
        }


@dataclass(frozen=True)
class Topics:
    """The most frequent knowledge topics and not-understood messages."""

    top_topics: list[TopicCount]
    top_not_understood: list[MessageCount]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready values."""
        return {
            "top_topics": [t.to_dict() for t in self.top_topics],
            "top_not_understood": [m.to_dict() for m in self.top_not_understood],
        }


@dataclass(frozen=True)
class Report:
    """The whole channel-shift report for one scope."""

    scope: Scope
    group_by: str
    summary: Figures
    by_channel: list[Breakdown]
    by_audience: list[Breakdown]
    by_period: list[Breakdown]
    escalation_by_team: list[TeamEscalation]
    demand: Demand
    topics: Topics

    def to_dict(self) -> dict[str, Any]:
        """Every figure as JSON-ready values (``json.dumps`` works on the result)."""
        return {
            "scope": self.scope.to_dict(),
            "group_by": self.group_by,
            "summary": self.summary.to_dict(),
            "by_channel": [b.to_dict() for b in self.by_channel],
            "by_audience": [b.to_dict() for b in self.by_audience],
            "by_period": [b.to_dict() for b in self.by_period],
            "escalation_by_team": [t.to_dict() for t in self.escalation_by_team],
            "demand": self.demand.to_dict(),
            **self.topics.to_dict(),
            "definitions": dict(DEFINITIONS),
        }

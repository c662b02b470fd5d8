"""Who gets a handoff and when, as the values the ``domain.yml`` responses are filled with.

The assistant never advises on the case: it says who will get the message and
when, takes the message, and gives a reference. The sentences are responses in
``domain.yml`` (``utter_emergency_advice*``, ``utter_handoff_routing_*``); this
module only chooses which one and works out the facts that go into it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone

from knowledge.directory import Directory, Team
from knowledge.schema import CouncilSettings

#: The emergency response for each category that adds a specialist line.
EMERGENCY_RESPONSES = {
    "self_harm": "utter_emergency_advice_self_harm",
    "domestic_abuse": "utter_emergency_advice_domestic_abuse",
}
EMERGENCY_RESPONSE = "utter_emergency_advice"


def emergency_words(council: CouncilSettings) -> dict[str, str]:
    """The numbers the emergency responses say (from ``council.yml``)."""
    e = council.emergency
    return {
        "emergency_number": e.emergency_number,
        "out_of_hours_team": e.out_of_hours_team,
        "out_of_hours_phone": e.out_of_hours_phone,
        "samaritans": e.samaritans,
        "national_domestic_abuse_helpline": e.national_domestic_abuse_helpline,
    }


def council_words(council: CouncilSettings) -> dict[str, str]:
    """How to reach the council, for the responses that offer it (from ``council.yml``)."""
    c = council.council
    return {
        "council_name": c.name,
        "council_phone": c.phone,
        "council_opening_hours": c.opening_hours_text(),
        "council_email": c.email,
        "council_website": c.website,
    }


def team_words(team: Team) -> dict[str, str]:
    """The team's name and number, for the responses that name it."""
    return {
        "handoff_team_name": team.name,
        "handoff_team_phone": team.phone,
        "out_of_hours": team.out_of_hours.text(),
    }


@dataclass(frozen=True)
class Routing:
    """Who gets the message, how urgent it is, and which response tells the caller."""

    category: str
    team: Team
    priority: str
    is_open: bool
    words: dict[str, str] = field(default_factory=dict)


def explain_routing(directory: Directory, category: str, now: datetime | None = None) -> Routing:
    """Which team gets the message and when (``words`` fill ``utter_handoff_routing_*``)."""
    now = now or datetime.now(timezone.utc)
    team, priority = directory.route_at(category, now)
    due = directory.sla_due(team, now)
    is_open = directory.is_open(team, now)
    words = {
        **team_words(team),
        "what_happens_next": " ".join(team.what_happens_next.split()),
        "due": directory.format_local(due),
    }
    if not is_open:
        words["opens"] = directory.format_local(directory.next_opening(team, now))
    return Routing(category, team, priority, is_open, words)

"""What the assistant says and records when it hands an enquiry to an accountable officer.

The assistant never advises on the case: it says who will get the message and
when, takes the message, and gives a reference.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone

from knowledge.directory import Directory, Team, format_local
from knowledge.schema import CouncilSettings
from knowledge.text import lemma_tokens

DECLINED = "declined"
_DECLINE_WORDS = re.compile(
    r"^\s*(skip|pass|no thanks?|rather not( say)?|i'?d rather not( say)?|prefer not( to say)?|"
    r"n/?a|none|no|nope|don'?t want to( say| give it)?|not saying|anon(ymous)?|"
    r"stay anonymous|leave it|no comment)\s*[.!]?\s*$",
    re.IGNORECASE,
)
_CHILD_WORDS = frozenset(
    "child kid baby son daughter boy girl teenager teen pupil grandchild grandson "
    "granddaughter nephew niece toddler foster looked lac cin school".split()
)
_ADULT_WORDS = frozenset(
    "mum mother dad father gran grandma grandad nan husband wife partner elderly "
    "older adult dementia carer brother sister aunt uncle myself".split()
)


def is_declined(text: str | None, intent: str | None = None) -> bool:
    """True when the caller declines to give a detail ("skip", "I'd rather not say")."""
    if intent == "decline_to_answer":
        return True
    return bool(text) and bool(_DECLINE_WORDS.match(text or ""))


UNCLASSIFIED = "unclassified"


def refine_category(category: str | None, text: str) -> str:
    """Split casework into children's or adults' casework when the words say which.

    ``None`` (the classifier flagged the message but the detector found no
    category) becomes ``unclassified``, which the directory routes to its
    fallback team.
    """
    if not category:
        return UNCLASSIFIED
    if category != "casework":
        return category
    words = set(lemma_tokens(text))
    child, adult = bool(words & _CHILD_WORDS), bool(words & _ADULT_WORDS)
    if child and not adult:
        return "casework_children"
    if adult and not child:
        return "casework_adults"
    return "casework"


def parse_contact_method(text: str) -> str | None:
    """``phone``, ``email``, ``none`` (do not contact) or None when unclear."""
    low = (text or "").lower()
    if re.search(r"\b(no contact|don'?t contact|do not contact|not contact|none)\b", low):
        return "none"
    if re.search(r"\b(e-?mail|mail)\b|@", low):
        return "email"
    if re.search(r"\b(phone|call|ring|text|mobile|landline|number)\b", low):
        return "phone"
    return None


def parse_consent(text: str) -> str | None:
    """``yes``, ``no`` or None when unclear (declining is handled separately)."""
    low = (text or "").strip().lower()
    if re.match(r"^(yes|yeah|yep|ok|okay|sure|fine|i agree|agree|happy to|that'?s fine)\b", low):
        return "yes"
    if re.match(r"^(no|nope|nah|i don'?t|do not|don'?t)\b", low):
        return "no"
    return None


def emergency_text(council: CouncilSettings, category: str | None) -> str:
    """The first thing said when someone may be in immediate danger."""
    e = council.emergency
    lines = [
        f"If you or anyone else is in immediate danger, call {e.emergency_number} now.",
        f"Outside office hours, the {e.out_of_hours_team} is on {e.out_of_hours_phone}.",
    ]
    if category == "self_harm":
        lines.append(
            f"You can talk to Samaritans at any time, free, on {e.samaritans}. "
            "If you have hurt yourself or taken something, call 999 or go to A&E now."
        )
    if category == "domestic_abuse":
        lines.append(
            "The National Domestic Abuse Helpline is free and open 24 hours: "
            f"{e.national_domestic_abuse_helpline}."
        )
    return " ".join(lines)


@dataclass(frozen=True)
class Routing:
    """Who gets the message, how urgent it is, and what to tell the caller."""

    category: str
    team: Team
    priority: str
    explanation: str


def explain_routing(
    directory: Directory, category: str, now: datetime | None = None
) -> Routing:
    """Which team gets the message and when, in words for the caller."""
    now = now or datetime.now(timezone.utc)
    team, priority = directory.route_at(category, now)
    due = directory.sla_due(team, now)
    parts = []
    if not category.startswith("casework"):
        parts.append("If anyone is in immediate danger, call 999 now.")
    parts += [
        "I can't advise on this myself, but I can pass your message to the "
        f"{team.name}, who are the right people to deal with it.",
        team.what_happens_next.strip(),
    ]
    if directory.is_open(team, now):
        parts.append(f"They are open now and aim to respond by {format_local(due)}.")
    else:
        opens = directory.next_opening(team, now)
        parts.append(
            f"They are closed at the moment; they open again {format_local(opens)} and aim "
            f"to respond by {format_local(due)}."
        )
        if team.out_of_hours is not None:
            parts.append(
                "If it can't wait, contact the "
                f"{team.out_of_hours.text()}."
            )
    parts.append(f"You can also call them on {team.phone}.")
    return Routing(category, team, priority, " ".join(parts))


#: The handoff form's questions, with buttons where a short choice helps.
QUESTIONS: dict[str, tuple[str, tuple[tuple[str, str], ...]]] = {
    "handoff_message": (
        "What would you like me to pass on? Give as much detail as you're comfortable with, "
        'or say "skip" if you\'ve already said everything.',
        (),
    ),
    "caller_name": (
        'What\'s your name? You don\'t have to give it: say "skip" to stay anonymous. '
        "Anonymous reports are accepted.",
        (("Stay anonymous", "skip"),),
    ),
    "contact_method": (
        "How should the team contact you, if they need to?",
        (("Phone", "phone"), ("Email", "email"), ("Don't contact me", "no contact")),
    ),
    "contact_details": ("What number or email address should they use?", (("Skip", "skip"),)),
    "contact_time": (
        'When is a good (and safe) time to contact you? Say "any time" or "skip".',
        (("Any time", "any time"), ("Skip", "skip")),
    ),
    "consent_to_share": (
        "Are you happy for us to share what you've told us with the team, and with partner "
        "agencies if that is needed to keep someone safe?",
        (("Yes", "yes"), ("No", "no"), ("I'd rather not say", "skip")),
    ),
    "feedback_comment": (
        "Sorry it didn't help. What were you looking for? Your comment helps us improve "
        '(please don\'t include personal details), or say "skip".',
        (("Skip", "skip"),),
    ),
}

"""What the assistant says and records when it hands an enquiry to an accountable officer.

The assistant never advises on the case: it says who will get the message and
when, takes the message, and gives a reference.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache

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


@lru_cache(maxsize=4)
def _lemmas(words: frozenset[str]) -> frozenset[str]:
    """The same words as lemmas ("looked" -> "look", "older" -> "old"), as the text is read."""
    return frozenset(lemma for word in words for lemma in lemma_tokens(word))


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
    child = bool(words & _lemmas(_CHILD_WORDS))
    adult = bool(words & _lemmas(_ADULT_WORDS))
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


_EMAIL = re.compile(r"[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_PHONE_CANDIDATE = re.compile(r"(?:\+|\(?\b0)[\d\s().-]{8,18}\d")


def parse_email(text: str) -> str | None:
    """The first e-mail address in ``text``, or None."""
    match = _EMAIL.search(text or "")
    return match.group(0) if match else None


def parse_uk_phone(text: str) -> str | None:
    """The first UK phone number in ``text`` as typed (spacing kept), or None.

    Accepts 0 followed by 9 or 10 digits, or +44 / 0044 followed by 9 or 10
    digits (without the trunk 0), with spaces, dots, dashes or brackets.
    """
    for match in _PHONE_CANDIDATE.finditer(text or ""):
        raw = match.group(0).strip(" .-")
        digits = re.sub(r"\D", "", raw)
        if raw.startswith("+"):
            if digits.startswith("44") and len(digits) in (11, 12) and digits[2] != "0":
                return raw
            continue
        if digits.startswith("0044") and len(digits) in (13, 14) and digits[4] != "0":
            return raw
        if digits.startswith("0") and not digits.startswith("00") and len(digits) in (10, 11):
            return raw
    return None


@dataclass(frozen=True)
class ContactDetails:
    """What a contact answer held: the method it implies and the details (if any)."""

    method: str | None
    details: str | None


def parse_contact(text: str) -> ContactDetails:
    """A phone number or e-mail address typed where a method or the details were asked."""
    email = parse_email(text)
    if email:
        return ContactDetails("email", email)
    phone = parse_uk_phone(text)
    if phone:
        return ContactDetails("phone", phone)
    return ContactDetails(parse_contact_method(text), None)


_NOT_A_MESSAGE = re.compile(
    r"^\s*(yes|yeah|yep|yup|ye|y|ok|okay|k|sure|fine|please|yes please|go on|go ahead|"
    r"right|alright|hi|hello|hey|thanks|thank you|cheers|help|no|nah|nope|\?+|\.+)\s*[.!?]*\s*$",
    re.IGNORECASE,
)


def is_substantive_message(text: str | None) -> bool:
    """True when ``text`` says something an officer can act on ("yes" does not)."""
    if not text or not text.strip() or text.lstrip().startswith("/"):
        return False
    if _NOT_A_MESSAGE.match(text):
        return False
    return len(re.findall(r"\w+", text)) >= 2


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
    # Every handoff starts with 999: a message can be casework and danger at once.
    parts = ["If anyone is in immediate danger, call 999 now."]
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

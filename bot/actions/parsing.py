"""How the handoff and feedback forms read what callers type (no Rasa, no wording).

Declining ("skip", "I'd rather not say"), contact methods, UK phone numbers
(``phonenumbers``), e-mail addresses, consent, whether a message says anything
an officer can act on, and which casework team a message is about. What the bot
says back lives in ``domain.yml``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import phonenumbers
from phonenumbers import Leniency, PhoneNumberMatcher

from knowledge.text import lemma_tokens
from knowledge.vocabulary import CASEWORK_ADULTS, CASEWORK_CHILDREN, DECLINED, UNCLASSIFIED

__all__ = [
    "DECLINED",
    "UNCLASSIFIED",
    "ContactDetails",
    "is_declined",
    "is_substantive_message",
    "parse_consent",
    "parse_contact",
    "parse_contact_method",
    "parse_email",
    "parse_uk_phone",
    "refine_category",
]

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
        return CASEWORK_CHILDREN
    if adult and not child:
        return CASEWORK_ADULTS
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
#: The UK's country calling code (Great Britain, Guernsey, Jersey, the Isle of Man).
UK_COUNTRY_CODE = 44
#: Ofcom's ranges for drama and examples (01632 960xxx, 07700 900xxx): fictional, so
#: libphonenumber does not call them valid, but the example content and the bot's own
#: "for example 07700 900123" use them.
_DRAMA_RANGES = ("1632960", "7700900")


def parse_email(text: str) -> str | None:
    """The first e-mail address in ``text``, or None."""
    match = _EMAIL.search(text or "")
    return match.group(0) if match else None


def _is_uk_number(number: phonenumbers.PhoneNumber) -> bool:
    if number.country_code != UK_COUNTRY_CODE:
        return False
    if phonenumbers.is_valid_number(number):
        return True
    national = str(number.national_number)
    return len(national) == 10 and national.startswith(_DRAMA_RANGES)


def parse_uk_phone(text: str) -> str | None:
    """The first UK phone number in ``text`` as typed (spacing kept), or None.

    Found and checked with ``phonenumbers`` (Google's libphonenumber metadata):
    national (``01632 960001``, ``(01632) 960 001``) and international
    (``+44 7700 900123``, ``0044 …``, ``+44 (0)20 …``) forms with spaces, dots,
    dashes or brackets; a number must be a real UK number (or in Ofcom's drama
    ranges), so ``0800 123`` or a US number is refused.
    """
    for match in PhoneNumberMatcher(text or "", "GB", leniency=Leniency.POSSIBLE):
        if _is_uk_number(match.number):
            return str(match.raw_string)
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

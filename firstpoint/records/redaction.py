"""Redact personal data from free text before it is stored anywhere.

:class:`Redactor` replaces personal data by typed placeholders: ``[EMAIL]``,
``[URL]``, ``[PHONE]``, ``[POSTCODE]``, ``[NI_NUMBER]``, ``[NHS_NUMBER]``,
``[DATE_OF_BIRTH]`` (a date next to "born", "DOB", "birthday" …), ``[DATE]``
(a full date more than ten years ago, which is most likely a birth date),
``[CARD_NUMBER]``, ``[ADDRESS]`` (house number + street) and ``[NAME]``.

Structured identifiers are found by regular expressions with check digits
where the format has one (Luhn for cards, mod-11 for NHS numbers); names are
found with spaCy's ``PhraseMatcher``/``Matcher`` over the shared blank English
pipeline (``knowledge.text.get_nlp``): a name is the capitalised word(s) after
a cue such as "my name is", "I'm", "this is … speaking", "call me", "my son",
"my social worker", a title (Mr, Mrs, Dr …) or a closing "thanks, Priya".

Text is NFKC-normalised and cut to ``knowledge.text.MAX_TEXT_CHARS`` first, so
the output is the redacted (possibly shortened) normalised text.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from knowledge.text import MAX_TEXT_CHARS, normalise

if TYPE_CHECKING:  # pragma: no cover
    from spacy.language import Language
    from spacy.tokens import Doc, Token

KINDS = (
    "EMAIL",
    "URL",
    "CARD_NUMBER",
    "PHONE",
    "NHS_NUMBER",
    "NI_NUMBER",
    "POSTCODE",
    "DATE_OF_BIRTH",
    "DATE",
    "ADDRESS",
    "NAME",
)
#: Lower number wins when two findings overlap.
_PRIORITY = {kind: rank for rank, kind in enumerate(KINDS)}


@dataclass(frozen=True)
class Finding:
    """One piece of personal data: character offsets into the normalised text and its kind."""

    start: int
    end: int
    kind: str


# --------------------------------------------------------------------------- helpers


def _digits(text: str) -> str:
    return "".join(str(unicodedata.digit(ch)) for ch in text if ch.isdecimal())


def luhn_valid(number: str) -> bool:
    """True when the digits of ``number`` pass the Luhn check (payment cards)."""
    digits = [int(d) for d in _digits(number)]
    if not digits:
        return False
    total = 0
    for index, digit in enumerate(reversed(digits)):
        if index % 2 == 1:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return total % 10 == 0


def nhs_number_valid(number: str) -> bool:
    """True when ``number`` has 10 digits and a valid NHS mod-11 check digit."""
    digits = [int(d) for d in _digits(number)]
    if len(digits) != 10:
        return False
    total = sum(d * w for d, w in zip(digits[:9], range(10, 1, -1), strict=True))
    check = 11 - total % 11
    if check == 11:
        check = 0
    return check != 10 and check == digits[9]


# --------------------------------------------------------------------------- patterns

_EMAIL = re.compile(r"(?<![\w.%+'-])[\w.%+'-]+@[\w-]+(?:\.[\w-]+)+", re.UNICODE)
_URL = re.compile(r"(?i)\b(?:https?://|www\.)[^\s<>\"']+")
_DIGIT_RUN = re.compile(r"(?<![\w-])\d+(?:[ -]\d+)*(?![\w])")
# A UK number: +44 / 0044 / 0 then digit groups separated by one space, dash or dot,
# an area code possibly in brackets.
_PHONE = re.compile(
    r"(?<![\w+])"
    r"(?:(?:\+|00)\s?44\s?(?:\(0\)\s?)?\(?\d{1,5}\)?|\(0\d{1,5}\)|0\d{1,5})"
    r"(?:[ .-]?\d{2,8}){1,4}"
    r"(?!\d)"
)
_NHS = re.compile(r"(?<![\d-])\d{3}[ -]?\d{3}[ -]?\d{4}(?![\d-])")
_NHS_CONTEXT = re.compile(r"(?i)\bnhs\b[^.?!\n]{0,30}$")
_NI = re.compile(
    r"(?i)\b([A-Z])([A-Z]) ?(\d{2}) ?(\d{2}) ?(\d{2}) ?([A-D])?(?![\w])"
)
_NI_FIRST = set("ABCEGHJKLMNOPRSTWXYZ")
_NI_SECOND = set("ABCEGHJKLMNPRSTWXYZ")
_NI_BAD_PREFIX = {"BG", "GB", "NK", "KN", "TN", "NT", "ZZ"}
_NI_CONTEXT = re.compile(r"(?i)\b(?:n\.?i\.?|national insurance)\b[^.?!\n]{0,30}$")
_NI_AFTER = re.compile(r"(?i)^[^.?!\n]{0,25}\b(?:n\.?i\.?|national insurance)\b")
_POSTCODE = re.compile(
    r"(?i)\b(GIR ?0AA|([A-Z]{1,2})(\d[A-Z\d]?) ?(\d)([A-Z]{2}))\b"
)
_MONTHS = (
    "jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
    "sept?(?:ember)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?"
)
_MONTH_NUMBERS = {
    name: number
    for number, names in enumerate(
        [
            ("jan", "january"), ("feb", "february"), ("mar", "march"), ("apr", "april"),
            ("may",), ("jun", "june"), ("jul", "july"), ("aug", "august"),
            ("sep", "sept", "september"), ("oct", "october"), ("nov", "november"),
            ("dec", "december"),
        ],
        start=1,
    )
    for name in names
}
_ORD = r"(?:st|nd|rd|th)?"
_DATE_NUMERIC = re.compile(r"(?<![\d/.-])(\d{1,2})[/.-](\d{1,2})[/.-](\d{4}|\d{2})(?![\d/-])")
_DATE_DAY_MONTH = re.compile(
    rf"(?i)\b(\d{{1,2}}){_ORD}\s+(?:of\s+)?({_MONTHS})\.?(?:,?\s+(\d{{4}}))?\b"
)
_DATE_MONTH_DAY = re.compile(
    rf"(?i)\b({_MONTHS})\.?\s+(\d{{1,2}}){_ORD}(?:,?\s+(\d{{4}}))?\b"
)
_YEAR = re.compile(r"\b(19\d{2}|20\d{2})\b")
_DOB_CONTEXT = re.compile(
    r"(?i)\b(?:born|birthday|birth\s*date|date\s+of\s+birth|d\.?\s?o\.?\s?b\.?|"
    r"dob)\b[^.?!\n]{0,25}$"
)
_STREET_TYPES = (
    "street|st|road|rd|avenue|ave|lane|ln|close|drive|dr|way|crescent|cres|court|ct|"
    "place|pl|gardens|gdns|grove|terrace|terr|square|sq|hill|park|walk|mews|row|view|"
    "rise|green|parade|boulevard|gate|wharf|yard|heights|vale|fields"
)
_ADDRESS = re.compile(
    rf"\b(?:(?:flat|apartment|apt|unit)\s+\d+[A-Za-z]?,?\s+)?"
    rf"\d{{1,4}}[A-Za-z]?,?\s+(?:[A-Z][\w'-]*\s+){{1,3}}(?i:{_STREET_TYPES})\b\.?"
)


def _add(found: list[Finding], start: int, end: int, kind: str) -> None:
    if end > start:
        found.append(Finding(start, end, kind))


def _card_spans(run: str) -> list[tuple[int, int]]:
    """Offsets of payment card numbers inside a run of digit groups.

    A card is the longest sequence of whole groups holding 13-19 digits that
    passes the Luhn check and does not start with 0 (no card range does).
    """
    groups = [(m.start(), m.end()) for m in re.finditer(r"\d+", run)]
    spans: list[tuple[int, int]] = []
    i = 0
    while i < len(groups):
        digits, ends = "", []
        for j in range(i, len(groups)):
            digits += run[groups[j][0]:groups[j][1]]
            if len(digits) > 19:
                break
            ends.append((j, digits))
        best = next(
            (j for j, d in reversed(ends)
             if len(d) >= 13 and d[0] != "0" and luhn_valid(d)),
            None,
        )
        if best is None:
            i += 1
            continue
        spans.append((groups[i][0], groups[best][1]))
        i = best + 1
    return spans


def _trim_phone(candidate: str) -> str | None:
    """The longest prefix (by whole digit groups) of ``candidate`` that is a UK number."""
    groups = re.split(r"(?<=\d)(?=[ .-]\d)", candidate)
    while groups:
        text = "".join(groups)
        digits = _digits(text.replace("(0)", ""))
        if digits.startswith("0044"):
            digits = "0" + digits[4:]
        elif digits.startswith("44") and "+" in text[:3]:
            digits = "0" + digits[2:]
        if len(digits) in (10, 11) and digits[0] == "0" and digits[1] in "123578":
            return text
        if len(digits) < 10:
            return None
        groups.pop()
    return None


class _Patterns:
    """Regular-expression detectors for the structured kinds."""

    def __init__(self, today: date) -> None:
        self.today = today

    def find(self, text: str) -> list[Finding]:
        found: list[Finding] = []
        for match in _EMAIL.finditer(text):
            _add(found, match.start(), match.end(), "EMAIL")
        for match in _URL.finditer(text):
            end = match.end()
            while end > match.start() and text[end - 1] in ".,;:!?)":
                end -= 1
            _add(found, match.start(), end, "URL")
        for match in _DIGIT_RUN.finditer(text):
            for start, end in _card_spans(match.group()):
                _add(found, match.start() + start, match.start() + end, "CARD_NUMBER")
        for match in _PHONE.finditer(text):
            kept = _trim_phone(match.group())
            if kept:
                _add(found, match.start(), match.start() + len(kept), "PHONE")
        for match in _NHS.finditer(text):
            context = bool(_NHS_CONTEXT.search(text[max(0, match.start() - 40):match.start()]))
            if nhs_number_valid(match.group()) or context:
                _add(found, match.start(), match.end(), "NHS_NUMBER")
        self._ni(text, found)
        self._postcodes(text, found)
        self._dates(text, found)
        for match in _ADDRESS.finditer(text):
            _add(found, match.start(), match.end(), "ADDRESS")
        return found

    @staticmethod
    def _ni(text: str, found: list[Finding]) -> None:
        for match in _NI.finditer(text):
            first, second, suffix = match.group(1).upper(), match.group(2).upper(), match.group(6)
            prefix_ok = (
                first in _NI_FIRST
                and second in _NI_SECOND
                and first + second not in _NI_BAD_PREFIX
            )
            context = bool(_NI_CONTEXT.search(text[max(0, match.start() - 40):match.start()])
                           or _NI_AFTER.match(text[match.end():match.end() + 40]))
            if prefix_ok or suffix or context:
                _add(found, match.start(), match.end(), "NI_NUMBER")

    @staticmethod
    def _postcodes(text: str, found: list[Finding]) -> None:
        for match in _POSTCODE.finditer(text):
            if match.group(2) is None:  # GIR 0AA
                _add(found, match.start(), match.end(), "POSTCODE")
                continue
            area, inward = match.group(2).upper(), match.group(5).upper()
            if area[0] in "QVX" or (len(area) == 2 and area[1] in "IJZ"):
                continue
            if set(inward) & set("CIKMOV"):
                continue
            _add(found, match.start(), match.end(), "POSTCODE")

    def _is_old(self, year: int) -> bool:
        return year <= self.today.year - 10

    def _full_year(self, text: str) -> int:
        year = int(text)
        if len(text) == 2:
            year += 1900 if year > self.today.year % 100 else 2000
        return year

    def _dates(self, text: str, found: list[Finding]) -> None:
        def has_context(start: int) -> bool:
            return bool(_DOB_CONTEXT.search(text[max(0, start - 40):start]))

        spans: list[tuple[int, int, int | None]] = []
        for match in _DATE_NUMERIC.finditer(text):
            day, month = int(match.group(1)), int(match.group(2))
            if 1 <= day <= 31 and 1 <= month <= 12:
                spans.append((match.start(), match.end(), self._full_year(match.group(3))))
        for match in _DATE_DAY_MONTH.finditer(text):
            if 1 <= int(match.group(1)) <= 31:
                year = int(match.group(3)) if match.group(3) else None
                spans.append((match.start(), match.end(), year))
        for match in _DATE_MONTH_DAY.finditer(text):
            if 1 <= int(match.group(2)) <= 31:
                year = int(match.group(3)) if match.group(3) else None
                spans.append((match.start(), match.end(), year))
        covered = [(s, e) for s, e, _ in spans]
        for match in _YEAR.finditer(text):
            inside = any(s <= match.start() < e for s, e in covered)
            if not inside and has_context(match.start()):
                spans.append((match.start(), match.end(), int(match.group(1))))
        for start, end, year in spans:
            if has_context(start):
                _add(found, start, end, "DATE_OF_BIRTH")
            elif year is not None and self._is_old(year):
                _add(found, start, end, "DATE")


# --------------------------------------------------------------------------- names

_ROLES = (
    "son", "daughter", "child", "kid", "baby", "boy", "girl", "stepson", "stepdaughter",
    "husband", "wife", "partner", "fiance", "fiancé", "fiancee", "fiancée", "boyfriend",
    "girlfriend", "ex", "ex-husband", "ex-wife", "ex-partner", "mum", "mom", "mother", "dad",
    "father", "brother", "sister", "grandson", "granddaughter", "grandmother", "grandfather",
    "gran", "nan", "nana", "grandma", "grandad", "granddad", "grandpa", "aunt", "auntie",
    "uncle", "niece", "nephew", "cousin", "friend", "best friend", "neighbour", "neighbor",
    "next door neighbour", "carer", "colleague", "manager", "line manager", "boss",
    "supervisor", "landlord", "landlady", "tenant", "lodger", "flatmate", "housemate",
    "teacher", "head teacher", "headteacher", "gp", "doctor", "nurse", "health visitor",
    "midwife", "social worker", "support worker", "family support worker", "key worker",
    "keyworker", "case worker", "caseworker", "care worker", "link worker", "advocate",
    "solicitor", "client", "foster child", "foster carer", "assistant",
    "personal assistant", "pa", "councillor", "mp", "employer", "employee",
)
_OWNERS = ("my", "our", "his", "her", "their")
_TITLES = (
    "mr", "mrs", "ms", "miss", "mx", "dr", "prof", "professor", "sir", "dame", "rev",
    "revd", "cllr",
)
_STRONG_CUES = (
    "my name is", "my name's", "my names", "name is", "name's", "my full name is",
    "my first name is", "my surname is", "my last name is", "i'm called", "i am called",
    "im called", "name:", "he is called", "she is called", "he's called", "she's called",
    "they're called", "they are called",
)
_SELF_CUES = ("i'm", "i am", "im", "it's me", "its me")
_THIS_IS_CUES = ("this is", "it's", "its")
_THIS_IS_FOLLOW = {"speaking", "calling", "here", "from", "writing"}
_CALL_ME_CUES = ("call me", "you can call me")
_SIGNOFF_CUES = (
    "thanks", "thank you", "many thanks", "thanks again", "thankyou", "cheers", "regards",
    "kind regards", "best regards", "warm regards", "best wishes", "best", "ta", "love",
    "yours sincerely", "sincerely", "bye",
)
_GREETING_CUES = ("hi", "hello", "hey", "dear", "morning", "good morning", "good afternoon",
                  "ok", "okay", "hiya")
_AFTER_ADDRESSEE = {"x", "xx", "xxx", "for", "and"}
_SIGNOFF_FILLER = {
    "so", "much", "very", "a", "lot", "again", "for", "your", "help", "all", "the",
    "everything", "lots", "loads", "in", "advance", "and", "wishes", "regards",
}
_PARTICLES = {"van", "de", "der", "von", "bin", "al", "da", "le", "la", "du", "del", "di", "ap"}

#: Capitalised words that are not names (checked in lower case) besides spaCy's stop words.
_NOT_NAMES_TEXT = """
    monday tuesday wednesday thursday friday saturday sunday today tomorrow tonight
    january february march april may june july august september october november december
    english welsh scottish irish british polish romanian indian pakistani bangladeshi
    chinese african european asian deaf blind disabled sorry hi hello hey dear please
    thanks thank cheers yes no ok okay not just also still really very so well here there
    council business support team service services department office staff resident
    residents customer manager admin unable able happy glad new interested trying looking
    calling writing wondering hoping afraid worried sure fine good great bad ill sick
    pregnant retired unemployed homeless struggling concerned confused lost stuck waiting
    after about from the a an and or but if in on at to for of with by it this that i me
    my we our you your he she they them his her their us all everyone everybody bye
    again guys folks mate x xx xxx ta love lol asap re fw fwd
"""
NOT_NAMES = frozenset(_NOT_NAMES_TEXT.split())

_LONG_RUN = re.compile(r"\S{40,}")
_NAME_CHARS = re.compile(r"^[^\W\d_][\w'’.-]*$", re.UNICODE)


def _plausible_name(tok: Token, allow_lower: bool) -> bool:
    text = tok.text
    if not _NAME_CHARS.match(text) or any(ch.isdigit() for ch in text):
        return False
    lower = text.lower().rstrip(".")
    if lower in NOT_NAMES or tok.is_stop or lower.startswith("["):
        return False
    first = text[0]
    if first.isupper():
        return allow_lower or not (text.isupper() and len(text) > 3)
    if allow_lower:
        return first.isalpha()
    return first.isalpha() and not first.islower()  # scripts without case


class _NameFinder:
    """Finds names after conversational cues with spaCy's PhraseMatcher and Matcher."""

    def __init__(self, nlp: Language) -> None:
        from spacy.matcher import Matcher, PhraseMatcher

        self.nlp = nlp
        self.phrases = PhraseMatcher(nlp.vocab, attr="LOWER")
        groups: dict[str, Iterable[str]] = {
            "STRONG": _STRONG_CUES,
            "SELF": _SELF_CUES,
            "THIS_IS": _THIS_IS_CUES,
            "CALL_ME": _CALL_ME_CUES,
            "SIGNOFF": _SIGNOFF_CUES,
            "GREETING": _GREETING_CUES,
            "ROLE": [f"{owner} {role}" for owner in _OWNERS for role in _ROLES],
        }
        for label, cues in groups.items():
            self.phrases.add(label, [nlp.make_doc(cue) for cue in cues])
        self.titles = Matcher(nlp.vocab)
        title_words = list(_TITLES) + [f"{t}." for t in _TITLES]
        self.titles.add("TITLE", [[{"LOWER": {"IN": title_words}}, {"ORTH": ".", "OP": "?"}]])

    def find(self, text: str) -> list[Finding]:
        # spaCy's tokenizer is slow on very long runs without spaces (emoji, punctuation);
        # no name lives in one, so blank them out, keeping every offset.
        doc = self.nlp.make_doc(_LONG_RUN.sub(lambda m: " " * len(m.group()), text))
        found: list[Finding] = []
        for match_id, start, end in self.phrases(doc):
            label = self.nlp.vocab.strings[match_id]
            handler: Callable[[Doc, int, int], tuple[int, int] | None] = getattr(
                self, f"_after_{label.lower()}"
            )
            span = handler(doc, start, end)
            if span is not None:
                s, e = span
                found.append(Finding(doc[s].idx, doc[e - 1].idx + len(doc[e - 1].text), "NAME"))
        for _match_id, start, end in self.titles(doc):
            names = self._name_tokens(doc, end, allow_lower=False)
            if names > end:
                found.append(Finding(doc[start].idx, doc[names - 1].idx + len(doc[names - 1]),
                                     "NAME"))
        return found

    @staticmethod
    def _name_tokens(doc: Doc, start: int, allow_lower: bool, limit: int = 4) -> int:
        """End index of the run of name tokens starting at ``start`` (``start`` if none)."""
        i, count = start, 0
        while i < len(doc) and count < limit:
            tok = doc[i]
            if _plausible_name(tok, allow_lower):
                i, count = i + 1, count + 1
                continue
            nxt = doc[i + 1] if i + 1 < len(doc) else None
            if count and nxt is not None and tok.text == "-" and _plausible_name(nxt, False):
                i += 1
                continue
            if count and tok.lower_ in _PARTICLES:
                j = i
                while j < len(doc) and doc[j].lower_ in _PARTICLES and j - i < 3:
                    j += 1
                if j < len(doc) and _plausible_name(doc[j], False):
                    i = j
                    continue
            break
        while i > start and doc[i - 1].text == "-":
            i -= 1
        return i

    def _after_strong(self, doc: Doc, start: int, end: int) -> tuple[int, int] | None:
        i = end
        while i < len(doc) and doc[i].text in {":", "-", '"', "'"}:
            i += 1
        names = self._name_tokens(doc, i, allow_lower=True, limit=4)
        return (i, names) if names > i else None

    def _after_self(self, doc: Doc, start: int, end: int) -> tuple[int, int] | None:
        if start > 0 and doc[start - 1].lower_ in {"what", "who", "where", "how"}:
            return None
        names = self._name_tokens(doc, end, allow_lower=False)
        if names == end:
            return None
        word = doc[end].lower_
        if word.endswith("ing") and len(word) >= 6:
            return None
        return end, names

    def _after_this_is(self, doc: Doc, start: int, end: int) -> tuple[int, int] | None:
        names = self._name_tokens(doc, end, allow_lower=False)
        if names == end:
            return None
        j = names
        while j < len(doc) and doc[j].text == ",":
            j += 1
        if j < len(doc) and doc[j].lower_ in _THIS_IS_FOLLOW:
            return end, names
        return None

    def _after_call_me(self, doc: Doc, start: int, end: int) -> tuple[int, int] | None:
        names = self._name_tokens(doc, end, allow_lower=False, limit=3)
        return (end, names) if names > end else None

    def _after_role(self, doc: Doc, start: int, end: int) -> tuple[int, int] | None:
        i = end
        if i < len(doc) and doc[i].text in {",", "-", ":"}:
            i += 1
        names = self._name_tokens(doc, i, allow_lower=False)
        return (i, names) if names > i else None

    def _after_signoff(self, doc: Doc, start: int, end: int) -> tuple[int, int] | None:
        i = end
        while i < len(doc) and (doc[i].text in {",", "-", "!", "."} or
                                doc[i].lower_ in _SIGNOFF_FILLER):
            i += 1
        names = self._name_tokens(doc, i, allow_lower=False, limit=3)
        if names == i:
            return None
        if names == len(doc) or doc[names].is_punct or doc[names].lower_ in _AFTER_ADDRESSEE \
                or not any(ch.isalnum() for ch in doc[names].text):
            return i, names
        return None

    def _after_greeting(self, doc: Doc, start: int, end: int) -> tuple[int, int] | None:
        if start > 0 and not doc[start - 1].is_punct:
            return None  # a greeting opens the message or a sentence
        return self._after_signoff(doc, start, end)


# --------------------------------------------------------------------------- redactor


def _resolve(findings: list[Finding]) -> list[Finding]:
    """Non-overlapping findings: higher priority first, then longer, then earlier."""
    chosen: list[Finding] = []
    ordered = sorted(findings, key=lambda f: (_PRIORITY[f.kind], -(f.end - f.start), f.start))
    for finding in ordered:
        if all(finding.end <= c.start or finding.start >= c.end for c in chosen):
            chosen.append(finding)
    return sorted(chosen, key=lambda f: f.start)


class Redactor:
    """Replaces personal data in text by ``[KIND]`` placeholders.

    ``nlp`` is a spaCy pipeline (default: the shared ``knowledge.text.get_nlp()``,
    built on first use); ``today`` fixes the date used to judge whether a full
    date is old enough to be a birth date (default: the current date).
    """

    def __init__(self, nlp: Language | None = None, today: date | None = None,
                 limit: int = MAX_TEXT_CHARS) -> None:
        self._nlp = nlp
        self._today = today
        self._limit = limit
        self._names: _NameFinder | None = None
        self._lock = threading.Lock()

    def _name_finder(self) -> _NameFinder:
        if self._names is None:
            with self._lock:
                if self._names is None:
                    nlp = self._nlp
                    if nlp is None:
                        from knowledge.text import get_nlp

                        nlp = get_nlp()
                    self._names = _NameFinder(nlp)
        return self._names

    def findings(self, text: str) -> tuple[str, list[Finding]]:
        """The normalised text and its non-overlapping personal-data findings."""
        clean = normalise(text or "", limit=self._limit)
        if not clean:
            return clean, []
        patterns = _Patterns(self._today or date.today())
        found = patterns.find(clean) + self._name_finder().find(clean)
        return clean, _resolve(found)

    def redact(self, text: str) -> str:
        """``text`` normalised, cut to the length limit, with personal data replaced."""
        clean, found = self.findings(text)
        parts: list[str] = []
        pos = 0
        for finding in found:
            parts.append(clean[pos:finding.start])
            parts.append(f"[{finding.kind}]")
            pos = finding.end
        parts.append(clean[pos:])
        return "".join(parts)

    def __call__(self, text: str) -> str:
        """Same as :meth:`redact`."""
        return self.redact(text)


_default: Redactor | None = None
_default_lock = threading.Lock()


def default_redactor() -> Redactor:
    """The process-wide :class:`Redactor`, created on first use."""
    global _default
    if _default is None:
        with _default_lock:
            if _default is None:
                _default = Redactor()
    return _default


def redact(text: str) -> str:
    """Redact ``text`` with the default :class:`Redactor`."""
    return default_redactor().redact(text)


def redact_optional(text: Any, redactor: Redactor | None = None) -> str | None:
    """Redact a value that may be ``None`` or not text (``None`` for empty results)."""
    if text is None:
        return None
    value = (redactor or default_redactor()).redact(str(text))
    return value or None

"""Names found after conversational cues ("my name is", "I'm", "this is … speaking",
"call me", "my son", "my social worker", a title, a closing "thanks, Priya") with
spaCy's ``PhraseMatcher`` and ``Matcher`` over the shared blank English pipeline."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from firstpoint.records.redaction.findings import Finding

if TYPE_CHECKING:  # pragma: no cover
    from spacy.language import Language
    from spacy.tokens import Doc, Token

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


class NameFinder:
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

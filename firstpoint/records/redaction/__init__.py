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

The parts: :mod:`.findings` (kinds, spans, overlaps), :mod:`.patterns` (the
regular expressions and check digits), :mod:`.names` (the name cues).
"""

from __future__ import annotations

import threading
from datetime import date
from typing import TYPE_CHECKING, Any

from firstpoint.records.redaction.findings import KINDS, Finding, resolve
from firstpoint.records.redaction.names import NOT_NAMES, NameFinder
from firstpoint.records.redaction.patterns import Patterns, luhn_valid, nhs_number_valid
from knowledge.text import MAX_TEXT_CHARS, get_nlp, normalise

if TYPE_CHECKING:  # pragma: no cover
    from spacy.language import Language

__all__ = ["KINDS", "NOT_NAMES", "Finding", "Redactor", "default_redactor", "luhn_valid",
           "nhs_number_valid", "redact", "redact_optional"]


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
        self._names: NameFinder | None = None
        self._lock = threading.Lock()

    def _name_finder(self) -> NameFinder:
        if self._names is None:
            with self._lock:
                if self._names is None:
                    nlp = self._nlp
                    self._names = NameFinder(nlp if nlp is not None else get_nlp())
        return self._names

    def findings(self, text: str) -> tuple[str, list[Finding]]:
        """The normalised text and its non-overlapping personal-data findings."""
        clean = normalise(text or "", limit=self._limit)
        if not clean:
            return clean, []
        patterns = Patterns(self._today or date.today())
        found = patterns.find(clean) + self._name_finder().find(clean)
        return clean, resolve(found)

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

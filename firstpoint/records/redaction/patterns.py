"""Structured identifiers found by regular expression, with check digits where the
format has one: e-mail, URL, card (Luhn), phone, NHS (mod 11), NI number, postcode,
dates (of birth) and street addresses."""

from __future__ import annotations

import re
import unicodedata
from datetime import date

from stdnum import luhn
from stdnum.gb import nhs

from firstpoint.records.redaction.findings import Finding, add

# --------------------------------------------------------------------------- helpers


def _digits(text: str) -> str:
    return "".join(str(unicodedata.digit(ch)) for ch in text if ch.isdecimal())


def luhn_valid(number: str) -> bool:
    """True when the digits of ``number`` pass the Luhn check (payment cards; ``python-stdnum``)."""
    return luhn.is_valid(_digits(number))


def nhs_number_valid(number: str) -> bool:
    """True when ``number`` has 10 digits and a valid NHS mod-11 check digit (``python-stdnum``)."""
    return nhs.is_valid(_digits(number))


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


class Patterns:
    """Regular-expression detectors for the structured kinds."""

    def __init__(self, today: date) -> None:
        self.today = today

    def find(self, text: str) -> list[Finding]:
        found: list[Finding] = []
        for match in _EMAIL.finditer(text):
            add(found, match.start(), match.end(), "EMAIL")
        for match in _URL.finditer(text):
            end = match.end()
            while end > match.start() and text[end - 1] in ".,;:!?)":
                end -= 1
            add(found, match.start(), end, "URL")
        for match in _DIGIT_RUN.finditer(text):
            for start, end in _card_spans(match.group()):
                add(found, match.start() + start, match.start() + end, "CARD_NUMBER")
        for match in _PHONE.finditer(text):
            kept = _trim_phone(match.group())
            if kept:
                add(found, match.start(), match.start() + len(kept), "PHONE")
        for match in _NHS.finditer(text):
            context = bool(_NHS_CONTEXT.search(text[max(0, match.start() - 40):match.start()]))
            if nhs_number_valid(match.group()) or context:
                add(found, match.start(), match.end(), "NHS_NUMBER")
        self._ni(text, found)
        self._postcodes(text, found)
        self._dates(text, found)
        for match in _ADDRESS.finditer(text):
            add(found, match.start(), match.end(), "ADDRESS")
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
                add(found, match.start(), match.end(), "NI_NUMBER")

    @staticmethod
    def _postcodes(text: str, found: list[Finding]) -> None:
        for match in _POSTCODE.finditer(text):
            if match.group(2) is None:  # GIR 0AA
                add(found, match.start(), match.end(), "POSTCODE")
                continue
            area, inward = match.group(2).upper(), match.group(5).upper()
            if area[0] in "QVX" or (len(area) == 2 and area[1] in "IJZ"):
                continue
            if set(inward) & set("CIKMOV"):
                continue
            add(found, match.start(), match.end(), "POSTCODE")

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
                add(found, start, end, "DATE_OF_BIRTH")
            elif year is not None and self._is_old(year):
                add(found, start, end, "DATE")

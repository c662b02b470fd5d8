"""Safety detection: flags danger, self-harm, safeguarding, domestic abuse and casework.

Independent of the intent classifier. Patterns live in
``knowledge/content/safety_patterns.yml`` (see the syntax there) and are matched
over lower-case lemmas from the shared spaCy pipeline (``knowledge.text``).
Recall comes first: a missed disclosure is the worst failure this product can have.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from knowledge.loader import read_yaml
from knowledge.schema import ContentError
from knowledge.text import lemma_tokens
from knowledge.vocabulary import EMERGENCY_CATEGORIES, SAFETY_CATEGORIES, display_path

#: Categories in priority order (the first found is the primary one).
CATEGORIES = SAFETY_CATEGORIES

PATTERNS_FILE = "safety_patterns.yml"
#: Longest token list matched (about 1,500 characters of ordinary text).
MAX_TOKENS = 400


class SafetyPatternError(ContentError):
    """A malformed safety pattern file: ``"<file>: category '<name>': field '<f>': ..."``.

    A :class:`knowledge.schema.ContentError` (so a ``ValueError``) with kind "category".
    """

    def __init__(
        self,
        file: str,
        category: str | None,
        field: str | None,
        message: str,
        *,
        line: int | None = None,
    ) -> None:
        super().__init__(file, category, field, message, line=line, kind="category")


#: Where a problem is: (category, field); either may be None.
_Ctx = tuple[str | None, str | None]


@dataclass(frozen=True)
class _Alt:
    options: tuple[tuple[str, ...], ...]
    optional: bool = False


@dataclass(frozen=True)
class _Wild:
    max_words: int


_Element = _Alt | _Wild


@dataclass(frozen=True)
class _Phrase:
    source: str
    elements: tuple[_Element, ...]

    @property
    def required_heads(self) -> tuple[frozenset[str], ...]:
        """For each required element, the first words of its options (a cheap pre-check)."""
        return tuple(
            frozenset(option[0] for option in e.options if option)
            for e in self.elements
            if isinstance(e, _Alt) and not e.optional
        )


@dataclass(frozen=True)
class _Near:
    window: int
    a: tuple[tuple[str, ...], ...]
    b: tuple[tuple[str, ...], ...]
    also: tuple[tuple[str, ...], ...] = ()


@dataclass(frozen=True)
class _Category:
    name: str
    phrases: tuple[_Phrase, ...]
    near: tuple[_Near, ...]
    exclude: tuple[_Phrase, ...]


@dataclass(frozen=True)
class SafetyMatch:
    """One rule that fired: category, the rule's source text and the matched words."""

    category: str
    rule: str
    words: str


@dataclass(frozen=True)
class SafetyResult:
    """What the detector found in one message."""

    categories: tuple[str, ...] = ()
    matches: tuple[SafetyMatch, ...] = field(default_factory=tuple)

    @property
    def flagged(self) -> bool:
        return bool(self.categories)

    @property
    def primary(self) -> str | None:
        """The highest-priority category, or None."""
        return self.categories[0] if self.categories else None

    @property
    def is_emergency(self) -> bool:
        """True when 999 / out-of-hours details must come first."""
        return any(c in EMERGENCY_CATEGORIES for c in self.categories)

    @property
    def routing_category(self) -> str | None:
        """The category that decides the accountable team.

        Danger alone goes to the danger route; danger together with, say,
        domestic abuse goes to the domestic abuse team (after the 999 advice).
        """
        specific = [c for c in self.categories if c != "danger"]
        return specific[0] if specific else self.primary


def _lemmatise_term(term: str) -> tuple[str, ...]:
    return tuple(lemma_tokens(term))


class _Compiler:
    def __init__(self, sets: Mapping[str, Sequence[str]], where: str) -> None:
        self.where = where
        self.sets: dict[str, list[str]] = {}
        for name, terms in sets.items():
            if not isinstance(terms, list):
                raise SafetyPatternError(where, None, f"sets.{name}", "must be a list of words")
            self.sets[str(name)] = [str(t) for t in terms]

    def error(self, ctx: _Ctx, message: str) -> SafetyPatternError:
        return SafetyPatternError(self.where, ctx[0], ctx[1], message)

    def terms(self, items: Any, ctx: _Ctx) -> tuple[tuple[str, ...], ...]:
        if isinstance(items, str) or not isinstance(items, Iterable):
            raise self.error(ctx, f"must be a list of words, not {items!r}")
        out: list[tuple[str, ...]] = []
        for item in items:
            item = str(item).strip()
            if item.startswith("@"):
                name = item[1:]
                if name not in self.sets:
                    raise self.error(ctx, f"unknown set '@{name}'")
                out.extend(self.terms(self.sets[name], ctx))
                continue
            lem = _lemmatise_term(item)
            if lem:
                out.append(lem)
        if not out:
            raise self.error(ctx, "empty term list")
        return tuple(dict.fromkeys(out))

    def phrase(self, source: Any, ctx: _Ctx) -> _Phrase:
        elements: list[_Element] = []
        for raw in str(source).split():
            if raw == "*":
                elements.append(_Wild(1))
                continue
            if raw == "**":
                elements.append(_Wild(3))
                continue
            optional = raw.startswith("(") and raw.endswith(")")
            body = raw[1:-1] if optional else raw
            if not body or "(" in body or ")" in body or "|" in (body[0], body[-1]):
                raise self.error(ctx, f"bad term '{raw}' in '{source}'")
            alts = [alt.replace("_", " ") for alt in body.split("|")]
            elements.append(_Alt(self.terms(alts, ctx), optional))
        if not any(isinstance(e, _Alt) and not e.optional for e in elements):
            raise self.error(ctx, f"pattern '{source}' has no required word")
        return _Phrase(str(source), tuple(elements))


def _match_at(elements: Sequence[_Element], toks: Sequence[str], i: int) -> int:
    """End index of a match of ``elements`` starting at ``i``, or -1."""
    if not elements:
        return i
    head, rest = elements[0], elements[1:]
    if isinstance(head, _Wild):
        for skip in range(0, head.max_words + 1):
            if i + skip > len(toks):
                break
            end = _match_at(rest, toks, i + skip)
            if end >= 0:
                return end
        return -1
    for option in head.options:
        n = len(option)
        if tuple(toks[i : i + n]) == option:
            end = _match_at(rest, toks, i + n)
            if end >= 0:
                return end
    if head.optional:
        return _match_at(rest, toks, i)
    return -1


def _phrase_spans(phrase: _Phrase, toks: Sequence[str]) -> list[tuple[int, int]]:
    spans = []
    for i in range(len(toks)):
        end = _match_at(phrase.elements, toks, i)
        if end > i:
            spans.append((i, end))
    return spans


def _term_spans(terms: Iterable[tuple[str, ...]], toks: Sequence[str]) -> list[tuple[int, int]]:
    spans = []
    for term in terms:
        n = len(term)
        for i in range(len(toks) - n + 1):
            if tuple(toks[i : i + n]) == term:
                spans.append((i, i + n))
    return spans


def _overlaps(span: tuple[int, int], others: Iterable[tuple[int, int]]) -> bool:
    return any(span[0] < o[1] and o[0] < span[1] for o in others)


class SafetyDetector:
    """Flags messages for the accountable-officer handoff path."""

    def __init__(self, categories: Sequence[_Category]) -> None:
        self._categories = tuple(categories)
        # A phrase can only match when each required element's first word is present.
        self._heads = {
            id(p): p.required_heads for c in self._categories for p in (*c.phrases, *c.exclude)
        }

    @property
    def categories(self) -> tuple[str, ...]:
        """The categories this detector has patterns for, in file order."""
        return tuple(c.name for c in self._categories)

    def _possible(self, phrase: _Phrase, vocab: frozenset[str]) -> bool:
        return all(heads & vocab for heads in self._heads[id(phrase)])

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], where: str = PATTERNS_FILE) -> SafetyDetector:
        """Compile a pattern mapping (the YAML's content); errors name file, category, field."""
        if not isinstance(data, Mapping):
            raise SafetyPatternError(where, None, None, "the file must be a mapping")
        unknown_top = set(data) - {"sets", "categories"}
        if unknown_top:
            raise SafetyPatternError(where, None, str(sorted(unknown_top)[0]), "unknown field")
        sets = data.get("sets") or {}
        if not isinstance(sets, Mapping):
            raise SafetyPatternError(where, None, "sets", "must be a mapping of lists")
        comp = _Compiler(sets, where)
        cats_raw = data.get("categories")
        if not isinstance(cats_raw, Mapping):
            raise SafetyPatternError(where, None, "categories", "missing or not a mapping")
        compiled = []
        for name, spec in cats_raw.items():
            if name not in CATEGORIES:
                raise SafetyPatternError(
                    where, str(name), None, f"unknown (expected one of {', '.join(CATEGORIES)})"
                )
            if not isinstance(spec, Mapping):
                raise SafetyPatternError(where, str(name), None, "must be a mapping")
            unknown = set(spec) - {"phrases", "near", "exclude"}
            if unknown:
                raise SafetyPatternError(where, str(name), sorted(unknown)[0], "unknown field")
            for listed in ("phrases", "exclude", "near"):
                if spec.get(listed) is not None and not isinstance(spec[listed], list):
                    raise SafetyPatternError(where, str(name), listed, "must be a list")
            phrases = tuple(
                comp.phrase(p, (str(name), f"phrases[{k}]"))
                for k, p in enumerate(spec.get("phrases") or [])
            )
            exclude = tuple(
                comp.phrase(p, (str(name), f"exclude[{k}]"))
                for k, p in enumerate(spec.get("exclude") or [])
            )
            near = []
            for k, rule in enumerate(spec.get("near") or []):
                ctx: _Ctx = (str(name), f"near[{k}]")
                if not isinstance(rule, Mapping) or not {"window", "a", "b"} <= set(rule):
                    raise comp.error(ctx, "needs window, a and b")
                window = rule["window"]
                if isinstance(window, bool) or not isinstance(window, int) or window < 0:
                    raise comp.error(ctx, f"window must be a whole number of words, not {window!r}")
                near.append(
                    _Near(
                        window,
                        comp.terms(rule["a"], ctx),
                        comp.terms(rule["b"], ctx),
                        comp.terms(rule["also"], ctx) if rule.get("also") else (),
                    )
                )
            compiled.append(_Category(str(name), phrases, tuple(near), exclude))
        return cls(compiled)

    @classmethod
    def from_file(cls, path: Path) -> SafetyDetector:
        """Load (duplicate keys refused) and compile a safety pattern YAML file."""
        try:
            data = read_yaml(path)
        except ContentError as exc:
            raise SafetyPatternError(exc.file, None, None, exc.message, line=exc.line) from None
        return cls.from_mapping(data, where=display_path(path))

    def detect_tokens(self, toks: Sequence[str]) -> SafetyResult:
        """Detect over an already lemmatised token list."""
        found: dict[str, list[SafetyMatch]] = {}
        toks = list(toks)[:MAX_TOKENS]
        vocab = frozenset(toks)
        for cat in self._categories:
            excluded = [s for ex in cat.exclude if self._possible(ex, vocab)
                        for s in _phrase_spans(ex, toks)]
            for phrase in cat.phrases:
                if not self._possible(phrase, vocab):
                    continue
                for span in _phrase_spans(phrase, toks):
                    if not _overlaps(span, excluded):
                        words = " ".join(toks[span[0] : span[1]])
                        found.setdefault(cat.name, []).append(
                            SafetyMatch(cat.name, phrase.source, words)
                        )
                        break
            for rule in cat.near:
                hit = self._near_hit(rule, toks, excluded)
                if hit:
                    found.setdefault(cat.name, []).append(SafetyMatch(cat.name, "near", hit))
        cats = tuple(c for c in CATEGORIES if c in found)
        return SafetyResult(cats, tuple(m for c in cats for m in found[c]))

    @staticmethod
    def _near_hit(rule: _Near, toks: Sequence[str], excluded: list[tuple[int, int]]) -> str:
        a_spans = [s for s in _term_spans(rule.a, toks) if not _overlaps(s, excluded)]
        if not a_spans:
            return ""
        b_spans = [s for s in _term_spans(rule.b, toks) if not _overlaps(s, excluded)]
        if rule.also and not _term_spans(rule.also, toks):
            return ""
        for sa in a_spans:
            for sb in b_spans:
                if _overlaps(sa, [sb]):
                    continue
                gap = max(sb[0] - sa[1], sa[0] - sb[1])
                if gap <= rule.window:
                    return f"{' '.join(toks[sa[0]:sa[1]])} ~ {' '.join(toks[sb[0]:sb[1]])}"
        return ""

    def detect(self, text: str) -> SafetyResult:
        """Flag ``text``; empty result when nothing applies."""
        return self.detect_tokens(lemma_tokens(text))


@lru_cache(maxsize=4)
def _detector_for(path: str) -> SafetyDetector:
    return SafetyDetector.from_file(Path(path))


def load_detector(content_dir: Path) -> SafetyDetector:
    """Compile ``content_dir/safety_patterns.yml`` (uncached; ``kb check`` uses this)."""
    return SafetyDetector.from_file(Path(content_dir) / PATTERNS_FILE)


def default_detector(content_dir: Path | None = None) -> SafetyDetector:
    """The detector for the configured content directory (compiled once per process)."""
    if content_dir is None:
        from firstpoint.settings import get_settings

        content_dir = get_settings().content_dir
    return _detector_for(str(Path(content_dir) / PATTERNS_FILE))

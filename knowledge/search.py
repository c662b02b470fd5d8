"""Retrieval over the knowledge base: BM25F-style ranking on spaCy lemmas.

Each entry is indexed as one weighted document (title, keywords, example
questions, tasks, exemptions, caveats), and each task ("does") and exemption
("will not") also as an item of its own, so an answer can say *which* thing
Business Support will not do. Staff-only entries are never returned for the
resident audience. When the two best entries are close, the result asks the
caller to choose instead of guessing.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import yaml

from knowledge.schema import ContentError, Entry, KnowledgeBase
from knowledge.text import lemma_tokens

#: Field weights for the entry document.
FIELD_WEIGHTS: Mapping[str, float] = {
    "title": 3.0,
    "keywords": 2.0,
    "examples": 1.5,
    "does": 1.0,
    "will_not": 1.2,
    "will_not_keywords": 2.0,
    "summary": 0.8,
    "caveats": 0.6,
    "area": 1.0,
}

#: Words that say nothing about which service is meant.
DOMAIN_STOPWORDS = frozenset(
    """
    a an the and or but if of to for in on at by with from into about as is are be was were been
    i me my we our us you your it its this that these those there here he she they them his her
    can could would should will shall may might must do does did done doing have has had having
    please pls thanks thank hi hello hey need want like get got help know tell let make
    business support bss admin team staff council someone anyone somebody who what when where
    how why which whose whom any some all just also really sort sorting arrange ok okay
    not no yes 's n't 'll 're 've 'd 'm
    """.split()
)


def _tokens(text: str) -> list[str]:
    return [
        t for t in lemma_tokens(text) if t not in DOMAIN_STOPWORDS and any(c.isalnum() for c in t)
    ]


@dataclass(frozen=True)
class ItemHit:
    """A task or exemption of an entry that matched the query."""

    kind: str  # "does" | "will_not"
    index: int
    score: float


@dataclass(frozen=True)
class Hit:
    """One ranked entry, with its best matching task and exemption."""

    entry: Entry
    score: float
    coverage: float
    best_does: ItemHit | None = None
    best_will_not: ItemHit | None = None

    @property
    def kind(self) -> str:
        """``will_not`` when an exemption matches better than any task, else ``does``."""
        wn, do = self.best_will_not, self.best_does
        if wn and (not do or wn.score > do.score):
            return "will_not"
        return "does"


@dataclass(frozen=True)
class SearchResult:
    """Ranked hits plus the decision: ``answer``, ``clarify`` (offer choices) or ``none``."""

    query: str
    hits: tuple[Hit, ...] = ()
    decision: str = "none"
    choices: tuple[Hit, ...] = field(default_factory=tuple)

    @property
    def best(self) -> Hit | None:
        return self.hits[0] if self.hits else None


class _ImpactIndex:
    """BM25 with per-(term, doc) impacts precomputed, scored with numpy."""

    def __init__(self, docs: Sequence[Counter[str]], k1: float, b: float) -> None:
        self.n = len(docs)
        lengths = np.array([sum(tf.values()) for tf in docs], dtype=np.float64)
        avg = float(lengths.mean()) if self.n else 1.0
        postings: dict[str, list[tuple[int, float]]] = defaultdict(list)
        for i, tf in enumerate(docs):
            for term, weight in tf.items():
                postings[term].append((i, weight))
        self.idf: dict[str, float] = {}
        self.docs: dict[str, np.ndarray] = {}
        self.impacts: dict[str, np.ndarray] = {}
        for term, plist in postings.items():
            ids = np.fromiter((d for d, _ in plist), dtype=np.int64, count=len(plist))
            freq = np.fromiter((w for _, w in plist), dtype=np.float64, count=len(plist))
            idf = math.log(1 + (self.n - len(plist) + 0.5) / (len(plist) + 0.5))
            norm = freq + k1 * (1 - b + b * lengths[ids] / (avg or 1.0))
            self.idf[term] = idf
            self.docs[term] = ids
            self.impacts[term] = idf * freq * (k1 + 1) / norm

    def score(self, terms: Iterable[str]) -> tuple[np.ndarray, np.ndarray]:
        """(BM25 score, idf of the query terms present) for every document."""
        scores = np.zeros(self.n)
        matched = np.zeros(self.n)
        for term in set(terms):
            ids = self.docs.get(term)
            if ids is None:
                continue
            scores[ids] += self.impacts[term]
            matched[ids] += self.idf[term]
        return scores, matched


class KnowledgeIndex:
    """A BM25 index over a :class:`KnowledgeBase`; build once, query many times."""

    def __init__(
        self,
        kb: KnowledgeBase,
        synonyms: Mapping[str, Sequence[str]] | None = None,
        k1: float = 1.2,
        b: float = 0.75,
        min_coverage: float = 0.35,
        min_score: float = 1.5,
        ambiguity_ratio: float = 0.93,
        other_audience_weight: float = 0.75,
    ) -> None:
        self.kb = kb
        self.entries: tuple[Entry, ...] = tuple(kb.entries)
        self.min_coverage, self.min_score, self.ambiguity_ratio = (
            min_coverage,
            min_score,
            ambiguity_ratio,
        )
        # Staff mostly ask about Business Support; resident pages rank a little lower for them.
        self.other_audience_weight = other_audience_weight
        self._synonyms = {
            tuple(_tokens(k)): [tuple(_tokens(v)) for v in vs] for k, vs in (synonyms or {}).items()
        }
        entry_docs: list[Counter[str]] = []
        item_docs: list[Counter[str]] = []
        # per entry: (first does item, first will_not item, end) in the item index
        self._item_ranges: list[tuple[int, int, int]] = []
        for entry in self.entries:
            entry_docs.append(self._entry_doc(entry))
            first_does = len(item_docs)
            item_docs.extend(Counter(_tokens(task)) for task in entry.does)
            first_wn = len(item_docs)
            for wn in entry.will_not:
                doc = Counter(_tokens(wn.what))
                for kw in wn.keywords:
                    doc.update({t: 1.5 for t in _tokens(kw)})
                item_docs.append(doc)
            self._item_ranges.append((first_does, first_wn, len(item_docs)))
        self._entries_ix = _ImpactIndex(entry_docs, k1, b)
        self._items_ix = _ImpactIndex(item_docs, k1, b)
        self._weights: dict[tuple[str, str | None], np.ndarray] = {}

    @staticmethod
    def _entry_doc(entry: Entry) -> Counter[str]:
        doc: Counter[str] = Counter()  # weighted term frequencies (float counts)

        def add(texts: Iterable[str], weight: float) -> None:
            for text in texts:
                for tok in _tokens(text):
                    doc[tok] += weight  # type: ignore[assignment]

        add([entry.title], FIELD_WEIGHTS["title"])
        add(entry.keywords, FIELD_WEIGHTS["keywords"])
        add(entry.example_questions, FIELD_WEIGHTS["examples"])
        add(entry.does, FIELD_WEIGHTS["does"])
        add((w.what for w in entry.will_not), FIELD_WEIGHTS["will_not"])
        add((k for w in entry.will_not for k in w.keywords), FIELD_WEIGHTS["will_not_keywords"])
        add([entry.summary], FIELD_WEIGHTS["summary"])
        add(entry.caveats, FIELD_WEIGHTS["caveats"])
        add([entry.area_title], FIELD_WEIGHTS["area"])
        return doc

    def _audience_weights(self, audience: str, area: str | None) -> np.ndarray:
        """Per-entry multiplier: 0 where hidden from ``audience`` or outside ``area``."""
        key = (audience, area)
        cached = self._weights.get(key)
        if cached is None:
            cached = np.array(
                [
                    0.0
                    if not e.visible_to(audience) or (area is not None and e.area != area)
                    else (
                        self.other_audience_weight
                        if audience == "staff" and e.audience == "resident"
                        else 1.0
                    )
                    for e in self.entries
                ]
            )
            self._weights[key] = cached
        return cached

    def _expand(self, toks: list[str]) -> list[str]:
        out = list(toks)
        for key, alternatives in self._synonyms.items():
            n = len(key)
            if n and any(tuple(toks[i : i + n]) == key for i in range(len(toks) - n + 1)):
                for alt in alternatives:
                    out.extend(alt)
        return out

    def _best_item(
        self, item_scores: np.ndarray, start: int, end: int, kind: str
    ) -> ItemHit | None:
        if end <= start:
            return None
        offset = int(np.argmax(item_scores[start:end]))
        score = float(item_scores[start + offset])
        return ItemHit(kind, offset, score) if score > 0 else None

    def search(
        self,
        query: str,
        audience: str = "resident",
        within_area: str | None = None,
        limit: int = 5,
    ) -> SearchResult:
        """Rank entries visible to ``audience`` (optionally only those in ``within_area``)."""
        terms = self._expand(_tokens(query))
        if not terms or not self.entries:
            return SearchResult(query)
        weights = self._audience_weights(audience, within_area)
        base, matched = self._entries_ix.score(terms)
        base *= weights
        if not base.any():
            return SearchResult(query)
        # Candidates by entry score, then re-ranked with their best task / exemption.
        k = min(len(base), max(limit * 4, 20))
        top_k = np.argpartition(-base, k - 1)[:k] if k < len(base) else np.arange(len(base))
        candidates = [int(i) for i in top_k if base[i] > 0]
        item_scores, _ = self._items_ix.score(terms)
        total_idf = sum(self._entries_ix.idf.get(t, 0.0) for t in set(terms)) or 1.0
        ranked = []
        for ei in candidates:
            first_does, first_wn, end = self._item_ranges[ei]
            do = self._best_item(item_scores, first_does, first_wn, "does")
            wn = self._best_item(item_scores, first_wn, end, "will_not")
            bonus = 0.5 * max((h.score for h in (do, wn) if h), default=0.0) * weights[ei]
            ranked.append(
                Hit(self.entries[ei], float(base[ei] + bonus), float(matched[ei] / total_idf),
                    do, wn)
            )
        ranked.sort(key=lambda h: h.score, reverse=True)
        hits = tuple(ranked[:limit])
        top = hits[0]
        if top.score < self.min_score or top.coverage < self.min_coverage:
            return SearchResult(query, hits, "none")
        if len(hits) > 1 and hits[1].score >= self.ambiguity_ratio * top.score:
            return SearchResult(query, hits, "clarify", hits[:2])
        return SearchResult(query, hits, "answer")


SYNONYMS_FILE = "synonyms.yml"


def load_synonyms(content_dir: Path) -> dict[str, list[str]]:
    """Read ``synonyms.yml`` (phrase -> list of phrases that mean the same); {} if absent."""
    path = Path(content_dir) / SYNONYMS_FILE
    if not path.exists():
        return {}
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ContentError(str(path), None, None, f"not valid YAML: {exc}") from exc
    table = data.get("synonyms") if isinstance(data, dict) else None
    if not isinstance(table, dict):
        raise ContentError(str(path), None, "synonyms", "must be a mapping of phrase -> list")
    out: dict[str, list[str]] = {}
    for key, values in table.items():
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise ContentError(str(path), str(key), "synonyms", "must be a list of phrases")
        out[str(key)] = list(values)
    return out


@lru_cache(maxsize=1)
def default_index() -> KnowledgeIndex:
    """The index over the configured content (built once per process, on first use)."""
    from firstpoint.settings import get_settings
    from knowledge.loader import default_knowledge_base

    return KnowledgeIndex(
        default_knowledge_base(), synonyms=load_synonyms(get_settings().content_dir)
    )

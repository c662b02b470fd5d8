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
    return [t for t in lemma_tokens(text) if t not in DOMAIN_STOPWORDS and any(c.isalnum() for c in t)]


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


@dataclass
class _Postings:
    docs: dict[str, list[tuple[int, float]]]
    lengths: list[float]
    avg_len: float


def _build(docs: Sequence[Counter[str]]) -> _Postings:
    postings: dict[str, list[tuple[int, float]]] = defaultdict(list)
    lengths = []
    for i, tf in enumerate(docs):
        for term, weight in tf.items():
            postings[term].append((i, weight))
        lengths.append(sum(tf.values()))
    avg = (sum(lengths) / len(lengths)) if lengths else 1.0
    return _Postings(dict(postings), lengths, avg or 1.0)


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
        self.k1, self.b = k1, b
        # Staff mostly ask about Business Support; resident pages rank a little lower for them.
        self.other_audience_weight = other_audience_weight
        self.min_coverage, self.min_score, self.ambiguity_ratio = (
            min_coverage,
            min_score,
            ambiguity_ratio,
        )
        self._synonyms = {
            tuple(_tokens(k)): [tuple(_tokens(v)) for v in vs] for k, vs in (synonyms or {}).items()
        }
        entry_docs: list[Counter[str]] = []
        item_docs: list[Counter[str]] = []
        self._item_ref: list[tuple[int, str, int]] = []  # (entry index, kind, item index)
        for ei, entry in enumerate(self.entries):
            entry_docs.append(self._entry_doc(entry))
            for ii, task in enumerate(entry.does):
                item_docs.append(Counter(_tokens(task)))
                self._item_ref.append((ei, "does", ii))
            for ii, wn in enumerate(entry.will_not):
                doc = Counter(_tokens(wn.what))
                for kw in wn.keywords:
                    doc.update({t: 1.5 for t in _tokens(kw)})
                item_docs.append(doc)
                self._item_ref.append((ei, "will_not", ii))
        self._entries_ix = _build(entry_docs)
        self._items_ix = _build(item_docs)
        self._n_entries = len(entry_docs)
        self._n_items = len(item_docs)
        self._allowed_cache: dict[tuple[str, str | None], set[int]] = {}

    @staticmethod
    def _entry_doc(entry: Entry) -> Counter[str]:
        doc: Counter[str] = Counter()

        def add(texts: Iterable[str], weight: float) -> None:
            for text in texts:
                for tok in _tokens(text):
                    doc[tok] += weight

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

    def _allowed(self, audience: str, area: str | None) -> set[int]:
        key = (audience, area)
        cached = self._allowed_cache.get(key)
        if cached is None:
            cached = {
                i
                for i, e in enumerate(self.entries)
                if e.visible_to(audience) and (area is None or e.area == area)
            }
            self._allowed_cache[key] = cached
        return cached

    def _expand(self, toks: list[str]) -> list[str]:
        out = list(toks)
        for key, alternatives in self._synonyms.items():
            n = len(key)
            if n and any(tuple(toks[i : i + n]) == key for i in range(len(toks) - n + 1)):
                for alt in alternatives:
                    out.extend(alt)
        return out

    def _idf(self, ix: _Postings, n_docs: int, term: str) -> float:
        df = len(ix.docs.get(term, ()))
        return math.log(1 + (n_docs - df + 0.5) / (df + 0.5))

    def _bm25(
        self,
        ix: _Postings,
        n_docs: int,
        terms: Sequence[str],
        allowed: set[int] | None = None,
        matched_idf: dict[int, float] | None = None,
    ) -> dict[int, float]:
        """BM25 scores per document; ``matched_idf`` collects the idf of terms each doc has."""
        scores: dict[int, float] = defaultdict(float)
        k1, b, avg = self.k1, self.b, ix.avg_len
        for term in set(terms):
            plist = ix.docs.get(term)
            if not plist:
                continue
            idf = self._idf(ix, n_docs, term)
            for doc, tf in plist:
                if allowed is not None and doc not in allowed:
                    continue
                denom = tf + k1 * (1 - b + b * ix.lengths[doc] / avg)
                scores[doc] += idf * tf * (k1 + 1) / denom
                if matched_idf is not None:
                    matched_idf[doc] = matched_idf.get(doc, 0.0) + idf
        return scores

    def search(
        self,
        query: str,
        audience: str = "resident",
        within_area: str | None = None,
        limit: int = 5,
    ) -> SearchResult:
        """Rank entries visible to ``audience`` (optionally only those in ``within_area``)."""
        terms = self._expand(_tokens(query))
        if not terms:
            return SearchResult(query)
        allowed = self._allowed(audience, within_area)
        matched: dict[int, float] = {}
        entry_scores = self._bm25(self._entries_ix, self._n_entries, terms, allowed, matched)
        if not entry_scores:
            return SearchResult(query)
        item_scores = self._bm25(self._items_ix, self._n_items, terms)
        best_items: dict[tuple[int, str], ItemHit] = {}
        for item_idx, score in item_scores.items():
            ei, kind, ii = self._item_ref[item_idx]
            if ei not in allowed:
                continue
            cur = best_items.get((ei, kind))
            if cur is None or score > cur.score:
                best_items[(ei, kind)] = ItemHit(kind, ii, score)
        known = [t for t in set(terms) if t in self._entries_ix.docs]
        total_idf = sum(self._idf(self._entries_ix, self._n_entries, t) for t in known) or 1.0
        ranked = []
        for ei, score in entry_scores.items():
            do, wn = best_items.get((ei, "does")), best_items.get((ei, "will_not"))
            item_bonus = 0.5 * max((h.score for h in (do, wn) if h), default=0.0)
            coverage = matched.get(ei, 0.0) / total_idf
            total = score + item_bonus
            if audience == "staff" and self.entries[ei].audience == "resident":
                total *= self.other_audience_weight
            ranked.append(Hit(self.entries[ei], total, coverage, do, wn))
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

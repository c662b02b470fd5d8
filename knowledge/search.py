"""Retrieval over the knowledge base: BM25F on spaCy lemmas fused with sentence embeddings.

Each entry is indexed as one weighted document (title, keywords, example
questions, tasks, exemptions, caveats), and each task ("does") and exemption
("will not") also as an item of its own, so an answer can say *which* things
Business Support will not do. Beside the lexical index every entry has dense
"views" (its title and summary, its example questions and its items), embedded
once when the index is built and cached on disk by content hash; a query is
embedded once and compared with them.

The two signals are fused linearly: the BM25 score squashed into ``[0, 1)``
(``s / (s + k)``) and the best cosine similarity. Parts of an entry a viewer
may not see (staff-only tasks for residents, say) take no part in ranking for
that viewer, and entries with nothing for residents are never returned to them.
When the two best entries are close, the result asks the caller to choose.

Nothing is computed at import time: :func:`default_index` builds the index on
first use (once per process).
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import re
import tempfile
import threading
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Protocol

import numpy as np

from knowledge.questions import BankQuestion
from knowledge.schema import VIEWER_AUDIENCES, Entry, KnowledgeBase, Task, WillNot
from knowledge.synonyms import load_synonyms
from knowledge.text import lemma_tokens

logger = logging.getLogger(__name__)

#: Field weights for the entry document.
FIELD_WEIGHTS: Mapping[str, float] = {
    "title": 3.0,
    "keywords": 2.0,
    "examples": 1.5,
    "does": 1.0,
    "does_keywords": 2.0,
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

#: Item kinds.
DOES, WILL_NOT = "does", "will_not"


_E_MAIL = re.compile(r"\be-mail", re.IGNORECASE)
_PLACEHOLDER = re.compile(r"\{[a-z_]+\.([a-z_]+)\}")


@lru_cache(maxsize=65536)
def _relemma(token: str) -> str:
    """The lemma of a lemma: the lookup table maps "meetings" to "meeting" but
    "meeting" to "meet", so one pass leaves the two forms apart."""
    again = lemma_tokens(token)
    return again[0] if len(again) == 1 else token


def _tokens(text: str) -> list[str]:
    text = _E_MAIL.sub("email", text)
    out = []
    for tok in lemma_tokens(text):
        tok = _relemma(tok)
        if tok not in DOMAIN_STOPWORDS and any(c.isalnum() for c in tok):
            out.append(tok)
    return out


def _dense_text(text: str) -> str:
    """Text as embedded: ``{council.opening_hours}`` reads as "opening hours"."""
    return _PLACEHOLDER.sub(lambda m: m.group(1).replace("_", " "), text)


class TextEmbedder(Protocol):
    """Anything that turns texts into L2-normalised vectors of shape ``(n, d)``."""

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """One unit vector per text."""
        ...


@dataclass(frozen=True)
class Tuning:
    """How the lexical and dense scores are fused and when to answer, ask or give up.

    Tuned on ``tests/data/kb_paraphrases.yml`` and the development questions in
    ``tests/knowledge/dev_questions.yml`` (see ``tests/knowledge/test_search.py``).
    """

    #: Weight of the squashed BM25 score; the dense similarity gets ``1 - lexical_weight``.
    lexical_weight: float = 0.5
    #: BM25 score at which the squashed lexical score is 0.5 (entries / items).
    entry_half: float = 6.0
    item_half: float = 6.0
    #: Share of the best item's BM25 score added to its entry's score.
    item_bonus: float = 0.5
    #: Below this fused score nothing is answered.
    min_score: float = 0.25
    #: Two entries whose fused scores are within this ratio are a close call.
    ambiguity_ratio: float = 0.97
    #: An exemption is shown when its score is at least this share of the best one ...
    exemption_ratio: float = 0.92
    #: ... and at least this score.
    min_item_score: float = 0.30
    #: A task is named in the answer when its score is at least this.
    min_task_score: float = 0.33
    #: Exemptions win over tasks when their score is at least this share of the best
    #: task's: Service Menu entries (task style "actions") / resident services ("statements").
    will_not_bias: float = 1.0
    statement_will_not_bias: float = 1.15
    #: A follow-up keeps the previous entry when it scores at least this share of the best.
    follow_up_ratio: float = 0.9
    #: Multiplier for resident pages in a staff conversation.
    other_audience_weight: float = 0.75
    #: Entries kept by each signal before exact scoring (large knowledge bases).
    candidates: int = 32
    #: An item's dense score is at least this share of its nearest question-bank
    #: question's similarity (``knowledge/questions``).
    bank_weight: float = 0.9
    #: Weight of a question-bank question's words in its item's BM25 document.
    bank_lexical_weight: float = 0.0
    #: A message the intent classifier took for "I want a person" or "out of scope"
    #: is answered from the knowledge base instead when one entry scores at least
    #: this (no close call): "will someone from business support meet me at
    #: reception?" wants the reception answer, not the switchboard number. Plain
    #: requests for a person score 0.50-0.55 (bot/data/nlu.yml, tests/nlu).
    sure_score: float = 0.6


@dataclass(frozen=True)
class ItemHit:
    """A task or exemption of an entry that matched the query."""

    kind: str  # "does" | "will_not"
    index: int
    score: float
    lexical: float = 0.0
    dense: float = 0.0


@dataclass(frozen=True)
class Hit:
    """One ranked entry, with its best task and every exemption that matched."""

    entry: Entry
    score: float
    coverage: float
    best_does: ItemHit | None = None
    best_will_not: ItemHit | None = None
    will_nots: tuple[ItemHit, ...] = ()
    lexical: float = 0.0
    dense: float = 0.0
    will_not_bias: float = 1.0

    @property
    def kind(self) -> str:
        """``will_not`` when an exemption matches better than any task, else ``does``."""
        wn, do = self.best_will_not, self.best_does
        if wn and (not do or wn.score >= self.will_not_bias * do.score):
            return WILL_NOT
        return DOES


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


# --------------------------------------------------------------------------- embedding cache


def _model_id(embedder: TextEmbedder) -> str:
    """A stable name for the model behind ``embedder`` (part of the cache key)."""
    explicit = getattr(embedder, "model_id", None)
    if isinstance(explicit, str) and explicit:
        return explicit
    from knowledge import embeddings

    if isinstance(embedder, embeddings.Embedder):
        return f"minilm-{embeddings.MODEL_SHA256[:12]}-{embeddings.TOKENIZER_SHA256[:12]}"
    return f"{type(embedder).__module__}.{type(embedder).__qualname__}"


def content_hash(model_id: str, texts: Sequence[str]) -> str:
    """sha256 over the model id and every text, in order."""
    digest = hashlib.sha256(model_id.encode())
    for text in texts:
        digest.update(b"\0")
        digest.update(text.encode())
    return digest.hexdigest()


def cached_embeddings(
    embedder: TextEmbedder, texts: Sequence[str], cache_dir: Path | None
) -> np.ndarray:
    """``embedder.encode(texts)``, read from / written to ``cache_dir`` by content hash.

    The file is ``kb-embeddings-<model>-<hash>.npy``; it is written atomically
    (temporary file, then rename), older files of the same model are removed,
    and a file of the wrong shape is ignored and rewritten. ``cache_dir=None``
    computes without a cache.
    """
    if not texts:
        return np.zeros((0, 0), dtype=np.float32)
    model = _model_id(embedder)
    if cache_dir is None:
        return np.asarray(embedder.encode(list(texts)), dtype=np.float32)
    model_key = hashlib.sha256(model.encode()).hexdigest()[:12]
    prefix = f"kb-embeddings-{model_key}-"
    path = Path(cache_dir) / f"{prefix}{content_hash(model, texts)[:32]}.npy"
    if path.exists():
        try:
            vectors = np.load(path, allow_pickle=False)
            if vectors.ndim == 2 and vectors.shape[0] == len(texts):
                return vectors.astype(np.float32, copy=False)
            logger.warning("%s: wrong shape %s; recomputing", path, vectors.shape)
        except (OSError, ValueError) as exc:
            logger.warning("%s: unreadable (%s); recomputing", path, exc)
    vectors = np.asarray(embedder.encode(list(texts)), dtype=np.float32)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".npy")
        with os.fdopen(fd, "wb") as fh:
            np.save(fh, vectors, allow_pickle=False)
        os.replace(tmp, path)
        for old in path.parent.glob(f"{prefix}*.npy"):
            if old != path:
                old.unlink(missing_ok=True)
    except OSError as exc:  # a read-only disk must not stop answers
        logger.warning("could not write the embedding cache %s: %s", path, exc)
    return vectors


# --------------------------------------------------------------------------- the index


@dataclass(frozen=True)
class _Item:
    entry: int
    kind: str
    index: int


@dataclass
class _View:
    """Everything one viewer ("staff" / "resident") is ranked on."""

    lexical: _ImpactIndex
    entry_weight: np.ndarray  # 0 where the entry is hidden from this viewer
    item_visible: np.ndarray  # bool per item
    view_rows: list[np.ndarray]  # per entry: rows of its views in the vector matrix
    item_rows: np.ndarray  # per item: its row in the vector matrix
    centroids: np.ndarray | None  # per entry: mean of its vectors (candidate generation)
    view_flat: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    view_owner: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))


class KnowledgeIndex:
    """A hybrid (BM25F + dense) index over a :class:`KnowledgeBase`; build once, query many.

    ``embedder`` turns texts into unit vectors (``knowledge.embeddings.default_embedder()``
    when not given); ``dense=False`` ranks on BM25 alone. ``questions`` is the
    question bank (``knowledge.questions.load_question_bank``): each question
    counts as a way of asking for its item. Entry, item and question vectors
    are computed here, once, and cached under ``cache_dir`` by content hash.
    If the embedder fails, the index logs it and ranks on BM25 alone.
    """

    def __init__(
        self,
        kb: KnowledgeBase,
        synonyms: Mapping[str, Sequence[str]] | None = None,
        *,
        embedder: TextEmbedder | None = None,
        dense: bool = True,
        cache_dir: Path | None = None,
        tuning: Tuning | None = None,
        k1: float = 1.2,
        b: float = 0.75,
        questions: Sequence[BankQuestion] = (),
    ) -> None:
        self.kb = kb
        self.entries: tuple[Entry, ...] = tuple(kb.entries)
        self.tuning = tuning or Tuning()
        self._synonyms = {
            tuple(_tokens(k)): [tuple(_tokens(v)) for v in vs] for k, vs in (synonyms or {}).items()
        }
        # Synonym phrases by their first lemma, so a query only checks the ones it could contain.
        self._synonyms_by_first: dict[str, list[tuple[tuple[str, ...], list[tuple[str, ...]]]]]
        self._synonyms_by_first = defaultdict(list)
        for key, alternatives in self._synonyms.items():
            if key:
                self._synonyms_by_first[key[0]].append((key, alternatives))
        self._items: list[_Item] = []
        # per entry: (first does item, first will_not item, end) in the item list
        self._item_ranges: list[tuple[int, int, int]] = []
        item_docs: list[Counter[str]] = []
        for ei, entry in enumerate(self.entries):
            first_does = len(self._items)
            for ti, task in enumerate(entry.does):
                self._items.append(_Item(ei, DOES, ti))
                doc = Counter(_tokens(task.text))
                if task.resident_text:
                    doc.update(_tokens(task.resident_text))
                for kw in task.keywords:
                    doc.update({t: 1.5 for t in _tokens(kw)})
                item_docs.append(doc)
            first_wn = len(self._items)
            for wi, wn in enumerate(entry.will_not):
                self._items.append(_Item(ei, WILL_NOT, wi))
                doc = Counter(_tokens(wn.what))
                for kw in wn.keywords:
                    doc.update({t: 1.5 for t in _tokens(kw)})
                item_docs.append(doc)
            self._item_ranges.append((first_does, first_wn, len(self._items)))
        item_number = {(it.entry, it.kind, it.index): n for n, it in enumerate(self._items)}
        entry_number = {e.id: ei for ei, e in enumerate(self.entries)}
        bank: list[tuple[int, str]] = []  # (item number, text)
        for q in questions:
            n = item_number.get((entry_number.get(q.entry_id, -1), q.kind, q.index))
            if n is None:
                raise ValueError(f"question bank: no item {q.item!r} in the knowledge base")
            bank.append((n, q.text))
            if self.tuning.bank_lexical_weight:
                for tok in _tokens(q.text):
                    item_docs[n][tok] += self.tuning.bank_lexical_weight  # type: ignore[assignment]
        self._items_ix = _ImpactIndex(item_docs, k1, b)
        self._item_entry = np.array([it.entry for it in self._items], dtype=np.int64)
        self._embedder: TextEmbedder | None = None
        self._vectors: np.ndarray | None = None
        texts: list[str] = []
        rows: dict[str, int] = {}

        def row(text: str) -> int:
            text = _dense_text(text)
            if text not in rows:
                rows[text] = len(texts)
                texts.append(text)
            return rows[text]

        self._views: dict[str, _View] = {}
        for viewer in VIEWER_AUDIENCES:
            docs = [self._entry_doc(e, viewer) for e in self.entries]
            weights = np.array([self._weight(e, viewer) for e in self.entries])
            visible = np.array(
                [self._item_of(it).visible_to(viewer) for it in self._items], dtype=bool
            )
            view_rows = [
                np.array([row(t) for t in self._dense_texts(e, viewer)], dtype=np.int64)
                for e in self.entries
            ]
            item_rows = np.array(
                [row(self._item_dense_text(it, viewer)) for it in self._items], dtype=np.int64
            )
            owners = [np.full(len(r), ei, dtype=np.int64) for ei, r in enumerate(view_rows)]
            self._views[viewer] = _View(
                _ImpactIndex(docs, k1, b),
                weights,
                visible,
                view_rows,
                item_rows,
                None,
                np.concatenate(view_rows) if view_rows else np.zeros(0, dtype=np.int64),
                np.concatenate(owners) if owners else np.zeros(0, dtype=np.int64),
            )
        self._bank_rows = np.array([row(text) for _, text in bank], dtype=np.int64)
        self._bank_item = np.array([n for n, _ in bank], dtype=np.int64)
        if dense and texts:
            self._build_dense(embedder, texts, cache_dir)

    # ----------------------------------------------------------------- building

    def _build_dense(
        self, embedder: TextEmbedder | None, texts: list[str], cache_dir: Path | None
    ) -> None:
        if embedder is None:
            from knowledge.embeddings import default_embedder

            embedder = default_embedder()
        try:
            vectors = cached_embeddings(embedder, texts, cache_dir)
        except Exception as exc:  # noqa: BLE001 - any model failure: fall back to BM25
            logger.warning("sentence embeddings unavailable, ranking on BM25 alone: %s", exc)
            return
        self._embedder, self._vectors = embedder, vectors
        for viewer, view in self._views.items():
            centroids = np.zeros((len(self.entries), vectors.shape[1]), dtype=np.float32)
            for ei in range(len(self.entries)):
                first, _, end = self._item_ranges[ei]
                own = view.item_rows[first:end][view.item_visible[first:end]]
                members = np.concatenate([view.view_rows[ei], own])
                if len(members):
                    mean = vectors[members].mean(axis=0)
                    centroids[ei] = mean / max(float(np.linalg.norm(mean)), 1e-12)
            self._views[viewer].centroids = centroids

    def _item_of(self, item: _Item) -> Task | WillNot:
        entry = self.entries[item.entry]
        return entry.does[item.index] if item.kind == DOES else entry.will_not[item.index]

    def _item_text(self, item: _Item, viewer: str) -> str:
        entry = self.entries[item.entry]
        if item.kind == DOES:
            return entry.does[item.index].text_for(viewer)
        return entry.will_not[item.index].what

    def _item_dense_text(self, item: _Item, viewer: str) -> str:
        """An item as embedded: its text, then its keywords."""
        keywords = self._item_of(item).keywords
        text = self._item_text(item, viewer)
        return f"{text} ({', '.join(keywords)})" if keywords else text

    @staticmethod
    def _dense_texts(entry: Entry, viewer: str) -> list[str]:
        """The entry-level texts a viewer's query is compared with (items come separately)."""
        if not entry.visible_to(viewer):
            return []
        texts = [f"{entry.title}. {entry.summary_for(viewer)}"]
        if entry.written_for(viewer):
            texts.extend(entry.example_questions)
        return texts

    def _weight(self, entry: Entry, viewer: str) -> float:
        if not entry.visible_to(viewer):
            return 0.0
        if viewer == "staff" and entry.audience == "resident":
            return self.tuning.other_audience_weight
        return 1.0

    @staticmethod
    def _entry_doc(entry: Entry, viewer: str) -> Counter[str]:
        """The weighted BM25 document of ``entry`` as ``viewer`` may see it."""
        doc: Counter[str] = Counter()  # weighted term frequencies (float counts)
        if not entry.visible_to(viewer):
            return doc

        def add(texts: Iterable[str], weight: float) -> None:
            for text in texts:
                for tok in _tokens(text):
                    doc[tok] += weight  # type: ignore[assignment]

        tasks = [t for _, t in entry.tasks_for(viewer)]
        exemptions = [w for _, w in entry.exemptions_for(viewer)]
        add([entry.title], FIELD_WEIGHTS["title"])
        if entry.written_for(viewer):
            add(entry.keywords, FIELD_WEIGHTS["keywords"])
            add(entry.example_questions, FIELD_WEIGHTS["examples"])
            add([entry.area_title], FIELD_WEIGHTS["area"])
        add((t.text_for(viewer) for t in tasks), FIELD_WEIGHTS["does"])
        add((k for t in tasks for k in t.keywords), FIELD_WEIGHTS["does_keywords"])
        add((w.what for w in exemptions), FIELD_WEIGHTS["will_not"])
        add((k for w in exemptions for k in w.keywords), FIELD_WEIGHTS["will_not_keywords"])
        add([entry.summary_for(viewer)], FIELD_WEIGHTS["summary"])
        add((c.text for c in entry.caveats_for(viewer)), FIELD_WEIGHTS["caveats"])
        return doc

    # ----------------------------------------------------------------- querying

    @property
    def dense(self) -> bool:
        """Whether dense embeddings take part in ranking."""
        return self._vectors is not None

    @property
    def min_score(self) -> float:
        """The fused score below which nothing is answered."""
        return self.tuning.min_score

    def _expand(self, toks: list[str]) -> list[str]:
        """The query's lemmas plus those of every synonym phrase found in it."""
        out = list(toks)
        present = set(toks)
        for first in present:
            for key, alternatives in self._synonyms_by_first.get(first, ()):
                n = len(key)
                if any(tuple(toks[i : i + n]) == key for i in range(len(toks) - n + 1)):
                    for alt in alternatives:
                        out.extend(alt)
        return out

    def embed_query(self, query: str) -> np.ndarray | None:
        """The query's unit vector, or None when dense ranking is off or the model fails."""
        if self._embedder is None or not query.strip():
            return None
        try:
            return np.asarray(self._embedder.encode([query]), dtype=np.float32)[0]
        except Exception as exc:  # noqa: BLE001 - a failing model must not stop answers
            logger.warning("query embedding failed, ranking on BM25 alone: %s", exc)
            return None

    def _candidates(
        self, view: _View, weights: np.ndarray, lex: np.ndarray, qvec: np.ndarray | None
    ) -> np.ndarray:
        n = len(self.entries)
        k = self.tuning.candidates
        allowed = weights > 0
        if n <= k:
            return np.flatnonzero(allowed)
        picks = [np.argpartition(-np.where(allowed, lex, -1.0), k - 1)[:k]]
        if qvec is not None and view.centroids is not None:
            sims = np.where(allowed, view.centroids @ qvec, -2.0)
            picks.append(np.argpartition(-sims, k - 1)[:k])
        chosen = np.unique(np.concatenate(picks))
        return chosen[allowed[chosen]]

    def search(
        self,
        query: str,
        audience: str = "resident",
        within_area: str | None = None,
        limit: int = 5,
        only_entry: str | None = None,
    ) -> SearchResult:
        """Rank entries visible to ``audience`` (optionally only in ``within_area``, or one entry).

        Raises ValueError for an unknown audience.
        """
        if audience not in self._views:
            raise ValueError(f"unknown audience {audience!r}; expected one of {VIEWER_AUDIENCES}")
        view = self._views[audience]
        t = self.tuning
        terms = self._expand(_tokens(query))
        qvec = self.embed_query(query)
        if (not terms and qvec is None) or not self.entries:
            return SearchResult(query)
        weights = view.entry_weight
        if within_area is not None or only_entry is not None:
            mask = np.array(
                [
                    (within_area is None or e.area == within_area)
                    and (only_entry is None or e.id == only_entry)
                    for e in self.entries
                ]
            )
            weights = weights * mask
        n = len(self.entries)
        base, matched = view.lexical.score(terms) if terms else (np.zeros(n), np.zeros(n))
        item_lex = self._items_ix.score(terms)[0] if terms else np.zeros(len(self._items))
        candidates = self._candidates(view, weights, base, qvec)
        if not len(candidates):
            return SearchResult(query)
        total_idf = sum(view.lexical.idf.get(term, 0.0) for term in set(terms)) or 1.0
        is_candidate = np.zeros(n, dtype=bool)
        is_candidate[candidates] = True
        # Items of the candidates that this viewer may see.
        items = np.flatnonzero(is_candidate[self._item_entry] & view.item_visible)
        owner = self._item_entry[items]
        lex_i = item_lex[items]
        dense_i = np.zeros(len(items))
        dense_e = np.zeros(n)
        use_dense = qvec is not None and self._vectors is not None
        if use_dense:
            assert self._vectors is not None and qvec is not None
            dense_i = self._vectors[view.item_rows[items]] @ qvec
            if len(self._bank_rows):
                # Only the candidates' questions are compared (large knowledge bases).
                wanted = np.zeros(len(self._items), dtype=bool)
                wanted[items] = True
                chosen = np.flatnonzero(wanted[self._bank_item])
                nearest = np.full(len(self._items), -1.0)
                np.maximum.at(nearest, self._bank_item[chosen],
                              self._vectors[self._bank_rows[chosen]] @ qvec)
                dense_i = np.maximum(dense_i, t.bank_weight * nearest[items])
            views = np.flatnonzero(is_candidate[view.view_owner])
            dense_e[:] = -1.0
            view_sims = self._vectors[view.view_flat[views]] @ qvec
            np.maximum.at(dense_e, view.view_owner[views], view_sims)
            np.maximum.at(dense_e, owner, dense_i)
        w_lex = t.lexical_weight if use_dense else 1.0
        w_dense = 1.0 - w_lex
        fused_i = w_lex * lex_i / (lex_i + t.item_half) + w_dense * np.maximum(dense_i, 0.0)
        best_lex_item = np.zeros(n)
        np.maximum.at(best_lex_item, owner, lex_i)
        lex_e = base + t.item_bonus * best_lex_item
        scores = (w_lex * lex_e / (lex_e + t.entry_half) + w_dense * np.maximum(dense_e, 0.0))
        scores = np.where(is_candidate, scores * weights, 0.0)
        order = [int(i) for i in np.argsort(-scores, kind="stable")[:limit] if scores[i] > 0]
        ranked: list[Hit] = []
        for ei in order:
            mine = np.flatnonzero(owner == ei)
            item_hits = [
                ItemHit(
                    self._items[int(items[j])].kind,
                    self._items[int(items[j])].index,
                    float(fused_i[j]),
                    float(lex_i[j]),
                    float(dense_i[j]),
                )
                for j in mine
            ]
            does_hits = [h for h in item_hits if h.kind == DOES]
            wn_hits = sorted((h for h in item_hits if h.kind == WILL_NOT), key=lambda h: -h.score)
            best_does = max(does_hits, key=lambda h: h.score, default=None)
            best_wn = wn_hits[0] if wn_hits else None
            matching: tuple[ItemHit, ...] = ()
            if best_wn is not None:
                floor = max(t.min_item_score, t.exemption_ratio * best_wn.score)
                matching = tuple(h for h in wn_hits if h.score >= floor) or (best_wn,)
            ranked.append(
                Hit(
                    self.entries[ei],
                    float(scores[ei]),
                    float(matched[ei] / total_idf),
                    best_does,
                    best_wn,
                    matching,
                    float(lex_e[ei]),
                    float(max(dense_e[ei], 0.0)) if use_dense else 0.0,
                    t.will_not_bias
                    if self.entries[ei].task_style == "actions"
                    else t.statement_will_not_bias,
                )
            )
        if not ranked:
            return SearchResult(query)
        ranked.sort(key=lambda h: h.score, reverse=True)
        hits = tuple(ranked[:limit])
        top = hits[0]
        if top.score < t.min_score:
            return SearchResult(query, hits, "none")
        if len(hits) > 1 and hits[1].score >= t.ambiguity_ratio * top.score:
            return SearchResult(query, hits, "clarify", hits[:2])
        return SearchResult(query, hits, "answer")

    def sure_hit(self, query: str, audience: str = "resident") -> Hit | None:
        """The best hit when one entry clearly answers ``query`` (``Tuning.sure_score``)."""
        result = self.search(query, audience)
        best = result.best
        if result.decision != "answer" or best is None or best.score < self.tuning.sure_score:
            return None
        return best


_default: KnowledgeIndex | None = None
_default_lock = threading.Lock()


def default_index() -> KnowledgeIndex:
    """The index over the configured content (built once per process, on first use).

    Embeddings are cached in ``<var_dir>/cache``. Thread-safe: concurrent first
    calls build it once.
    """
    global _default
    if _default is None:
        with _default_lock:
            if _default is None:
                from firstpoint.settings import get_settings
                from knowledge.loader import default_knowledge_base
                from knowledge.questions import load_question_bank

                settings = get_settings()
                kb = default_knowledge_base()
                _default = KnowledgeIndex(
                    kb,
                    synonyms=load_synonyms(settings.content_dir),
                    cache_dir=settings.var_dir / "cache",
                    questions=load_question_bank(kb),
                )
    return _default

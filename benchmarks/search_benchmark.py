"""Knowledge retrieval speed: hybrid (BM25F + sentence embeddings) against BM25 alone.

Both are timed in the same run, on the real Service Menu + resident content and
on 10,000 synthetic entries built from the real vocabulary, with the share of
the hybrid time spent in the embedding model (embedding the query) shown.

* Real content: the real model (``knowledge.embeddings``) with its text cache
  switched off, so every query is embedded afresh, as a new message would be.
* Synthetic entries: their vectors are random unit vectors (their text is
  random words, and embedding ~120,000 texts would take many minutes); the
  query still goes through the real model, and the ranking arithmetic is the
  same as for real vectors.

    .venv/bin/python benchmarks/search_benchmark.py [--synthetic 10000] [--queries 1000]
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from knowledge.embeddings import DIMENSION, Embedder  # noqa: E402
from knowledge.loader import load_knowledge_base  # noqa: E402
from knowledge.questions import BankQuestion, load_question_bank  # noqa: E402
from knowledge.schema import KnowledgeBase, Task, WillNot  # noqa: E402
from knowledge.search import KnowledgeIndex, load_synonyms  # noqa: E402
from knowledge.text import lemma_tokens  # noqa: E402

GOAL_REAL_MS = 5.0
GOAL_SYNTHETIC_MS = 20.0


class SyntheticVectors:
    """Random unit vectors for the index's own texts; the real model for a query (one text)."""

    model_id = "benchmark-random"

    def __init__(self, model: Embedder) -> None:
        self.model = model

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if len(texts) == 1:
            return self.model.encode(texts)
        out = np.empty((len(texts), DIMENSION), dtype=np.float32)
        for i, text in enumerate(texts):
            seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
            vec = np.random.default_rng(seed).standard_normal(DIMENSION).astype(np.float32)
            out[i] = vec / np.linalg.norm(vec)
        return out


def synthetic_kb(real: KnowledgeBase, n: int, seed: int = 7) -> KnowledgeBase:
    """``n`` entries whose fields are shuffled word samples of the real content."""
    rng = random.Random(seed)
    words = [
        w
        for e in real.entries
        for t in (e.title, e.summary, *(d.text for d in e.does), *e.example_questions)
        for w in t.split()
    ]
    template = real.entries[1]
    audiences = ["staff", "resident", "both"]

    def phrase(k: int) -> str:
        return " ".join(rng.choice(words) for _ in range(k))

    entries = []
    for i in range(n):
        audience = rng.choice(audiences)
        entries.append(
            replace(
                template,
                id=f"synthetic.{i}",
                title=phrase(3),
                audience=audience,
                summary=phrase(15),
                resident_summary=None,
                does=tuple(Task(phrase(8), rng.choice(audiences)) for _ in range(4)),
                will_not=tuple(
                    WillNot(phrase(8), phrase(10), audience=rng.choice(audiences))
                    for _ in range(2)
                ),
                caveats=(),
                example_questions=tuple(phrase(9) for _ in range(5)),
                keywords=tuple(phrase(1) for _ in range(4)),
                last_reviewed=datetime.date(2026, 12, 1),
            )
        )
    return KnowledgeBase(tuple(entries), real.areas)


def synthetic_bank(kb: KnowledgeBase, per_item: int, seed: int = 11) -> list[BankQuestion]:
    """``per_item`` random-word questions for every task and exemption of ``kb``."""
    rng = random.Random(seed)
    words = [w for e in kb.entries[:200] for t in e.example_questions for w in t.split()]
    out = []
    for e in kb.entries:
        for kind, items in (("does", e.does), ("will_not", e.will_not)):
            for index in range(len(items)):
                for _ in range(per_item):
                    text = " ".join(rng.choice(words) for _ in range(8))
                    out.append(BankQuestion(e.id, kind, index, "staff", text, "synthetic"))
    return out


def time_queries(fn: Callable[[str], object], queries: list[str]) -> list[float]:
    out = []
    for q in queries:
        t0 = time.perf_counter()
        fn(q)
        out.append((time.perf_counter() - t0) * 1000)
    return out


def summary(ms: list[float]) -> tuple[float, float]:
    ms = sorted(ms)
    return statistics.median(ms), ms[int(0.95 * (len(ms) - 1))]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--synthetic", type=int, default=10_000)
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--bank-per-item", type=int, default=2,
                    help="synthetic question-bank questions per item of the synthetic entries")
    args = ap.parse_args()
    content = ROOT / "knowledge" / "content"
    real = load_knowledge_base(content)
    bank = load_question_bank(real)
    syn = load_synonyms(content)
    rng = random.Random(1)
    pool = [q for e in real.entries for q in e.example_questions]
    # Distinct texts each run (a word appended), so no cache anywhere can answer a repeat.
    queries = [f"{rng.choice(pool)} {rng.choice(['please', 'thanks', 'today', 'now'])} {i}"
               for i in range(args.queries)]
    lemma_tokens("warm up the pipeline")
    model = Embedder(cache_size=0)  # every query embedded afresh
    model.encode(["warm up the model"])

    with tempfile.TemporaryDirectory() as cache:
        t0 = time.perf_counter()
        real_bm25 = KnowledgeIndex(real, synonyms=syn, dense=False)
        build_bm25 = time.perf_counter() - t0
        t0 = time.perf_counter()
        real_hybrid = KnowledgeIndex(real, synonyms=syn, embedder=model, cache_dir=Path(cache),
                                     questions=bank)
        build_hybrid = time.perf_counter() - t0
        real_no_bank = KnowledgeIndex(real, synonyms=syn, embedder=model, cache_dir=Path(cache))
        t0 = time.perf_counter()
        KnowledgeIndex(real, synonyms=syn, embedder=model, cache_dir=Path(cache), questions=bank)
        build_cached = time.perf_counter() - t0
    t0 = time.perf_counter()
    big = synthetic_kb(real, args.synthetic)
    big_bm25 = KnowledgeIndex(big, synonyms=syn, dense=False)
    build_big_bm25 = time.perf_counter() - t0
    t0 = time.perf_counter()
    big_bank = synthetic_bank(big, args.bank_per_item)
    big_hybrid = KnowledgeIndex(big, synonyms=syn, embedder=SyntheticVectors(model),
                                questions=big_bank)
    build_big = time.perf_counter() - t0

    lemmas = summary(time_queries(lemma_tokens, queries))
    embed = summary(time_queries(lambda q: model.encode([q]), queries))
    rows = [
        ("BM25 alone", f"real ({len(real.entries)} entries)",
         summary(time_queries(lambda q: real_bm25.search(q, "staff"), queries))),
        ("hybrid", f"real ({len(real.entries)} entries)",
         summary(time_queries(lambda q: real_no_bank.search(q, "staff"), queries))),
        ("hybrid+bank", f"real ({len(real.entries)} entries)",
         summary(time_queries(lambda q: real_hybrid.search(q, "staff"), queries))),
        ("BM25 alone", f"synthetic ({len(big.entries):,} entries)",
         summary(time_queries(lambda q: big_bm25.search(q, "staff"), queries))),
        ("hybrid+bank", f"synthetic ({len(big.entries):,} entries)",
         summary(time_queries(lambda q: big_hybrid.search(q, "staff"), queries))),
    ]
    print(f"queries: {len(queries)} distinct (example questions of the real content + a word)")
    print(f"question bank: real {len(bank):,} questions; synthetic {len(big_bank):,} "
          f"({args.bank_per_item} per item)")
    print(f"{'ranking':12} {'knowledge base':28} {'p50 ms':>8} {'p95 ms':>8} {'model share':>12}")
    print(f"{'(parts)':12} {'spaCy lemmas of the query':28} {lemmas[0]:8.2f} {lemmas[1]:8.2f}")
    print(f"{'(parts)':12} {'embedding model, 1 query':28} {embed[0]:8.2f} {embed[1]:8.2f}")
    ok = True
    for ranking, kb_name, (p50, p95) in rows:
        share = f"{embed[0] / p50:11.0%}" if ranking.startswith("hybrid") else ""
        print(f"{ranking:12} {kb_name:28} {p50:8.2f} {p95:8.2f} {share:>12}")
    real_p50, big_p50 = rows[2][2][0], rows[4][2][0]
    ok = real_p50 <= GOAL_REAL_MS and big_p50 <= GOAL_SYNTHETIC_MS
    print(
        f"index build: real BM25 {build_bm25 * 1000:.0f} ms, hybrid {build_hybrid:.2f} s "
        f"({build_cached * 1000:.0f} ms from the embedding cache); synthetic BM25 "
        f"{build_big_bm25:.1f} s, hybrid {build_big:.1f} s"
    )
    print(f"goal: hybrid p50 <= {GOAL_REAL_MS:g} ms (real) and <= {GOAL_SYNTHETIC_MS:g} ms "
          f"({args.synthetic:,} entries): {'met' if ok else 'NOT met'}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())

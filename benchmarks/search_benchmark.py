"""Knowledge retrieval speed: median and p95 lookup time.

On the real Service Menu + resident content and on 10,000 synthetic entries
built from the real vocabulary. The baseline in the same run is spaCy
tokenisation of the same queries alone (the floor any lemma-based lookup pays).

    .venv/bin/python benchmarks/search_benchmark.py [--synthetic 10000] [--queries 2000]
"""

from __future__ import annotations

import argparse
import datetime
import random
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from knowledge.loader import load_knowledge_base  # noqa: E402
from knowledge.schema import KnowledgeBase, WillNot  # noqa: E402
from knowledge.search import KnowledgeIndex, load_synonyms  # noqa: E402
from knowledge.text import lemma_tokens  # noqa: E402


def synthetic_kb(real: KnowledgeBase, n: int, seed: int = 7) -> KnowledgeBase:
    """``n`` entries whose fields are shuffled word samples of the real content."""
    rng = random.Random(seed)
    words = [w for e in real.entries for t in (e.title, e.summary, *e.does, *e.example_questions)
             for w in t.split()]
    template = real.entries[0]

    def phrase(k: int) -> str:
        return " ".join(rng.choice(words) for _ in range(k))

    entries = []
    for i in range(n):
        entries.append(
            replace(
                template,
                id=f"synthetic.{i}",
                area=template.area,
                title=phrase(3),
                audience=rng.choice(["staff", "resident", "both"]),
                summary=phrase(15),
                does=tuple(phrase(8) for _ in range(4)),
                will_not=tuple(WillNot(phrase(8), phrase(10)) for _ in range(2)),
                caveats=(phrase(10),),
                example_questions=tuple(phrase(9) for _ in range(5)),
                keywords=tuple(phrase(1) for _ in range(4)),
                last_reviewed=datetime.date(2026, 10, 1),
            )
        )
    return KnowledgeBase(tuple(entries), real.areas)


def time_queries(fn, queries: list[str]) -> list[float]:  # type: ignore[no-untyped-def]
    out = []
    for q in queries:
        t0 = time.perf_counter()
        fn(q)
        out.append((time.perf_counter() - t0) * 1000)
    return out


def summary(ms: list[float]) -> tuple[float, float]:
    ms = sorted(ms)
    return statistics.median(ms), ms[int(0.95 * (len(ms) - 1))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--synthetic", type=int, default=10_000)
    ap.add_argument("--queries", type=int, default=2000)
    args = ap.parse_args()
    content = ROOT / "knowledge" / "content"
    real = load_knowledge_base(content)
    syn = load_synonyms(content)
    rng = random.Random(1)
    pool = [q for e in real.entries for q in e.example_questions]
    queries = [rng.choice(pool) for _ in range(args.queries)]
    lemma_tokens("warm up the pipeline")

    t0 = time.perf_counter()
    real_ix = KnowledgeIndex(real, synonyms=syn)
    build_real = time.perf_counter() - t0
    t0 = time.perf_counter()
    big = synthetic_kb(real, args.synthetic)
    big_ix = KnowledgeIndex(big, synonyms=syn)
    build_big = time.perf_counter() - t0

    base = summary(time_queries(lemma_tokens, queries))
    real_t = summary(time_queries(lambda q: real_ix.search(q, "staff"), queries))
    big_t = summary(time_queries(lambda q: big_ix.search(q, "staff"), queries))
    print(f"queries: {len(queries)} (example questions from the real content)")
    print(f"{'case':38} {'median ms':>10} {'p95 ms':>10} {'x baseline':>11}")
    print(f"{'baseline: spaCy lemmas of the query':38} {base[0]:10.3f} {base[1]:10.3f} {1.0:11.1f}")
    print(f"{f'real menu ({len(real.entries)} entries)':38} {real_t[0]:10.3f} {real_t[1]:10.3f} "
          f"{real_t[0] / base[0]:11.1f}")
    print(f"{f'synthetic ({len(big.entries)} entries)':38} {big_t[0]:10.3f} {big_t[1]:10.3f} "
          f"{big_t[0] / base[0]:11.1f}")
    print(f"index build: real {build_real * 1000:.0f} ms, synthetic {build_big:.1f} s")
    print("goal: median <= 1 ms (real), <= 10 ms (10,000 entries)")


if __name__ == "__main__":
    main()

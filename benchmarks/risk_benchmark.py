"""Risk model speed: latency per message (p50, p95), its parts, its share of a full turn,
and how long training takes.

Messages are the development set's texts (batch size 1, as Rasa sends them).
Baselines in the same run: the pattern layer alone (wave 1's detector) and,
with ``--turns``, a full turn through the real Rasa server and action server
over the REST webhook (the stack is started on free ports with SQLite).

    .venv/bin/python benchmarks/risk_benchmark.py [--messages 300] [--turns 150] [--no-train]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from knowledge.embeddings import default_embedder  # noqa: E402
from knowledge.risk.assess import RiskAssessor  # noqa: E402
from knowledge.risk.corpus import load_labelled_set  # noqa: E402
from knowledge.risk.training import train_from_corpus  # noqa: E402
from knowledge.safety import default_detector  # noqa: E402

CORPUS = ROOT / "knowledge" / "risk" / "corpus"
DEV = ROOT / "tests" / "data" / "risk" / "dev.yml"


def pct(values: list[float], q: float) -> float:
    """The q-th percentile (0-100) of ``values`` in milliseconds."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))] * 1000


def timed(fn, items):  # type: ignore[no-untyped-def]
    out = []
    for item in items:
        start = time.perf_counter()
        fn(item)
        out.append(time.perf_counter() - start)
    return out


def line(name: str, values: list[float]) -> str:
    return f"  {name:34} p50 {pct(values, 50):7.2f} ms   p95 {pct(values, 95):7.2f} ms"


def full_turns(texts: list[str]) -> list[float]:
    """Seconds per REST round trip, each text opening a new conversation."""
    from dataclasses import replace
    from tempfile import mkdtemp

    from cryptography.fernet import Fernet

    from firstpoint.records.migrate import upgrade
    from firstpoint.runner import start_stack
    from firstpoint.settings import get_settings
    from tests.conversation.conftest import free_port

    var = Path(mkdtemp(prefix="fp-bench-"))
    settings = replace(get_settings(), var_dir=var, database_url=f"sqlite:///{var / 'fp.db'}",
                       data_key=Fernet.generate_key().decode(), rasa_port=free_port(),
                       action_port=free_port(), api_port=free_port(), dev_mode=True)
    upgrade(settings.database_url)
    stack = start_stack(settings, with_api=False)
    try:
        def send(text: str) -> None:
            body = json.dumps({"sender": f"b-{uuid.uuid4().hex[:8]}", "message": text}).encode()
            req = urllib.request.Request(stack.webhook_url, data=body,
                                         headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(req, timeout=60) as resp:  # noqa: S310 - localhost
                resp.read()

        for text in texts[:10]:
            send(text)  # warm up
        return timed(send, texts)
    finally:
        stack.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=300)
    parser.add_argument("--turns", type=int, default=0, help="full turns through the server")
    parser.add_argument("--no-train", action="store_true", help="skip the training timing")
    args = parser.parse_args()

    texts = [m.text for m in load_labelled_set(DEV)][: args.messages]
    detector, embedder = default_detector(), default_embedder()
    start = time.perf_counter()
    embedder.encode(["load"])
    load_s = time.perf_counter() - start

    start = time.perf_counter()
    model = train_from_corpus([CORPUS], detector, embedder,
                              nlu_data=ROOT / "bot" / "data" / "nlu.yml",
                              bank_dir=ROOT / "knowledge" / "questions" / "corpus")
    train_s = time.perf_counter() - start
    assessor = RiskAssessor(model, detector, embedder)

    embedder._cache_size = 0  # noqa: SLF001 - every message pays for its own model run
    embedder._cache.clear()  # noqa: SLF001
    patterns = timed(lambda t: detector.detect(t[:1500]), texts)
    embeds = timed(lambda t: embedder._run([t]), texts)  # noqa: SLF001
    whole = timed(lambda t: assessor.assess(t), texts)
    worst = timed(lambda t: assessor.assess(t), ["\U0001F600" * 5000, "help " * 4000])

    print(f"risk model benchmark: {len(texts)} development-set messages, batch size 1")
    print(f"  embedder load (ONNX + tokenizer)   {load_s:.2f} s")
    if not args.no_train:
        print(f"  training on the corpus (embed {model.info['messages']} messages, "
              f"{len(model.info['authors'])} held-out-author folds, final fit): {train_s:.1f} s")
    print(line("pattern layer alone (wave 1)", patterns))
    print(line("sentence embedding (ONNX int8)", embeds))
    print(line("whole risk assessment", whole))
    print(f"  worst case (5,000 emoji; 20,000 chars)   {max(worst) * 1000:.1f} ms")
    ratio = statistics.median(whole) / statistics.median(patterns)
    print(f"  whole assessment / pattern layer alone (p50): {ratio:.1f}x")
    if args.turns:
        turns = full_turns(texts[: args.turns])
        print(line(f"full turn over REST ({len(turns)} turns)", turns))
        share = statistics.median(whole) / statistics.median(turns)
        print(f"  risk model share of a full turn (p50 / p50): {share:.1%}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

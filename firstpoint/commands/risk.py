"""``firstpoint risk check|compare``: the risk corpus and the risk-model designs.

``check`` validates the corpus files. ``compare`` trains each design on the
corpus (thresholds chosen leaving one author out) and prints its figures on
the given labelled sets, e.g. the development set and a blind set.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from firstpoint.settings import get_settings

DEFAULT_CORPUS = "knowledge/risk/corpus"


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``risk`` and its sub-commands."""
    parser = sub.add_parser("risk", help="risk model corpus and designs")
    rsub = parser.add_subparsers(dest="risk_command", metavar="ACTION")
    check = rsub.add_parser("check", help="validate the corpus files")
    check.add_argument("--corpus", default=DEFAULT_CORPUS)
    check.set_defaults(func=_check)
    compare = rsub.add_parser("compare", help="train each design and score it on labelled sets")
    compare.add_argument("sets", nargs="+", help="labelled YAML sets (docs/risk-labels.md format)")
    compare.add_argument("--corpus", default=DEFAULT_CORPUS)
    compare.add_argument("--nlu-data", default="bot/data/nlu.yml",
                         help="Rasa NLU file whose non-risk examples count as ordinary")
    compare.add_argument("--question-bank", default="knowledge/questions/corpus",
                         help="question bank directory whose questions count as ordinary")
    compare.add_argument("--design", action="append", help="hybrid | embedding | patterns")
    compare.add_argument("--misses", action="store_true", help="print the failing messages")
    compare.add_argument("--json", action="store_true", help="figures as JSON")
    compare.set_defaults(func=_compare)
    parser.set_defaults(func=lambda args: parser.print_help() or 2)


def _path(name: str) -> Path:
    path = Path(name)
    return path if path.is_absolute() else get_settings().project_root / path


def _check(args: argparse.Namespace) -> int:
    from knowledge.risk.corpus import CorpusError, load_corpus
    from knowledge.risk.training import label_counts

    try:
        messages = load_corpus([_path(args.corpus)])
    except CorpusError as exc:
        print(f"error: {exc}")
        return 1
    authors = sorted({m.author for m in messages})
    print(f"{len(messages)} messages from {len(authors)} authors ({', '.join(authors)})")
    for label, count in sorted(label_counts(messages).items()):
        print(f"  {label:20} {count}")
    return 0


def _compare(args: argparse.Namespace) -> int:
    from knowledge.embeddings import default_embedder
    from knowledge.risk.assess import RiskAssessor
    from knowledge.risk.corpus import load_labelled_set
    from knowledge.risk.training import (
        DESIGNS,
        PatternOnlyAssessor,
        evaluate,
        train_from_messages,
        training_messages,
    )
    from knowledge.safety import default_detector

    detector = default_detector()
    embedder = default_embedder()
    corpus = training_messages([_path(args.corpus)], _path(args.nlu_data),
                               _path(args.question_bank))
    sets = {name: load_labelled_set(_path(name)) for name in args.sets}
    out: dict[str, dict[str, object]] = {}
    for design in args.design or list(DESIGNS):
        spec = DESIGNS[design]
        started = time.perf_counter()
        if spec is None:
            assessor: RiskAssessor | PatternOnlyAssessor = PatternOnlyAssessor(detector)
            model_info: dict[str, object] = {}
        else:
            model = train_from_messages(corpus, detector, embedder, spec)
            assessor = RiskAssessor(model, detector, embedder)
            model_info = {"thresholds": vars(model.thresholds), **model.info}
        trained = time.perf_counter() - started
        out[design] = {"train_seconds": round(trained, 1), "model": model_info}
        if not args.json:
            print(f"== design {design} (trained in {trained:.1f}s)")
            if model_info:
                print(f"   thresholds {model_info['thresholds']}")
                print(f"   out of fold {model_info.get('out_of_fold')}")
        for name, messages in sets.items():
            scores = evaluate(assessor, messages)
            out[design][name] = {k: v for k, v in vars(scores).items() if k != "misses"}
            if not args.json:
                print(f"   -- {name}")
                for line in scores.lines():
                    print(f"      {line}")
                if args.misses:
                    for label, level, text in scores.misses:
                        print(f"      MISS {label:>18} -> {level:10} {text[:110]}")
    if args.json:
        print(json.dumps(out, indent=2, default=str))
    return 0

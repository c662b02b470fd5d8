"""``firstpoint kb check`` and ``firstpoint kb list``: validate and list the knowledge base."""

from __future__ import annotations

import argparse
import importlib
import importlib.util
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from firstpoint.settings import get_settings
from knowledge.vocabulary import VIEWER_AUDIENCES

DIRECTORY_MODULE = "knowledge.directory"


def _content_dir(args: argparse.Namespace) -> Path:
    return Path(args.content_dir) if args.content_dir else get_settings().content_dir


def _find_directory_loader() -> Callable[[Path], Any] | None:
    """``knowledge.directory.load_directory`` if that module exists, else None."""
    if importlib.util.find_spec(DIRECTORY_MODULE) is None:
        return None
    module = importlib.import_module(DIRECTORY_MODULE)
    loader = getattr(module, "load_directory", None)
    return loader if callable(loader) else None


def _size(result: Any) -> str:
    for attr in ("teams", "entries"):
        items = getattr(result, attr, None)
        if items is not None:
            return f"{len(items)} {attr}"
    try:
        return f"{len(result)} items"
    except TypeError:
        return "loaded"


def check_content(
    content_dir: Path,
    directory_loader: Callable[[Path], Any] | None = None,
    *,
    skip_directory: bool = False,
    out: Callable[[str], None] = print,
) -> int:
    """Load and validate every content file in ``content_dir``; print a summary.

    That is the knowledge files, ``council.yml``, ``wording.yml``,
    ``safety_patterns.yml`` (every pattern compiled, so a bad one fails here, not
    on the first live message), ``synonyms.yml`` and the directory. Every file is
    read with duplicate keys refused. The directory of accountable teams is
    loaded with ``directory_loader``, by default ``knowledge.directory.load_directory``
    when that module exists (skipped with a note otherwise, or when ``skip_directory``). Returns the
    exit code: 0 when everything is valid, 1 (after printing the error) otherwise.
    """
    from knowledge.loader import load_council_settings, load_knowledge_base, load_wording
    from knowledge.questions import load_question_bank
    from knowledge.safety import load_detector
    from knowledge.synonyms import load_synonyms

    try:
        kb = load_knowledge_base(content_dir)
        settings = load_council_settings(content_dir)
        wording = load_wording(content_dir)
        detector = load_detector(content_dir)
        synonyms = load_synonyms(content_dir)
        bank = load_question_bank(kb)
        loader = None if skip_directory else directory_loader or _find_directory_loader()
        directory = loader(content_dir) if loader is not None else None
    except (ValueError, OSError) as exc:  # ContentError is a ValueError
        out(f"content error: {exc}")
        return 1

    audiences = Counter(e.audience for e in kb.entries)
    out(f"content: {content_dir}")
    out(f"council: {settings.council.name} ({settings.council.opening_hours_text()})")
    out(f"areas: {len(kb.areas)}")
    out(
        f"entries: {len(kb.entries)} "
        f"(staff {audiences['staff']}, resident {audiences['resident']}, both {audiences['both']})"
    )
    for viewer in VIEWER_AUDIENCES:
        out(f"  visible to {viewer}: {len(kb.for_audience(viewer))}")
    out(f"will_not items: {sum(len(e.will_not) for e in kb.entries)}")
    out(f"example questions: {sum(len(e.example_questions) for e in kb.entries)}")
    out(f"wording lines: {len(wording.lines)}")
    out(f"safety pattern categories: {len(detector.categories)}")
    out(f"synonyms: {len(synonyms)}")
    out(f"question bank: {len(bank)} questions from {len({q.author for q in bank})} authors")
    if directory is not None:
        out(f"directory: {_size(directory)}")
    else:
        out(f"directory: skipped ({DIRECTORY_MODULE}.load_directory is not available)")
    out("OK")
    return 0


def _check(args: argparse.Namespace) -> int:
    return check_content(_content_dir(args))


def _list(args: argparse.Namespace) -> int:
    from knowledge.loader import load_knowledge_base

    try:
        kb = load_knowledge_base(_content_dir(args))
    except (ValueError, OSError) as exc:
        print(f"content error: {exc}")
        return 1
    entries = kb.for_audience(args.audience) if args.audience else kb.entries
    width = max((len(e.id) for e in entries), default=0)
    for entry in entries:
        print(f"{entry.id:<{width}}  {entry.audience:<8}  {entry.title}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``firstpoint kb check`` and ``firstpoint kb list``."""
    kb = sub.add_parser("kb", help="knowledge base content")
    kbsub = kb.add_subparsers(dest="kb_command", metavar="ACTION", required=True)
    check = kbsub.add_parser("check", help="validate every content file and print a summary")
    check.add_argument("--content-dir", help="content directory (default: FIRSTPOINT_CONTENT_DIR)")
    check.set_defaults(func=_check)
    listing = kbsub.add_parser("list", help="list entries: id, audience, title")
    listing.add_argument(
        "--content-dir", help="content directory (default: FIRSTPOINT_CONTENT_DIR)"
    )
    listing.add_argument(
        "--audience", choices=VIEWER_AUDIENCES, help="only entries this audience may see"
    )
    listing.set_defaults(func=_list)

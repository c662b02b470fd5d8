"""The question bank: how people actually ask for each task and exemption.

``knowledge/questions/corpus/*.yml`` holds questions written by independent
authors (staff in a hurry, newcomers, managers, people on a phone), each one
for one item of the knowledge base: a task (``menu.reception#d0``) or an
exemption (``menu.reception#w0``). The retrieval index embeds them once and
compares a new question with them (nearest neighbours), so an answer is found
by how people phrase things, not only by the Service Menu's own words.

A council adds questions by adding lines (or a file) in the same shape::

    author: q5
    brief: "what these authors were asked to write"
    questions:
      - item: "menu.reception#d0"
        audience: staff
        text: "who puts calls through to housing"

Item references are positional (``#d0`` is the entry's first task), so after
reordering an entry's tasks or exemptions, ``firstpoint kb check`` names every
question whose item no longer exists. Nothing is read at import time.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from knowledge.loader import display_path, read_yaml
from knowledge.schema import AUDIENCES, ContentError, KnowledgeBase

#: Where the bank lives, relative to the knowledge package.
CORPUS_DIR = Path(__file__).resolve().parent / "corpus"

_ITEM = re.compile(r"^(?P<entry>[a-z0-9][a-z0-9.\-]*)#(?P<kind>[dw])(?P<index>\d+)$")
_KINDS = {"d": "does", "w": "will_not"}
_MAX_TEXT = 500


@dataclass(frozen=True)
class BankQuestion:
    """One question written for one item of the knowledge base."""

    entry_id: str
    kind: str  # "does" | "will_not"
    index: int
    audience: str
    text: str
    author: str

    @property
    def item(self) -> str:
        """The item reference, ``entry#d0`` / ``entry#w1``."""
        return f"{self.entry_id}#{self.kind[0]}{self.index}"


def _fail(path: Path, entry: str | None, field: str | None, message: str) -> ContentError:
    return ContentError(display_path(path), entry, field, message, kind="question")


def _parse_file(path: Path, kb: KnowledgeBase | None) -> list[BankQuestion]:
    data = read_yaml(path)
    if not isinstance(data, dict):
        raise _fail(path, None, None, "must be a mapping with 'author' and 'questions'")
    unknown = set(data) - {"author", "brief", "questions"}
    if unknown:
        raise _fail(path, None, sorted(unknown)[0], "unknown field")
    author = data.get("author")
    if not isinstance(author, str) or not author.strip():
        raise _fail(path, None, "author", "must be a non-empty text")
    raw = data.get("questions")
    if not isinstance(raw, list) or not raw:
        raise _fail(path, None, "questions", "must be a non-empty list")
    out: list[BankQuestion] = []
    for n, item in enumerate(raw):
        where = f"#{n + 1}"
        if not isinstance(item, dict):
            raise _fail(path, where, None, "must be a mapping with item, audience and text")
        extra = set(item) - {"item", "audience", "text"}
        if extra:
            raise _fail(path, where, sorted(extra)[0], "unknown field")
        ref, audience, text = item.get("item"), item.get("audience"), item.get("text")
        match = _ITEM.match(ref) if isinstance(ref, str) else None
        if match is None:
            raise _fail(
                path, where, "item", "must look like 'menu.reception#d0' (d = task, w = exemption)"
            )
        if audience not in AUDIENCES or audience == "both":
            raise _fail(path, where, "audience", "must be staff or resident (who is asking)")
        if not isinstance(text, str) or not text.strip() or len(text) > _MAX_TEXT:
            raise _fail(
                path, where, "text", f"must be a non-empty text of at most {_MAX_TEXT} characters"
            )
        question = BankQuestion(
            match["entry"], _KINDS[match["kind"]], int(match["index"]), audience, text.strip(),
            author.strip(),
        )
        if kb is not None:
            _check_item(path, where, question, kb)
        out.append(question)
    return out


def _check_item(path: Path, where: str, question: BankQuestion, kb: KnowledgeBase) -> None:
    try:
        entry = kb.get(question.entry_id)
    except KeyError:
        raise _fail(path, where, "item", f"no entry {question.entry_id!r}") from None
    items: Sequence[object] = entry.does if question.kind == "does" else entry.will_not
    if question.index >= len(items):
        what = "task" if question.kind == "does" else "exemption"
        raise _fail(
            path, where, "item",
            f"{question.item!r}: entry {entry.id!r} has {len(items)} {what}(s), numbered from 0",
        )


def load_question_bank(
    kb: KnowledgeBase | None = None, corpus_dir: Path = CORPUS_DIR
) -> tuple[BankQuestion, ...]:
    """Every question in ``corpus_dir/*.yml`` (sorted by file), checked against ``kb``.

    Raises :class:`ContentError` naming the file, the question and the field.
    An absent directory is an empty bank.
    """
    if not corpus_dir.is_dir():
        return ()
    out: list[BankQuestion] = []
    for path in sorted(corpus_dir.glob("*.yml")):
        out.extend(_parse_file(path, kb))
    return tuple(out)

"""The review queue: messages the assistant did not understand, grouped by similarity.

The texts come from the contact log's ``unrecognised_messages`` (already redacted
by :mod:`firstpoint.events.facts`; nothing here can see the original). Identical
texts (after case and space folding) count once with their number of sends;
distinct texts are grouped by cosine similarity of character 3–5-gram TF-IDF
vectors (scikit-learn, a Rasa dependency): each text joins the most similar
group whose first text it resembles at least ``threshold``, else starts one.

A supervisor marks each text "add to knowledge" (with the entry it belongs to),
"training example for intent X" or "ignore" (:class:`ReviewMark`); marked texts
leave the queue. :func:`nlu_yaml` exports the training examples as Rasa 3.x NLU
YAML ready to add under ``bot/data/``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timezone

import yaml
from sqlalchemy import func, select
from sqlalchemy.orm import sessionmaker

from firstpoint.console.models import REVIEW_DECISIONS, ReviewMark
from firstpoint.records.contacts import UnrecognisedMessage
from firstpoint.records.db import session_scope

_SPACES = re.compile(r"\s+")


def normalise(text: str) -> str:
    """The text as compared: lower case, single spaces, trimmed."""
    return _SPACES.sub(" ", text).strip().lower()


def text_key(text: str) -> str:
    """The key a mark is stored under (SHA-256 of the normalised text)."""
    return hashlib.sha256(normalise(text).encode("utf-8")).hexdigest()


@dataclass
class Message:
    """One distinct not-understood text and how often it was sent."""

    key: str
    text: str
    count: int


@dataclass
class Group:
    """Similar messages; ``messages[0]`` is the group's first (most frequent) text."""

    messages: list[Message] = field(default_factory=list)

    @property
    def total(self) -> int:
        """Sends across the group."""
        return sum(m.count for m in self.messages)


def group_messages(messages: Sequence[Message], threshold: float = 0.45) -> list[Group]:
    """Greedy grouping by character n-gram cosine similarity, biggest groups first."""
    ordered = sorted(messages, key=lambda m: (-m.count, m.text))
    if not ordered:
        return []
    from sklearn.feature_extraction.text import TfidfVectorizer

    vectors = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5)).fit_transform(
        [normalise(m.text) for m in ordered])
    groups: list[Group] = []
    leaders: list[int] = []
    for index, message in enumerate(ordered):
        best, best_score = None, threshold
        for g, leader in enumerate(leaders):
            score = float(vectors[index].multiply(vectors[leader]).sum())
            if score >= best_score:
                best, best_score = g, score
        if best is None:
            groups.append(Group([message]))
            leaders.append(index)
        else:
            groups[best].messages.append(message)
    return sorted(groups, key=lambda g: (-g.total, g.messages[0].text))


@dataclass(frozen=True)
class Mark:
    """A decision on one text."""

    text: str
    decision: str
    entry_id: str | None
    intent: str | None
    marked_by: str
    marked_at: datetime


class ReviewQueue:
    """Reads the not-understood messages and stores the supervisors' marks."""

    def __init__(self, session_factory: sessionmaker,
                 clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc)) -> None:
        self.session_factory = session_factory
        self.clock = clock

    def unmarked(self, date_from: date, date_to: date, limit: int = 2000) -> list[Message]:
        """Distinct texts in the period that nobody has marked yet."""
        with session_scope(self.session_factory) as s:
            rows = s.execute(
                select(UnrecognisedMessage.text_redacted, func.count())
                .where(UnrecognisedMessage.local_date >= date_from,
                       UnrecognisedMessage.local_date <= date_to)
                .group_by(UnrecognisedMessage.text_redacted)
                .order_by(func.count().desc()).limit(limit)).all()
            marked = set(s.execute(select(ReviewMark.text_key)).scalars())
        merged: dict[str, Message] = {}
        for text, count in rows:
            key = text_key(text)
            if key in marked or not normalise(text):
                continue
            if key in merged:
                merged[key].count += int(count)
            else:
                merged[key] = Message(key, text, int(count))
        return list(merged.values())

    def mark(self, texts: Iterable[str], decision: str, actor: str, *,
             entry_id: str | None = None, intent: str | None = None) -> int:
        """Mark ``texts``; ``knowledge`` needs ``entry_id``, ``training`` needs ``intent``."""
        if decision not in REVIEW_DECISIONS:
            raise ValueError(f"decision must be one of {', '.join(REVIEW_DECISIONS)}")
        if decision == "knowledge" and not entry_id:
            raise ValueError("choose the knowledge entry the message belongs to")
        if decision == "training" and not intent:
            raise ValueError("choose the intent the message is an example of")
        done = 0
        with session_scope(self.session_factory) as s:
            for text in texts:
                key = text_key(text)
                row = s.execute(select(ReviewMark).where(ReviewMark.text_key == key)
                                ).scalar_one_or_none()
                if row is None:
                    row = ReviewMark(text_key=key, text_redacted=text)
                    s.add(row)
                row.decision = decision
                row.entry_id = entry_id if decision == "knowledge" else None
                row.intent = intent if decision == "training" else None
                row.marked_by = actor
                row.marked_at = self.clock()
                done += 1
        return done

    def marks(self, decision: str | None = None) -> list[Mark]:
        """Marks, newest first."""
        query = select(ReviewMark).order_by(ReviewMark.id.desc())
        if decision:
            query = query.where(ReviewMark.decision == decision)
        with session_scope(self.session_factory) as s:
            return [Mark(r.text_redacted, r.decision, r.entry_id, r.intent, r.marked_by,
                         r.marked_at) for r in s.execute(query).scalars()]


class _Literal(str):
    """A string dumped as a YAML block literal (``|``)."""


def _literal(dumper: yaml.SafeDumper, value: _Literal) -> yaml.Node:
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")


def _example(text: str) -> str:
    """One line of an ``examples`` block (YAML-safe, single line)."""
    return "- " + _SPACES.sub(" ", text).strip()


def nlu_yaml(marks: Iterable[Mark]) -> str:
    """Training marks as Rasa NLU YAML (``version: "3.1"``, one block per intent)."""
    by_intent: dict[str, list[str]] = {}
    for mark in marks:
        if mark.decision == "training" and mark.intent:
            examples = by_intent.setdefault(mark.intent, [])
            line = _example(mark.text)
            if line not in examples:
                examples.append(line)

    class Dumper(yaml.SafeDumper):
        pass

    Dumper.add_representer(_Literal, _literal)
    document = {"version": "3.1", "nlu": [
        {"intent": intent, "examples": _Literal("\n".join(lines) + "\n")}
        for intent, lines in sorted(by_intent.items())]}
    header = ("# Not-understood messages marked as training examples in the FirstPoint\n"
              "# console (already redacted). Review, then add to bot/data/.\n")
    return header + yaml.dump(document, Dumper=Dumper, sort_keys=False, allow_unicode=True)

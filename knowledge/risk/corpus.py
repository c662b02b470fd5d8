"""Labelled message corpora for the risk model: loading and validation.

A corpus file (see ``docs/risk-labels.md``) is YAML with ``author``, ``brief``
and ``messages`` (each ``text``, ``label``, ``audience``). Errors name the
file, the message index and the field.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import yaml

from knowledge.loader import read_yaml
from knowledge.risk.labels import CORPUS_AUDIENCES, RISK_LABELS
from knowledge.schema import ContentError

#: The author name of examples taken from Rasa's NLU data.
NLU_GROUP = "rasa-nlu"
#: Group of the question bank's service questions (knowledge/questions), all ordinary.
BANK_GROUP = "question-bank"
#: Groups that are not corpus authors: always in training, never a held-out fold.
AUXILIARY_GROUPS = frozenset({NLU_GROUP, BANK_GROUP})


class CorpusError(ValueError):
    """A malformed corpus file; the message says the file, the message and the field."""


@dataclass(frozen=True)
class LabelledMessage:
    """One message of a corpus."""

    text: str
    label: str
    audience: str
    author: str
    source: str


_FIELDS = {"text", "label", "audience"}


def _key(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", text.lower()).strip()


def load_corpus_file(path: Path) -> list[LabelledMessage]:
    """Read and validate one corpus file."""
    where = str(path)
    try:
        data = read_yaml(path)  # the one content reader: repeated keys are an error
    except ContentError as exc:
        raise CorpusError(f"{where}: cannot read: {exc}") from exc
    if not isinstance(data, dict):
        raise CorpusError(f"{where}: the file must be a mapping with 'messages'")
    author = str(data.get("author") or path.stem)
    messages = data.get("messages")
    if not isinstance(messages, list) or not messages:
        raise CorpusError(f"{where}: field 'messages': missing or empty list")
    out = []
    for i, item in enumerate(messages):
        ctx = f"{where}: messages[{i}]"
        if not isinstance(item, dict):
            raise CorpusError(f"{ctx}: must be a mapping")
        unknown = set(item) - _FIELDS - {"note"}
        if unknown:
            raise CorpusError(f"{ctx}: field '{sorted(unknown)[0]}': unknown field")
        text = item.get("text")
        if not isinstance(text, str) or not text.strip():
            raise CorpusError(f"{ctx}: field 'text': missing or empty")
        label = item.get("label")
        if label not in RISK_LABELS:
            raise CorpusError(
                f"{ctx}: field 'label': {label!r} is not one of {', '.join(RISK_LABELS)}"
            )
        audience = item.get("audience", "resident")
        if audience not in CORPUS_AUDIENCES:
            raise CorpusError(
                f"{ctx}: field 'audience': {audience!r} is not one of "
                f"{', '.join(CORPUS_AUDIENCES)}"
            )
        out.append(LabelledMessage(text.strip(), str(label), str(audience), author, where))
    return out


def load_labelled_set(path: Path, audience: str | None = None) -> list[LabelledMessage]:
    """A labelled evaluation set in either format.

    The corpus format (``messages``), or wave 1's evaluation files:
    ``disclosures`` (``text`` + ``category``) and ``ordinary`` (``text``), which
    carry no audience (``audience`` says which to assume; disclosures default
    to ``resident``, ordinary questions to ``staff``, as wave 1 replayed them).
    """
    data = read_yaml(Path(path))
    if isinstance(data, dict) and "messages" in data:
        return load_corpus_file(Path(path))
    where = str(path)
    out: list[LabelledMessage] = []
    if not isinstance(data, dict):
        raise CorpusError(f"{where}: the file must be a mapping")
    for i, item in enumerate(data.get("disclosures") or []):
        label = item.get("category")
        if label not in RISK_LABELS:
            raise CorpusError(f"{where}: disclosures[{i}]: field 'category': {label!r} unknown")
        out.append(LabelledMessage(str(item["text"]), str(label), audience or "resident",
                                   "wave1", where))
    for item in data.get("ordinary") or []:
        out.append(LabelledMessage(str(item["text"]), "ordinary", audience or "staff",
                                   "wave1", where))
    if not out:
        raise CorpusError(f"{where}: no 'messages', 'disclosures' or 'ordinary' list")
    return out


#: Rasa NLU intents whose examples are ordinary messages for the risk model:
#: small talk, form answers and service questions (the corpus authors wrote
#: council questions, not "bye" or "I'd rather not say").
ORDINARY_NLU_INTENTS: tuple[str, ...] = (
    "greet", "goodbye", "thank", "bot_challenge", "ask_capabilities", "ask_service",
    "ask_followup", "request_human", "out_of_scope", "affirm", "deny", "decline_to_answer",
    "ask_more",
)
_STAFF_NLU_INTENTS = frozenset({"ask_service", "ask_followup", "ask_more"})


def load_nlu_ordinary(path: Path, intents: Iterable[str] = ORDINARY_NLU_INTENTS
                      ) -> list[LabelledMessage]:
    """Examples of ``intents`` from a Rasa NLU YAML file, labelled ``ordinary``.

    Service questions count as staff messages (most are about the Service
    Menu), the rest as residents'. Missing intents are simply absent.
    """
    where = str(path)
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise CorpusError(f"{where}: cannot read: {exc}") from exc
    wanted = set(intents)
    out = []
    for block in data.get("nlu") or []:
        intent = block.get("intent") if isinstance(block, dict) else None
        if intent not in wanted:
            continue
        audience = "staff" if intent in _STAFF_NLU_INTENTS else "resident"
        for line in str(block.get("examples") or "").splitlines():
            text = line.strip().removeprefix("- ").strip()
            if text:
                out.append(LabelledMessage(text, "ordinary", audience, NLU_GROUP, where))
    return out


def load_corpus(paths: Iterable[Path], dedupe: bool = True) -> list[LabelledMessage]:
    """Read several corpus files (directories are read for ``*.yml``), dropping repeats."""
    files: list[Path] = []
    for path in paths:
        path = Path(path)
        files.extend(sorted(path.glob("*.yml")) if path.is_dir() else [path])
    seen: set[str] = set()
    out = []
    for file in files:
        for msg in load_corpus_file(file):
            key = _key(msg.text)
            if dedupe and key in seen:
                continue
            seen.add(key)
            out.append(msg)
    return out


def text_key(text: str) -> str:
    """The comparison key used to find the same sentence in two corpora."""
    return _key(text)

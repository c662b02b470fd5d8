"""The risk corpus: validation, size and authorship, and no leak into evaluation sets."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from knowledge.risk.corpus import (
    CorpusError,
    load_corpus,
    load_corpus_file,
    load_labelled_set,
    load_nlu_ordinary,
    text_key,
)
from knowledge.risk.labels import DISCLOSURE_LABELS, RISK_LABELS
from knowledge.risk.training import bank_messages, training_messages
from tests.knowledge.risk.conftest import BANK, CORPUS, DATA, NLU

EVALUATION_SETS = [
    DATA / "risk" / "dev.yml",
    DATA / "blind" / "wave2" / "risk.yml",
    DATA / "blind" / "wave2b" / "risk.yml",
    DATA / "blind" / "wave3" / "risk.yml",
    DATA / "blind" / "wave5" / "risk.yml",
    DATA / "blind" / "wave5b" / "risk.yml",
    DATA / "blind" / "wave6" / "risk.yml",
    DATA / "blind" / "wave6b" / "risk.yml",
    DATA / "disclosures.yml",
    DATA / "ordinary_questions.yml",
    DATA / "blind" / "disclosures.yml",
    DATA / "blind" / "ordinary.yml",
]


def _write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "c.yml"
    path.write_text(body, encoding="utf-8")
    return path


def test_the_corpus_is_large_varied_and_from_several_authors() -> None:
    messages = load_corpus([CORPUS])
    assert len(messages) >= 2000
    authors = Counter(m.author for m in messages)
    assert len(authors) >= 7 and min(authors.values()) >= 300
    labels = Counter(m.label for m in messages)
    assert set(labels) == set(RISK_LABELS)
    assert min(labels.values()) >= 120
    assert {m.audience for m in messages} == {"resident", "staff"}


@pytest.mark.parametrize("path", EVALUATION_SETS, ids=lambda p: str(p.relative_to(DATA)))
def test_no_evaluation_sentence_is_in_the_training_corpus(path: Path) -> None:
    training = {text_key(m.text) for m in load_corpus([CORPUS], dedupe=False)}
    training |= {text_key(m.text) for m in load_nlu_ordinary(NLU)}
    training |= {text_key(m.text) for m in bank_messages(BANK)}
    leaked = [m.text for m in load_labelled_set(path) if text_key(m.text) in training]
    assert leaked == []


def test_the_question_bank_trains_as_ordinary_service_questions() -> None:
    """Every bank question is in the training messages once, ordinary, as its author's audience."""
    bank = bank_messages(BANK)
    assert len(bank) >= 2000 and {m.label for m in bank} == {"ordinary"}
    assert {m.audience for m in bank} == {"staff", "resident"}
    with_bank = training_messages([CORPUS], NLU, BANK)
    without = training_messages([CORPUS], NLU)
    added = [m for m in with_bank if m.author == "question-bank"]
    assert len(with_bank) == len(without) + len(added)
    assert len(added) >= 0.95 * len({text_key(m.text) for m in bank})
    assert len({text_key(m.text) for m in with_bank}) == len(with_bank)  # each text once


@pytest.mark.parametrize("name", ["wave2", "wave2b", "wave3", "wave6", "wave6b"])
def test_the_blind_sets_are_half_disclosures(name: str) -> None:
    blind = load_labelled_set(DATA / "blind" / name / "risk.yml")
    disclosures = sum(m.label in DISCLOSURE_LABELS for m in blind)
    assert len(blind) >= 150 and abs(disclosures - len(blind) / 2) <= len(blind) * 0.05


def test_an_unknown_label_names_the_file_message_and_field(tmp_path: Path) -> None:
    path = _write(tmp_path, "messages:\n  - {text: hi, label: ordinary}\n"
                            "  - {text: help, label: scary, audience: resident}\n")
    with pytest.raises(CorpusError, match=r"c\.yml: messages\[1\]: field 'label'"):
        load_corpus_file(path)


@pytest.mark.parametrize(
    ("body", "field"),
    [("messages:\n  - {label: ordinary}\n", "text"),
     ("messages:\n  - {text: hi, label: ordinary, audience: alien}\n", "audience"),
     ("messages:\n  - {text: hi, label: ordinary, colour: red}\n", "colour"),
     ("author: x\n", "messages")],
)
def test_malformed_messages_are_rejected(tmp_path: Path, body: str, field: str) -> None:
    with pytest.raises(CorpusError, match=f"field '{field}'"):
        load_corpus_file(_write(tmp_path, body))


def test_repeated_sentences_are_read_once(tmp_path: Path) -> None:
    path = _write(tmp_path, "messages:\n  - {text: 'Hello there!', label: ordinary}\n"
                            "  - {text: 'hello there', label: ordinary}\n")
    assert len(load_corpus([path])) == 1
    assert len(load_corpus([path], dedupe=False)) == 2


def test_rasa_small_talk_and_service_questions_count_as_ordinary() -> None:
    examples = load_nlu_ordinary(NLU)
    assert len(examples) >= 300
    assert {m.label for m in examples} == {"ordinary"}
    texts = {m.text.lower() for m in examples}
    assert not any("kill myself" in t for t in texts)  # no disclosure intent was read

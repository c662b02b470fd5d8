"""The question bank: loading, validation against the knowledge base, coverage."""

from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path

import pytest

from knowledge.loader import load_knowledge_base
from knowledge.questions import CORPUS_DIR, load_question_bank
from knowledge.schema import ContentError

ROOT = Path(__file__).resolve().parents[2]
CONTENT = ROOT / "knowledge" / "content"


@pytest.fixture(scope="module")
def kb():  # type: ignore[no-untyped-def]
    return load_knowledge_base(CONTENT)


def _write(tmp_path: Path, body: str) -> Path:
    corpus = tmp_path / "corpus"
    corpus.mkdir(exist_ok=True)
    (corpus / "q9.yml").write_text(body, encoding="utf-8")
    return corpus


GOOD = """\
author: q9
brief: "test"
questions:
  - item: "menu.reception#d0"
    audience: staff
    text: "who puts calls through"
"""


def test_a_good_file_loads(tmp_path: Path, kb) -> None:  # type: ignore[no-untyped-def]
    (q,) = load_question_bank(kb, _write(tmp_path, GOOD))
    assert (q.entry_id, q.kind, q.index, q.audience, q.author) == (
        "menu.reception", "does", 0, "staff", "q9")
    assert q.item == "menu.reception#d0"


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        (("menu.reception#d0", "menu.reception#d99"), "item", "has 4 task(s)"),
        (("menu.reception#d0", "menu.nowhere#d0"), "item", "no entry 'menu.nowhere'"),
        (("menu.reception#d0", "menu.reception-0"), "item", "must look like"),
        (("audience: staff", "audience: both"), "audience", "staff or resident"),
        (('text: "who puts calls through"', 'text: ""'), "text", "non-empty"),
        (('text: "who puts calls through"', 'text: "x"\n    txet: "y"'), "txet", "unknown field"),
    ],
)
def test_a_bad_question_names_the_file_the_question_and_the_field(  # type: ignore[no-untyped-def]
    tmp_path: Path, kb, change: tuple[str, str], field: str, message: str
) -> None:
    corpus = _write(tmp_path, GOOD.replace(*change))
    with pytest.raises(ContentError) as err:
        load_question_bank(kb, corpus)
    text = str(err.value)
    assert "q9.yml" in text and "question '#1'" in text
    assert f"field '{field}'" in text and message in text


def test_a_duplicated_key_is_an_error_not_a_silent_overwrite(tmp_path: Path, kb) -> None:  # type: ignore[no-untyped-def]
    corpus = _write(tmp_path, GOOD.replace("author: q9", "author: q9\nauthor: q8"))
    with pytest.raises(ContentError, match="duplicate key 'author'"):
        load_question_bank(kb, corpus)


def test_no_directory_is_an_empty_bank(tmp_path: Path, kb) -> None:  # type: ignore[no-untyped-def]
    assert load_question_bank(kb, tmp_path / "absent") == ()


def test_the_shipped_bank_covers_every_item_from_several_authors(kb) -> None:  # type: ignore[no-untyped-def]
    """Every task and exemption has questions from at least three independent authors."""
    bank = load_question_bank(kb, CORPUS_DIR)
    authors: dict[str, set[str]] = defaultdict(set)
    for q in bank:
        authors[q.item].add(q.author)
    items = [f"{e.id}#d{i}" for e in kb.entries for i in range(len(e.does))]
    items += [f"{e.id}#w{i}" for e in kb.entries for i in range(len(e.will_not))]
    thin = [item for item in items if len(authors[item]) < 3]
    assert not thin, thin
    # Staff-only items are asked about by staff only.
    for q in bank:
        entry = kb.get(q.entry_id)
        item = (entry.does if q.kind == "does" else entry.will_not)[q.index]
        if q.audience == "resident":
            assert item.visible_to("resident"), q
    per_author = Counter(q.author for q in bank)
    assert len(per_author) >= 4 and min(per_author.values()) >= 100, per_author


def _key(text: str) -> str:
    return " ".join(text.lower().split())


@pytest.mark.parametrize("path", [
    ROOT / "tests" / "data" / "kb_paraphrases.yml",
    ROOT / "tests" / "knowledge" / "dev_questions.yml",
    *sorted((ROOT / "tests" / "data" / "blind").glob("*/kb_questions.yml")),
], ids=lambda p: str(p.relative_to(ROOT)))
def test_no_evaluation_question_is_in_the_bank(kb, path: Path) -> None:  # type: ignore[no-untyped-def]
    import yaml

    bank = {_key(q.text) for q in load_question_bank(kb, CORPUS_DIR)}
    questions = yaml.safe_load(path.read_text(encoding="utf-8"))["questions"]
    assert [q["text"] for q in questions if _key(q["text"]) in bank] == []

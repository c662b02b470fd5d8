"""Retrieval over the real content: accuracy on held-out paraphrases, audience, follow-ups."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from knowledge.answers import answer_query, citation
from knowledge.loader import load_council_settings, load_knowledge_base
from knowledge.search import KnowledgeIndex, load_synonyms

ROOT = Path(__file__).resolve().parents[2]
CONTENT = ROOT / "knowledge" / "content"


@pytest.fixture(scope="module")
def index() -> KnowledgeIndex:
    return KnowledgeIndex(load_knowledge_base(CONTENT), synonyms=load_synonyms(CONTENT))


@pytest.fixture(scope="module")
def council():  # type: ignore[no-untyped-def]
    return load_council_settings(CONTENT)


def _ok(answer, q) -> bool:  # type: ignore[no-untyped-def]
    ids = [c.entry_id for c in answer.choices] if answer.outcome == "clarify" else [answer.entry_id]
    if not set(ids) & set(q["expect"]):
        return False
    if answer.outcome == "clarify" or q["kind"] == "info":
        return True
    return (q["kind"] == "will_not") == (answer.outcome == "declined")


def test_held_out_paraphrases_retrieve_the_right_entry(index, council) -> None:  # type: ignore[no-untyped-def]
    data = yaml.safe_load((ROOT / "tests/data/kb_paraphrases.yml").read_text(encoding="utf-8"))
    results = [_ok(answer_query(index, council, q["text"], q["audience"]), q)
               for q in data["questions"]]
    accuracy = sum(results) / len(results)
    print(f"retrieval accuracy on {len(results)} held-out questions: {accuracy:.1%}")
    assert accuracy >= 0.75


def test_staff_only_entries_are_never_shown_to_residents(index) -> None:  # type: ignore[no-untyped-def]
    for q in ["who enters timesheets on BMS", "can business support book my travel",
              "who does the post", "minute taking for panels"]:
        for hit in index.search(q, audience="resident").hits:
            assert hit.entry.audience in ("resident", "both")


def test_will_not_answer_leads_with_no_and_gives_the_alternative(index, council) -> None:  # type: ignore[no-untyped-def]
    answer = answer_query(index, council, "can business support book my train tickets", "staff")
    assert answer.outcome == "declined"
    assert answer.text.startswith("No — Business Support will not")
    assert "Instead:" in answer.text


def test_follow_up_stays_in_the_previous_topic(index, council) -> None:  # type: ignore[no-untyped-def]
    first = answer_query(index, council, "can you organise a big partnership conference", "staff")
    assert first.entry_id == "menu.meetings"
    follow = answer_query(index, council, "what about for a team meeting?", "staff", first.entry_id)
    assert follow.entry_id == "menu.meetings"
    assert follow.outcome == "declined"


def test_citation_names_the_source_and_review_date(index) -> None:  # type: ignore[no-untyped-def]
    entry = index.kb.get("menu.minute-taking")
    text = citation(entry)
    assert entry.title in text and "reviewed" in text and str(entry.last_reviewed.year) in text


def test_nonsense_gets_no_answer(index, council) -> None:  # type: ignore[no-untyped-def]
    assert answer_query(index, council, "zzqx blorp", "staff").outcome == "none"
    assert answer_query(index, council, "", "staff").outcome == "none"

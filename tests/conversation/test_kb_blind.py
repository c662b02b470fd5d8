"""Blind Service Menu question sets through the real server (issue 9).

Each set was written from the seed by an author who never saw the content, its
examples or the question bank (tests/data/blind/<wave>/kb_questions.yml); the
answer key was made by a grader who saw the questions and the content, not the
answers (kb_key.yml). A key entry of kind ``none`` (no entry a person of that
audience may see covers the question) is left out of the figure and counted
apart. First runs are recorded in docs/wave2-notes.md (wave 2),
docs/wave3-notes.md (wave 4) and docs/wave4-notes.md (waves 5 and 7); after
its first run a set is no longer blind, and this test guards against
regressions.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
import yaml

from tests.conversation.conftest import Say, joined
from tests.conversation.test_knowledge_answers import _correct, _more, _safety_check

pytestmark = pytest.mark.rasa_server

BLIND = Path(__file__).resolve().parents[1] / "data" / "blind"
FLOORS = {
    "wave2": 0.70,  # below the first run's 74.1 % (docs/wave2-notes.md)
    "wave4": 0.80,  # below the first run's 84.2 % (docs/wave3-notes.md)
    "wave5": 0.80,  # below the first run's 85.4 % (docs/wave4-notes.md)
    "wave7": 0.80,  # below the first run's 84.3 % (docs/wave4-notes.md)
}


def _load(wave: str) -> list[dict]:
    questions = yaml.safe_load((BLIND / wave / "kb_questions.yml").read_text())["questions"]
    key = yaml.safe_load((BLIND / wave / "kb_key.yml").read_text())["key"]
    assert [k["text"] for k in key] == [q["text"] for q in questions]
    return [{**q, **k} for q, k in zip(questions, key, strict=True)]


@pytest.mark.parametrize("wave", sorted(FLOORS))
def test_blind_questions_get_a_right_first_answer(say: Say, wave: str) -> None:
    everything = _load(wave)
    items = [item for item in everything if item["kind"] != "none"]
    first = after = 0
    long_answers = []
    for i, item in enumerate(items):
        sender = f"kb-blind-{wave}-{i}-{uuid.uuid4().hex[:6]}"
        messages = say(item["text"], sender=sender, audience=item["audience"])
        ok_first = _correct(messages, item["expect"], item["kind"])
        first += ok_first
        deny = _safety_check(messages)
        if deny is not None:
            messages = say(deny, sender=sender, audience=item["audience"])
        ok = _correct(messages, item["expect"], item["kind"])
        after += ok
        if item["audience"] == "resident" and _more(messages):
            words = len(str(messages[0].get("text") or "").split())
            if words > 60:
                long_answers.append((item["text"], words))
        if not ok_first:
            more = _more(messages)
            print(f"  WRONG {item['audience']:8} {item['kind']:8} expect {item['expect']} "
                  f"got {more and more[1]}: {item['text'][:70]!r} -> {joined(messages)[:80]!r}")
    n = len(items)
    print(f"\nblind KB {wave} first answers: {first}/{n} = {first / n:.1%} "
          f"({len(everything) - n} questions no visible entry covers left out; counted wrong: "
          f"{first}/{len(everything)} = {first / len(everything):.1%}); "
          f"after 'no' to a safety check: {after}/{n} = {after / n:.1%}")
    assert not long_answers, long_answers
    assert first / n >= FLOORS[wave]

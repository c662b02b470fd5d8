"""Wave 2's blind Service Menu questions through the real server (issue 9).

Written from the seed by an author who never saw the content or its examples
(tests/data/blind/wave2/kb_questions.yml); the answer key was made by a grader
who saw the questions and the content, not the answers (kb_key.yml). The first
run is recorded in docs/wave2-notes.md; after that run the set is no longer
blind, and this test guards against regressions.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
import yaml

from tests.conversation.conftest import Say, joined
from tests.conversation.test_knowledge_answers import _correct, _more, _safety_check

pytestmark = pytest.mark.rasa_server

BLIND = Path(__file__).resolve().parents[1] / "data" / "blind" / "wave2"
FLOOR = 0.70  # regression guard below the first run's 74.1 % (docs/wave2-notes.md)


def _load() -> list[dict]:
    questions = yaml.safe_load((BLIND / "kb_questions.yml").read_text())["questions"]
    key = yaml.safe_load((BLIND / "kb_key.yml").read_text())["key"]
    assert [k["text"] for k in key] == [q["text"] for q in questions]
    return [{**q, **k} for q, k in zip(questions, key, strict=True)]


def test_blind_questions_get_a_right_first_answer(say: Say) -> None:
    items = _load()
    first = after = 0
    long_answers = []
    for i, item in enumerate(items):
        sender = f"kb-blind-{i}-{uuid.uuid4().hex[:6]}"
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
    print(f"\nblind KB first answers: {first}/{n} = {first / n:.1%}; "
          f"after 'no' to a safety check: {after}/{n} = {after / n:.1%}")
    assert not long_answers, long_answers
    assert first / n >= FLOOR

"""Service Menu answers through the real Rasa server, on held-out paraphrased questions."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest
import yaml

from knowledge.loader import load_knowledge_base
from tests.conversation.conftest import Say, joined

pytestmark = pytest.mark.rasa_server

ROOT = Path(__file__).resolve().parents[2]
QUESTIONS = yaml.safe_load((ROOT / "tests/data/kb_paraphrases.yml").read_text(encoding="utf-8"))


def _correct(messages: list[dict], expect: list[str], kind: str, titles: dict[str, str]) -> bool:
    reply = joined(messages)
    offered = [b.get("title") for m in messages for b in (m.get("buttons") or [])]
    if reply.startswith("I can help with a couple of things"):
        return any(titles[e] in offered for e in expect)  # the right entry is offered
    cited = any(f": {titles[e]} — reviewed" in reply for e in expect)
    if kind == "will_not":
        return cited and reply.startswith("No —")
    if kind == "does":
        return cited and not reply.startswith("No —")
    return cited


def test_every_area_answers_at_least_three_paraphrased_questions(say: Say) -> None:
    kb = load_knowledge_base(ROOT / "knowledge/content")
    titles = {e.id: e.title for e in kb.entries}
    per_area: dict[str, list[bool]] = defaultdict(list)
    wrong = []
    for q in QUESTIONS["questions"]:
        messages = say(q["text"], audience=q["audience"])
        reply = joined(messages)
        ok = _correct(messages, q["expect"], q["kind"], titles)
        per_area[q["area"]].append(ok)
        if not ok:
            wrong.append(f"{q['area']}: {q['text']!r} -> {reply[:90]!r}")
    total = sum(len(v) for v in per_area.values())
    right = sum(sum(v) for v in per_area.values())
    print(f"\nKB answers through the server: {right}/{total} = {right / total:.1%}")
    for area, results in sorted(per_area.items()):
        print(f"  {area}: {sum(results)}/{len(results)}")
    for line in wrong:
        print("  WRONG", line)
    short = {a: sum(r) for a, r in per_area.items() if sum(r) < 3}
    assert not short, f"areas with fewer than three right answers: {short}"
    assert right / total >= 0.75


def test_will_not_questions_get_the_exemption_and_the_alternative(say: Say) -> None:
    reply = joined(say("can business support book me a hotel and train for a course?",
                       audience="staff"))
    assert reply.startswith("No — Business Support will not")
    assert "Instead:" in reply


def test_follow_up_keeps_the_topic(say: Say) -> None:
    sender = "followup-test-1"
    first = joined(say("can business support organise a big partnership conference for us?",
                       sender=sender, audience="staff"))
    assert "Meetings" in first
    second = joined(say("what about for our team meeting?", sender=sender, audience="staff"))
    assert second.startswith("No —")
    assert "team meeting" in second.lower()

"""The KnowledgeRouter NLU component: nlu_fallback messages the knowledge base clearly answers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from rasa.shared.nlu.training_data.message import Message

from bot.components.knowledge_router import KnowledgeRouter, route_to_knowledge
from knowledge.loader import load_knowledge_base
from knowledge.search import KnowledgeIndex, Tuning, load_synonyms

CONTENT = Path(__file__).resolve().parents[2] / "knowledge" / "content"
SIGN_IN = "will someone from business support sign in the contractors at reception"


@pytest.fixture(scope="module")
def index() -> KnowledgeIndex:
    # BM25 alone: these tests are about the routing, not about ranking quality.
    return KnowledgeIndex(load_knowledge_base(CONTENT), synonyms=load_synonyms(CONTENT),
                          dense=False)


def _message(text: str, intent: str = "nlu_fallback", level: str = "none",
             audience: str = "staff") -> Message:
    data: dict[str, Any] = {
        "text": text,
        "intent": {"name": intent, "confidence": 0.4},
        "intent_ranking": [{"name": intent, "confidence": 0.4},
                           {"name": "ask_service", "confidence": 0.35}],
        "risk": {"level": level},
        "metadata": {"audience": audience},
    }
    return Message(data=data)


def test_an_unplaced_service_question_becomes_ask_service(index: KnowledgeIndex) -> None:
    message = _message(SIGN_IN)
    assert route_to_knowledge(message, index)
    intent = message.get("intent")
    assert intent["name"] == "ask_service" and 0 < intent["confidence"] <= 1
    names = [r["name"] for r in message.get("intent_ranking")]
    assert names == ["ask_service", "nlu_fallback"]


@pytest.mark.parametrize(
    ("text", "intent", "level"),
    [
        (SIGN_IN, "request_human", "none"),  # only nlu_fallback is routed here
        (SIGN_IN, "nlu_fallback", "check"),  # any risk verdict wins
        (SIGN_IN, "nlu_fallback", "handoff"),
        ("/ask_service", "nlu_fallback", "none"),  # a payload is never re-read
        ("blorp zzzt", "nlu_fallback", "none"),  # nothing in the knowledge base
    ],
)
def test_other_messages_are_left_alone(index: KnowledgeIndex, text: str, intent: str,
                                       level: str) -> None:
    message = _message(text, intent, level)
    assert not route_to_knowledge(message, index)
    assert message.get("intent")["name"] == intent


def test_the_bar_decides(index: KnowledgeIndex) -> None:
    strict = KnowledgeIndex(index.kb, synonyms=load_synonyms(CONTENT), dense=False,
                            tuning=Tuning(sure_score=1.01))
    assert not route_to_knowledge(_message(SIGN_IN), strict)


def test_the_component_never_fails_a_message(index: KnowledgeIndex) -> None:
    class Broken:
        def sure_hit(self, *args: Any) -> None:
            raise RuntimeError("index gone")

    router = KnowledgeRouter({}, index)
    routed, = router.process([_message(SIGN_IN)])
    assert routed.get("intent")["name"] == "ask_service"
    broken = KnowledgeRouter({}, Broken())  # type: ignore[arg-type]
    kept, = broken.process([_message(SIGN_IN)])
    assert kept.get("intent")["name"] == "nlu_fallback"

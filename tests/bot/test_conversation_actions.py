"""Capabilities, contact, not-understood and feedback replies: chosen by the actions,
worded in domain.yml and filled from council.yml (rendered as the Rasa server would)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from bot.actions.conversation import ActionCapabilities, ActionContactCouncil, ActionNotUnderstood
from bot.actions.feedback import ActionRecordFeedback
from bot.actions.knowledge import ActionAnswerService
from knowledge.loader import load_council_settings, load_knowledge_base, load_wording
from knowledge.search import KnowledgeIndex, Tuning, load_synonyms
from tests.bot.rendering import rendered

CONTENT = Path(__file__).resolve().parents[2] / "knowledge" / "content"
COUNCIL = load_council_settings(CONTENT)
CONTACT = (
    "You can contact Example Borough Council by phone on 01632 960000 "
    f"({COUNCIL.council.opening_hours_text()}), by email at "
    f"{COUNCIL.council.email}, or online at {COUNCIL.council.website}."
)


def _answers(sure_score: float = Tuning.sure_score) -> ActionAnswerService:
    """The knowledge action over BM25 alone (no embedding model in unit tests)."""
    index = KnowledgeIndex(load_knowledge_base(CONTENT), synonyms=load_synonyms(CONTENT),
                           dense=False, tuning=Tuning(sure_score=sure_score))
    return ActionAnswerService(index, COUNCIL, load_wording(CONTENT))


def _tracker(audience: str = "resident", intent: str = "greet",
             slots: dict[str, Any] | None = None, text: str = "hi") -> Tracker:
    return Tracker(
        sender_id="s", slots=slots or {},
        latest_message={"text": text, "intent": {"name": intent},
                        "metadata": {"channel": "web", "audience": audience}},
        events=[], paused=False, followup_action=None, active_loop={},
        latest_action_name=None,
    )


async def _say(action: Any, tracker: Tracker) -> list[str]:
    dispatcher = CollectingDispatcher()
    await action.run(dispatcher, tracker, {})
    assert all(m.get("response") for m in dispatcher.messages), "wording belongs in domain.yml"
    return await rendered(dispatcher.messages)


async def test_capabilities_for_staff_and_for_residents() -> None:
    (staff,) = await _say(ActionCapabilities(COUNCIL), _tracker("staff"))
    assert staff.startswith("I can tell you what Business Support will and won't do")
    assert staff.endswith("What would you like to know?")
    (resident,) = await _say(ActionCapabilities(COUNCIL), _tracker("resident"))
    assert resident.startswith(f"I can help with contacting {COUNCIL.council.name}, opening hours")
    assert resident.endswith("give you a reference. What would you like to know?")


async def test_contact_council_and_out_of_scope() -> None:
    assert COUNCIL.council.name == "Example Borough Council"
    contact = ActionContactCouncil(COUNCIL, _answers())
    (plain,) = await _say(contact, _tracker(intent="request_human"))
    assert plain == f"Of course. {CONTACT}"
    (out,) = await _say(contact, _tracker(intent="out_of_scope"))
    assert out == (
        "That's not something I can help with — I only know about the council's Business "
        f"Support and resident services. {CONTACT}"
    )


async def test_a_question_the_knowledge_base_clearly_answers_goes_to_the_answer() -> None:
    text = "will someone from business support sign in the contractors at reception"
    tracker = _tracker("staff", "request_human", text=text)
    dispatcher = CollectingDispatcher()
    events = await ActionContactCouncil(COUNCIL, _answers()).run(dispatcher, tracker, {})
    assert events == [{"event": "followup", "timestamp": None, "name": "action_answer_service"}]
    assert dispatcher.messages == []
    # Below the bar the contact reply stands: the same message, a bar no score reaches.
    events = await ActionContactCouncil(COUNCIL, _answers(sure_score=1.01)).run(
        dispatcher, tracker, {})
    assert events == [] and dispatcher.messages[0]["response"] == "utter_contact_council"


async def test_not_understood_offers_other_ways_in_and_999() -> None:
    (text,) = await _say(ActionNotUnderstood(COUNCIL), _tracker())
    assert text == (
        "Sorry, I didn't understand that, and I'd rather not guess. Could you put it another "
        f'way, or ask "what can you do?". {CONTACT} If someone is in danger right now, call 999.'
    )


async def test_feedback_replies() -> None:
    assert await _say(ActionRecordFeedback(), _tracker()) == ["OK. What else can I help with?"]
    helped = _tracker(intent="affirm", slots={"feedback_asked": True})
    assert await _say(ActionRecordFeedback(), helped) == [
        "Good, I'm glad that helped. Anything else?"
    ]

"""Capabilities, contact, not-understood and feedback replies: chosen by the actions,
worded in domain.yml and filled from council.yml (rendered as the Rasa server would)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from bot.actions.conversation import ActionCapabilities, ActionContactCouncil, ActionNotUnderstood
from bot.actions.feedback import ActionRecordFeedback
from knowledge.loader import load_council_settings
from tests.bot.rendering import rendered

CONTENT = Path(__file__).resolve().parents[2] / "knowledge" / "content"
COUNCIL = load_council_settings(CONTENT)
CONTACT = (
    "You can contact Example Borough Council by phone on 01632 960000 "
    f"({COUNCIL.council.opening_hours_text()}), by email at "
    f"{COUNCIL.council.email}, or online at {COUNCIL.council.website}."
)


def _tracker(audience: str = "resident", intent: str = "greet",
             slots: dict[str, Any] | None = None) -> Tracker:
    return Tracker(
        sender_id="s", slots=slots or {},
        latest_message={"text": "hi", "intent": {"name": intent},
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
    (plain,) = await _say(ActionContactCouncil(COUNCIL), _tracker(intent="request_human"))
    assert plain == f"Of course. {CONTACT}"
    (out,) = await _say(ActionContactCouncil(COUNCIL), _tracker(intent="out_of_scope"))
    assert out == (
        "That's not something I can help with — I only know about the council's Business "
        f"Support and resident services. {CONTACT}"
    )


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

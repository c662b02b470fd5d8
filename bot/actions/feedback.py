"""The "did this help?" question after an answer."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot.actions.common import latest_intent
from bot.actions.parsing import DECLINED, is_declined


class ActionRecordFeedback(Action):
    """Records helpful / not helpful for the answer just given."""

    def name(self) -> str:
        return "action_record_feedback"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        if not tracker.get_slot("feedback_asked"):
            dispatcher.utter_message(response="utter_what_else")
            return []
        helpful = latest_intent(tracker) == "affirm"
        if helpful:
            dispatcher.utter_message(response="utter_glad_it_helped")
        return [
            SlotSet("feedback_rating", "helpful" if helpful else "not_helpful"),
            SlotSet("feedback_asked", False),
        ]


class ValidateFeedbackForm(FormValidationAction):
    """The optional comment after "No"; it may be declined."""

    def name(self) -> str:
        return "validate_feedback_form"

    def validate_feedback_comment(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        text = str(value or "")
        if is_declined(text, latest_intent(tracker)):
            return {"feedback_comment": DECLINED}
        return {"feedback_comment": text[:1000]}

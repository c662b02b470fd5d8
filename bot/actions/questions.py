"""The form questions (``action_ask_<slot>``), worded in firstpoint.dialogue.handoff.QUESTIONS."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from firstpoint.dialogue.handoff import QUESTIONS


class AskFieldAction(Action, ABC):
    """Asks for one form slot, with its buttons."""

    @property
    @abstractmethod
    def slot(self) -> str:
        """The slot this question fills."""

    def name(self) -> str:
        return f"action_ask_{self.slot}"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        text, buttons = QUESTIONS[self.slot]
        dispatcher.utter_message(
            text=text, buttons=[{"title": t, "payload": p} for t, p in buttons]
        )
        return []


class AskHandoffMessage(AskFieldAction):
    slot = "handoff_message"


class AskCallerName(AskFieldAction):
    slot = "caller_name"


class AskContactMethod(AskFieldAction):
    slot = "contact_method"


class AskContactDetails(AskFieldAction):
    slot = "contact_details"


class AskContactTime(AskFieldAction):
    slot = "contact_time"


class AskConsentToShare(AskFieldAction):
    slot = "consent_to_share"


class AskFeedbackComment(AskFieldAction):
    slot = "feedback_comment"

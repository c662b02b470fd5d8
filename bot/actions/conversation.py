"""Capabilities, contacting the council, and the honest not-understood reply.

The words are responses in ``domain.yml``; the actions choose one and fill in the
council's details from ``council.yml``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, FollowupAction
from rasa_sdk.executor import CollectingDispatcher

from bot.actions.common import conversation_context, latest_intent
from bot.actions.knowledge import ActionAnswerService
from bot.actions.routing import council_words
from knowledge.schema import CouncilSettings
from knowledge.vocabulary import ACTION_CONTACT_COUNCIL, STAFF


def _default_council() -> CouncilSettings:
    from knowledge.loader import default_council_settings

    return default_council_settings()


class _CouncilAction(Action, ABC):
    """Base for actions that need the council settings (injected or loaded lazily)."""

    def __init__(self, council: CouncilSettings | None = None) -> None:
        self._council = council

    @property
    def council(self) -> CouncilSettings:
        if self._council is None:
            self._council = _default_council()
        return self._council

    @abstractmethod
    def name(self) -> str:
        """The action's name in domain.yml."""


class ActionCapabilities(_CouncilAction):
    """Says what FirstPoint can help with, for staff or residents (domain.yml responses)."""

    def name(self) -> str:
        return "action_capabilities"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        if conversation_context(tracker).audience == STAFF:
            dispatcher.utter_message(response="utter_capabilities_staff")
        else:
            dispatcher.utter_message(
                response="utter_capabilities_resident", **council_words(self.council)
            )
        return []


class ActionContactCouncil(_CouncilAction):
    """For people who want a person, or ask something outside our scope.

    When the knowledge base clearly answers the message all the same ("will
    someone from business support meet me at reception?"), ``action_answer_service``
    follows instead (``Tuning.sure_score``; ``answers`` is the knowledge action
    that judges it), so its answer, buttons and feedback rules apply.
    """

    def __init__(
        self, council: CouncilSettings | None = None, answers: ActionAnswerService | None = None
    ) -> None:
        super().__init__(council)
        self._answers = answers

    @property
    def answers(self) -> ActionAnswerService:
        if self._answers is None:
            self._answers = ActionAnswerService(council=self._council)
        return self._answers

    def name(self) -> str:
        return ACTION_CONTACT_COUNCIL

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        if await self.answers.clearly_answers(tracker):
            return [FollowupAction(self.answers.name())]
        words = council_words(self.council)
        if latest_intent(tracker) == "out_of_scope":
            dispatcher.utter_message(response="utter_contact_council_out_of_scope", **words)
        else:
            dispatcher.utter_message(response="utter_contact_council", **words)
        return []


class ActionNotUnderstood(_CouncilAction):
    """Says honestly that it did not understand, and offers other ways in."""

    def name(self) -> str:
        return "action_not_understood"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        dispatcher.utter_message(response="utter_not_understood", **council_words(self.council))
        # Rasa's core fallback (RulePolicy core_fallback_action_name) predicts this
        # action again after itself when nothing else is confident: without an
        # explicit listen a first message such as "yes" got ten identical replies.
        return [FollowupAction("action_listen")]

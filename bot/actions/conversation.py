"""Capabilities, contacting the council, and the honest not-understood reply."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, FollowupAction
from rasa_sdk.executor import CollectingDispatcher

from bot.actions.common import conversation_context
from knowledge.schema import CouncilSettings


def _default_council() -> CouncilSettings:
    from knowledge.loader import default_council_settings

    return default_council_settings()


def contact_text(settings: CouncilSettings) -> str:
    """Ways to reach the council, from council.yml."""
    c = settings.council
    return (
        f"You can contact {c.name} by phone on {c.phone} ({c.opening_hours_text()}), "
        f"by email at {c.email}, or online at {c.website}."
    )


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
    """Says what FirstPoint can help with, for staff or residents."""

    def name(self) -> str:
        return "action_capabilities"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        ctx = conversation_context(tracker)
        if ctx.audience == "staff":
            text = (
                "I can tell you what Business Support will and won't do for your team — "
                "reception and buildings, health and safety, procurement and finance, payroll "
                "and HR processes, meetings and minutes, ICT liaison, committee support, "
                "information governance, performance data, communications, post and "
                "archiving, and support to functional teams — and where to go instead when "
                "it's not us. I can also pass a message to an accountable officer, such as a "
                "social worker or a duty team."
            )
        else:
            text = (
                f"I can help with contacting {self.council.council.name}, opening hours, "
                "complaints, getting a copy of your records, school admissions, home "
                "education, paying the council and getting help if you can't get online. "
                "If you're worried about someone's safety, or need your social worker or a "
                "duty team, I can pass your message to the right people and give you a "
                "reference."
            )
        dispatcher.utter_message(text=text + " What would you like to know?")
        return []


class ActionContactCouncil(_CouncilAction):
    """For people who want a person, or ask something outside our scope."""

    def name(self) -> str:
        return "action_contact_council"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        intent = ((tracker.latest_message or {}).get("intent") or {}).get("name")
        lead = (
            "That's not something I can help with — I only know about the council's Business "
            "Support and resident services."
            if intent == "out_of_scope"
            else "Of course."
        )
        dispatcher.utter_message(text=f"{lead} {contact_text(self.council)}")
        return []


class ActionNotUnderstood(_CouncilAction):
    """Says honestly that it did not understand, and offers other ways in."""

    def name(self) -> str:
        return "action_not_understood"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        dispatcher.utter_message(
            text=(
                "Sorry, I didn't understand that, and I'd rather not guess. Could you put it "
                "another way, or ask \"what can you do?\". "
                f"{contact_text(self.council)} "
                "If someone is in danger right now, call 999."
            )
        )
        # Rasa's core fallback (RulePolicy core_fallback_action_name) predicts this
        # action again after itself when nothing else is confident: without an
        # explicit listen a first message such as "yes" got ten identical replies.
        return [FollowupAction("action_listen")]

"""Answering service questions from the Service Menu knowledge base."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from bot.actions.common import conversation_context, detect_language, latest_intent, latest_text
from knowledge.answers import Answer, answer_query, render_entry
from knowledge.schema import CouncilSettings
from knowledge.search import KnowledgeIndex

FEEDBACK_BUTTONS = [
    {"title": "Yes, it helped", "payload": "/affirm"},
    {"title": "No", "payload": "/deny"},
]


def _default_index() -> KnowledgeIndex:
    from knowledge.search import default_index

    return default_index()


def _default_council() -> CouncilSettings:
    from knowledge.loader import default_council_settings

    return default_council_settings()


class ActionAnswerService(Action):
    """Answers from the best entry; follow-ups keep the previous topic."""

    def __init__(
        self, index: KnowledgeIndex | None = None, council: CouncilSettings | None = None
    ) -> None:
        self._index = index
        self._council = council

    @property
    def index(self) -> KnowledgeIndex:
        if self._index is None:
            self._index = _default_index()
        return self._index

    @property
    def council(self) -> CouncilSettings:
        if self._council is None:
            self._council = _default_council()
        return self._council

    def name(self) -> str:
        return "action_answer_service"

    def _answer(self, tracker: Tracker, audience: str) -> Answer:
        choice = tracker.get_slot("kb_choice")
        if choice:
            try:
                entry = self.index.kb.get(str(choice))
            except KeyError:
                entry = None
            if entry is not None and entry.visible_to(audience):
                return render_entry(entry, "does", self.council)
        followup = latest_intent(tracker) == "ask_followup"
        previous = tracker.get_slot("kb_topic") if followup else None
        return answer_query(self.index, self.council, latest_text(tracker), audience, previous)

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        ctx = conversation_context(tracker)
        answer = self._answer(tracker, ctx.audience)
        events: list[EventType] = [SlotSet("kb_choice", None)]
        language = detect_language(latest_text(tracker))
        if language != "en":
            events.append(SlotSet("language", language))
        if answer.outcome == "clarify":
            buttons = [
                {"title": c.title, "payload": f'/ask_service{{"kb_choice": "{c.entry_id}"}}'}
                for c in answer.choices
            ]
            dispatcher.utter_message(text=answer.text, buttons=buttons)
            return [*events, SlotSet("kb_outcome", "clarify"), SlotSet("feedback_asked", False)]
        if answer.outcome == "none":
            council = self.council.council
            dispatcher.utter_message(
                text=(
                    "Sorry, I couldn't find that in what Business Support and the council offer. "
                    "Could you say it another way? You can also ask \"what can you do?\", or "
                    f"contact {council.name} on {council.phone} or at {council.email}."
                )
            )
            return [*events, SlotSet("kb_outcome", "none"), SlotSet("feedback_asked", False)]
        dispatcher.utter_message(text=answer.text)
        dispatcher.utter_message(text="Did this answer your question?", buttons=FEEDBACK_BUTTONS)
        return [
            *events,
            SlotSet("kb_topic", answer.entry_id),
            SlotSet("kb_outcome", answer.outcome),
            SlotSet("feedback_asked", True),
        ]

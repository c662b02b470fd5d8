"""Answering service questions from the Service Menu knowledge base.

The action is thin: it works out *which* message to answer and how, and the
plain modules do the rest (:mod:`knowledge.answers` words the answer,
:mod:`knowledge.search` ranks). It handles

* a question (``ask_service``, ``ask_followup``; a follow-up stays in the last topic);
* a choice between two close entries (the ``kb_choice`` button);
* "More detail" (``ask_more`` with entity ``kb_topic``, an answer reference such as
  ``menu.property-accommodation#w0,w1``, checked against the knowledge base; a
  typed "more detail" uses the button the bot offered last);
* "No" to the safety-check question (``deny`` right after ``utter_safety_check``):
  the question asked before the check is answered.

A staff message the NLU pipeline rated ``case_admin`` (``risk.level``) gets the
``utter_case_admin_route`` line after the answer. Ranking runs in a worker
thread so the first call (which builds the index) never blocks the event loop.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from bot.actions.common import (
    conversation_context,
    detect_language,
    latest_entity,
    latest_intent,
    latest_text,
    message_before_check,
    offered_payloads,
    payload_entities,
    previous_user_text,
    risk_level,
)
from knowledge.answers import (
    Answer,
    answer_choice,
    answer_query,
    detail_for,
    parse_ref,
)
from knowledge.schema import CouncilSettings, Wording
from knowledge.search import KnowledgeIndex
from knowledge.vocabulary import ACTION_ANSWER_SERVICE, ACTION_CONTACT_COUNCIL, ACTION_LISTEN

MORE_INTENT = "ask_more"
MORE_ENTITY = "kb_topic"
CASE_ADMIN_LEVEL = "case_admin"


def _default_index() -> KnowledgeIndex:
    from knowledge.search import default_index

    return default_index()


def _default_council() -> CouncilSettings:
    from knowledge.loader import default_council_settings

    return default_council_settings()


def _default_wording() -> Wording:
    from knowledge.loader import default_wording

    return default_wording()


@dataclass(frozen=True)
class _Question:
    """The user message being answered."""

    text: str
    intent: str
    risk: str | None


def _question(tracker: Tracker) -> _Question:
    """The latest message, or the one before the safety check when this is "no" to it."""
    if latest_intent(tracker) == "deny":
        earlier = message_before_check(tracker)
        if earlier is not None:
            parse = earlier.get("parse_data") or {}
            intent = str((parse.get("intent") or {}).get("name") or "")
            return _Question(str(earlier.get("text") or ""), intent, risk_level(parse))
    return _Question(
        latest_text(tracker), latest_intent(tracker), risk_level(tracker.latest_message)
    )


def more_button(answer: Answer, wording: Wording) -> dict[str, str]:
    """The "More detail" button of an answer (payload ``/ask_more{"kb_topic": ref}``)."""
    payload = f"/{MORE_INTENT}" + json.dumps({MORE_ENTITY: answer.ref}, separators=(", ", ": "))
    return {"title": wording.line("buttons.more_detail"), "payload": payload}


class ActionAnswerService(Action):
    """Answers from the best entry; follow-ups keep the previous topic."""

    def __init__(
        self,
        index: KnowledgeIndex | None = None,
        council: CouncilSettings | None = None,
        wording: Wording | None = None,
    ) -> None:
        self._index = index
        self._council = council
        self._wording = wording

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

    @property
    def wording(self) -> Wording:
        if self._wording is None:
            self._wording = _default_wording()
        return self._wording

    def name(self) -> str:
        return ACTION_ANSWER_SERVICE

    # ----------------------------------------------------------------- deciding

    def _more_ref(self, tracker: Tracker) -> object:
        """The answer reference asked about: the entity, else the button offered last."""
        ref = latest_entity(tracker, MORE_ENTITY)
        if ref is not None:
            return ref
        for payload in reversed(offered_payloads(tracker)):
            entities = payload_entities(payload, MORE_INTENT)
            if entities and MORE_ENTITY in entities:
                return entities[MORE_ENTITY]
        return tracker.get_slot("kb_topic")

    def _detail(self, tracker: Tracker, audience: str) -> tuple[str, str] | None:
        """(detail text, entry id) for "More detail", or None if the reference is not valid."""
        parsed = parse_ref(self.index.kb, self._more_ref(tracker), audience)
        if parsed is None:
            return None
        entry, selection = parsed
        return detail_for(entry, selection, self.council, self.wording, audience), entry.id

    def _answer(self, tracker: Tracker, question: _Question, audience: str) -> Answer:
        choice = tracker.get_slot("kb_choice")
        if choice:
            chosen = answer_choice(
                self.index,
                self.council,
                self.wording,
                str(choice),
                previous_user_text(tracker),
                audience,
            )
            if chosen is not None:
                return chosen
        previous = tracker.get_slot("kb_topic") if question.intent == "ask_followup" else None
        return answer_query(
            self.index, self.council, self.wording, question.text, audience, previous
        )

    # ----------------------------------------------------------------- replying

    @staticmethod
    def _case_admin_route(dispatcher: CollectingDispatcher) -> None:
        """One line offering the route for a new concern (domain.yml response)."""
        dispatcher.utter_message(response="utter_case_admin_route")

    def _feedback(self, dispatcher: CollectingDispatcher) -> None:
        dispatcher.utter_message(
            text=self.wording.line("messages.feedback_question"),
            buttons=[
                {"title": self.wording.line("buttons.feedback_yes"), "payload": "/affirm"},
                {"title": self.wording.line("buttons.feedback_no"), "payload": "/deny"},
            ],
        )

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        ctx = conversation_context(tracker)
        loop = asyncio.get_running_loop()
        if latest_intent(tracker) == MORE_INTENT:
            detail = await loop.run_in_executor(None, self._detail, tracker, ctx.audience)
            if detail is None:
                dispatcher.utter_message(text=self.wording.line("messages.no_detail"))
                return [SlotSet("kb_choice", None)]
            text, entry_id = detail
            dispatcher.utter_message(text=text)
            self._feedback(dispatcher)
            return [SlotSet("kb_choice", None), SlotSet("kb_topic", entry_id),
                    SlotSet("feedback_asked", True)]
        question = _question(tracker)
        answer = await loop.run_in_executor(None, self._answer, tracker, question, ctx.audience)
        events = self.reply(dispatcher, question, answer)
        if tracker.latest_action_name == ACTION_CONTACT_COUNCIL:
            # Run as its follow-up (a question that sounded like "a person, please"):
            # no rule covers the turn, so end it here rather than let a policy guess.
            events.append(FollowupAction(ACTION_LISTEN))
        return events

    async def clearly_answers(self, tracker: Tracker) -> bool:
        """Whether one entry clearly answers the latest message (``Tuning.sure_score``).

        For messages another intent claimed (``request_human``, ``out_of_scope``).
        """
        ctx = conversation_context(tracker)
        loop = asyncio.get_running_loop()
        hit = await loop.run_in_executor(
            None, self.index.sure_hit, latest_text(tracker), ctx.audience
        )
        return hit is not None

    def reply(
        self, dispatcher: CollectingDispatcher, question: _Question, answer: Answer
    ) -> list[EventType]:
        """Send ``answer`` (with its buttons, the case-admin line, the feedback question)."""
        events: list[EventType] = [SlotSet("kb_choice", None)]
        language = detect_language(question.text)
        if language != "en":
            events.append(SlotSet("language", language))
        route = question.risk == CASE_ADMIN_LEVEL
        if answer.outcome == "clarify":
            buttons = [
                {"title": c.title, "payload": f'/ask_service{{"kb_choice": "{c.entry_id}"}}'}
                for c in answer.choices
            ]
            dispatcher.utter_message(text=answer.text, buttons=buttons)
            if route:
                self._case_admin_route(dispatcher)
            return [*events, SlotSet("kb_outcome", "clarify"), SlotSet("feedback_asked", False)]
        if answer.outcome == "none":
            dispatcher.utter_message(text=answer.text)
            if route:
                self._case_admin_route(dispatcher)
            return [*events, SlotSet("kb_outcome", "none"), SlotSet("feedback_asked", False)]
        dispatcher.utter_message(text=answer.text, buttons=[more_button(answer, self.wording)])
        if route:
            self._case_admin_route(dispatcher)
        self._feedback(dispatcher)
        return [
            *events,
            SlotSet("kb_topic", answer.entry_id),
            SlotSet("kb_outcome", answer.outcome),
            SlotSet("feedback_asked", True),
        ]

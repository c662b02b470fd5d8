"""Handing sensitive and casework enquiries to the accountable officer, without intervening."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot.actions.common import (
    conversation_context,
    latest_intent,
    latest_text,
    session_transcript,
)
from bot.actions.parsing import (
    DECLINED,
    is_declined,
    is_substantive_message,
    parse_consent,
    parse_contact,
    refine_category,
)
from bot.actions.routing import emergency_words, explain_routing, team_words
from firstpoint.records.handoffs import HandoffRateLimited
from knowledge.directory import Directory
from knowledge.schema import CouncilSettings
from knowledge.vocabulary import SAFETY_CATEGORIES, SLOT_SAFETY_CATEGORY

logger = logging.getLogger(__name__)

FORM_SLOTS = (
    "handoff_message",
    "caller_name",
    "contact_method",
    "contact_details",
    "contact_time",
    "consent_to_share",
)
MAX_FIELD_CHARS = {"handoff_message": 5000, "caller_name": 200, "contact_details": 300}


def _council() -> CouncilSettings:
    from knowledge.loader import default_council_settings

    return default_council_settings()


def _directory() -> Directory:
    from knowledge.directory import default_directory

    return default_directory()


def _category_from(tracker: Tracker) -> str | None:
    """The safety category of this conversation: the slot, if it is a real category."""
    category = tracker.get_slot(SLOT_SAFETY_CATEGORY)
    if category in SAFETY_CATEGORIES:
        return str(category)
    risk = (tracker.latest_message or {}).get("risk") or {}
    category = risk.get("category") if isinstance(risk, dict) else None
    return str(category) if category in SAFETY_CATEGORIES else None


def _known_category(directory: Directory, category: str | None) -> str | None:
    """``category`` when the directory routes it; otherwise None (the fallback team)."""
    return category if category and category in directory.routes else None


def _utter_emergency(
    dispatcher: CollectingDispatcher, council: CouncilSettings, category: str | None
) -> None:
    """999 and out-of-hours first, plus Samaritans or the abuse helpline (domain.yml)."""
    words = emergency_words(council)
    if category == "self_harm":
        dispatcher.utter_message(response="utter_emergency_advice_self_harm", **words)
    elif category == "domestic_abuse":
        dispatcher.utter_message(response="utter_emergency_advice_domestic_abuse", **words)
    else:
        dispatcher.utter_message(response="utter_emergency_advice", **words)


class ActionEmergencyAdvice(Action):
    """999 and out-of-hours details first, before anything else is asked."""

    def __init__(self, council: CouncilSettings | None = None) -> None:
        self._council = council

    def name(self) -> str:
        return "action_emergency_advice"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        _utter_emergency(dispatcher, self._council or _council(), _category_from(tracker))
        return [SlotSet("handoff_priority", "emergency")]


class ActionExplainHandoff(Action):
    """Says who will get the message and when, and opens a fresh handoff."""

    def __init__(
        self,
        directory: Directory | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self._directory = directory
        self._clock = clock

    def name(self) -> str:
        return "action_explain_handoff"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        directory = self._directory or _directory()
        category = refine_category(_category_from(tracker), latest_text(tracker))
        category = _known_category(directory, category) or refine_category(None, "")
        routing = explain_routing(directory, category, self._clock() if self._clock else None)
        disclosure = _disclosure(tracker)
        if routing.is_open:
            dispatcher.utter_message(response="utter_handoff_routing_open", **routing.words)
        else:
            dispatcher.utter_message(response="utter_handoff_routing_closed", **routing.words)
        priority = tracker.get_slot("handoff_priority")
        if priority != "emergency":
            priority = routing.priority
        return [
            SlotSet("handoff_category", category),
            SlotSet("handoff_team", routing.team.id),
            SlotSet("handoff_priority", priority),
            SlotSet("handoff_reference", None),
            SlotSet("handoff_disclosure", disclosure),
            *(SlotSet(slot, None) for slot in FORM_SLOTS),
        ]


def _disclosure(tracker: Tracker) -> str | None:
    """The caller's own words that led to the handoff (the latest real message, if any)."""
    for event in reversed(tracker.events):
        if event.get("event") != "user":
            continue
        text = str(event.get("text") or "")
        if is_substantive_message(text):
            return text[: MAX_FIELD_CHARS["handoff_message"]]
    return None


class ValidateHandoffForm(FormValidationAction):
    """Every field may be declined; danger disclosed mid-form gets 999 details at once."""

    def __init__(self, council: CouncilSettings | None = None) -> None:
        self._council = council

    def name(self) -> str:
        return "validate_handoff_form"

    async def required_slots(
        self,
        domain_slots: list[str],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> list[str]:
        method = tracker.get_slot("contact_method")
        if method in ("none", DECLINED):
            return [s for s in domain_slots if s not in ("contact_details", "contact_time")]
        return domain_slots

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        events: list[EventType] = []
        if latest_intent(tracker) == "emergency":
            _utter_emergency(dispatcher, self._council or _council(), _category_from(tracker))
            events.append(SlotSet("handoff_priority", "emergency"))
        return [*events, *await super().run(dispatcher, tracker, domain)]

    @staticmethod
    def _free_text(slot: str, value: Any, tracker: Tracker) -> dict[str, Any]:
        text = str(value or "")
        if is_declined(text, latest_intent(tracker)):
            return {slot: DECLINED}
        return {slot: text[: MAX_FIELD_CHARS.get(slot, 500)]}

    def validate_handoff_message(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """The message for the officer; "yes" is not a message; skipping keeps the disclosure."""
        text = str(value or "")
        if is_declined(text, latest_intent(tracker)):
            disclosure = tracker.get_slot("handoff_disclosure")
            if disclosure:
                return {"handoff_message": str(disclosure)}
            return {"handoff_message": DECLINED}
        if not is_substantive_message(text):
            dispatcher.utter_message(response="utter_handoff_message_needed")
            return {"handoff_message": None}
        return {"handoff_message": text[: MAX_FIELD_CHARS["handoff_message"]]}

    def validate_caller_name(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return self._free_text("caller_name", value, tracker)

    def validate_contact_method(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """Phone, email or none; a number or address typed here fills both slots."""
        text = str(value or "")
        if is_declined(text, latest_intent(tracker)):
            return {"contact_method": DECLINED}
        parsed = parse_contact(text)
        if parsed.details:
            return {"contact_method": parsed.method, "contact_details": parsed.details}
        if parsed.method:
            return {"contact_method": parsed.method}
        dispatcher.utter_message(response="utter_contact_method_unclear")
        return {"contact_method": None}

    def validate_contact_details(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """A UK phone number or an e-mail address (the method follows what was given)."""
        text = str(value or "")
        if is_declined(text, latest_intent(tracker)):
            return {"contact_details": DECLINED}
        parsed = parse_contact(text)
        if parsed.details:
            return {"contact_details": parsed.details, "contact_method": parsed.method}
        dispatcher.utter_message(response="utter_contact_details_invalid")
        return {"contact_details": None}

    def validate_contact_time(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return self._free_text("contact_time", value, tracker)

    def validate_consent_to_share(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """Yes, no or declined; anything else is asked again."""
        text = str(value or "")
        if is_declined(text, latest_intent(tracker)) and parse_consent(text) != "no":
            return {"consent_to_share": DECLINED}
        consent = parse_consent(text)
        if consent is None:
            dispatcher.utter_message(response="utter_consent_unclear")
            return {"consent_to_share": None}
        return {"consent_to_share": consent}


def _given(tracker: Tracker, slot: str) -> str | None:
    value = tracker.get_slot(slot)
    return None if value in (None, "", DECLINED, "none") else str(value)


class ActionSubmitHandoff(Action):
    """Records the handoff (and its notifications) and gives the caller a reference."""

    def __init__(self, service: Any | None = None, directory: Directory | None = None) -> None:
        self._service = service
        self._directory = directory

    def name(self) -> str:
        return "action_submit_handoff"

    @property
    def service(self) -> Any:
        if self._service is None:
            from firstpoint.records.handoffs import service_from_settings

            # Migrations run from `firstpoint db upgrade` / `firstpoint run`, never on
            # a caller's first disclosure.
            self._service = service_from_settings(migrate=False)
        return self._service

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        ctx = conversation_context(tracker)
        directory = self._directory or _directory()
        category = _known_category(directory, tracker.get_slot("handoff_category")) or (
            refine_category(None, "")
        )
        consent = tracker.get_slot("consent_to_share")
        name = _given(tracker, "caller_name")
        method = _given(tracker, "contact_method")
        message = _given(tracker, "handoff_message") or _given(tracker, "handoff_disclosure")
        clear = [SlotSet(slot, None) for slot in FORM_SLOTS]
        team, _ = directory.route(category)
        words = team_words(team)
        if message is None or consent is None:
            # Nothing an officer could act on, or the form never asked: file nothing.
            dispatcher.utter_message(response="utter_handoff_not_filed", **words)
            return clear
        try:
            receipt = await asyncio.to_thread(
                lambda: self.service.create(
                    category,
                    ctx.channel,
                    ctx.audience,
                    tracker.sender_id,
                    caller_name=name,
                    contact_method=method,
                    contact_details=_given(tracker, "contact_details"),
                    contact_time=_given(tracker, "contact_time"),
                    message=message,
                    transcript=session_transcript(tracker),
                    anonymous=name is None and method is None,
                    consent_to_share={"yes": True, "no": False}.get(str(consent)),
                )
            )
        except HandoffRateLimited:
            logger.warning("handoff rate limit reached for one conversation (%s)", category)
            dispatcher.utter_message(response="utter_handoff_rate_limited", **words)
            return clear
        except Exception:  # noqa: BLE001 - the caller must get a way through whatever failed
            logger.exception("could not record handoff for category %s", category)
            dispatcher.utter_message(response="utter_handoff_record_failed", **words)
            return clear
        filed = {
            "handoff_team_name": receipt.team_name,
            "reference": receipt.reference,
            "due": receipt.sla_due_text,
            "out_of_hours": receipt.out_of_hours,
        }
        # Both responses add "call 999" when the slot handoff_priority is emergency.
        if receipt.is_open_now:
            dispatcher.utter_message(response="utter_handoff_filed", **filed)
        else:
            dispatcher.utter_message(response="utter_handoff_filed_closed", **filed)
        return [
            SlotSet("handoff_reference", receipt.reference),
            SlotSet("handoff_team", receipt.team_id),
            *clear,
        ]

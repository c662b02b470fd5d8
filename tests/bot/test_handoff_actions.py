"""Handoff actions with injected fakes: a database outage still gives the caller a way on."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from bot.actions.handoff import ActionSubmitHandoff
from knowledge.directory import load_directory
from tests.bot.rendering import rendered

CONTENT = Path(__file__).resolve().parents[2] / "knowledge" / "content"


def _tracker(slots: dict[str, Any]) -> Tracker:
    return Tracker(
        sender_id="s-1",
        slots=slots,
        latest_message={"text": "yes", "intent": {"name": "affirm"},
                        "metadata": {"channel": "web", "audience": "resident"}},
        events=[{"event": "user", "text": "my neighbour's child is left alone all night",
                 "timestamp": 1.0}],
        paused=False,
        followup_action=None,
        active_loop={},
        latest_action_name="handoff_form",
    )


class _DownService:
    def create(self, *args: Any, **kwargs: Any) -> Any:
        raise ConnectionError("database is down")


class _RecordingService:
    def __init__(self) -> None:
        self.calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = []

    def create(self, *args: Any, **kwargs: Any) -> Any:
        from types import SimpleNamespace

        self.calls.append((args, kwargs))
        return SimpleNamespace(reference="FP-TEST22", team_id="childrens-front-door",
                               team_name="Children's Services Front Door", is_open_now=True,
                               sla_due_text="12:30 today", out_of_hours="")


SLOTS = {"handoff_category": "child_safeguarding", "caller_name": "declined",
         "contact_method": "none", "handoff_message": "declined", "consent_to_share": "yes",
         "handoff_disclosure": "my neighbour's child is left alone all night"}


async def test_database_outage_tells_the_caller_who_to_phone() -> None:
    dispatcher = CollectingDispatcher()
    action = ActionSubmitHandoff(service=_DownService(), directory=load_directory(CONTENT))
    events = await action.run(dispatcher, _tracker(SLOTS), {})
    text = (await rendered(dispatcher.messages))[0]
    assert "couldn't record your message" in text
    assert "01632 960100" in text and "999" in text
    assert not any(e.get("name") == "handoff_reference" and e.get("value") for e in events)


async def test_declined_fields_become_an_anonymous_handoff() -> None:
    service = _RecordingService()
    dispatcher = CollectingDispatcher()
    events = await ActionSubmitHandoff(service=service).run(dispatcher, _tracker(SLOTS), {})
    args, kwargs = service.calls[0]
    assert args == ("child_safeguarding", "web", "resident", "s-1")
    assert kwargs["anonymous"] is True and kwargs["caller_name"] is None
    # the message was skipped: the officer gets what the caller said first
    assert kwargs["message"] == "my neighbour's child is left alone all night"
    assert kwargs["consent_to_share"] is True
    assert kwargs["transcript"][0]["text"].startswith("my neighbour's child")
    assert "FP-TEST22" in (await rendered(dispatcher.messages))[0]
    assert {"event": "slot", "timestamp": None, "name": "handoff_reference",
            "value": "FP-TEST22"} in events


class _ClosedService(_RecordingService):
    def create(self, *args: Any, **kwargs: Any) -> Any:
        receipt = super().create(*args, **kwargs)
        receipt.is_open_now = False
        receipt.out_of_hours = "Emergency Duty Team on 01632 960999"
        return receipt


async def test_the_receipt_is_worded_in_the_domain_with_999_after_an_emergency() -> None:
    filed = ("Thank you. I've passed your message to the Children's Services Front Door. "
             "Your reference is FP-TEST22. They aim to respond by 12:30 today.")
    closed = (" They're closed now; if it can't wait, contact the Emergency Duty Team on "
              "01632 960999.")
    danger = " If anyone is in danger right now, call 999."
    for service, priority, expected in (
        (_RecordingService(), "urgent", filed),
        (_RecordingService(), "emergency", filed + danger),
        (_ClosedService(), "normal", filed + closed),
        (_ClosedService(), "emergency", filed + closed + danger),
    ):
        slots = {**SLOTS, "handoff_priority": priority}
        dispatcher = CollectingDispatcher()
        await ActionSubmitHandoff(service=service, directory=load_directory(CONTENT)).run(
            dispatcher, _tracker(slots), {})
        assert await rendered(dispatcher.messages, slots) == [expected]


async def test_out_of_hours_disclosure_is_explained_with_the_duty_team() -> None:
    from datetime import datetime, timezone

    from bot.actions.handoff import ActionExplainHandoff

    saturday_night = datetime(2026, 11, 28, 23, 30, tzinfo=timezone.utc)
    action = ActionExplainHandoff(directory=load_directory(CONTENT), clock=lambda: saturday_night)
    tracker = _tracker({"safety_category": "child_safeguarding"})
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, tracker, {})
    text = (await rendered(dispatcher.messages))[0]
    assert text.startswith("If anyone is in immediate danger, call 999")
    assert "Emergency Duty Team" in text and "open now" in text
    assert {"event": "slot", "timestamp": None, "name": "handoff_team",
            "value": "emergency-duty-team"} in events


async def test_out_of_hours_casework_says_the_team_is_closed() -> None:
    from datetime import datetime, timezone

    from bot.actions.handoff import ActionExplainHandoff

    sunday = datetime(2026, 11, 29, 12, 0, tzinfo=timezone.utc)
    action = ActionExplainHandoff(directory=load_directory(CONTENT), clock=lambda: sunday)
    dispatcher = CollectingDispatcher()
    await action.run(dispatcher, _tracker({"safety_category": "casework"}), {})
    text = (await rendered(dispatcher.messages))[0]
    assert "closed at the moment" in text and "Emergency Duty Team on 01632 960999" in text


# --- the message-taking form takes what people actually type (issue 8) ---

def _form_tracker(slots: dict[str, Any], text: str, intent: str = "inform") -> Tracker:
    return Tracker(
        sender_id="s-2", slots=slots,
        latest_message={"text": text, "intent": {"name": intent},
                        "metadata": {"channel": "web", "audience": "resident"}},
        events=[], paused=False, followup_action=None,
        active_loop={"name": "handoff_form"}, latest_action_name="handoff_form",
    )


def _validate(slot: str, text: str, slots: dict[str, Any] | None = None,
              intent: str = "inform") -> tuple[dict[str, Any], list[str]]:
    from bot.actions.handoff import ValidateHandoffForm

    dispatcher = CollectingDispatcher()
    form = ValidateHandoffForm()
    result = getattr(form, f"validate_{slot}")(text, dispatcher,
                                               _form_tracker(slots or {}, text, intent), {})
    return result, [str(m.get("response")) for m in dispatcher.messages]


def test_yes_is_not_a_message() -> None:
    result, said = _validate("handoff_message", "yes")
    assert result == {"handoff_message": None}
    assert said == ["utter_handoff_message_needed"]


def test_skipping_the_message_keeps_what_the_caller_already_said() -> None:
    result, _ = _validate("handoff_message", "skip",
                          {"handoff_disclosure": "the baby next door cries all night alone"})
    assert result == {"handoff_message": "the baby next door cries all night alone"}


def test_a_phone_number_given_as_the_method_fills_both_slots() -> None:
    result, said = _validate("contact_method", "ring me on 07700 900123")
    assert result == {"contact_method": "phone", "contact_details": "07700 900123"}
    assert said == []


def test_an_email_given_as_the_method_fills_both_slots() -> None:
    result, _ = _validate("contact_method", "jo.bloggs@example.org")
    assert result == {"contact_method": "email", "contact_details": "jo.bloggs@example.org"}


def test_contact_details_are_validated_with_a_clear_re_ask() -> None:
    result, said = _validate("contact_details", "12345", {"contact_method": "phone"})
    assert result == {"contact_details": None}
    assert said == ["utter_contact_details_invalid"]
    ok, _ = _validate("contact_details", "+44 7700 900123", {"contact_method": "phone"})
    assert ok == {"contact_details": "+44 7700 900123", "contact_method": "phone"}


def test_an_unclear_consent_is_asked_again() -> None:
    result, said = _validate("consent_to_share", "hmm maybe")
    assert result == {"consent_to_share": None} and said == ["utter_consent_unclear"]
    assert _validate("consent_to_share", "skip")[0] == {"consent_to_share": "declined"}
    assert _validate("consent_to_share", "no")[0] == {"consent_to_share": "no"}


async def test_nothing_is_filed_without_a_message_or_a_consent_answer() -> None:
    # probe: a handoff was filed at once with an empty message and consent "declined"
    service = _RecordingService()
    for slots in ({**SLOTS, "handoff_message": None, "handoff_disclosure": None},
                  {**SLOTS, "handoff_message": "he hits her", "consent_to_share": None}):
        dispatcher = CollectingDispatcher()
        action = ActionSubmitHandoff(service=service, directory=load_directory(CONTENT))
        await action.run(dispatcher, _tracker(slots), {})
        assert dispatcher.messages[0]["response"] == "utter_handoff_not_filed"
    assert service.calls == []


async def test_an_unknown_category_goes_to_the_fallback_team() -> None:
    # probe: an injected category picked the team and reached the officer's e-mail
    service = _RecordingService()
    slots = {**SLOTS, "handoff_category": "any text", "handoff_message": "please call me"}
    await ActionSubmitHandoff(service=service, directory=load_directory(CONTENT)).run(
        CollectingDispatcher(), _tracker(slots), {})
    assert service.calls[0][0][0] == "unclassified"


async def test_a_rate_limited_sender_is_told_who_to_call() -> None:
    from firstpoint.records.handoffs import HandoffRateLimited

    class _Limited:
        def create(self, *args: Any, **kwargs: Any) -> Any:
            raise HandoffRateLimited("too many")

    dispatcher = CollectingDispatcher()
    slots = {**SLOTS, "handoff_message": "please call me"}
    await ActionSubmitHandoff(service=_Limited(), directory=load_directory(CONTENT)).run(
        dispatcher, _tracker(slots), {})
    assert dispatcher.messages[0]["response"] == "utter_handoff_rate_limited"
    assert dispatcher.messages[0]["handoff_team_phone"]


# --- bugs found on the way (issue 10) ---

def test_welsh_is_not_detected_in_english_words() -> None:
    from bot.actions.common import detect_language

    for english in ("My OS crashed", "what a bore", "hello", "os in the title"):
        assert detect_language(english) == "en", english
    for welsh in ("diolch", "bore da", "shwmae", "os gwelwch yn dda"):
        assert detect_language(welsh) == "cy", welsh


def test_casework_words_are_compared_as_lemmas() -> None:
    from bot.actions.parsing import refine_category

    assert refine_category("casework", "she is looked after by the council") == (
        "casework_children")
    assert refine_category("casework", "the older gentleman's care review") == (
        "casework_adults")

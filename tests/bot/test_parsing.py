"""How the forms read what callers type, and what the handoff actions say (from domain.yml)."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from bot.actions.handoff import ActionEmergencyAdvice, ActionExplainHandoff
from bot.actions.parsing import (
    UNCLASSIFIED,
    is_declined,
    is_substantive_message,
    parse_consent,
    parse_contact,
    parse_contact_method,
    parse_uk_phone,
    refine_category,
)
from knowledge.directory import load_directory
from knowledge.loader import load_council_settings
from tests.bot.rendering import rendered

CONTENT = Path(__file__).resolve().parents[2] / "knowledge" / "content"


@pytest.mark.parametrize("text", ["skip", "I'd rather not say", "prefer not to say", "n/a",
                                  "Anonymous", "no thanks"])
def test_declining_is_recognised(text: str) -> None:
    assert is_declined(text)


@pytest.mark.parametrize("text", ["Priya", "07700 900123", "after 3pm", "no contact please"])
def test_ordinary_answers_are_not_declines(text: str) -> None:
    assert not is_declined(text)


def test_intent_decline_counts_whatever_the_words() -> None:
    assert is_declined("carry on without that", "decline_to_answer")


@pytest.mark.parametrize(
    ("text", "method"),
    [("phone", "phone"), ("ring me", "phone"), ("email please", "email"),
     ("jo@example.org", "email"), ("don't contact me", "none"), ("no contact", "none"),
     ("carrier pigeon", None)],
)
def test_contact_method(text: str, method: str | None) -> None:
    assert parse_contact_method(text) == method


@pytest.mark.parametrize(("text", "value"), [("yes", "yes"), ("Yeah fine", "yes"),
                                             ("no", "no"), ("I don't", "no"), ("maybe", None)])
def test_consent(text: str, value: str | None) -> None:
    assert parse_consent(text) == value


def test_casework_is_split_by_who_it_is_about() -> None:
    assert refine_category("casework", "my son's social worker") == "casework_children"
    assert refine_category("casework", "my mum's care package review") == "casework_adults"
    assert refine_category("casework", "my case") == "casework"
    assert refine_category(None, "anything") == UNCLASSIFIED
    assert refine_category("domestic_abuse", "my son") == "domestic_abuse"


def _tracker(slots: dict[str, Any], text: str = "help") -> Tracker:
    return Tracker(sender_id="s", slots=slots, latest_message={"text": text, "intent": {}},
                   events=[{"event": "user", "text": text}], paused=False,
                   followup_action=None, active_loop={}, latest_action_name=None)


async def _emergency(category: str) -> str:
    dispatcher = CollectingDispatcher()
    council = load_council_settings(CONTENT)
    await ActionEmergencyAdvice(council).run(
        dispatcher, _tracker({"safety_category": category}), {})
    (text,) = await rendered(dispatcher.messages)
    return text


async def test_emergency_text_puts_999_first_and_adds_specialist_lines() -> None:
    text = await _emergency("self_harm")
    assert text.startswith("If you or anyone else is in immediate danger, call 999")
    assert "116 123" in text
    assert "0808 2000 247" in await _emergency("domestic_abuse")
    danger = await _emergency("danger")
    assert danger == (
        "If you or anyone else is in immediate danger, call 999 now. Outside office hours, "
        "the Emergency Duty Team is on 01632 960999."
    )


async def _explain(category: str, when: datetime) -> tuple[str, dict[str, Any]]:
    dispatcher = CollectingDispatcher()
    action = ActionExplainHandoff(directory=load_directory(CONTENT), clock=lambda: when)
    events = await action.run(dispatcher, _tracker({"safety_category": category}), {})
    (text,) = await rendered(dispatcher.messages)
    return text, {e["name"]: e["value"] for e in events if e.get("event") == "slot"}


async def test_out_of_hours_safeguarding_goes_to_the_duty_team() -> None:
    saturday_night = datetime(2026, 11, 28, 22, 0, tzinfo=timezone.utc)
    text, slots = await _explain("child_safeguarding", saturday_night)
    assert slots["handoff_team"] == "emergency-duty-team"
    assert "Emergency Duty Team" in text and "open now" in text
    assert text.startswith("If anyone is in immediate danger, call 999")


async def test_out_of_hours_casework_says_when_the_team_reopens() -> None:
    saturday_night = datetime(2026, 11, 28, 22, 0, tzinfo=timezone.utc)
    text, slots = await _explain("casework", saturday_night)
    assert slots["handoff_team"] == "general-enquiries"
    assert "closed at the moment" in text
    assert "Monday 30 November 2026" in text


async def test_open_hours_explanation_gives_the_promise_word_for_word() -> None:
    tuesday_morning = datetime(2026, 11, 24, 10, 0, tzinfo=timezone.utc)
    text, _ = await _explain("child_safeguarding", tuesday_morning)
    # casework too: a message can be casework and danger at once
    assert text.startswith("If anyone is in immediate danger, call 999 now. I can't advise on "
                           "this myself, but I can pass your message to the Children's Services "
                           "Front Door (MASH), who are the right people to deal with it. ")
    assert text.endswith(" They are open now and aim to respond by 14:00 on Tuesday 24 November "
                         "2026. You can also call them on 01632 960100.")


@pytest.mark.parametrize(
    ("text", "phone"),
    [("07700 900123", "07700 900123"), ("+44 7700 900123", "+44 7700 900123"),
     ("(01632) 960 001", "(01632) 960 001"), ("call 01632960001 after 5", "01632960001"),
     ("0044 1632 960001", "0044 1632 960001"), ("12345", None), ("0800 123", None),
     ("+1 212 555 0100", None), ("007700900123", None),
     # phonenumbers (issue 10): the international form with (0), and numbers that
     # cannot exist, which the digit-count regex accepted
     ("+44 (0)20 7946 0958", "+44 (0)20 7946 0958"), ("+44 (0) 7700 900123",
                                                       "+44 (0) 7700 900123"),
     ("01234 56789", None), ("01111 111111", None), ("0999 999 9999", None),
     ("my number is 0207 946 0958 thanks", "0207 946 0958")],
)
def test_uk_phone_numbers(text: str, phone: str | None) -> None:
    assert parse_uk_phone(text) == phone


def test_contact_answers_carry_the_method_and_the_details() -> None:
    assert parse_contact("jo@example.org").method == "email"
    assert parse_contact("text me 07700900123").details == "07700900123"
    assert parse_contact("phone").details is None and parse_contact("phone").method == "phone"


@pytest.mark.parametrize("text", ["yes", "OK", "yes please", "hi", "?", "/affirm", "", "help"])
def test_these_are_not_messages(text: str) -> None:
    assert not is_substantive_message(text)


@pytest.mark.parametrize("text", ["he hit her again", "please call me back about Sam"])
def test_these_are_messages(text: str) -> None:
    assert is_substantive_message(text)

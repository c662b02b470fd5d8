"""Handoff wording and parsing (no Rasa)."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest

from firstpoint.dialogue.handoff import (
    UNCLASSIFIED,
    emergency_text,
    explain_routing,
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


def test_emergency_text_puts_999_first_and_adds_specialist_lines() -> None:
    council = load_council_settings(CONTENT)
    text = emergency_text(council, "self_harm")
    assert text.startswith("If you or anyone else is in immediate danger, call 999")
    assert "116 123" in text
    assert "0808 2000 247" in emergency_text(council, "domestic_abuse")


def test_out_of_hours_safeguarding_goes_to_the_duty_team() -> None:
    directory = load_directory(CONTENT)
    saturday_night = datetime(2026, 11, 28, 22, 0, tzinfo=timezone.utc)
    routing = explain_routing(directory, "child_safeguarding", saturday_night)
    assert routing.team.id == "emergency-duty-team"
    assert "Emergency Duty Team" in routing.explanation and "open now" in routing.explanation
    assert routing.explanation.startswith("If anyone is in immediate danger, call 999")


def test_out_of_hours_casework_says_when_the_team_reopens() -> None:
    directory = load_directory(CONTENT)
    saturday_night = datetime(2026, 11, 28, 22, 0, tzinfo=timezone.utc)
    routing = explain_routing(directory, "casework_children", saturday_night)
    assert routing.team.id == "childrens-social-work"
    assert "closed at the moment" in routing.explanation
    assert "Monday 30 November 2026" in routing.explanation
    assert "Emergency Duty Team" in routing.explanation


def test_open_hours_explanation_gives_the_promise() -> None:
    directory = load_directory(CONTENT)
    tuesday_morning = datetime(2026, 11, 24, 10, 0, tzinfo=timezone.utc)
    routing = explain_routing(directory, "casework_children", tuesday_morning)
    assert "open now" in routing.explanation
    # casework too: a message can be casework and danger at once
    assert routing.explanation.startswith("If anyone is in immediate danger, call 999")


@pytest.mark.parametrize(
    ("text", "phone"),
    [("07700 900123", "07700 900123"), ("+44 7700 900123", "+44 7700 900123"),
     ("(01632) 960 001", "(01632) 960 001"), ("call 01632960001 after 5", "01632960001"),
     ("0044 1632 960001", "0044 1632 960001"), ("12345", None), ("0800 123", None),
     ("+1 212 555 0100", None), ("007700900123", None)],
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

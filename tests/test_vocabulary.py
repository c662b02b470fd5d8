"""The shared vocabulary (knowledge/vocabulary.py) against the real domain.yml and its users.

The contact log and the reports read slot, action and intent names by string:
renaming ``kb_outcome`` in domain.yml without renaming it in the vocabulary must
fail here, not silently empty a report.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from rasa.shared.core.domain import Domain
from rasa.shared.core.slots import CategoricalSlot

from knowledge import vocabulary as v

ROOT = Path(__file__).resolve().parents[1]
DOMAIN_FILE = ROOT / "domain.yml"


@pytest.fixture(scope="module")
def domain() -> Domain:
    return Domain.load(str(DOMAIN_FILE))


def _categorical_values(domain: Domain, name: str) -> tuple[str, ...]:
    slot = next(s for s in domain.slots if s.name == name)
    assert isinstance(slot, CategoricalSlot), f"{name} is no longer categorical"
    return tuple(value for value in slot.values if value != "__other__")


def test_slot_names_the_contact_log_reads_are_domain_slots(domain: Domain) -> None:
    slots = {s.name for s in domain.slots}
    names = [value for key, value in vars(v).items() if key.startswith("SLOT_")]
    assert len(names) >= 9
    for name in names:
        assert name in slots, f"vocabulary slot {name!r} is not a slot in domain.yml"


def test_categorical_slot_values_match_the_vocabulary(domain: Domain) -> None:
    assert _categorical_values(domain, v.SLOT_KB_OUTCOME) == v.KB_OUTCOMES
    assert _categorical_values(domain, v.SLOT_SAFETY_CATEGORY) == v.SAFETY_CATEGORIES
    assert _categorical_values(domain, v.SLOT_FEEDBACK_RATING) == v.FEEDBACK_RATINGS


def test_recorded_action_form_and_intent_names_are_in_the_domain(domain: Domain) -> None:
    assert v.ACTION_EMERGENCY in domain.user_actions
    assert v.ACTION_NOT_UNDERSTOOD in domain.user_actions
    assert {v.ACTION_ANSWER_SERVICE, v.ACTION_CONTACT_COUNCIL} <= set(domain.user_actions)
    assert v.ACTION_LISTEN in domain.action_names_or_texts
    assert v.FORM_HANDOFF in domain.form_names
    assert v.INTENT_NLU_FALLBACK in domain.intents


def test_the_contact_log_records_exactly_vocabulary_names(domain: Domain) -> None:
    """firstpoint.events.facts decides what is recorded; every name it uses is in the domain."""
    from firstpoint.events import facts

    slots = {s.name for s in domain.slots}
    assert set(facts.RECORDED_SLOTS) <= slots
    assert facts.SESSION_METADATA_SLOT == v.SLOT_SESSION_METADATA
    assert set(facts.RECORDED_ACTIONS) == {
        v.ACTION_EMERGENCY, v.ACTION_NOT_UNDERSTOOD, v.FORM_HANDOFF
    }
    assert set(facts.RECORDED_ACTIONS) <= set(domain.user_actions) | set(domain.form_names)
    assert set(facts.AUDIENCES) == set(v.VIEWER_AUDIENCES)
    assert set(facts.LANGUAGES) == set(v.LANGUAGES)
    assert facts.INPUT_CHANNELS == v.INPUT_CHANNELS


def test_vocabulary_values_are_what_each_part_accepts() -> None:
    from bot.actions import common
    from connectors import rest
    from knowledge import directory, safety, schema

    assert safety.CATEGORIES == v.SAFETY_CATEGORIES
    assert set(directory.CATEGORIES) >= set(v.SAFETY_CATEGORIES)
    assert schema.AUDIENCES == v.CONTENT_AUDIENCES
    assert tuple(common.AUDIENCES) == v.VIEWER_AUDIENCES
    assert tuple(rest.AUDIENCES) == v.VIEWER_AUDIENCES
    assert v.DEFAULT_AUDIENCE == v.RESIDENT
    assert v.HOURS_RANGE_RE.match("08:30-17:00")
    assert not v.HOURS_RANGE_RE.match("8.30-17:00")
    assert v.CHANNEL_RE.match("web") and not v.CHANNEL_RE.match("Web Chat")


#: Literal definitions of the shared words that must not come back outside the vocabulary.
_COPIES = {
    "audiences": re.compile(
        r"""=\s*(frozenset\(\{|\()\s*["'](resident|staff)["'],\s*["'](staff|resident)["']"""
    ),
    "weekdays": re.compile(r"""["']monday["'],\s*["']tuesday["']"""),
    "priorities": re.compile(r"""["']emergency["'],\s*["']urgent["'],\s*["']normal["']"""),
    "hours range": re.compile(r"""\(\\d\{2\}\):\(\\d\{2\}\)-"""),
    "channel regex": re.compile(r"""\^\[a-z\]\[a-z0-9_-\]\{0,19\}\$"""),
    "time zone": re.compile(r"""ZoneInfo\(\s*["']Europe/London["']\s*\)"""),
}
#: Modules that read these words (the reports' own weekday labels are display text).
_OWNED = (
    "knowledge/schema.py",
    "knowledge/loader.py",
    "knowledge/directory.py",
    "knowledge/safety.py",
    "knowledge/synonyms.py",
    "connectors/rest.py",
    "connectors/common.py",
    "bot/actions/common.py",
    "bot/actions/handoff.py",
    "tests/data/test_corpora.py",
    "firstpoint/events/facts.py",
    "firstpoint/records/contacts/facts.py",
    "firstpoint/records/contacts/models.py",
    "firstpoint/reports/params.py",
)


@pytest.mark.parametrize("path", _OWNED)
def test_no_copies_of_the_shared_words(path: str) -> None:
    text = (ROOT / path).read_text(encoding="utf-8")
    ast.parse(text)
    for what, pattern in _COPIES.items():
        assert not pattern.search(text), f"{path} defines its own {what}; use knowledge.vocabulary"


def test_local_time_everywhere_comes_from_council_timezone(monkeypatch: pytest.MonkeyPatch) -> None:
    """The contact log's local dates and the reports' "today" follow council.timezone."""
    import dataclasses
    from datetime import datetime, timezone

    from firstpoint.records.contacts.models import local_fields
    from firstpoint.reports.params import council_today
    from knowledge import loader

    shipped = loader.load_council_settings(ROOT / "knowledge" / "content")
    assert loader.council_zone().key == shipped.council.timezone == "Europe/London"
    moment = datetime(2026, 11, 24, 11, 30, tzinfo=timezone.utc)
    assert local_fields(moment)[2] == 11
    auckland = dataclasses.replace(
        shipped, council=dataclasses.replace(shipped.council, timezone="Pacific/Auckland")
    )
    monkeypatch.setattr(loader, "default_council_settings", lambda: auckland)
    assert local_fields(moment)[:3] == (datetime(2026, 11, 25).date(), "2026-11", 0)
    assert council_today(moment) == datetime(2026, 11, 25).date()

"""Answer design: the direct answer first, every matching exemption with its reason, More detail."""

from __future__ import annotations

import datetime
from dataclasses import replace
from pathlib import Path

import pytest

from knowledge.answers import (
    WORD_LIMITS,
    Selection,
    citation,
    detail_for,
    is_yes_no_question,
    parse_ref,
    render_does,
    render_will_not,
)
from knowledge.loader import load_council_settings, load_knowledge_base, load_wording
from knowledge.schema import (
    Area,
    CouncilSettings,
    Entry,
    KnowledgeBase,
    Provider,
    Task,
    WillNot,
    Wording,
)

CONTENT = Path(__file__).resolve().parents[2] / "knowledge" / "content"


@pytest.fixture(scope="module")
def kb() -> KnowledgeBase:
    return load_knowledge_base(CONTENT)


@pytest.fixture(scope="module")
def council() -> CouncilSettings:
    return load_council_settings(CONTENT)


@pytest.fixture(scope="module")
def wording() -> Wording:
    return load_wording(CONTENT)


@pytest.mark.parametrize(
    ("text", "polar"),
    [
        ("Can business support book my train?", True),
        ("hi, could you open the post", True),
        ("please will someone take the minutes", True),
        ("is the office open on saturday", True),
        ("who opens the post", False),
        ("what time are you open?", False),
        ("I need a purchase order", False),
        ("", False),
    ],
)
def test_yes_no_questions(text: str, polar: bool) -> None:
    assert is_yes_no_question(text) is polar


def test_a_bundle_is_shown_whole_each_part_with_its_alternative_and_reason(
    kb: KnowledgeBase, council: CouncilSettings, wording: Wording
) -> None:
    entry = kb.get("menu.property-accommodation")
    keys = next(i for i, w in enumerate(entry.will_not) if "key holder" in w.what)
    answer = render_will_not(entry, [keys], council, wording, "staff")
    assert answer.outcome == "declined"
    assert answer.text.startswith(
        "No. Business Support will not take on key holder responsibility for buildings or be "
        "subject to out-of-hours call-outs."
    )
    for item in entry.will_not:
        assert item.instead in answer.text  # both alternatives, in the direct answer
        assert f"Why: {item.why}" in answer.detail  # each with its own reason
    assert entry.principles[0] not in answer.detail
    assert answer.ref == "menu.property-accommodation#w0,w1"
    assert "reviewed" in answer.detail and "reviewed" not in answer.text


def test_does_answer_names_the_task_and_how_to_ask(
    kb: KnowledgeBase, council: CouncilSettings, wording: Wording
) -> None:
    entry = kb.get("menu.document-management")
    safe = next(i for i, t in enumerate(entry.does) if "pension books" in t.text)
    staff = render_does(entry, safe, council, wording, "staff", polar=True)
    assert staff.text == (
        "Yes. Business Support can keep service users' personal property safe, for example "
        "pension books, passports and birth certificates. Ask your local Business Support team."
    )
    resident = render_does(entry, safe, council, wording, "resident", polar=False)
    assert resident.text.startswith("The council's Business Support team can keep personal")
    assert council.council.phone in resident.text
    assert resident.words <= WORD_LIMITS["resident"]
    # The detail lists the other tasks the viewer may see, never the staff-only ones to residents.
    assert "sealing" in staff.detail.lower() and "sealing" not in resident.detail.lower()
    assert resident.ref == f"menu.document-management#d{safe}"


def test_resident_service_answers_lead_with_the_summary(
    kb: KnowledgeBase, council: CouncilSettings, wording: Wording
) -> None:
    hours = kb.get("resident.opening-hours")
    answer = render_does(hours, None, council, wording, "resident")
    assert answer.text == council.fill(hours.summary)
    assert answer.words <= 25
    assert "Please note:" in answer.detail


def _long_entry() -> Entry:
    long = "Contact the team that holds this, who will explain what happens next in detail. " * 3
    return Entry(
        id="resident.long",
        area="a",
        area_title="A",
        title="Long",
        audience="resident",
        owner="O",
        version=1,
        last_reviewed=datetime.date(2026, 12, 1),
        summary="Summary.",
        does=(Task("A task.", "resident"),),
        will_not=(
            WillNot("Do the first thing", long.strip(), why="Reason one.", audience="resident"),
            WillNot("Do the second thing", long.strip(), why="Reason two.", audience="resident"),
        ),
        caveats=(),
        principles=(),
        example_questions=("a", "b", "c"),
        keywords=(),
        source="Test",
        provider=Provider("the council", "the council"),
        task_style="statements",
    )


def test_what_does_not_fit_for_residents_moves_to_the_detail(
    council: CouncilSettings, wording: Wording
) -> None:
    entry = _long_entry()
    resident = render_will_not(entry, [0, 1], council, wording, "resident")
    assert resident.words <= WORD_LIMITS["resident"]
    assert "first thing" in resident.text and "second thing" not in resident.text
    assert "The council also will not do the second thing." in resident.detail
    assert "Why: Reason one." in resident.detail and "Why: Reason two." in resident.detail
    staff = render_will_not(entry, [0, 1], council, wording, "staff")
    assert "first thing or do the second thing" in staff.text  # staff have room for both


def test_detail_is_rebuilt_from_the_reference(
    kb: KnowledgeBase, council: CouncilSettings, wording: Wording
) -> None:
    cases = [
        render_will_not(kb.get("menu.hr-processes"), [1], council, wording, "staff"),
        render_does(kb.get("menu.finance"), 4, council, wording, "resident"),
        render_does(kb.get("menu.ict"), None, council, wording, "staff"),
        render_will_not(_long_entry(), [0, 1], council, wording, "resident"),
    ]
    kb_plus = KnowledgeBase((*kb.entries, _long_entry()), (*kb.areas, Area("a", "A")))
    for answer in cases:
        audience = "resident" if answer.ref.startswith(("resident", "menu.finance")) else "staff"
        parsed = parse_ref(kb_plus, answer.ref, audience)
        assert parsed is not None, answer.ref
        assert detail_for(*parsed, council, wording, audience) == answer.detail


@pytest.mark.parametrize(
    ("ref", "audience"),
    [
        ("menu.nope", "staff"),
        ("menu.payroll", "resident"),  # nothing for residents
        ("menu.document-management#d1", "resident"),  # a staff-only task
        ("menu.support-managers#w99", "staff"),
        ("menu.support-managers#w1,d0", "staff"),  # mixed kinds
        ("menu.support-managers#w1,w1", "staff"),
        ("menu.finance#d1,d2", "staff"),
        ("menu.finance#", "staff"),
        ("MENU.FINANCE", "staff"),
        ("menu.finance; drop table", "staff"),
        ("x" * 500, "staff"),
        (42, "staff"),
        (None, "staff"),
        (["menu.finance"], "staff"),
    ],
)
def test_references_from_payloads_are_checked(
    kb: KnowledgeBase, ref: object, audience: str
) -> None:
    assert parse_ref(kb, ref, audience) is None


def test_valid_references(kb: KnowledgeBase) -> None:
    entry, selection = parse_ref(kb, "menu.property-accommodation#w0,w1", "staff")  # type: ignore[misc]
    assert entry.id == "menu.property-accommodation"
    assert selection == Selection("will_not", (0, 1))
    assert parse_ref(kb, "menu.document-management#d4", "resident") is not None
    assert parse_ref(kb, " menu.ict ", "staff") == (kb.get("menu.ict"), Selection("does"))


def test_the_words_come_from_the_wording_file(
    kb: KnowledgeBase, council: CouncilSettings, wording: Wording
) -> None:
    lines = dict(wording.lines)
    lines["direct.no"] = "Sorry, no."
    lines["direct.will_not"] = "{provider} does not {what}."
    lines["detail.why"] = "Because: {why}"
    custom = Wording(lines)
    entry = kb.get("menu.ict")
    answer = render_will_not(entry, [0], council, custom, "staff")
    assert answer.text.startswith("Sorry, no. Business Support does not provide day-to-day IT")
    assert answer.detail.startswith("Because: ")


def test_citation_of_a_derived_entry_says_so(kb: KnowledgeBase, wording: Wording) -> None:
    derived = citation(kb.get("menu.risk-management"), wording)
    assert "derived from" in derived and "Risk management" in derived
    plain = citation(kb.get("menu.minute-taking"), wording)
    assert plain == "(Business Support Service Menu: Minute taking — reviewed 1 December 2026)"
    dated = replace(kb.get("menu.ict"), last_reviewed=datetime.date(2027, 3, 5))
    assert "reviewed 5 March 2027" in citation(dated, wording)

"""Loader and schema: the real content loads, and every validation rule names file, entry, field."""

from __future__ import annotations

import copy
import datetime
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from firstpoint.settings import PROJECT_ROOT, Settings
from knowledge import loader
from knowledge.loader import load_council_settings, load_knowledge_base
from knowledge.schema import (
    PLACEHOLDERS,
    Area,
    Caveat,
    ContentError,
    Council,
    Entry,
    KnowledgeBase,
    Task,
    WillNot,
)

CONTENT = PROJECT_ROOT / "knowledge" / "content"

AREA_IDS = {
    "reception-building-property",
    "health-safety-continuity",
    "procurement",
    "finance",
    "payroll-hr",
    "support-to-managers",
    "meetings",
    "ict",
    "committee-support",
    "information-governance",
    "performance-data",
    "information-communications",
    "document-management",
    "functional-teams",
    "public-access",
}


# --------------------------------------------------------------------------- the real content


@pytest.fixture(scope="module")
def kb() -> KnowledgeBase:
    return load_knowledge_base(CONTENT)


def test_real_content_loads_with_every_menu_area(kb: KnowledgeBase) -> None:
    ids = {a.id for a in kb.areas}
    assert ids >= AREA_IDS
    assert {"contact", "complaints", "records", "schools", "payments", "digital-inclusion"} <= ids
    for area in kb.areas:
        assert kb.in_area(area.id), f"area {area.id} has no entries"


def test_entries_carry_their_source_and_area_title(kb: KnowledgeBase) -> None:
    entry = kb.get("menu.minute-taking")
    assert entry.source == "Business Support Service Menu"
    assert entry.area == "meetings"
    assert entry.area_title == "Meetings, hearings, panels and conferencing"
    assert isinstance(entry.last_reviewed, datetime.date)
    assert all(isinstance(w, WillNot) and w.instead for w in entry.will_not)
    assert kb.get("resident.subject-access").source == "Resident services"


def test_get_unknown_entry_raises_key_error(kb: KnowledgeBase) -> None:
    with pytest.raises(KeyError):
        kb.get("menu.nope")


def test_real_council_settings(tmp_path: Path) -> None:
    settings = load_council_settings(CONTENT)
    assert settings.council.name == "Example Borough Council"
    assert settings.council.opening_hours["saturday"] is None
    assert settings.council.opening_hours["monday"] == (
        datetime.time(8, 30),
        datetime.time(17, 0),
    )
    assert settings.emergency.emergency_number == "999"
    assert settings.reporting.unit_costs_gbp["phone"] == pytest.approx(2.83)
    assert settings.retention_days == {"contacts": 730, "handoffs": 2190, "tracker": 90}


def test_default_loaders_use_settings_content_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    import firstpoint.settings as settings_module

    monkeypatch.setattr(settings_module, "get_settings", lambda: Settings(content_dir=CONTENT))
    loader.default_knowledge_base.cache_clear()
    loader.default_council_settings.cache_clear()
    try:
        assert loader.default_knowledge_base() is loader.default_knowledge_base()
        assert loader.default_knowledge_base().get("menu.ict").area == "ict"
        assert loader.default_council_settings().council.phone == "01632 960000"
    finally:
        loader.default_knowledge_base.cache_clear()
        loader.default_council_settings.cache_clear()


# --------------------------------------------------------------------------- schema behaviour


def _entry(
    entry_id: str,
    audience: str,
    does: tuple[Task, ...] | None = None,
    will_not: tuple[WillNot, ...] = (),
) -> Entry:
    return Entry(
        id=entry_id,
        area="a",
        area_title="A",
        title="T",
        audience=audience,
        owner="O",
        version=1,
        last_reviewed=datetime.date(2026, 1, 1),
        summary="S",
        does=does if does is not None else (Task("d", audience),),
        will_not=will_not,
        caveats=(),
        principles=(),
        example_questions=("q1", "q2", "q3"),
        keywords=(),
        source="src",
    )


def test_visibility_by_audience() -> None:
    staff, resident, both = _entry("s", "staff"), _entry("r", "resident"), _entry("b", "both")
    kb = KnowledgeBase(entries=(staff, resident, both), areas=(Area("a", "A"),))
    assert kb.for_audience("staff") == (staff, resident, both)
    assert kb.for_audience("resident") == (resident, both)
    assert not staff.visible_to("resident")
    with pytest.raises(ValueError):
        staff.visible_to("everyone")


def test_a_staff_entry_with_a_task_for_residents_is_visible_to_them_in_part() -> None:
    entry = _entry(
        "s",
        "staff",
        does=(Task("internal", "staff"), Task("for the public", "both", resident_text="for you")),
        will_not=(WillNot("x", "y", audience="staff"), WillNot("p", "q", audience="resident")),
    )
    assert entry.visible_to("resident") and not entry.written_for("resident")
    assert [i for i, _ in entry.tasks_for("resident")] == [1]
    assert [i for i, _ in entry.tasks_for("staff")] == [0, 1]
    assert [i for i, _ in entry.exemptions_for("resident")] == [1]
    assert entry.does[1].text_for("resident") == "for you"
    assert entry.does[1].text_for("staff") == "for the public"
    hidden = _entry("h", "staff", does=(Task("internal", "staff"),))
    assert not hidden.visible_to("resident")
    assert Caveat("c", "staff").visible_to("staff") and not Caveat("c").visible_to("resident")
    with pytest.raises(ValueError):
        entry.tasks_for("public")


def test_bundles_join_exemptions() -> None:
    entry = _entry(
        "b",
        "staff",
        will_not=(
            WillNot("keys", "k", bundle="building"),
            WillNot("travel", "t"),
            WillNot("call-outs", "c", bundle="building"),
        ),
    )
    assert entry.bundle_of(0) == (0, 2)
    assert entry.bundle_of(2) == (0, 2)
    assert entry.bundle_of(1) == (1,)


def test_knowledge_base_rejects_duplicate_ids() -> None:
    with pytest.raises(ValueError, match="duplicate"):
        KnowledgeBase(entries=(_entry("x", "staff"), _entry("x", "both")), areas=())


def _council(hours: dict[str, tuple[datetime.time, datetime.time] | None]) -> Council:
    return Council("C", "https://c", "1", "e@example.org", "A", "Europe/London", hours)


def test_opening_hours_text_groups_consecutive_days() -> None:
    settings = load_council_settings(CONTENT)
    assert (
        settings.council.opening_hours_text()
        == "Monday to Thursday 8:30am to 5pm, Friday 8:30am to 4:30pm"
    )
    t = datetime.time
    hours: dict[str, tuple[datetime.time, datetime.time] | None] = {
        "monday": (t(9), t(12)),
        "tuesday": (t(9), t(12)),
        "wednesday": None,
        "thursday": (t(9), t(12)),
        "friday": (t(10, 15), t(12, 0)),
        "saturday": (t(0), t(23, 59)),
        "sunday": None,
    }
    assert _council(hours).opening_hours_text() == (
        "Monday and Tuesday 9am to 12pm, Thursday 9am to 12pm, Friday 10:15am to 12pm, "
        "Saturday 12am to 11:59pm"
    )
    assert _council(dict.fromkeys(hours)).opening_hours_text() == "closed"


def test_fill_replaces_every_known_placeholder() -> None:
    settings = load_council_settings(CONTENT)
    text = " ".join("{" + name + "}" for name in PLACEHOLDERS)
    filled = settings.fill(text)
    assert "{" not in filled
    assert "01632 960000" in filled and "Monday to Thursday" in filled
    assert settings.fill("Call {council.phone} or {unknown.thing}") == (
        "Call 01632 960000 or {unknown.thing}"
    )


def test_content_error_message_format() -> None:
    err = ContentError(
        "knowledge/content/service_menu.yml",
        "menu.ict",
        "audience",
        "must be one of staff, resident, both",
    )
    assert str(err) == (
        "knowledge/content/service_menu.yml: entry 'menu.ict': field 'audience': "
        "must be one of staff, resident, both"
    )
    assert isinstance(err, ValueError)
    assert (err.file, err.entry, err.field) == (
        "knowledge/content/service_menu.yml",
        "menu.ict",
        "audience",
    )


def test_error_path_is_relative_inside_the_project() -> None:
    assert loader.display_path(CONTENT / "service_menu.yml") == (
        "knowledge/content/service_menu.yml"
    )


# --------------------------------------------------------------------------- validation rules


def _valid_doc() -> dict[str, Any]:
    return {
        "source": "Test menu",
        "provider": {"staff": "Business Support", "resident": "the Business Support team"},
        "task_style": "actions",
        "areas": [{"id": "meetings", "title": "Meetings"}],
        "entries": [
            {
                "id": "menu.minute-taking",
                "area": "meetings",
                "title": "Minute taking",
                "audience": "staff",
                "owner": "Business Support Service Manager",
                "version": 1,
                "last_reviewed": datetime.date(2026, 10, 1),
                "summary": "We take minutes for {council.name}.",
                "does": ["Take minutes"],
                "will_not": [
                    {
                        "what": "Minute team meetings",
                        "instead": "The chair arranges a note-taker.",
                        "keywords": ["team meeting"],
                    }
                ],
                "caveats": ["Only big meetings"],
                "principles": ["Self-sufficiency"],
                "example_questions": ["Q1?", "Q2?", "Q3?"],
                "keywords": ["minutes"],
            }
        ],
    }


def _write(directory: Path, name: str, doc: Any) -> Path:
    path = directory / name
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


def _load_one(tmp_path: Path, doc: Any) -> KnowledgeBase:
    _write(tmp_path, "menu.yml", doc)
    return load_knowledge_base(tmp_path, files=("menu.yml",))


def test_minimal_valid_file_loads(tmp_path: Path) -> None:
    kb = _load_one(tmp_path, _valid_doc())
    entry = kb.get("menu.minute-taking")
    assert entry.will_not[0].keywords == ("team meeting",)
    assert entry.last_reviewed == datetime.date(2026, 10, 1)
    assert entry.source == "Test menu"
    assert entry.provider.name_for("resident") == "the Business Support team"
    assert entry.task_style == "actions"
    # Tasks, exemptions and caveats take the entry's audience unless they say otherwise.
    assert entry.does[0] == Task("Take minutes", "staff")
    assert entry.will_not[0].audience == "staff" and entry.will_not[0].why is None
    assert entry.caveats == (Caveat("Only big meetings", "staff"),)


def test_tasks_and_exemptions_can_say_who_may_see_them(tmp_path: Path) -> None:
    doc = _valid_doc()
    raw = doc["entries"][0]
    raw["does"] = [
        "Take minutes",
        {
            "text": "Send out panel papers",
            "audience": "both",
            "keywords": ["papers"],
            "resident_text": "Send you the papers",
        },
    ]
    raw["will_not"][0].update(why="Teams manage their own meetings.", audience="both")
    raw["will_not"].append(
        {"what": "Minute one-to-ones", "instead": "Managers keep their own notes.",
         "bundle": "internal"}
    )
    raw["will_not"][0]["bundle"] = "internal"
    raw["caveats"] = [{"text": "For residents too", "audience": "both"}, "Staff only"]
    raw["resident_summary"] = "We send out panel papers."
    raw["derived_from"] = "the heading"
    entry = _load_one(tmp_path, doc).get("menu.minute-taking")
    assert entry.does[1] == Task(
        "Send out panel papers", "both", ("papers",), "Send you the papers"
    )
    assert entry.will_not[0].why == "Teams manage their own meetings."
    assert entry.will_not[0].audience == "both" and entry.will_not[1].audience == "staff"
    assert entry.bundle_of(1) == (0, 1)
    assert [c.text for c in entry.caveats_for("resident")] == ["For residents too"]
    assert entry.summary_for("resident") == "We send out panel papers."
    assert entry.summary_for("staff") == entry.summary
    assert entry.derived_from == "the heading"
    assert entry.visible_to("resident")


Mutation = Callable[[dict[str, Any]], None]


def _set(key: str, value: Any) -> Mutation:
    def mutate(entry: dict[str, Any]) -> None:
        entry[key] = value

    return mutate


def _delete(key: str) -> Mutation:
    def mutate(entry: dict[str, Any]) -> None:
        del entry[key]

    return mutate


def _no_does_or_will_not(entry: dict[str, Any]) -> None:
    entry["does"] = []
    entry["will_not"] = []


def _set_will_not(key: str, value: Any) -> Mutation:
    def mutate(entry: dict[str, Any]) -> None:
        entry["will_not"][0][key] = value

    return mutate


def _drop_instead(entry: dict[str, Any]) -> None:
    del entry["will_not"][0]["instead"]


ENTRY_RULES = [
    # (rule, mutation, field named in the error, text in the message)
    ("required field", _delete("owner"), "owner", "is required"),
    ("unknown field (typo)", _set("sumary", "x"), "sumary", "unknown field"),
    ("text type", _set("title", ["a list"]), "title", "must be text"),
    ("empty text", _set("summary", "   "), "summary", "must not be empty"),
    ("audience", _set("audience", "everyone"), "audience", "must be one of staff, resident, both"),
    ("area exists", _set("area", "nowhere"), "area", "unknown area"),
    ("ISO date", _set("last_reviewed", "2026-13-01"), "last_reviewed", "ISO date"),
    ("date not text", _set("last_reviewed", "1 October 2026"), "last_reviewed", "ISO date"),
    ("version positive", _set("version", 0), "version", "whole number"),
    ("version integer", _set("version", "1"), "version", "whole number"),
    ("version not bool", _set("version", True), "version", "whole number"),
    ("does or will_not", _no_does_or_will_not, "does", "at least one"),
    ("instead required", _drop_instead, "will_not[0].instead", "is required"),
    (
        "instead not empty",
        _set_will_not("instead", " "),
        "will_not[0].instead",
        "must not be empty",
    ),
    ("will_not unknown field", _set_will_not("insted", "x"), "will_not[0].insted", "unknown field"),
    ("will_not item shape", _set("will_not", ["just text"]), "will_not[0]", "must be a mapping"),
    ("will_not list", _set("will_not", "text"), "will_not", "must be a list"),
    ("example questions", _set("example_questions", ["a", "b"]), "example_questions", "at least 3"),
    ("list type", _set("keywords", "minutes"), "keywords", "must be a list"),
    ("list items text", _set("caveats", [42]), "caveats[0]", "must be text"),
    ("placeholder", _set("summary", "Fax {council.fax}"), "summary", "unknown placeholder"),
    (
        "placeholder in instead",
        _set_will_not("instead", "Call {council.phones}"),
        "will_not[0].instead",
        "unknown placeholder",
    ),
    ("unbalanced braces", _set("does", ["Call {council.phone"]), "does[0]", "unbalanced"),
    ("id format", _set("id", "Menu Minute Taking"), "id", "not a valid id"),
    (
        "task audience",
        _set("does", [{"text": "Take minutes", "audience": "public"}]),
        "does[0].audience",
        "must be one of staff, resident, both",
    ),
    ("task needs text", _set("does", [{"audience": "both"}]), "does[0].text", "is required"),
    (
        "task unknown field",
        _set("does", [{"text": "x", "audiance": "both"}]),
        "does[0].audiance",
        "unknown field",
    ),
    (
        "resident wording on a staff task",
        _set("does", [{"text": "x", "resident_text": "y"}]),
        "does[0].resident_text",
        "residents cannot see this task",
    ),
    (
        "exemption audience",
        _set_will_not("audience", "everyone"),
        "will_not[0].audience",
        "must be one of",
    ),
    ("exemption why is text", _set_will_not("why", ["a"]), "will_not[0].why", "must be text"),
    (
        "bundle of one",
        _set_will_not("bundle", "alone"),
        "will_not[0].bundle",
        "only this exemption",
    ),
    (
        "caveat audience",
        _set("caveats", [{"text": "x", "audience": "all"}]),
        "caveats[0].audience",
        "must be one of",
    ),
    (
        "resident summary needed",
        _set("does", [{"text": "Send papers", "audience": "both"}]),
        "resident_summary",
        "is required",
    ),
    ("derived_from text", _set("derived_from", 3), "derived_from", "must be text"),
]


@pytest.mark.parametrize(
    ("mutation", "field", "message"),
    [rule[1:] for rule in ENTRY_RULES],
    ids=[rule[0] for rule in ENTRY_RULES],
)
def test_entry_rule_names_file_entry_and_field(
    tmp_path: Path, mutation: Mutation, field: str, message: str
) -> None:
    doc = _valid_doc()
    mutation(doc["entries"][0])
    with pytest.raises(ContentError) as info:
        _load_one(tmp_path, doc)
    text = str(info.value)
    assert "menu.yml" in text
    entry_label = doc["entries"][0]["id"]
    assert f"entry '{entry_label}'" in text
    assert f"field '{field}'" in text
    assert message in text
    assert info.value.field == field


def test_entry_without_id_is_named_by_position(tmp_path: Path) -> None:
    doc = _valid_doc()
    del doc["entries"][0]["id"]
    with pytest.raises(ContentError, match=r"menu\.yml: entry 'entries\[0\]': field 'id'"):
        _load_one(tmp_path, doc)


def test_unquoted_number_in_yaml_is_caught(tmp_path: Path) -> None:
    # "1:1" and 121 are numbers to YAML; unquoted they would silently become 61 and 121.
    path = _write(tmp_path, "menu.yml", _valid_doc())
    path.write_text(
        path.read_text().replace("- team meeting", "- 1:1"),
        encoding="utf-8",
    )
    with pytest.raises(ContentError) as info:
        load_knowledge_base(tmp_path, files=("menu.yml",))
    assert "entry 'menu.minute-taking'" in str(info.value)
    assert "field 'will_not[0].keywords[0]'" in str(info.value)


def test_duplicate_id_in_one_file(tmp_path: Path) -> None:
    doc = _valid_doc()
    doc["entries"].append(copy.deepcopy(doc["entries"][0]))
    with pytest.raises(ContentError, match=r"menu\.yml: entry 'menu.minute-taking': field 'id'"):
        _load_one(tmp_path, doc)


def test_duplicate_id_across_files_names_the_second_file(tmp_path: Path) -> None:
    _write(tmp_path, "one.yml", _valid_doc())
    second = _valid_doc()
    second["areas"][0]["id"] = "other"
    second["entries"][0]["area"] = "other"
    _write(tmp_path, "two.yml", second)
    with pytest.raises(ContentError) as info:
        load_knowledge_base(tmp_path, files=("one.yml", "two.yml"))
    text = str(info.value)
    assert "two.yml: entry 'menu.minute-taking': field 'id'" in text
    assert "already in" in text and "one.yml" in text


def test_duplicate_area_across_files(tmp_path: Path) -> None:
    _write(tmp_path, "one.yml", _valid_doc())
    second = _valid_doc()
    second["entries"][0]["id"] = "menu.other"
    _write(tmp_path, "two.yml", second)
    with pytest.raises(ContentError, match=r"two\.yml: area 'meetings': field 'id'"):
        load_knowledge_base(tmp_path, files=("one.yml", "two.yml"))


@pytest.mark.parametrize(
    ("mutation", "field"),
    [
        (lambda d: d.pop("source"), "source"),
        (lambda d: d.update(extra=1), "extra"),
        (lambda d: d.update(entries=[]), "entries"),
        (lambda d: d.update(areas="meetings"), "areas"),
        (lambda d: d.pop("provider"), "provider"),
        (lambda d: d["provider"].pop("resident"), "provider.resident"),
        (lambda d: d.update(task_style="prose"), "task_style"),
    ],
    ids=[
        "missing source",
        "unknown top-level key",
        "no entries",
        "areas not a list",
        "missing provider",
        "provider for residents",
        "task style",
    ],
)
def test_file_level_rules(tmp_path: Path, mutation: Callable[[dict], Any], field: str) -> None:
    doc = _valid_doc()
    mutation(doc)
    with pytest.raises(ContentError) as info:
        _load_one(tmp_path, doc)
    assert str(info.value).startswith(str(tmp_path / "menu.yml"))
    assert f"field '{field}'" in str(info.value)


def test_area_rules(tmp_path: Path) -> None:
    doc = _valid_doc()
    doc["areas"][0]["titel"] = "typo"
    with pytest.raises(ContentError, match=r"area 'meetings': field 'titel': unknown field"):
        _load_one(tmp_path, doc)


def test_yaml_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "menu.yml"
    path.write_text("source: x\nareas:\n  - id: a\n   title: bad indent\n", encoding="utf-8")
    with pytest.raises(ContentError) as info:
        load_knowledge_base(tmp_path, files=("menu.yml",))
    assert str(info.value).startswith(f"{path}: line 4: YAML syntax error")
    assert info.value.line == 4


def test_duplicate_yaml_key_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "menu.yml"
    path.write_text("source: x\nsource: y\nareas: []\nentries: []\n", encoding="utf-8")
    with pytest.raises(ContentError, match=r"line 2: YAML syntax error.*duplicate key 'source'"):
        load_knowledge_base(tmp_path, files=("menu.yml",))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ContentError, match=r"menu\.yml: file not found"):
        load_knowledge_base(tmp_path, files=("menu.yml",))


def test_yaml_is_loaded_safely(tmp_path: Path) -> None:
    path = tmp_path / "menu.yml"
    path.write_text("source: !!python/object/apply:os.system ['true']\n", encoding="utf-8")
    with pytest.raises(ContentError, match="YAML syntax error"):
        load_knowledge_base(tmp_path, files=("menu.yml",))


# --------------------------------------------------------------------------- council.yml rules


def _council_doc() -> dict[str, Any]:
    doc = yaml.safe_load((CONTENT / "council.yml").read_text(encoding="utf-8"))
    assert isinstance(doc, dict)
    return doc


COUNCIL_RULES: list[tuple[str, Callable[[dict[str, Any]], Any], str, str]] = [
    (
        "hours format",
        lambda d: d["council"]["opening_hours"].update(monday="8:30-17:00"),
        "council.opening_hours.monday",
        "HH:MM-HH:MM",
    ),
    (
        "hours order",
        lambda d: d["council"]["opening_hours"].update(friday="17:00-08:30"),
        "council.opening_hours.friday",
        "closes before it opens",
    ),
    (
        "hours valid time",
        lambda d: d["council"]["opening_hours"].update(friday="08:30-25:00"),
        "council.opening_hours.friday",
        "not a valid time",
    ),
    (
        "every day",
        lambda d: d["council"]["opening_hours"].pop("sunday"),
        "council.opening_hours.sunday",
        "is required",
    ),
    (
        "day typo",
        lambda d: d["council"]["opening_hours"].update(wednsday="closed"),
        "council.opening_hours.wednsday",
        "unknown field",
    ),
    ("unknown section", lambda d: d.update(councill={}), "councill", "unknown field"),
    ("missing field", lambda d: d["council"].pop("phone"), "council.phone", "is required"),
    ("phone is text", lambda d: d["council"].update(phone=1632960000), "council.phone", "text"),
    ("email", lambda d: d["council"].update(email="contact"), "council.email", "e-mail"),
    ("website", lambda d: d["council"].update(website="example.org"), "council.website", "https"),
    (
        "timezone",
        lambda d: d["council"].update(timezone="Europe/Londn"),
        "council.timezone",
        "unknown time zone",
    ),
    (
        "emergency field",
        lambda d: d["emergency"].pop("samaritans"),
        "emergency.samaritans",
        "is required",
    ),
    (
        "cost non-negative",
        lambda d: d["reporting"]["unit_costs_gbp"].update(phone=-1),
        "reporting.unit_costs_gbp.phone",
        "0 or more",
    ),
    (
        "cost is a number",
        lambda d: d["reporting"]["unit_costs_gbp"].update(phone="2.83"),
        "reporting.unit_costs_gbp.phone",
        "must be a number",
    ),
    (
        "share within 0..1",
        lambda d: d["reporting"]["avoided_channel_share"].update(phone=1.5),
        "reporting.avoided_channel_share.phone",
        "between 0 and 1",
    ),
    (
        "shares add up",
        lambda d: d["reporting"]["avoided_channel_share"].update(phone=0.95),
        "reporting.avoided_channel_share",
        "add up to 1 or less",
    ),
    (
        "share class has a cost",
        lambda d: d["reporting"]["avoided_channel_share"].update(letter=0.1),
        "reporting.avoided_channel_share.letter",
        "no cost",
    ),
    (
        "channel class has a cost",
        lambda d: d["reporting"]["channel_cost_class"].update(web="webchat"),
        "reporting.channel_cost_class.web",
        "no cost",
    ),
    (
        "retention positive",
        lambda d: d["retention_days"].update(contacts=0),
        "retention_days.contacts",
        "whole number",
    ),
    (
        "retention known keys",
        lambda d: d["retention_days"].update(contcts=30),
        "retention_days.contcts",
        "unknown field",
    ),
]


@pytest.mark.parametrize(
    ("mutation", "field", "message"),
    [rule[1:] for rule in COUNCIL_RULES],
    ids=[rule[0] for rule in COUNCIL_RULES],
)
def test_council_rule_names_file_and_field(
    tmp_path: Path, mutation: Callable[[dict[str, Any]], Any], field: str, message: str
) -> None:
    doc = _council_doc()
    mutation(doc)
    _write(tmp_path, "council.yml", doc)
    with pytest.raises(ContentError) as info:
        load_council_settings(tmp_path)
    text = str(info.value)
    assert text.startswith(str(tmp_path / "council.yml") + ": ")
    assert f"field '{field}'" in text
    assert message in text


def test_council_copy_loads_unchanged(tmp_path: Path) -> None:
    _write(tmp_path, "council.yml", _council_doc())
    assert load_council_settings(tmp_path) == load_council_settings(CONTENT)


# --------------------------------------------------------------------------- wording.yml rules


def _wording_doc() -> dict[str, Any]:
    doc = yaml.safe_load((CONTENT / "wording.yml").read_text(encoding="utf-8"))
    assert isinstance(doc, dict)
    return doc


def test_real_wording_loads_and_fills_parts() -> None:
    from knowledge.schema import WORDING_LINES

    wording = loader.load_wording(CONTENT)
    assert set(wording.lines) == set(WORDING_LINES)
    assert wording.line("direct.task", provider="Business Support", task="open the post") == (
        "Business Support can open the post."
    )
    # Council placeholders are kept for CouncilSettings.fill; unknown parts fail loudly.
    assert "{council.phone}" in wording.line("direct.next_step.resident")
    with pytest.raises(ValueError, match="no part"):
        wording.line("direct.yes", provider="x")
    with pytest.raises(KeyError):
        wording.line("direct.maybe")


WORDING_RULES: list[tuple[str, Callable[[dict[str, Any]], Any], str, str]] = [
    ("missing line", lambda d: d["direct"].pop("task"), "direct.task", "is required"),
    ("unknown line", lambda d: d["direct"].update(maybe="Perhaps."), "direct.maybe", "unknown"),
    (
        "part the line may not use",
        lambda d: d["direct"].update(task="{provider} can {what}."),
        "direct.task",
        "unknown placeholder {what}",
    ),
    (
        "unknown council placeholder",
        lambda d: d["messages"].update(not_found="Call {council.fax}"),
        "messages.not_found",
        "unknown placeholder",
    ),
    ("not text", lambda d: d["buttons"].update(more_detail=3), "buttons.more_detail", "text"),
    ("empty", lambda d: d["direct"].update(no="  "), "direct.no", "must not be empty"),
    (
        "unbalanced",
        lambda d: d["detail"].update(why="Why: {why"),
        "detail.why",
        "unbalanced",
    ),
]


@pytest.mark.parametrize(
    ("mutation", "field", "message"),
    [rule[1:] for rule in WORDING_RULES],
    ids=[rule[0] for rule in WORDING_RULES],
)
def test_wording_rule_names_file_and_line(
    tmp_path: Path, mutation: Callable[[dict[str, Any]], Any], field: str, message: str
) -> None:
    doc = _wording_doc()
    mutation(doc)
    _write(tmp_path, "wording.yml", doc)
    with pytest.raises(ContentError) as info:
        loader.load_wording(tmp_path)
    text = str(info.value)
    assert text.startswith(str(tmp_path / "wording.yml") + ": ")
    assert f"field '{field}'" in text
    assert message in text

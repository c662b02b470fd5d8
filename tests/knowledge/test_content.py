"""The shipped content: complete, faithful to the Service Menu, fictional, and `kb check`."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from firstpoint.cli import main
from firstpoint.commands.kb import check_content
from firstpoint.settings import PROJECT_ROOT
from knowledge.loader import all_text, load_council_settings, load_knowledge_base
from knowledge.schema import ContentError, CouncilSettings, KnowledgeBase

CONTENT = PROJECT_ROOT / "knowledge" / "content"
MY_FILES = ("service_menu.yml", "resident_services.yml", "council.yml")

MENU_ENTRIES = {
    "menu.about": "about",
    "menu.reception": "reception-building-property",
    "menu.building-office-support": "reception-building-property",
    "menu.property-accommodation": "reception-building-property",
    "menu.health-and-safety": "health-safety-continuity",
    "menu.business-continuity": "health-safety-continuity",
    "menu.emergency-planning": "health-safety-continuity",
    "menu.risk-management": "health-safety-continuity",
    "menu.procurement": "procurement",
    "menu.finance": "finance",
    "menu.hr-processes": "payroll-hr",
    "menu.payroll": "payroll-hr",
    "menu.support-directors": "support-to-managers",
    "menu.support-managers": "support-to-managers",
    "menu.meetings": "meetings",
    "menu.minute-taking": "meetings",
    "menu.ict": "ict",
    "menu.committee-support": "committee-support",
    "menu.information-governance": "information-governance",
    "menu.performance-research-data": "performance-data",
    "menu.information-communications": "information-communications",
    "menu.document-management": "document-management",
    "menu.support-functional-teams": "functional-teams",
    "menu.access-engagement-public": "public-access",
}
RESIDENT_ENTRIES = {
    "resident.contact-us": "contact",
    "resident.opening-hours": "contact",
    "resident.complaints": "complaints",
    "resident.subject-access": "records",
    "resident.school-admissions": "schools",
    "resident.elective-home-education": "schools",
    "resident.paying-the-council": "payments",
    "resident.digital-help": "digital-inclusion",
}

# Every "will not" of the Service Menu must be its own item: entry -> words that must each
# appear in the `what` of some will_not item of that entry.
MENU_REFUSALS = {
    "menu.about": ["individual support"],
    "menu.reception": ["meeting rooms"],
    "menu.building-office-support": ["touch-down"],
    "menu.property-accommodation": ["key holder", "out-of-hours"],
    "menu.health-and-safety": ["Well Worker", "Cardinus", "risk assessments"],
    "menu.risk-management": ["accountability"],
    "menu.procurement": ["invoice"],
    "menu.finance": ["forecasting", "purchase card"],
    "menu.hr-processes": [
        "vacancy control",
        "advertisements",
        "induction",
        "supervision notes",
        "CAS",
        "training",
    ],
    "menu.payroll": [
        "structure changes",
        "new starter or leaver",
        "grade, hours or work pattern",
        "sickness absence or maternity",
        "Manager Self Service",
        "travel claims",
        "annual leave",
        "BI sickness reports",
        "late data processing",
    ],
    "menu.support-managers": [
        "e-mails",
        "diaries",
        "default messaging",
        "typing, copying and S&S notes",
        "travel",
        "visitors",
        "day-to-day IT support",
        "complaints",
        "reminding",
    ],
    "menu.meetings": ["team meetings or one-to-ones"],
    "menu.minute-taking": ["team meetings or one-to-ones"],
    "menu.access-engagement-public": ["social worker"],
}

# Real national numbers that may appear; every other UK number must be a drama number.
NATIONAL_NUMBERS = {"999", "101", "116 123", "0808 2000 247"}
UK_NUMBER = re.compile(r"(?<![\d£.])(?:\+44\s?|0)(?:\d[\s-]?){9,10}(?!\d)")
EMAIL = re.compile(r"[\w.+-]+@([\w-]+(?:\.[\w-]+)+)")


@pytest.fixture(scope="module")
def kb() -> KnowledgeBase:
    return load_knowledge_base(CONTENT)


@pytest.fixture(scope="module")
def council() -> CouncilSettings:
    return load_council_settings(CONTENT)


def test_every_named_entry_is_in_its_area(kb: KnowledgeBase) -> None:
    expected = {**MENU_ENTRIES, **RESIDENT_ENTRIES}
    assert {e.id: e.area for e in kb.entries} == expected


def test_every_area_has_an_entry(kb: KnowledgeBase) -> None:
    for area in kb.areas:
        assert kb.in_area(area.id), area.id
    assert len(kb.areas) == len(set(MENU_ENTRIES.values()) | set(RESIDENT_ENTRIES.values()))


# The seed's internal / external split: what residents (service users, the public,
# partners) may see of each Service Menu entry, as words that must appear in some
# resident-visible task of that entry ...
RESIDENT_TASKS = {
    "menu.about": ["better outcomes"],
    "menu.reception": ["switchboard", "reception area", "visitors"],
    "menu.finance": ["client accounts"],
    "menu.meetings": ["panels", "meet people", "papers"],
    "menu.information-communications": ["council website"],
    "menu.document-management": ["post", "pension books", "passports"],
    "menu.access-engagement-public": ["first point of contact", "take a message", "enquiries"],
}
# ... and internal tasks that residents must never see.
STAFF_ONLY_TASKS = {
    "menu.reception": ["meeting rooms"],
    "menu.finance": ["imprest", "budget managers", "credit notes"],
    "menu.meetings": ["distribution lists", "programme conferences"],
    "menu.information-communications": ["intranet", "contacts directory"],
    "menu.document-management": ["archive", "sealing", "filing"],
    "menu.access-engagement-public": ["colleagues inside the council"],
}


def test_audiences(kb: KnowledgeBase) -> None:
    for entry_id in RESIDENT_ENTRIES:
        assert kb.get(entry_id).audience in {"resident", "both"}, entry_id
    resident_view = {e.id for e in kb.for_audience("resident")}
    assert resident_view == set(RESIDENT_ENTRIES) | set(RESIDENT_TASKS)


@pytest.mark.parametrize(("entry_id", "words"), sorted(RESIDENT_TASKS.items()))
def test_residents_see_the_parts_that_concern_them(
    kb: KnowledgeBase, entry_id: str, words: list[str]
) -> None:
    entry = kb.get(entry_id)
    seen = " ".join(t.text_for("resident") for _, t in entry.tasks_for("resident")).lower()
    for word in words:
        assert word.lower() in seen, f"{entry_id}: residents should see a task about {word!r}"
    hidden = " ".join(t.text_for("resident") for _, t in entry.tasks_for("resident")).lower()
    for word in STAFF_ONLY_TASKS.get(entry_id, []):
        assert word.lower() not in hidden, f"{entry_id}: {word!r} is internal"
        assert any(word.lower() in t.text.lower() for _, t in entry.tasks_for("staff"))
    if not entry.written_for("resident"):
        assert entry.resident_summary, entry_id


def test_staff_only_entries_have_nothing_for_residents(kb: KnowledgeBase) -> None:
    for entry_id in set(MENU_ENTRIES) - set(RESIDENT_TASKS):
        entry = kb.get(entry_id)
        assert not entry.visible_to("resident"), entry_id
        assert not entry.tasks_for("resident") and not entry.exemptions_for("resident")


@pytest.mark.parametrize(("entry_id", "words"), sorted(MENU_REFUSALS.items()))
def test_every_menu_refusal_is_its_own_will_not(
    kb: KnowledgeBase, entry_id: str, words: list[str]
) -> None:
    entry = kb.get(entry_id)
    whats = [w.what.lower() for w in entry.will_not]
    for word in words:
        matching = [w for w in whats if word.lower() in w]
        assert len(matching) == 1, f"{entry_id}: {word!r} should be in exactly one will_not item"
    assert len(entry.will_not) >= len(words)


def test_will_not_alternatives_are_concrete(kb: KnowledgeBase) -> None:
    for entry in kb.entries:
        for item in entry.will_not:
            assert len(item.instead) >= 30, (entry.id, item.what)
            assert item.instead != item.what


def test_menu_entries_cover_every_function_bullet(kb: KnowledgeBase) -> None:
    # A sample of one distinctive phrase per menu bullet group, to catch lost content.
    phrases = {
        "menu.reception": ["switchboard", "leaflets", "site safety inductions", "projectors"],
        "menu.building-office-support": ["printer ink", "office machinery"],
        "menu.property-accommodation": ["NPC", "repairs", "inventories", "office moves", "access"],
        "menu.health-and-safety": ["first aid", "audits"],
        "menu.business-continuity": ["status of teams", "continuity plans"],
        "menu.emergency-planning": ["review", "distribute", "respond to emergencies"],
        "menu.procurement": ["source", "purchase orders", "goods receipt", "invoice", "vendor"],
        "menu.finance": [
            "transactional information",
            "sales orders",
            "journals",
            "banking",
            "imprest",
            "spot checks",
            "client accounts",
            "manual claims",
            "financial regulations",
            "authorise credit notes",
        ],
        "menu.hr-processes": ["panels", "hearings"],
        "menu.payroll": ["ess access", "timesheets", "enhancements", "travel calculations"],
        "menu.meetings": ["delegates", "distribution lists", "conferences", "diary"],
        "menu.minute-taking": ["typing them up", "monitoring", "timeframe", "framework"],
        "menu.ict": ["hardware", "phones", "inventory", "onespace"],
        "menu.information-governance": ["access to records", "quality assurance", "retention"],
        "menu.performance-research-data": [
            "management information",
            "data quality",
            "statutory returns",
            "service-related data",
            "ad hoc",
            "analyse",
        ],
        "menu.information-communications": [
            "distribution lists",
            "contacts directory",
            "wired",
            "publication",
        ],
        "menu.document-management": [
            "post",
            "wisdom",
            "bulk scans",
            "filing",
            "sealing",
            "passports",
        ],
        "menu.support-functional-teams": [
            "mail-outs",
            "processes",
            "national assistance act",
            "lone working",
        ],
        "menu.access-engagement-public": [
            "inside the council",
            "recording applications",
            "take messages",
            "complex enquiries",
        ],
    }
    for entry_id, words in phrases.items():
        does = " ".join(t.text for t in kb.get(entry_id).does).lower()
        for word in words:
            assert word.lower() in does, f"{entry_id}: does should mention {word!r}"


def test_example_questions_are_plentiful(kb: KnowledgeBase) -> None:
    for entry in kb.entries:
        assert 4 <= len(entry.example_questions) <= 8, entry.id
        assert len(set(entry.example_questions)) == len(entry.example_questions), entry.id


def test_internal_notes_are_never_exposed(kb: KnowledgeBase) -> None:
    raw = (CONTENT / "service_menu.yml").read_text(encoding="utf-8")
    assert "Wider issue" in raw  # they are kept in the file ...
    for entry in kb.entries:  # ... but never reach an answer
        assert not hasattr(entry, "notes")
        for text in all_text(entry):
            assert "wider issue" not in text.lower(), entry.id


def test_resident_entries_use_placeholders_not_literal_details(
    kb: KnowledgeBase, council: CouncilSettings
) -> None:
    literal = [
        council.council.name,
        council.council.phone,
        council.council.email,
        council.council.website.removeprefix("https://"),
        council.council.address,
        council.council.address.split(",")[0],
        council.emergency.out_of_hours_phone,
    ]
    used: set[str] = set()
    for entry_id in RESIDENT_ENTRIES:
        for text in all_text(kb.get(entry_id)):
            for value in literal:
                assert value not in text, f"{entry_id}: write a placeholder instead of {value!r}"
            used.update(re.findall(r"\{([^{}]+)\}", text))
    assert {"council.phone", "council.email", "council.website", "council.name"} <= used
    assert "council.opening_hours" in used


def test_every_text_fills_completely(kb: KnowledgeBase, council: CouncilSettings) -> None:
    for entry in kb.entries:
        for text in all_text(entry):
            filled = council.fill(text)
            assert "{" not in filled and "}" not in filled, (entry.id, text)
    contact = " ".join(council.fill(t.text) for t in kb.get("resident.contact-us").does)
    assert "01632 960000" in contact and "contact@example.org" in contact
    assert "Monday to Thursday 8:30am to 5pm" in contact


def test_national_numbers_are_real(council: CouncilSettings) -> None:
    emergency = council.emergency
    assert emergency.emergency_number == "999"
    assert emergency.police_non_emergency == "101"
    assert emergency.samaritans == "116 123"
    assert emergency.national_domestic_abuse_helpline == "0808 2000 247"


def _phone_numbers(text: str) -> list[str]:
    return [" ".join(re.sub(r"[\s-]", " ", m).split()) for m in UK_NUMBER.findall(text)]


def test_phone_number_scanner_finds_numbers() -> None:
    found = _phone_numbers("Call 01632 960000, 020 7946 0123 or +44 1632 960999; 2026-10-01")
    assert found == ["01632 960000", "020 7946 0123", "+44 1632 960999"]


@pytest.mark.parametrize("name", MY_FILES)
def test_contact_details_are_fictional(name: str) -> None:
    text = (CONTENT / name).read_text(encoding="utf-8")
    for number in _phone_numbers(text):
        if number in NATIONAL_NUMBERS:
            continue
        digits = re.sub(r"\D", "", number.replace("+44", "0"))
        assert re.fullmatch(r"01632960\d{3}", digits), f"{name}: {number} is not a drama number"
    for domain in EMAIL.findall(text):
        assert domain == "example.org", f"{name}: e-mail at {domain} is not example.org"
    for url in re.findall(r"https?://([^/\s\"']+)", text):
        assert url.endswith("example.org"), f"{name}: web address {url} is not example.org"


# --------------------------------------------------------------------------- firstpoint kb


def test_kb_check_passes_on_the_shipped_content(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["kb", "check", "--content-dir", str(CONTENT)]) == 0
    out = capsys.readouterr().out
    assert "entries: 32" in out
    assert "wording lines: " in out
    assert "OK" in out


def _copy_content(tmp_path: Path) -> Path:
    target = tmp_path / "content"
    shutil.copytree(CONTENT, target)
    return target


def test_kb_check_fails_and_names_the_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    content = _copy_content(tmp_path)
    menu = content / "service_menu.yml"
    text = menu.read_text(encoding="utf-8")
    start = text.index("  - id: menu.ict")
    broken = text[:start] + text[start:].replace("audience: staff", "audience: staf", 1)
    menu.write_text(broken, encoding="utf-8")
    assert main(["kb", "check", "--content-dir", str(content)]) == 1
    out = capsys.readouterr().out
    assert "service_menu.yml: entry 'menu.ict': field 'audience': must be one of" in out


def test_kb_check_fails_on_bad_council_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    content = _copy_content(tmp_path)
    council = content / "council.yml"
    council.write_text(
        council.read_text(encoding="utf-8").replace('"08:30-16:30"', '"8.30 till 4.30"'),
        encoding="utf-8",
    )
    assert main(["kb", "check", "--content-dir", str(content)]) == 1
    assert "field 'council.opening_hours.friday'" in capsys.readouterr().out


def test_kb_check_compiles_the_safety_patterns_and_reads_the_synonyms(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["kb", "check", "--content-dir", str(CONTENT)]) == 0
    out = capsys.readouterr().out
    assert "safety pattern categories: 6" in out
    assert re.search(r"^synonyms: \d{2,}$", out, re.MULTILINE)


def test_kb_check_fails_on_a_duplicated_safety_category_block(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A second ``child_safeguarding:`` block used to drop the first one's patterns silently."""
    content = _copy_content(tmp_path)
    patterns = content / "safety_patterns.yml"
    text = patterns.read_text(encoding="utf-8")
    patterns.write_text(
        text + "  child_safeguarding:\n    phrases:\n      - hit @child\n", encoding="utf-8"
    )
    assert main(["kb", "check", "--content-dir", str(content)]) == 1
    out = capsys.readouterr().out
    assert "safety_patterns.yml: line " in out
    assert "duplicate key 'child_safeguarding'" in out


def test_kb_check_fails_on_a_bad_safety_pattern(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    content = _copy_content(tmp_path)
    patterns = content / "safety_patterns.yml"
    text = patterns.read_text(encoding="utf-8")
    start = text.index("  domestic_abuse:\n    phrases:\n")
    cut = start + len("  domestic_abuse:\n    phrases:\n")
    patterns.write_text(text[:cut] + '      - "(hit @partner"\n' + text[cut:], encoding="utf-8")
    assert main(["kb", "check", "--content-dir", str(content)]) == 1
    out = capsys.readouterr().out
    assert (
        "safety_patterns.yml: category 'domestic_abuse': field 'phrases[0]': "
        "bad term '(hit' in '(hit @partner'" in out
    )


def test_kb_check_fails_on_duplicate_or_malformed_synonyms(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    content = _copy_content(tmp_path)
    synonyms = content / "synonyms.yml"
    original = synonyms.read_text(encoding="utf-8")
    synonyms.write_text(original + "  ticket: [fares]\n", encoding="utf-8")
    assert main(["kb", "check", "--content-dir", str(content)]) == 1
    out = capsys.readouterr().out
    assert "synonyms.yml: line " in out and "duplicate key 'ticket'" in out

    synonyms.write_text(original + "  minibus: transport\n", encoding="utf-8")
    assert main(["kb", "check", "--content-dir", str(content)]) == 1
    assert (
        "synonyms.yml: synonym 'minibus': field 'synonyms': must be a non-empty list"
        in capsys.readouterr().out
    )


def test_kb_check_uses_and_reports_the_directory_loader() -> None:
    lines: list[str] = []
    calls: list[Path] = []

    def fake_directory(path: Path) -> list[str]:
        calls.append(path)
        return ["team-a", "team-b"]

    assert check_content(CONTENT, fake_directory, out=lines.append) == 0
    assert calls == [CONTENT]
    assert "directory: 2 items" in lines

    def broken_directory(path: Path) -> None:
        raise ContentError("directory.yml", "team-a", "phone", "is required", kind="team")

    lines.clear()
    assert check_content(CONTENT, broken_directory, out=lines.append) == 1
    assert lines == ["content error: directory.yml: team 'team-a': field 'phone': is required"]

    lines.clear()
    assert check_content(CONTENT, skip_directory=True, out=lines.append) == 0
    assert any(line.startswith("directory: skipped") for line in lines)


def test_kb_list(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["kb", "list", "--content-dir", str(CONTENT), "--audience", "resident"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == len(RESIDENT_ENTRIES) + len(RESIDENT_TASKS)
    assert any(line.startswith("resident.subject-access") and "resident" in line for line in out)
    assert not any(line.startswith("menu.ict") for line in out)


# --------------------------------------------------------------------------- issue 9: fidelity


# Exemptions the seed wrote as one bullet and the content split: each group shares a bundle.
SEED_BUNDLES = {
    "menu.property-accommodation": [["key holder", "out-of-hours"]],
    "menu.hr-processes": [["vacancy control", "advertisements", "induction"], ["CAS", "training"]],
    "menu.payroll": [["travel claims", "annual leave"]],
    "menu.support-managers": [["complaints", "reminding"]],
}


def _exemption(entry_id: str, kb: KnowledgeBase, word: str) -> int:
    items = [i for i, w in enumerate(kb.get(entry_id).will_not) if word.lower() in w.what.lower()]
    assert len(items) == 1, (entry_id, word)
    return items[0]


@pytest.mark.parametrize(("entry_id", "groups"), sorted(SEED_BUNDLES.items()))
def test_bundled_seed_bullets_are_shown_together(
    kb: KnowledgeBase, entry_id: str, groups: list[list[str]]
) -> None:
    entry = kb.get(entry_id)
    for group in groups:
        indices = tuple(sorted(_exemption(entry_id, kb, word) for word in group))
        assert entry.bundle_of(indices[0]) == indices, (entry_id, group)


def test_every_exemption_has_its_own_reason(kb: KnowledgeBase) -> None:
    for entry in kb.entries:
        for item in entry.will_not:
            assert item.why and len(item.why) >= 30, (entry.id, item.what)
    # Reasons differ within an entry where the seed gives different grounds.
    managers = kb.get("menu.support-managers")
    assert len({w.why for w in managers.will_not}) >= 3
    health = kb.get("menu.health-and-safety")
    assert len({w.why for w in health.will_not}) == len(health.will_not)


def test_readings_corrected_against_the_seed(kb: KnowledgeBase) -> None:
    finance = " ".join(t.text for t in kb.get("menu.finance").does)
    assert "engaging associates" in finance
    assert "involving finance colleagues" not in finance
    delegates = [t.text for t in kb.get("menu.meetings").does if "delegates" in t.text.lower()]
    assert delegates and "meet" in delegates[0].lower() and "details" not in delegates[0].lower()
    managers = kb.get("menu.support-managers")
    diary = managers.will_not[_exemption("menu.support-managers", kb, "diaries")]
    assert "point of contact for booking" in diary.what
    assert "point of contact" not in diary.keywords
    messaging = managers.will_not[_exemption("menu.support-managers", kb, "default messaging")]
    assert "take messages" not in messaging.keywords and "messages" not in messaging.keywords
    assert not any("take messages" in q.lower() for q in managers.example_questions)
    access = kb.get("menu.access-engagement-public")
    assert any("take messages" in t.text and t.visible_to("resident") for t in access.does)
    hr = kb.get("menu.hr-processes")
    assert not any("interview" in q.lower() for q in hr.example_questions)
    recruitment = hr.will_not[_exemption("menu.hr-processes", kb, "recruitment activity")]
    assert "interview panel" in recruitment.keywords


def test_synonyms_do_not_lean_against_the_seed() -> None:
    from knowledge.search import load_synonyms

    synonyms = load_synonyms(CONTENT)
    assert "dbs" not in synonyms
    assert "panels" not in synonyms.get("interview", [])


def test_risk_management_is_marked_as_derived(kb: KnowledgeBase) -> None:
    entry = kb.get("menu.risk-management")
    assert entry.derived_from and "Risk Management" in entry.derived_from
    assert all(e.derived_from is None for e in kb.entries if e.id != "menu.risk-management")


def test_the_framing_of_the_menu_has_an_entry(kb: KnowledgeBase) -> None:
    about = kb.get("menu.about")
    text = " ".join(all_text(about)).lower()
    for words in (
        "indicative, not exhaustive",
        "its own staff",
        "budget",
        "service plans",
        "partnership",
        "self-sufficient",
        "corporate systems",
    ):
        assert words in text, words
    assert any("not exhaustive" in c.text for c in about.caveats)


def test_every_direct_answer_to_a_resident_is_at_most_60_words(
    kb: KnowledgeBase, council: CouncilSettings
) -> None:
    from knowledge.answers import WORD_LIMITS, render_does, render_will_not
    from knowledge.loader import load_wording

    assert WORD_LIMITS["resident"] == 60
    wording = load_wording(CONTENT)
    answers = []
    for entry in kb.for_audience("resident"):
        answers.append(render_does(entry, None, council, wording, "resident", polar=True))
        for i, _ in entry.tasks_for("resident"):
            answers.append(render_does(entry, i, council, wording, "resident", polar=True))
        exemptions = [i for i, _ in entry.exemptions_for("resident")]
        for i in exemptions:
            answers.append(render_will_not(entry, [i], council, wording, "resident"))
        if exemptions:
            answers.append(render_will_not(entry, exemptions, council, wording, "resident"))
    assert len(answers) > 80
    for answer in answers:
        assert answer.words <= 60, (answer.entry_id, answer.words, answer.text)
        assert "{" not in answer.text and "{" not in answer.detail

"""Schema, size and independence checks for the held-out evaluation corpora.

The corpora (tests/data/*.yml, tests/nlu/heldout.yml) are evaluation data only:
they must never be used for training. These tests keep them well-formed, large
enough to mean something, and free of duplicated sentences within and across
files, so a single sentence can never count twice in an evaluation.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pytest

from knowledge.loader import read_yaml
from knowledge.schema import ContentError
from knowledge.vocabulary import SAFETY_CATEGORIES, VIEWER_AUDIENCES

ROOT = Path(__file__).resolve().parents[2]
DISCLOSURES = ROOT / "tests" / "data" / "disclosures.yml"
ORDINARY = ROOT / "tests" / "data" / "ordinary_questions.yml"
KB_PARAPHRASES = ROOT / "tests" / "data" / "kb_paraphrases.yml"
HELDOUT = ROOT / "tests" / "nlu" / "heldout.yml"
INTENTS_DOC = ROOT / "docs" / "intents.md"

CATEGORIES = SAFETY_CATEGORIES
KINDS = ("does", "will_not", "info")
AUDIENCES = VIEWER_AUDIENCES

# Knowledge areas and the entry ids that belong to each (from the brief).
AREA_ENTRIES: dict[str, tuple[str, ...]] = {
    "reception-building-property": (
        "menu.reception",
        "menu.building-office-support",
        "menu.property-accommodation",
    ),
    "health-safety-continuity": (
        "menu.health-and-safety",
        "menu.business-continuity",
        "menu.emergency-planning",
        "menu.risk-management",
    ),
    "procurement": ("menu.procurement",),
    "finance": ("menu.finance",),
    "payroll-hr": ("menu.hr-processes", "menu.payroll"),
    "support-to-managers": ("menu.support-directors", "menu.support-managers"),
    "meetings": ("menu.meetings", "menu.minute-taking"),
    "ict": ("menu.ict",),
    "committee-support": ("menu.committee-support",),
    "information-governance": ("menu.information-governance",),
    "performance-data": ("menu.performance-research-data",),
    "information-communications": ("menu.information-communications",),
    "document-management": ("menu.document-management",),
    "functional-teams": ("menu.support-functional-teams",),
    "public-access": ("menu.access-engagement-public",),
    "contact": ("resident.contact-us", "resident.opening-hours"),
    "complaints": ("resident.complaints",),
    "records": ("resident.subject-access",),
    "schools": ("resident.school-admissions", "resident.elective-home-education"),
    "payments": ("resident.paying-the-council",),
    "digital-inclusion": ("resident.digital-help",),
}
RESIDENT_AREAS = frozenset(
    {"contact", "complaints", "records", "schools", "payments", "digital-inclusion"}
)
ENTRY_IDS = frozenset(e for entries in AREA_ENTRIES.values() for e in entries)

MIN_DISCLOSURES = 90
MIN_PER_CATEGORY = 12
MIN_ORDINARY = 80
MIN_PER_AREA = 4
MIN_FOLLOWUPS = 8
MIN_PER_INTENT = 12
MIN_ASK_SERVICE = 40
# Share of ordinary questions that must use a word a naive detector might trip on.
MIN_TRIGGER_SHARE = 0.75
TRIGGER_WORDS = re.compile(
    r"\b(child|children|childrens|kid|kids|baby|care|carer|carers|worker|workers|social|"
    r"case|protection|safe|safety|safeguarding|danger|harm|abuse|hit|hitting|knife|fire|"
    r"kill|killing|killed|killer|dying|bomb|crime)\b"
)


def normalise(text: str) -> str:
    """Lower-case ``text`` and reduce it to words, so near-identical sentences compare equal."""
    return " ".join(re.findall(r"[a-z0-9]+", text.lower()))


def load_yaml(path: Path) -> Any:
    """Parse a corpus file with the content reader (duplicate keys refused), or fail the test."""
    try:
        return read_yaml(path)
    except ContentError as exc:
        pytest.fail(f"cannot load: {exc}")


class Where:
    """One corpus entry: builds errors in the content format ``file: entry 'x': field 'y': ...``."""

    def __init__(self, source: str, entry: str | None = None) -> None:
        self.source = source
        self.entry = entry

    def error(self, field: str | None, message: str) -> str:
        return str(ContentError(self.source, self.entry, field, message))


def _entries(data: Any, key: str, source: str) -> tuple[list[Any], list[str]]:
    """Return the list under ``key`` in a corpus mapping, or an error naming the problem."""
    if not isinstance(data, Mapping) or not isinstance(data.get(key), list):
        return [], [Where(source).error(key, "the top level must be a mapping with this list")]
    return data[key], []


def _text_error(item: Any, where: Where, field: str = "text") -> str | None:
    """An error message when ``item[field]`` is not a non-empty string, else None."""
    value = item.get(field) if isinstance(item, Mapping) else None
    if not isinstance(value, str) or not value.strip():
        return where.error(field, "must be a non-empty string")
    return None


def _unexpected_keys(item: Mapping[str, Any], allowed: set[str], where: Where) -> list[str]:
    """Errors naming each key of ``item`` not in ``allowed``."""
    return [where.error(str(key), "unexpected field") for key in sorted(set(item) - allowed)]


def disclosure_errors(data: Any, source: str) -> list[str]:
    """Schema errors in a disclosures corpus (file, entry index and field in each message)."""
    items, errors = _entries(data, "disclosures", source)
    for index, item in enumerate(items):
        where = Where(source, f"disclosures[{index}]")
        if not isinstance(item, Mapping):
            errors.append(where.error(None, "must be a mapping"))
            continue
        errors.extend(_unexpected_keys(item, {"text", "category"}, where))
        if (message := _text_error(item, where)) is not None:
            errors.append(message)
        if item.get("category") not in CATEGORIES:
            errors.append(
                where.error("category", f"{item.get('category')!r} not one of {CATEGORIES}")
            )
    return errors


def ordinary_errors(data: Any, source: str) -> list[str]:
    """Schema errors in an ordinary-questions corpus."""
    items, errors = _entries(data, "ordinary", source)
    for index, item in enumerate(items):
        where = Where(source, f"ordinary[{index}]")
        if not isinstance(item, Mapping):
            errors.append(where.error(None, "must be a mapping"))
            continue
        errors.extend(_unexpected_keys(item, {"text"}, where))
        if (message := _text_error(item, where)) is not None:
            errors.append(message)
    return errors


def _expectation_errors(item: Mapping[str, Any], where: Where) -> list[str]:
    """Errors in the area / expect / kind / audience fields shared by questions and followups."""
    errors: list[str] = []
    area = item.get("area")
    if area not in AREA_ENTRIES:
        errors.append(where.error("area", f"{area!r} is not a known area"))
    expect = item.get("expect")
    if not isinstance(expect, list) or not expect:
        errors.append(where.error("expect", "must be a non-empty list of entry ids"))
        expect = []
    for entry in expect:
        if entry not in ENTRY_IDS:
            errors.append(where.error("expect", f"{entry!r} is not a known entry id"))
    if len(set(map(str, expect))) != len(expect):
        errors.append(where.error("expect", "lists an entry id twice"))
    if area in AREA_ENTRIES and expect and expect[0] not in AREA_ENTRIES[area]:
        errors.append(where.error("expect", f"best answer {expect[0]!r} is not in area {area!r}"))
    kind = item.get("kind")
    if kind not in KINDS:
        errors.append(where.error("kind", f"{kind!r} not one of {KINDS}"))
    elif area in AREA_ENTRIES and (kind == "info") != (area in RESIDENT_AREAS):
        errors.append(
            where.error("kind", f"{kind!r} does not fit area {area!r} (info is for residents)")
        )
    audience = item.get("audience")
    if audience not in AUDIENCES:
        errors.append(where.error("audience", f"{audience!r} not one of {AUDIENCES}"))
    return errors


def kb_errors(data: Any, source: str) -> list[str]:
    """Schema errors in a knowledge-base paraphrase corpus (questions and followups)."""
    questions, errors = _entries(data, "questions", source)
    followups, more = _entries(data, "followups", source)
    errors.extend(more)
    question_keys = {"text", "area", "expect", "kind", "audience"}
    for index, item in enumerate(questions):
        where = Where(source, f"questions[{index}]")
        if not isinstance(item, Mapping):
            errors.append(where.error(None, "must be a mapping"))
            continue
        errors.extend(_unexpected_keys(item, question_keys, where))
        if (message := _text_error(item, where)) is not None:
            errors.append(message)
        errors.extend(_expectation_errors(item, where))
    followup_keys = {"first", "then", "area", "expect", "kind", "audience"}
    for index, item in enumerate(followups):
        where = Where(source, f"followups[{index}]")
        if not isinstance(item, Mapping):
            errors.append(where.error(None, "must be a mapping"))
            continue
        errors.extend(_unexpected_keys(item, followup_keys, where))
        for field in ("first", "then"):
            if (message := _text_error(item, where, field)) is not None:
                errors.append(message)
        errors.extend(_expectation_errors(item, where))
    return errors


def heldout_examples(data: Any, source: str) -> tuple[dict[str, list[str]], list[str]]:
    """Examples per intent from Rasa 3 NLU YAML, and schema errors found on the way."""
    errors: list[str] = []
    examples: dict[str, list[str]] = {}
    if not isinstance(data, Mapping) or str(data.get("version")) != "3.1":
        errors.append(Where(source).error("version", 'must be "3.1"'))
    blocks = data.get("nlu") if isinstance(data, Mapping) else None
    if not isinstance(blocks, list):
        return examples, [*errors, Where(source).error("nlu", "must be a list")]
    for index, block in enumerate(blocks):
        where = Where(source, f"nlu[{index}]")
        if not isinstance(block, Mapping) or not isinstance(block.get("intent"), str):
            errors.append(where.error("intent", "must be a string"))
            continue
        if not isinstance(block.get("examples"), str):
            errors.append(where.error("examples", "must be a block of '- ' lines"))
            continue
        intent = block["intent"]
        if intent in examples:
            errors.append(where.error("intent", f"{intent!r} appears in more than one block"))
        lines = [line.strip() for line in block["examples"].splitlines() if line.strip()]
        bad = [line for line in lines if not line.startswith("- ") or not line[2:].strip()]
        errors.extend(where.error("examples", f"not an example line: {line!r}") for line in bad)
        good = [line[2:].strip() for line in lines if line not in bad]
        examples.setdefault(intent, []).extend(good)
    return examples, errors


def documented_intents(markdown: str) -> list[str]:
    """Intent names from the first column of the table in docs/intents.md."""
    names = []
    for line in markdown.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        is_row = line.lstrip().startswith("|") and re.fullmatch(r"[a-z_]+", cells[0])
        if is_row and cells[0] != "intent":
            names.append(cells[0])
    return names


def duplicate_texts(named_texts: Iterable[tuple[str, str]]) -> list[str]:
    """Messages naming every normalised text that occurs more than once, and where."""
    seen: dict[str, list[str]] = {}
    for where, text in named_texts:
        seen.setdefault(normalise(text), []).append(where)
    return [f"{key!r} occurs at {places}" for key, places in seen.items() if len(places) > 1]


def all_texts() -> list[tuple[str, str]]:
    """Every sentence of every corpus as (where, text)."""
    texts: list[tuple[str, str]] = []
    for index, item in enumerate(load_yaml(DISCLOSURES)["disclosures"]):
        texts.append((f"disclosures[{index}]", item["text"]))
    for index, item in enumerate(load_yaml(ORDINARY)["ordinary"]):
        texts.append((f"ordinary[{index}]", item["text"]))
    kb = load_yaml(KB_PARAPHRASES)
    for index, item in enumerate(kb["questions"]):
        texts.append((f"kb.questions[{index}]", item["text"]))
    for index, item in enumerate(kb["followups"]):
        texts.append((f"kb.followups[{index}].first", item["first"]))
        texts.append((f"kb.followups[{index}].then", item["then"]))
    examples, _ = heldout_examples(load_yaml(HELDOUT), str(HELDOUT))
    for intent, sentences in examples.items():
        texts.extend((f"heldout.{intent}[{i}]", text) for i, text in enumerate(sentences))
    return texts


# --- the corpora -----------------------------------------------------------


def test_disclosures_schema_and_counts() -> None:
    data = load_yaml(DISCLOSURES)
    assert disclosure_errors(data, str(DISCLOSURES)) == []
    items = data["disclosures"]
    assert len(items) >= MIN_DISCLOSURES
    for category in CATEGORIES:
        count = sum(item["category"] == category for item in items)
        assert count >= MIN_PER_CATEGORY, f"{category}: only {count} disclosures"


def test_ordinary_schema_and_counts() -> None:
    data = load_yaml(ORDINARY)
    assert ordinary_errors(data, str(ORDINARY)) == []
    texts = [item["text"] for item in data["ordinary"]]
    assert len(texts) >= MIN_ORDINARY
    tricky = [text for text in texts if TRIGGER_WORDS.search(text.lower())]
    assert len(tricky) >= MIN_TRIGGER_SHARE * len(texts), "too few use trigger-like words"


def test_kb_paraphrases_schema_and_coverage() -> None:
    data = load_yaml(KB_PARAPHRASES)
    assert kb_errors(data, str(KB_PARAPHRASES)) == []
    for area in AREA_ENTRIES:
        count = sum(item["area"] == area for item in data["questions"])
        assert count >= MIN_PER_AREA, f"{area}: only {count} questions"
    assert len(data["followups"]) >= MIN_FOLLOWUPS
    first_choices = {item["expect"][0] for item in data["questions"] + data["followups"]}
    assert ENTRY_IDS - first_choices == set(), "some entries are never the best answer"


def test_heldout_nlu_covers_every_documented_intent() -> None:
    intents = documented_intents(INTENTS_DOC.read_text(encoding="utf-8"))
    assert len(intents) >= 14, f"could not read the intent table in {INTENTS_DOC}"
    examples, errors = heldout_examples(load_yaml(HELDOUT), str(HELDOUT))
    assert errors == []
    assert set(examples) == set(intents)
    for intent in intents:
        assert len(examples[intent]) >= MIN_PER_INTENT, f"{intent}: {len(examples[intent])}"
    assert len(examples["ask_service"]) >= MIN_ASK_SERVICE


def test_heldout_nlu_is_read_by_rasa_with_the_same_examples() -> None:
    reader_module = pytest.importorskip("rasa.shared.nlu.training_data.formats.rasa_yaml")
    training_data = reader_module.RasaYAMLReader().read(str(HELDOUT))
    examples, _ = heldout_examples(load_yaml(HELDOUT), str(HELDOUT))
    from_rasa: dict[str, list[str]] = {}
    for message in training_data.intent_examples:
        from_rasa.setdefault(message.get("intent"), []).append(message.get("text"))
    assert from_rasa == examples


def test_no_duplicate_text_within_or_across_corpora() -> None:
    assert duplicate_texts(all_texts()) == []


# --- the checks themselves ---------------------------------------------------


def test_checks_report_file_entry_and_field() -> None:
    bad_disclosure = {"disclosures": [{"text": "", "category": "worry"}, "loose"]}
    errors = disclosure_errors(bad_disclosure, "d.yml")
    assert "d.yml: entry 'disclosures[0]': field 'text': must be a non-empty string" in errors
    assert any(
        e.startswith("d.yml: entry 'disclosures[0]': field 'category': 'worry'") for e in errors
    )
    assert "d.yml: entry 'disclosures[1]': must be a mapping" in errors
    assert ordinary_errors({"ordinary": [{"text": "x", "tone": 1}]}, "o.yml") == [
        "o.yml: entry 'ordinary[0]': field 'tone': unexpected field"
    ]


def test_kb_check_rejects_wrong_area_kind_and_ids() -> None:
    question = {
        "text": "who does the post",
        "area": "finance",
        "expect": ["menu.document-management", "menu.nope"],
        "kind": "info",
        "audience": "manager",
    }
    errors = kb_errors({"questions": [question], "followups": [{"first": "a"}]}, "k.yml")
    joined = "\n".join(errors)
    assert "'questions[0]': field 'expect': 'menu.nope' is not a known entry id" in joined
    assert "best answer 'menu.document-management' is not in area 'finance'" in joined
    assert "'questions[0]': field 'kind': 'info' does not fit area 'finance'" in joined
    assert "'questions[0]': field 'audience': 'manager'" in joined
    assert "'followups[0]': field 'then': must be a non-empty string" in joined
    assert "'followups[0]': field 'area': None is not a known area" in joined


def test_heldout_check_rejects_bad_blocks() -> None:
    data = {
        "version": "2.0",
        "nlu": [
            {"intent": "greet", "examples": "- hi\nhello\n"},
            {"intent": "greet", "examples": "- hey\n"},
        ],
    }
    examples, errors = heldout_examples(data, "h.yml")
    assert examples == {"greet": ["hi", "hey"]}
    assert 'h.yml: field \'version\': must be "3.1"' in errors
    assert "h.yml: entry 'nlu[0]': field 'examples': not an example line: 'hello'" in errors
    assert "h.yml: entry 'nlu[1]': field 'intent': 'greet' appears in more than one block" in errors


def test_duplicates_found_regardless_of_case_and_punctuation() -> None:
    found = duplicate_texts([("a", "Who does the POST?"), ("b", "who does the post"), ("c", "x")])
    assert len(found) == 1 and "['a', 'b']" in found[0]
    assert normalise("  Can't   STOP!! ") == "can t stop"


def test_documented_intents_reads_first_column() -> None:
    table = "| intent | meaning |\n|---|---|\n| greet | hi |\n| ask_service | q |\ntext | no\n"
    assert documented_intents(table) == ["greet", "ask_service"]


def test_corpora_are_read_with_duplicate_keys_refused(tmp_path: Path) -> None:
    """The content reader: a repeated key is an error naming the file and line, not a silent
    overwrite (yaml.safe_load kept only the last ``disclosures:`` list)."""
    corpus = tmp_path / "twice.yml"
    corpus.write_text(
        "disclosures:\n  - {text: one, category: danger}\n"
        "disclosures:\n  - {text: two, category: danger}\n",
        encoding="utf-8",
    )
    with pytest.raises(pytest.fail.Exception, match=r"twice\.yml: line 3: .*duplicate key"):
        load_yaml(corpus)

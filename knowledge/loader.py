"""Load and validate the knowledge base and council settings from YAML.

Council editors change the files in ``knowledge/content/``; every mistake they
can make (a typo in a field name, a missing ``instead``, a bad date, an unknown
placeholder, a YAML indentation slip) is reported as a :class:`ContentError`
naming the file, the entry and the field, before anything is served.

Nothing is read at import time: call :func:`load_knowledge_base` /
:func:`load_council_settings` with a directory, or the cached
:func:`default_knowledge_base` / :func:`default_council_settings` which use
``firstpoint.settings.get_settings().content_dir``.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml

from knowledge.schema import (
    AUDIENCES,
    PLACEHOLDERS,
    TASK_STYLES,
    WEEKDAYS,
    WORDING_LINES,
    Area,
    Caveat,
    ContentError,
    Council,
    CouncilSettings,
    Emergency,
    Entry,
    KnowledgeBase,
    Provider,
    Reporting,
    Task,
    WillNot,
    Wording,
    placeholders_in,
)
from knowledge.vocabulary import HOURS_RANGE_RE, display_path

KNOWLEDGE_FILES = ("service_menu.yml", "resident_services.yml")
COUNCIL_FILE = "council.yml"
WORDING_FILE = "wording.yml"

#: Fields of an entry: name -> required?
ENTRY_FIELDS = {
    "id": True,
    "area": True,
    "title": True,
    "audience": True,
    "owner": True,
    "version": True,
    "last_reviewed": True,
    "summary": True,
    "does": False,
    "will_not": False,
    "caveats": False,
    "principles": False,
    "example_questions": True,
    "keywords": False,
    "resident_summary": False,  # the summary worded for residents
    "derived_from": False,  # set when the entry is not itself in the source document
    "notes": False,  # internal notes (e.g. the menu's "wider issues"); never shown
}
#: Fields of a ``will_not`` item (an exemption).
WILL_NOT_FIELDS = {
    "what": True,
    "instead": True,
    "why": False,
    "keywords": False,
    "audience": False,
    "bundle": False,
}
#: Fields of a ``does`` item written as a mapping (a plain text item is ``{text: ...}``).
TASK_FIELDS = {"text": True, "audience": False, "keywords": False, "resident_text": False}
#: Fields of a ``caveats`` item written as a mapping.
CAVEAT_FIELDS = {"text": True, "audience": False}
#: Top-level fields of a knowledge file.
FILE_FIELDS = {
    "source": True,
    "provider": True,
    "task_style": True,
    "areas": True,
    "entries": True,
}
MIN_EXAMPLE_QUESTIONS = 3
RETENTION_KEYS = ("contacts", "handoffs", "tracker")

_ID = re.compile(r"^[a-z0-9]+(?:[.-][a-z0-9]+)*$")


class _UniqueKeyLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses duplicate keys instead of silently keeping the last."""


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    loader.flatten_mapping(node)
    result: dict[Any, Any] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, Hashable):
            raise yaml.constructor.ConstructorError(
                None, None, "unhashable key", key_node.start_mark
            )
        if key in result:
            raise yaml.constructor.ConstructorError(
                "while reading a mapping",
                node.start_mark,
                f"found duplicate key {key!r}",
                key_node.start_mark,
            )
        result[key] = loader.construct_object(value_node, deep=True)
    return result


_UniqueKeyLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
    _construct_mapping,  # type: ignore[arg-type]
)


def read_yaml(path: Path) -> Any:
    """Parse one content YAML file safely: the one reader every content file goes through.

    A repeated key (say two ``child_safeguarding:`` blocks) is an error, not a silent
    overwrite. Syntax errors, duplicate keys and unreadable files become
    :class:`ContentError` (``"<file>: line N: YAML syntax error: ..."``).
    """
    name = display_path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ContentError(name, None, None, "file not found (cannot read it)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ContentError(name, None, None, f"cannot read file: {exc}") from None
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = " ".join(p for p in (exc.context, exc.problem) if p)
        raise ContentError(name, None, None, f"YAML syntax error: {problem}", line=line) from None
    except yaml.YAMLError as exc:
        raise ContentError(name, None, None, f"YAML syntax error: {exc}") from None


class _Checker:
    """Field checks that raise ContentError naming this file and entry."""

    def __init__(self, file: str, entry: str | None = None, kind: str = "entry") -> None:
        self.file = file
        self.entry = entry
        self.kind = kind

    def fail(self, field: str | None, message: str) -> ContentError:
        return ContentError(self.file, self.entry, field, message, kind=self.kind)

    def mapping(self, value: Any, field: str | None, allowed: Mapping[str, bool]) -> dict[str, Any]:
        """A mapping with only ``allowed`` keys and every required one present."""
        if not isinstance(value, dict):
            raise self.fail(field, f"must be a mapping of fields, not {_kind(value)}")
        prefix = f"{field}." if field else ""
        for key in value:
            if key not in allowed:
                known = ", ".join(allowed)
                raise self.fail(f"{prefix}{key}", f"unknown field (known fields: {known})")
        for key, required in allowed.items():
            if required and value.get(key) is None:
                raise self.fail(f"{prefix}{key}", "is required")
        return value

    def text(self, value: Any, field: str) -> str:
        """Non-empty text, stripped, with only known placeholders."""
        if not isinstance(value, str):
            raise self.fail(field, f"must be text, not {_kind(value)} (put quotes around it)")
        value = " ".join(value.split())
        if not value:
            raise self.fail(field, "must not be empty")
        for name in placeholders_in(value):
            if name not in PLACEHOLDERS:
                known = ", ".join("{" + p + "}" for p in PLACEHOLDERS)
                raise self.fail(field, f"unknown placeholder {{{name}}} (known: {known})")
        if value.count("{") != value.count("}"):
            raise self.fail(field, "unbalanced { } (placeholders look like {council.phone})")
        return value

    def texts(self, value: Any, field: str, min_items: int = 0) -> tuple[str, ...]:
        """A list of non-empty texts (``None`` counts as empty)."""
        if value is None:
            value = []
        if not isinstance(value, list):
            raise self.fail(field, f"must be a list, not {_kind(value)}")
        if len(value) < min_items:
            raise self.fail(field, f"must have at least {min_items} items, found {len(value)}")
        return tuple(self.text(item, f"{field}[{i}]") for i, item in enumerate(value))

    def identifier(self, value: Any, field: str) -> str:
        text = self.text(value, field)
        if not _ID.match(text):
            raise self.fail(
                field, f"{text!r} is not a valid id (lower-case letters, digits, '.' and '-')"
            )
        return text

    def positive_int(self, value: Any, field: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise self.fail(field, f"must be a whole number of 1 or more, not {value!r}")
        return value

    def date(self, value: Any, field: str) -> datetime.date:
        if isinstance(value, datetime.datetime):
            raise self.fail(field, "must be a date (YYYY-MM-DD) without a time")
        if isinstance(value, datetime.date):
            return value
        if isinstance(value, str):
            try:
                return datetime.date.fromisoformat(value.strip())
            except ValueError:
                pass
        raise self.fail(field, f"must be an ISO date like 2026-10-01, not {value!r}")

    def number(self, value: Any, field: str, low: float = 0.0, high: float | None = None) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.fail(field, f"must be a number, not {_kind(value)}")
        if value < low or (high is not None and value > high):
            bounds = f"between {low:g} and {high:g}" if high is not None else f"{low:g} or more"
            raise self.fail(field, f"must be {bounds}, not {value!r}")
        return float(value)


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "yes/no"
    if isinstance(value, (int, float)):
        return f"the number {value!r}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


# --------------------------------------------------------------------------- knowledge base


def _audience(check: _Checker, value: Any, field: str, default: str) -> str:
    """An audience field (``default`` when absent)."""
    if value is None:
        return default
    audience = check.text(value, field)
    if audience not in AUDIENCES:
        raise check.fail(field, f"must be one of {', '.join(AUDIENCES)}")
    return audience


def _parse_will_not(check: _Checker, raw: Any, field: str, default_audience: str) -> WillNot:
    item = check.mapping(raw, field, WILL_NOT_FIELDS)
    why = item.get("why")
    bundle = item.get("bundle")
    return WillNot(
        what=check.text(item["what"], f"{field}.what"),
        instead=check.text(item["instead"], f"{field}.instead"),
        keywords=check.texts(item.get("keywords"), f"{field}.keywords"),
        why=check.text(why, f"{field}.why") if why is not None else None,
        audience=_audience(check, item.get("audience"), f"{field}.audience", default_audience),
        bundle=check.identifier(bundle, f"{field}.bundle") if bundle is not None else None,
    )


def _parse_task(check: _Checker, raw: Any, field: str, default_audience: str) -> Task:
    if not isinstance(raw, dict):
        return Task(check.text(raw, field), default_audience)
    item = check.mapping(raw, field, TASK_FIELDS)
    audience = _audience(check, item.get("audience"), f"{field}.audience", default_audience)
    resident_text = item.get("resident_text")
    if resident_text is not None and audience == "staff":
        raise check.fail(
            f"{field}.resident_text", "is set but residents cannot see this task (audience: staff)"
        )
    return Task(
        text=check.text(item["text"], f"{field}.text"),
        audience=audience,
        keywords=check.texts(item.get("keywords"), f"{field}.keywords"),
        resident_text=(
            check.text(resident_text, f"{field}.resident_text")
            if resident_text is not None
            else None
        ),
    )


def _parse_caveat(check: _Checker, raw: Any, field: str, default_audience: str) -> Caveat:
    if not isinstance(raw, dict):
        return Caveat(check.text(raw, field), default_audience)
    item = check.mapping(raw, field, CAVEAT_FIELDS)
    return Caveat(
        text=check.text(item["text"], f"{field}.text"),
        audience=_audience(check, item.get("audience"), f"{field}.audience", default_audience),
    )


def _items(check: _Checker, value: Any, field: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise check.fail(field, f"must be a list, not {_kind(value)}")
    return value


def _check_bundles(check: _Checker, will_not: Sequence[WillNot]) -> None:
    """Every bundle names at least two exemptions of the entry."""
    for i, item in enumerate(will_not):
        if item.bundle is not None and sum(w.bundle == item.bundle for w in will_not) < 2:
            raise check.fail(
                f"will_not[{i}].bundle",
                f"bundle {item.bundle!r} has only this exemption; a bundle joins two or more",
            )


@dataclass(frozen=True)
class _FileInfo:
    """What every entry of one knowledge file shares."""

    source: str
    provider: Provider
    task_style: str


def _parse_entry(
    file: str, raw: Any, index: int, info: _FileInfo, areas: Mapping[str, Area]
) -> Entry:
    label = raw.get("id") if isinstance(raw, dict) and isinstance(raw.get("id"), str) else None
    check = _Checker(file, label or f"entries[{index}]")
    item = check.mapping(raw, None, ENTRY_FIELDS)
    entry_id = check.identifier(item["id"], "id")
    area_id = check.text(item["area"], "area")
    if area_id not in areas:
        known = ", ".join(areas) or "none"
        raise check.fail("area", f"unknown area {area_id!r} (areas in this file: {known})")
    audience = check.text(item["audience"], "audience")
    if audience not in AUDIENCES:
        raise check.fail("audience", f"must be one of {', '.join(AUDIENCES)}")
    does = tuple(
        _parse_task(check, t, f"does[{i}]", audience)
        for i, t in enumerate(_items(check, item.get("does"), "does"))
    )
    will_not = tuple(
        _parse_will_not(check, w, f"will_not[{i}]", audience)
        for i, w in enumerate(_items(check, item.get("will_not"), "will_not"))
    )
    caveats = tuple(
        _parse_caveat(check, c, f"caveats[{i}]", audience)
        for i, c in enumerate(_items(check, item.get("caveats"), "caveats"))
    )
    if not does and not will_not:
        raise check.fail("does", "an entry needs at least one 'does' or 'will_not' item")
    _check_bundles(check, will_not)
    resident_summary = item.get("resident_summary")
    for_residents = any(t.visible_to("resident") for t in does) or any(
        w.visible_to("resident") for w in will_not
    )
    if audience == "staff" and for_residents and resident_summary is None:
        raise check.fail(
            "resident_summary",
            "is required: this staff entry has tasks or exemptions residents can see",
        )
    derived_from = item.get("derived_from")
    check.texts(item.get("notes"), "notes")  # validated, never exposed
    return Entry(
        id=entry_id,
        area=area_id,
        area_title=areas[area_id].title,
        title=check.text(item["title"], "title"),
        audience=audience,
        owner=check.text(item["owner"], "owner"),
        version=check.positive_int(item["version"], "version"),
        last_reviewed=check.date(item["last_reviewed"], "last_reviewed"),
        summary=check.text(item["summary"], "summary"),
        does=does,
        will_not=will_not,
        caveats=caveats,
        principles=check.texts(item.get("principles"), "principles"),
        example_questions=check.texts(
            item.get("example_questions"), "example_questions", MIN_EXAMPLE_QUESTIONS
        ),
        keywords=check.texts(item.get("keywords"), "keywords"),
        source=info.source,
        provider=info.provider,
        task_style=info.task_style,
        resident_summary=(
            check.text(resident_summary, "resident_summary")
            if resident_summary is not None
            else None
        ),
        derived_from=(
            check.text(derived_from, "derived_from") if derived_from is not None else None
        ),
    )


def _parse_provider(check: _Checker, raw: Any) -> Provider:
    item = check.mapping(raw, "provider", {"staff": True, "resident": True})
    return Provider(
        staff=check.text(item["staff"], "provider.staff"),
        resident=check.text(item["resident"], "provider.resident"),
    )


def _parse_knowledge_file(path: Path) -> tuple[tuple[Area, ...], tuple[Entry, ...]]:
    file = display_path(path)
    data = read_yaml(path)
    check = _Checker(file)
    doc = check.mapping(data, None, FILE_FIELDS)
    task_style = check.text(doc["task_style"], "task_style")
    if task_style not in TASK_STYLES:
        raise check.fail("task_style", f"must be one of {', '.join(TASK_STYLES)}")
    info = _FileInfo(
        source=check.text(doc["source"], "source"),
        provider=_parse_provider(check, doc["provider"]),
        task_style=task_style,
    )
    if not isinstance(doc["areas"], list) or not doc["areas"]:
        raise check.fail("areas", "must be a non-empty list")
    if not isinstance(doc["entries"], list) or not doc["entries"]:
        raise check.fail("entries", "must be a non-empty list")
    areas: dict[str, Area] = {}
    for i, raw in enumerate(doc["areas"]):
        label = raw.get("id") if isinstance(raw, dict) and isinstance(raw.get("id"), str) else None
        area_check = _Checker(file, label or f"areas[{i}]", kind="area")
        item = area_check.mapping(raw, None, {"id": True, "title": True})
        area_id = area_check.identifier(item["id"], "id")
        if area_id in areas:
            raise area_check.fail("id", "duplicate area id in this file")
        areas[area_id] = Area(area_id, area_check.text(item["title"], "title"))
    entries: list[Entry] = []
    seen: set[str] = set()
    for i, raw in enumerate(doc["entries"]):
        entry = _parse_entry(file, raw, i, info, areas)
        if entry.id in seen:
            raise ContentError(file, entry.id, "id", "duplicate entry id in this file")
        seen.add(entry.id)
        entries.append(entry)
    return tuple(areas.values()), tuple(entries)


def load_knowledge_base(content_dir: Path, files: Sequence[str] = KNOWLEDGE_FILES) -> KnowledgeBase:
    """Load and validate the knowledge files in ``content_dir`` into one KnowledgeBase.

    Entry and area ids must be unique across all ``files``. Raises ContentError.
    """
    content_dir = Path(content_dir)
    entries: list[Entry] = []
    areas: list[Area] = []
    entry_files: dict[str, str] = {}
    area_files: dict[str, str] = {}
    for name in files:
        path = content_dir / name
        file_areas, file_entries = _parse_knowledge_file(path)
        shown = display_path(path)
        for area in file_areas:
            if area.id in area_files:
                raise ContentError(
                    shown,
                    area.id,
                    "id",
                    f"duplicate area id, already in {area_files[area.id]}",
                    kind="area",
                )
            area_files[area.id] = shown
        for entry in file_entries:
            if entry.id in entry_files:
                raise ContentError(
                    shown, entry.id, "id", f"duplicate entry id, already in {entry_files[entry.id]}"
                )
            entry_files[entry.id] = shown
        areas.extend(file_areas)
        entries.extend(file_entries)
    return KnowledgeBase(entries=tuple(entries), areas=tuple(areas))


# --------------------------------------------------------------------------- council settings

COUNCIL_SECTIONS = {"council": True, "emergency": True, "reporting": True, "retention_days": True}
COUNCIL_FIELDS = {
    "name": True,
    "website": True,
    "phone": True,
    "email": True,
    "address": True,
    "timezone": True,
    "opening_hours": True,
}
EMERGENCY_FIELDS = {
    "emergency_number": True,
    "out_of_hours_team": True,
    "out_of_hours_phone": True,
    "police_non_emergency": True,
    "samaritans": True,
    "national_domestic_abuse_helpline": True,
}
REPORTING_FIELDS = {
    "unit_costs_gbp": True,
    "unit_costs_source": True,
    "channel_cost_class": True,
    "avoided_channel_share": True,
}


def _hours(check: _Checker, value: Any, field: str) -> tuple[datetime.time, datetime.time] | None:
    if isinstance(value, str) and value.strip().lower() == "closed":
        return None
    match = HOURS_RANGE_RE.match(value.strip()) if isinstance(value, str) else None
    if match is None:
        raise check.fail(
            field, f'must be "HH:MM-HH:MM" (e.g. "08:30-17:00") or closed, not {value!r}'
        )
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    try:
        opens, closes = datetime.time(h1, m1), datetime.time(h2, m2)
    except ValueError:
        raise check.fail(field, f"{value!r} is not a valid time range (00:00 to 23:59)") from None
    if closes <= opens:
        raise check.fail(field, f"{value!r} closes before it opens")
    return opens, closes


def _timezone(check: _Checker, value: Any, field: str) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    name = check.text(value, field)
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise check.fail(field, f"unknown time zone {name!r} (e.g. Europe/London)") from None
    return name


def _parse_council(check: _Checker, raw: Any) -> Council:
    item = check.mapping(raw, "council", COUNCIL_FIELDS)
    hours_raw = check.mapping(
        item["opening_hours"], "council.opening_hours", dict.fromkeys(WEEKDAYS, True)
    )
    website = check.text(item["website"], "council.website")
    if not website.startswith(("https://", "http://")):
        raise check.fail("council.website", "must start with https://")
    email = check.text(item["email"], "council.email")
    if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", email):
        raise check.fail("council.email", f"{email!r} is not an e-mail address")
    return Council(
        name=check.text(item["name"], "council.name"),
        website=website,
        phone=check.text(item["phone"], "council.phone"),
        email=email,
        address=check.text(item["address"], "council.address"),
        timezone=_timezone(check, item["timezone"], "council.timezone"),
        opening_hours={
            day: _hours(check, hours_raw[day], f"council.opening_hours.{day}") for day in WEEKDAYS
        },
    )


def _parse_reporting(check: _Checker, raw: Any) -> Reporting:
    item = check.mapping(raw, "reporting", REPORTING_FIELDS)
    costs_raw = item["unit_costs_gbp"]
    if not isinstance(costs_raw, dict) or not costs_raw:
        raise check.fail("reporting.unit_costs_gbp", "must be a mapping of channel class to cost")
    costs = {str(k): check.number(v, f"reporting.unit_costs_gbp.{k}") for k, v in costs_raw.items()}
    classes_raw = item["channel_cost_class"]
    if not isinstance(classes_raw, dict) or not classes_raw:
        raise check.fail("reporting.channel_cost_class", "must be a mapping of channel to class")
    classes: dict[str, str] = {}
    for channel, cls in classes_raw.items():
        field = f"reporting.channel_cost_class.{channel}"
        classes[str(channel)] = check.text(cls, field)
        if classes[str(channel)] not in costs:
            raise check.fail(field, f"{cls!r} has no cost in unit_costs_gbp ({', '.join(costs)})")
    shares_raw = item["avoided_channel_share"]
    if not isinstance(shares_raw, dict):
        raise check.fail("reporting.avoided_channel_share", "must be a mapping of class to share")
    shares: dict[str, float] = {}
    for cls, share in shares_raw.items():
        field = f"reporting.avoided_channel_share.{cls}"
        if cls not in costs:
            raise check.fail(field, f"{cls!r} has no cost in unit_costs_gbp ({', '.join(costs)})")
        shares[str(cls)] = check.number(share, field, 0.0, 1.0)
    if sum(shares.values()) > 1.0 + 1e-9:
        raise check.fail("reporting.avoided_channel_share", "shares must add up to 1 or less")
    return Reporting(
        unit_costs_gbp=costs,
        unit_costs_source=check.text(item["unit_costs_source"], "reporting.unit_costs_source"),
        channel_cost_class=classes,
        avoided_channel_share=shares,
    )


def load_council_settings(content_dir: Path) -> CouncilSettings:
    """Load and validate ``council.yml`` from ``content_dir``. Raises ContentError."""
    path = Path(content_dir) / COUNCIL_FILE
    check = _Checker(display_path(path), None)
    doc = check.mapping(read_yaml(path), None, COUNCIL_SECTIONS)
    emergency_raw = check.mapping(doc["emergency"], "emergency", EMERGENCY_FIELDS)
    emergency = Emergency(
        **{name: check.text(emergency_raw[name], f"emergency.{name}") for name in EMERGENCY_FIELDS}
    )
    retention_raw = check.mapping(
        doc["retention_days"], "retention_days", dict.fromkeys(RETENTION_KEYS, True)
    )
    retention = {
        key: check.positive_int(retention_raw[key], f"retention_days.{key}")
        for key in RETENTION_KEYS
    }
    return CouncilSettings(
        council=_parse_council(check, doc["council"]),
        emergency=emergency,
        reporting=_parse_reporting(check, doc["reporting"]),
        retention_days=retention,
    )


# --------------------------------------------------------------------------- wording


def _flatten(value: Any, prefix: str, out: dict[str, Any]) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            _flatten(item, f"{prefix}.{key}" if prefix else str(key), out)
    else:
        out[prefix] = value


def load_wording(content_dir: Path) -> Wording:
    """Load and validate ``wording.yml``: every line present, text, only allowed {parts}.

    Raises ContentError naming the file and the line (as a dotted field, e.g.
    ``direct.task``).
    """
    path = Path(content_dir) / WORDING_FILE
    file = display_path(path)
    data = read_yaml(path)
    check = _Checker(file)
    if not isinstance(data, dict):
        raise check.fail(None, f"must be a mapping of wording lines, not {_kind(data)}")
    flat: dict[str, Any] = {}
    _flatten(data, "", flat)
    for key in flat:
        if key not in WORDING_LINES:
            raise check.fail(key, f"unknown wording line (known: {', '.join(WORDING_LINES)})")
    lines: dict[str, str] = {}
    for key, parts in WORDING_LINES.items():
        if flat.get(key) is None:
            raise check.fail(key, "is required")
        value = flat[key]
        if not isinstance(value, str):
            raise check.fail(key, f"must be text, not {_kind(value)} (put quotes around it)")
        value = " ".join(value.split())
        if not value:
            raise check.fail(key, "must not be empty")
        for name in placeholders_in(value):
            if name not in PLACEHOLDERS and name not in parts:
                usable = ", ".join("{" + p + "}" for p in parts) or "none"
                raise check.fail(
                    key, f"unknown placeholder {{{name}}} (parts this line may use: {usable})"
                )
        if value.count("{") != value.count("}"):
            raise check.fail(key, "unbalanced { } (placeholders look like {council.phone})")
        lines[key] = value
    return Wording(lines)


# --------------------------------------------------------------------------- cached defaults


def _default_content_dir() -> Path:
    from firstpoint.settings import get_settings

    return get_settings().content_dir


@lru_cache(maxsize=1)
def default_knowledge_base() -> KnowledgeBase:
    """The knowledge base from the configured content directory, loaded once per process."""
    return load_knowledge_base(_default_content_dir())


@lru_cache(maxsize=1)
def default_wording() -> Wording:
    """The answer wording from the configured content directory, loaded once per process."""
    return load_wording(_default_content_dir())


@lru_cache(maxsize=1)
def default_council_settings() -> CouncilSettings:
    """The council settings from the configured content directory, loaded once per process."""
    return load_council_settings(_default_content_dir())


def council_zone() -> ZoneInfo:
    """The configured council's time zone: ``council.timezone``, validated on load.

    The one place local time comes from (opening hours, SLA clocks, the contact
    log's local dates and the reports' "today").
    """
    return default_council_settings().council.zone


def all_text(entry: Entry) -> Iterable[str]:
    """Every piece of user-visible text in ``entry`` (for placeholder filling and checks)."""
    yield entry.title
    yield entry.summary
    if entry.resident_summary:
        yield entry.resident_summary
    if entry.derived_from:
        yield entry.derived_from
    for task in entry.does:
        yield task.text
        if task.resident_text:
            yield task.resident_text
    for item in entry.will_not:
        yield item.what
        yield item.instead
        if item.why:
            yield item.why
    yield from (c.text for c in entry.caveats)
    yield from entry.principles
    yield from entry.example_questions
    yield entry.provider.staff
    yield entry.provider.resident

"""Typed, immutable shapes of the knowledge base and the council settings.

The YAML files in ``knowledge/content/`` are turned into these objects by
:mod:`knowledge.loader`, which validates every field first. Nothing here reads
files; everything is plain frozen dataclasses so other parts can build them
directly in tests.

Placeholders
------------
Resident-facing text never holds a council's phone number, e-mail address or
opening hours literally: it says ``{council.phone}`` and the answer renderer
calls :meth:`CouncilSettings.fill`. The placeholders content may use are
exactly the keys of :data:`PLACEHOLDERS`; the loader rejects any other
``{...}`` in content text.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from zoneinfo import ZoneInfo

from knowledge.vocabulary import (
    CONTENT_AUDIENCES,
    RESIDENT,
    STAFF,
    VIEWER_AUDIENCES,
    WEEKDAYS,
)

#: Who an entry, task, exemption or caveat is written for (``knowledge.vocabulary``).
AUDIENCES = CONTENT_AUDIENCES


def _opening_hours(settings: CouncilSettings) -> str:
    return settings.council.opening_hours_text()


#: Every placeholder content text may contain, with how it is filled.
PLACEHOLDERS: dict[str, Callable[[CouncilSettings], str]] = {
    "council.name": lambda s: s.council.name,
    "council.website": lambda s: s.council.website,
    "council.phone": lambda s: s.council.phone,
    "council.email": lambda s: s.council.email,
    "council.address": lambda s: s.council.address,
    "council.opening_hours": _opening_hours,
    "emergency.emergency_number": lambda s: s.emergency.emergency_number,
    "emergency.out_of_hours_team": lambda s: s.emergency.out_of_hours_team,
    "emergency.out_of_hours_phone": lambda s: s.emergency.out_of_hours_phone,
    "emergency.police_non_emergency": lambda s: s.emergency.police_non_emergency,
    "emergency.samaritans": lambda s: s.emergency.samaritans,
    "emergency.national_domestic_abuse_helpline": (
        lambda s: s.emergency.national_domestic_abuse_helpline
    ),
}

#: Anything in braces; used both to fill and to validate placeholders.
PLACEHOLDER_PATTERN = re.compile(r"\{([^{}]*)\}")


def placeholders_in(text: str) -> list[str]:
    """The names inside every ``{...}`` in ``text`` (known or not), in order."""
    return PLACEHOLDER_PATTERN.findall(text)


class ContentError(ValueError):
    """A content file is invalid; the message names the file, the entry and the field.

    ``str(error)`` reads like
    ``knowledge/content/service_menu.yml: entry 'menu.ict': field 'audience':
    must be one of staff, resident, both``. ``entry`` and ``field`` may be
    ``None`` when the problem is with the file as a whole; ``line`` is set for
    YAML syntax errors. ``kind`` names what ``entry`` is ("entry", "area",
    "team", ...).
    """

    def __init__(
        self,
        file: str,
        entry: str | None,
        field: str | None,
        message: str,
        *,
        line: int | None = None,
        kind: str = "entry",
    ) -> None:
        self.file = file
        self.entry = entry
        self.field = field
        self.message = message
        self.line = line
        self.kind = kind
        parts = [file]
        if line is not None:
            parts.append(f"line {line}")
        if entry is not None:
            parts.append(f"{kind} '{entry}'")
        if field is not None:
            parts.append(f"field '{field}'")
        parts.append(message)
        super().__init__(": ".join(parts))


def _check_viewer(viewer: str) -> None:
    if viewer not in VIEWER_AUDIENCES:
        raise ValueError(f"unknown audience {viewer!r}; expected one of {VIEWER_AUDIENCES}")


def audience_allows(audience: str, viewer: str) -> bool:
    """Whether a part written for ``audience`` may be shown to ``viewer``.

    Staff see everything; residents see ``resident`` and ``both`` parts. Raises
    ValueError for an unknown viewer so a typo never widens access.
    """
    _check_viewer(viewer)
    return viewer == STAFF or audience in (RESIDENT, "both")


@dataclass(frozen=True)
class Task:
    """One thing an entry's service does (a ``does`` item), and who may see it.

    ``resident_text`` is the same task worded for residents (shown to them
    instead of ``text``); ``keywords`` are extra words that should find it.
    """

    text: str
    audience: str = "staff"
    keywords: tuple[str, ...] = ()
    resident_text: str | None = None

    def visible_to(self, viewer: str) -> bool:
        """Whether ``viewer`` ("staff" or "resident") may see this task."""
        return audience_allows(self.audience, viewer)

    def text_for(self, viewer: str) -> str:
        """The wording for ``viewer``."""
        return self.resident_text if viewer == "resident" and self.resident_text else self.text


@dataclass(frozen=True)
class Caveat:
    """A condition that is not an outright refusal, and who may see it."""

    text: str
    audience: str = "staff"

    def visible_to(self, viewer: str) -> bool:
        """Whether ``viewer`` may see this caveat."""
        return audience_allows(self.audience, viewer)


@dataclass(frozen=True)
class WillNot:
    """Something Business Support (or the council) will not do, and what to do instead.

    ``why`` is the reason for this exemption (from the Service Menu's principles);
    exemptions sharing a ``bundle`` were one bullet in the source and are always
    shown together.
    """

    what: str
    instead: str
    keywords: tuple[str, ...] = ()
    why: str | None = None
    audience: str = "staff"
    bundle: str | None = None

    def visible_to(self, viewer: str) -> bool:
        """Whether ``viewer`` may see this exemption."""
        return audience_allows(self.audience, viewer)


@dataclass(frozen=True)
class Provider:
    """Who provides the services of a knowledge file, as named to each audience."""

    staff: str = "Business Support"
    resident: str = "the council's Business Support team"

    def name_for(self, viewer: str) -> str:
        """The provider's name for ``viewer``."""
        return self.resident if viewer == "resident" else self.staff


#: How a file's ``does`` items read: ``actions`` ("Open and scan the post") or
#: ``statements`` ("By phone: call {council.phone}").
TASK_STYLES = ("actions", "statements")


@dataclass(frozen=True)
class Area:
    """A heading of the Service Menu (or of the resident services list)."""

    id: str
    title: str


@dataclass(frozen=True)
class Entry:
    """One function of the Service Menu, or one resident service.

    ``audience`` is who the entry is written for and the default of each of its
    tasks, exemptions and caveats; each of those may say otherwise, so a staff
    entry can still show residents the parts that concern them.
    """

    id: str
    area: str
    area_title: str
    title: str
    audience: str
    owner: str
    version: int
    last_reviewed: datetime.date
    summary: str
    does: tuple[Task, ...]
    will_not: tuple[WillNot, ...]
    caveats: tuple[Caveat, ...]
    principles: tuple[str, ...]
    example_questions: tuple[str, ...]
    keywords: tuple[str, ...]
    source: str
    provider: Provider = field(default_factory=Provider)
    task_style: str = "actions"
    resident_summary: str | None = None
    derived_from: str | None = None

    def visible_to(self, audience: str) -> bool:
        """Whether a conversation with ``audience`` ("staff" or "resident") may see this entry.

        Staff see every entry; residents see ``resident`` and ``both`` entries,
        and any other entry with at least one task or exemption for them.
        Raises ValueError for any other audience so a typo never widens access.
        """
        if audience_allows(self.audience, audience):
            return True
        return any(t.visible_to(audience) for t in self.does) or any(
            w.visible_to(audience) for w in self.will_not
        )

    def written_for(self, audience: str) -> bool:
        """Whether the entry as a whole (title, summary, examples) is written for ``audience``."""
        return audience_allows(self.audience, audience)

    def tasks_for(self, audience: str) -> tuple[tuple[int, Task], ...]:
        """(index, task) for every task ``audience`` may see, in file order."""
        return tuple((i, t) for i, t in enumerate(self.does) if t.visible_to(audience))

    def exemptions_for(self, audience: str) -> tuple[tuple[int, WillNot], ...]:
        """(index, exemption) for every exemption ``audience`` may see, in file order."""
        return tuple((i, w) for i, w in enumerate(self.will_not) if w.visible_to(audience))

    def caveats_for(self, audience: str) -> tuple[Caveat, ...]:
        """The caveats ``audience`` may see."""
        return tuple(c for c in self.caveats if c.visible_to(audience))

    def summary_for(self, audience: str) -> str:
        """The summary worded for ``audience``."""
        if audience == "resident" and self.resident_summary:
            return self.resident_summary
        return self.summary

    def bundle_of(self, index: int) -> tuple[int, ...]:
        """Indices of the exemptions shown with exemption ``index`` (itself included)."""
        bundle = self.will_not[index].bundle
        if bundle is None:
            return (index,)
        return tuple(i for i, w in enumerate(self.will_not) if w.bundle == bundle)


@dataclass(frozen=True)
class KnowledgeBase:
    """Every entry and area, with lookup by id and filtering by audience."""

    entries: tuple[Entry, ...]
    areas: tuple[Area, ...]
    _by_id: dict[str, Entry] = field(init=False, repr=False, compare=False)
    _areas_by_id: dict[str, Area] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_id: dict[str, Entry] = {}
        for entry in self.entries:
            if entry.id in by_id:
                raise ValueError(f"duplicate entry id {entry.id!r}")
            by_id[entry.id] = entry
        object.__setattr__(self, "_by_id", by_id)
        object.__setattr__(self, "_areas_by_id", {a.id: a for a in self.areas})

    def get(self, entry_id: str) -> Entry:
        """The entry with this id; KeyError if there is none."""
        try:
            return self._by_id[entry_id]
        except KeyError:
            raise KeyError(entry_id) from None

    def area(self, area_id: str) -> Area:
        """The area with this id; KeyError if there is none."""
        try:
            return self._areas_by_id[area_id]
        except KeyError:
            raise KeyError(area_id) from None

    def in_area(self, area_id: str) -> tuple[Entry, ...]:
        """The entries filed under ``area_id``, in file order."""
        return tuple(e for e in self.entries if e.area == area_id)

    def for_audience(self, audience: str) -> tuple[Entry, ...]:
        """The entries a conversation with ``audience`` may see (see :meth:`Entry.visible_to`)."""
        return tuple(e for e in self.entries if e.visible_to(audience))


def _clock(t: datetime.time) -> str:
    """``08:30`` -> ``8:30am``, ``17:00`` -> ``5pm``, ``12:00`` -> ``12pm``."""
    hour = t.hour % 12 or 12
    suffix = "am" if t.hour < 12 else "pm"
    return f"{hour}{suffix}" if t.minute == 0 else f"{hour}:{t.minute:02d}{suffix}"


@dataclass(frozen=True)
class Council:
    """The council's public identity and contact details (fictional in the example)."""

    name: str
    website: str
    phone: str
    email: str
    address: str
    timezone: str
    opening_hours: dict[str, tuple[datetime.time, datetime.time] | None]

    @cached_property
    def zone(self) -> ZoneInfo:
        """The council's validated ``timezone`` as a zone: the one place local time comes from."""
        return ZoneInfo(self.timezone)

    def opening_hours_text(self) -> str:
        """Opening hours in plain English, consecutive days with equal hours grouped.

        For example ``"Monday to Thursday 8:30am to 5pm, Friday 8:30am to 4:30pm"``.
        Closed days are left out; ``"closed"`` if the council is never open.
        """
        groups: list[tuple[str, str, tuple[datetime.time, datetime.time]]] = []
        for day in WEEKDAYS:
            hours = self.opening_hours.get(day)
            if hours is None:
                continue
            if groups and groups[-1][2] == hours and _next(groups[-1][1]) == day:
                groups[-1] = (groups[-1][0], day, hours)
            else:
                groups.append((day, day, hours))
        parts = []
        for first, last, (opens, closes) in groups:
            if first == last:
                days = first.capitalize()
            elif _next(first) == last:
                days = f"{first.capitalize()} and {last.capitalize()}"
            else:
                days = f"{first.capitalize()} to {last.capitalize()}"
            parts.append(f"{days} {_clock(opens)} to {_clock(closes)}")
        return ", ".join(parts) if parts else "closed"


def _next(day: str) -> str:
    index = WEEKDAYS.index(day)
    return WEEKDAYS[index + 1] if index + 1 < len(WEEKDAYS) else ""


@dataclass(frozen=True)
class Emergency:
    """Numbers given when someone is in danger or needs help out of hours."""

    emergency_number: str
    out_of_hours_team: str
    out_of_hours_phone: str
    police_non_emergency: str
    samaritans: str
    national_domestic_abuse_helpline: str


@dataclass(frozen=True)
class Reporting:
    """Figures the channel-shift reports use."""

    unit_costs_gbp: dict[str, float]
    unit_costs_source: str
    channel_cost_class: dict[str, str]
    avoided_channel_share: dict[str, float]


@dataclass(frozen=True)
class CouncilSettings:
    """Everything in ``council.yml``."""

    council: Council
    emergency: Emergency
    reporting: Reporting
    retention_days: dict[str, int]

    def fill(self, text: str) -> str:
        """Replace every known placeholder (see :data:`PLACEHOLDERS`) in ``text``.

        Unknown ``{...}`` groups are left as they are (the loader has already
        rejected them in content, so they can only come from elsewhere).
        """

        def replace(match: re.Match[str]) -> str:
            getter = PLACEHOLDERS.get(match.group(1))
            return getter(self) if getter is not None else match.group(0)

        return PLACEHOLDER_PATTERN.sub(replace, text)


#: Every line of ``wording.yml`` (dotted path) and the answer parts it may use;
#: council placeholders (:data:`PLACEHOLDERS`) are allowed in every line.
WORDING_LINES: dict[str, tuple[str, ...]] = {
    "direct.yes": (),
    "direct.no": (),
    "direct.task": ("provider", "task"),
    "direct.will_not": ("provider", "what"),
    "direct.or": (),
    "direct.next_step.staff": (),
    "direct.next_step.resident": (),
    "detail.why": ("why",),
    "detail.also_will_not": ("provider", "what", "instead"),
    "detail.tasks": ("provider",),
    "detail.more_tasks": ("provider",),
    "detail.more_points": (),
    "detail.will_not_list": ("provider",),
    "detail.caveat": ("caveat",),
    "detail.citation": ("source", "title", "reviewed"),
    "detail.citation_derived": ("source", "title", "reviewed", "derived_from"),
    "buttons.more_detail": (),
    "buttons.feedback_yes": (),
    "buttons.feedback_no": (),
    "messages.feedback_question": (),
    "messages.clarify": (),
    "messages.not_found": (),
    "messages.no_detail": (),
}


@dataclass(frozen=True)
class Wording:
    """The council-editable sentences answers are built from (``wording.yml``)."""

    lines: dict[str, str]

    def line(self, key: str, **parts: str) -> str:
        """Line ``key`` with ``{part}`` filled from ``parts``; council placeholders are kept.

        Raises KeyError for an unknown line and ValueError for a part the line
        may not use, so a wording mistake in code fails loudly.
        """
        allowed = WORDING_LINES[key]
        unknown = set(parts) - set(allowed)
        if unknown:
            raise ValueError(f"wording line {key!r} has no part(s) {sorted(unknown)}")
        template = self.lines[key]

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            return parts[name] if name in parts else match.group(0)

        return PLACEHOLDER_PATTERN.sub(replace, template)

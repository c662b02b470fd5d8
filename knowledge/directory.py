"""The directory of accountable teams: who a handoff goes to, when they are open, when it is due.

Content lives in ``knowledge/content/directory.yml`` (edited by the council) and is
validated on load; every problem is reported as a :class:`DirectoryError` naming
the file, the entry and the field. Times are the council's local time (the validated
``council.timezone`` of ``council.yml``): opening hours follow BST/GMT, and bank
holidays are closed unless a team says otherwise. Bank holidays come from the
``holidays`` package (offline) for the file's ``bank_holiday_region``, plus any extra
closure days the file lists, so they never run out at the end of a typed list.

All datetimes returned here are timezone-aware UTC; naive datetimes passed in are
taken to be UTC (that is how the records store them). Use :func:`format_local` to
show a time to a caller.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable, Iterator, Mapping, Set
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from pathlib import Path
from typing import Any

import holidays as holiday_calendars

from knowledge.loader import COUNCIL_FILE, council_zone, load_council_settings, read_yaml
from knowledge.schema import ContentError
from knowledge.vocabulary import (
    HANDOFF_CATEGORIES,
    HOURS_RANGE_RE,
    PRIORITIES,
    WEEKDAYS,
    display_path,
)

log = logging.getLogger(__name__)

FILE_NAME = "directory.yml"
#: Every category the safety detector can raise (``safety_category`` slot) plus casework splits.
CATEGORIES = HANDOFF_CATEGORIES
#: ``bank_holiday_region`` values -> the ``holidays`` package's subdivisions of GB.
BANK_HOLIDAY_REGIONS = {
    "england": "ENG",
    "wales": "WLS",
    "scotland": "SCT",
    "northern-ireland": "NIR",
}
#: Years :class:`BankHolidays` lists when iterated (membership works for any year).
LISTED_YEARS = range(2020, 2051)
TOP_FIELDS = ("teams", "categories", "fallback_team", "bank_holiday_region", "bank_holidays")
TEAM_FIELDS = (
    "id",
    "name",
    "description",
    "phone",
    "email",
    "opening_hours",
    "out_of_hours",
    "response_promise",
    "what_happens_next",
    "notify",
)
OPTIONAL_TEAM_FIELDS = ("bank_holiday_hours",)
#: How far ahead sla_due/next_opening look before deciding a team never opens.
MAX_SEARCH_DAYS = 800

_ID = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_PHONE = re.compile(r"^\+?[0-9][0-9 ]{1,19}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_ENV_NAME = re.compile(r"^[A-Z][A-Z0-9_]*$")


class DirectoryError(ContentError):
    """directory.yml is invalid: ``"<file>: team '<id>': field '<field>': <problem>"``.

    A :class:`knowledge.schema.ContentError` (so a ``ValueError``) with ``kind``
    "team" or "category"; entry and field are None for whole-file problems.
    """


@dataclass(frozen=True)
class OutOfHours:
    """Who to contact when the team is closed."""

    name: str
    phone: str

    def text(self) -> str:
        """A phrase the bot can say, e.g. ``"Emergency Duty Team on 01632 960999"``."""
        return f"{self.name} on {self.phone}"


@dataclass(frozen=True)
class ResponsePromise:
    """How soon the team promises to respond: ``hours`` of ``kind`` working|calendar."""

    kind: str  # "working" | "calendar"
    hours: int


@dataclass(frozen=True)
class NotifyTargets:
    """Where notifications about a new handoff go (never the caller's details)."""

    email: tuple[str, ...]
    teams_webhook_env: str | None


#: One open interval in minutes after local midnight, end exclusive (1440 = 24:00).
Interval = tuple[int, int]


class BankHolidays(Set[date]):
    """Weekday bank holidays of a UK region, plus a council's extra closure days.

    The region's days come from the ``holidays`` package (offline, any year:
    ``date(2031, 12, 26) in days`` works); a holiday falling on a weekend is left
    out because its substitute weekday is the day off. Iterating lists the days of
    :data:`LISTED_YEARS` and every extra day.
    """

    def __init__(self, region: str, extra: Iterable[date] = ()) -> None:
        self.region = region
        self.extra = frozenset(extra)
        self._calendar = holiday_calendars.country_holidays(
            "GB", subdiv=BANK_HOLIDAY_REGIONS[region]
        )
        self._lock = threading.Lock()  # the calendar fills in years on first lookup
        self._listed: tuple[date, ...] | None = None

    def __contains__(self, day: object) -> bool:
        if isinstance(day, datetime):
            day = day.date()
        if not isinstance(day, date):
            return False
        if day in self.extra:
            return True
        if day.weekday() >= 5:
            return False
        with self._lock:
            return day in self._calendar

    def name(self, day: date) -> str | None:
        """The holiday's name ("Boxing Day (observed)"), "closure day" for an extra day."""
        if day in self.extra:
            return "closure day"
        if day not in self:
            return None
        with self._lock:
            return str(self._calendar.get(day))

    def _days(self) -> tuple[date, ...]:
        with self._lock:
            if self._listed is None:
                listed = holiday_calendars.country_holidays(
                    "GB", subdiv=BANK_HOLIDAY_REGIONS[self.region], years=LISTED_YEARS
                )
                weekdays = {d for d in listed if d.weekday() < 5}
                self._listed = tuple(sorted(weekdays | self.extra))
            return self._listed

    def __iter__(self) -> Iterator[date]:
        return iter(self._days())

    def __len__(self) -> int:
        return len(self._days())

    def __repr__(self) -> str:
        return f"BankHolidays({self.region!r}, extra={sorted(self.extra)!r})"


@dataclass(frozen=True)
class Team:
    """An accountable team Business Support passes enquiries to."""

    id: str
    name: str
    description: str
    phone: str
    email: str
    opening_hours: Mapping[int, tuple[Interval, ...]]  # weekday (Monday = 0) -> intervals
    bank_holiday_hours: tuple[Interval, ...]
    out_of_hours: OutOfHours
    response_promise: ResponsePromise
    what_happens_next: str
    notify: NotifyTargets


@dataclass(frozen=True)
class CategoryRoute:
    """Where one handoff category goes and how urgent it is."""

    category: str
    team_id: str
    priority: str
    out_of_hours_team_id: str | None = None


@dataclass(frozen=True)
class Directory:
    """Teams, category routes and bank holidays, with the time arithmetic over them.

    ``zone`` is the council's time zone (``council.timezone``); opening hours and
    bank holidays are local to it.
    """

    teams: Mapping[str, Team]
    routes: Mapping[str, CategoryRoute]
    fallback_team_id: str
    bank_holidays: Set[date]
    zone: tzinfo

    def team(self, team_id: str) -> Team:
        """The team with ``team_id`` (KeyError if unknown)."""
        return self.teams[team_id]

    def route(self, category: str) -> tuple[Team, str]:
        """``(team, priority)`` for a handoff category; unknown ones go to the fallback team."""
        route = self.routes.get(category)
        if route is None:
            log.warning("no route for handoff category %r; using %s", category,
                        self.fallback_team_id)
            return self.teams[self.fallback_team_id], "normal"
        return self.teams[route.team_id], route.priority

    def route_at(self, category: str, at: datetime) -> tuple[Team, str]:
        """Like :meth:`route`, but while the team is closed a route's
        ``out_of_hours_team`` (e.g. the Emergency Duty Team) takes the handoff."""
        team, priority = self.route(category)
        route = self.routes.get(category)
        if route is not None and route.out_of_hours_team_id and not self.is_open(team, at):
            return self.teams[route.out_of_hours_team_id], priority
        return team, priority

    def hours_on(self, team: Team | str, day: date) -> tuple[Interval, ...]:
        """The team's open intervals on a local calendar ``day`` (bank holidays included)."""
        team = self._team(team)
        if day in self.bank_holidays:
            return team.bank_holiday_hours
        return team.opening_hours[day.weekday()]

    def is_open(self, team: Team | str, at: datetime) -> bool:
        """Whether ``team`` is open at instant ``at`` (UK local hours, bank holidays closed)."""
        local = _as_utc(at).astimezone(self.zone)
        minute = local.hour * 60 + local.minute
        return any(s <= minute < e for s, e in self.hours_on(team, local.date()))

    def next_opening(self, team: Team | str, at: datetime) -> datetime:
        """The first instant at or after ``at`` when ``team`` is open (UTC; ``at`` if open)."""
        start = _as_utc(at)
        for s_utc, e_utc in self._open_spans(self._team(team), start):
            if e_utc > start:
                return max(s_utc, start)
        raise DirectoryError(FILE_NAME, self._team(team).id, "opening_hours", "never opens",
                             kind="team")

    def sla_due(self, team: Team | str, created_at: datetime) -> datetime:
        """When a handoff created at ``created_at`` is due under the team's response promise.

        ``working_hours`` count only time inside opening hours (weekends and bank
        holidays skipped, BST/GMT respected); ``calendar_hours`` count every hour.
        """
        team = self._team(team)
        start = _as_utc(created_at)
        promise = team.response_promise
        if promise.kind == "calendar":
            return start + timedelta(hours=promise.hours)
        remaining = timedelta(hours=promise.hours)
        for s_utc, e_utc in self._open_spans(team, start):
            if e_utc <= start:
                continue
            begin = max(s_utc, start)
            available = e_utc - begin
            if available >= remaining:
                return begin + remaining
            remaining -= available
        raise DirectoryError(FILE_NAME, team.id, "opening_hours", "never opens", kind="team")

    def _team(self, team: Team | str) -> Team:
        return self.teams[team] if isinstance(team, str) else team

    def _open_spans(self, team: Team, start: datetime) -> Iterator[tuple[datetime, datetime]]:
        """Yield open spans ``(start_utc, end_utc)`` in order, from ``start``'s local day."""
        day = start.astimezone(self.zone).date()
        for _ in range(MAX_SEARCH_DAYS):
            for s, e in self.hours_on(team, day):
                yield _local_instant(day, s, self.zone), _local_instant(day, e, self.zone)
            day += timedelta(days=1)

    def format_local(self, at: datetime) -> str:
        """``at`` in the council's local time, e.g. ``"10:30 on Monday 26 October 2026"``."""
        return format_local(at, self.zone)


def _local_instant(day: date, minute: int, zone: tzinfo) -> datetime:
    """UTC instant of ``minute`` minutes after local midnight on ``day`` (1440 = next midnight)."""
    if minute >= 1440:
        day, minute = day + timedelta(days=1), minute - 1440
    local = datetime.combine(day, time(minute // 60, minute % 60), tzinfo=zone)
    return local.astimezone(timezone.utc)


def _as_utc(at: datetime) -> datetime:
    """``at`` as an aware UTC datetime (naive values are taken to be UTC already)."""
    if at.tzinfo is None:
        return at.replace(tzinfo=timezone.utc)
    return at.astimezone(timezone.utc)


def format_local(at: datetime, zone: tzinfo | None = None) -> str:
    """A caller-friendly local time, e.g. ``"10:30 on Monday 26 October 2026"``.

    ``zone`` defaults to the configured council's time zone (:func:`council_zone`).
    """
    local = _as_utc(at).astimezone(zone or council_zone())
    return f"{local:%H:%M} on {local:%A} {local.day} {local:%B %Y}"


# --------------------------------------------------------------------------- loading


class _Where:
    """Builds errors naming the file and the entry (``kind`` 'id'; None for the whole file)."""

    def __init__(self, file: str, entry: str | None, kind: str = "team") -> None:
        self.file = file
        self.entry = entry
        self.kind = kind

    def error(self, field: str | None, problem: str) -> DirectoryError:
        return DirectoryError(self.file, self.entry, field, problem, kind=self.kind)

    def text(self, raw: Mapping[str, Any], field: str) -> str:
        value = raw.get(field)
        if not isinstance(value, str) or not value.strip():
            hint = " (write it in quotes)" if isinstance(value, int) else ""
            raise self.error(field, f"must be non-empty text{hint}, got {value!r}")
        return " ".join(value.split())


def _parse_hours(where: _Where, field: str, value: Any) -> tuple[Interval, ...]:
    if isinstance(value, str) and value.strip().lower() == "closed":
        return ()
    if not isinstance(value, str):
        raise where.error(field, f'must be "HH:MM-HH:MM" or "closed", got {value!r}')
    intervals: list[Interval] = []
    for part in value.split(","):
        match = HOURS_RANGE_RE.match(part.strip())
        if not match:
            raise where.error(field, f'{part.strip()!r} is not "HH:MM-HH:MM"')
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        start, end = h1 * 60 + m1, h2 * 60 + m2
        if h1 > 23 or m1 > 59 or m2 > 59 or end > 1440:
            raise where.error(field, f"{part.strip()!r} is not a valid time range")
        if end <= start:
            raise where.error(
                field, f"{part.strip()!r} ends before it starts (split ranges at 24:00)"
            )
        if intervals and start < intervals[-1][1]:
            raise where.error(field, f"{part.strip()!r} overlaps or is out of order")
        intervals.append((start, end))
    return tuple(intervals)


def _parse_team(file: str, index: int, raw: Any) -> Team:
    if not isinstance(raw, Mapping):
        raise _Where(file, f"#{index + 1}").error(None, "must be a mapping of fields")
    team_id = raw.get("id")
    where = _Where(file, str(team_id) if team_id else f"#{index + 1}")
    if not isinstance(team_id, str) or not _ID.match(team_id):
        raise where.error("id", f"must be lower-case words joined by '-', got {team_id!r}")
    for name in TEAM_FIELDS:
        if name not in raw:
            raise where.error(name, "is missing")
    unknown = set(raw) - set(TEAM_FIELDS) - set(OPTIONAL_TEAM_FIELDS)
    if unknown:
        raise where.error(sorted(unknown)[0], "is not a known field")

    phone = raw["phone"]
    if not isinstance(phone, str) or not _PHONE.match(phone.strip()):
        raise where.error("phone", f"must be a quoted phone number, got {phone!r}")
    email = raw["email"]
    if not isinstance(email, str) or not _EMAIL.match(email):
        raise where.error("email", f"must be an email address, got {email!r}")

    hours_raw = raw["opening_hours"]
    if not isinstance(hours_raw, Mapping):
        raise where.error("opening_hours", "must map each weekday to hours or 'closed'")
    for day in hours_raw:
        if day not in WEEKDAYS:
            raise where.error(f"opening_hours.{day}", "is not a weekday name")
    opening: dict[int, tuple[Interval, ...]] = {}
    for number, day in enumerate(WEEKDAYS):
        if day not in hours_raw:
            raise where.error(f"opening_hours.{day}", "is missing")
        opening[number] = _parse_hours(where, f"opening_hours.{day}", hours_raw[day])
    bank = _parse_hours(where, "bank_holiday_hours", raw.get("bank_holiday_hours", "closed"))

    ooh_raw = raw["out_of_hours"]
    if not isinstance(ooh_raw, Mapping):
        raise where.error("out_of_hours", "must have name and phone")
    ooh_name = where.text(ooh_raw, "name") if "name" in ooh_raw else None
    if ooh_name is None:
        raise where.error("out_of_hours.name", "is missing")
    ooh_phone = ooh_raw.get("phone")
    if not isinstance(ooh_phone, str) or not _PHONE.match(ooh_phone.strip()):
        raise where.error("out_of_hours.phone", f"must be a quoted phone number, got {ooh_phone!r}")

    promise_raw = raw["response_promise"]
    if not isinstance(promise_raw, Mapping) or len(promise_raw) != 1:
        raise where.error(
            "response_promise", "must be exactly one of {working_hours: N} or {calendar_hours: N}"
        )
    (kind_key, hours), = promise_raw.items()
    if kind_key not in ("working_hours", "calendar_hours"):
        raise where.error(f"response_promise.{kind_key}", "must be working_hours or calendar_hours")
    if not isinstance(hours, int) or isinstance(hours, bool) or hours <= 0:
        raise where.error(f"response_promise.{kind_key}", f"must be a positive whole number, "
                                                          f"got {hours!r}")
    promise = ResponsePromise(kind_key.split("_")[0], hours)
    if promise.kind == "working" and not any(opening.values()) and not bank:
        raise where.error("response_promise", "working_hours needs at least one open day")

    notify_raw = raw["notify"]
    if not isinstance(notify_raw, Mapping):
        raise where.error("notify", "must have email and teams_webhook_env")
    emails = notify_raw.get("email")
    if not isinstance(emails, list) or not emails:
        raise where.error("notify.email", "must be a non-empty list of addresses")
    for address in emails:
        if not isinstance(address, str) or not _EMAIL.match(address):
            raise where.error("notify.email", f"{address!r} is not an email address")
    if "teams_webhook_env" not in notify_raw:
        raise where.error("notify.teams_webhook_env", "is missing (use null for none)")
    env_name = notify_raw["teams_webhook_env"]
    if env_name is not None and (not isinstance(env_name, str) or not _ENV_NAME.match(env_name)):
        raise where.error(
            "notify.teams_webhook_env", f"must be an environment variable NAME or null, "
                                        f"got {env_name!r}"
        )

    return Team(
        id=team_id,
        name=where.text(raw, "name"),
        description=where.text(raw, "description"),
        phone=phone.strip(),
        email=email,
        opening_hours=opening,
        bank_holiday_hours=bank,
        out_of_hours=OutOfHours(ooh_name, ooh_phone.strip()),
        response_promise=promise,
        what_happens_next=where.text(raw, "what_happens_next"),
        notify=NotifyTargets(tuple(emails), env_name),
    )


def parse_directory(
    data: Any, file: str = f"knowledge/content/{FILE_NAME}", zone: tzinfo | None = None
) -> Directory:
    """Validate parsed YAML ``data`` and build a :class:`Directory` (errors name ``file``).

    ``zone`` is the council's time zone (default: :func:`council_zone`);
    :func:`load_directory` passes the one in the same content directory.
    """
    if not isinstance(data, Mapping):
        raise _Where(file, None).error(None, "must be a mapping with teams and categories")
    top = _Where(file, None)
    for name in TOP_FIELDS:
        if name not in data:
            raise top.error(name, "is missing")
    unknown = set(data) - set(TOP_FIELDS)
    if unknown:
        raise top.error(sorted(unknown)[0], "is not a known field")
    if not isinstance(data["teams"], list) or not data["teams"]:
        raise top.error("teams", "must be a non-empty list")

    teams: dict[str, Team] = {}
    for index, raw in enumerate(data["teams"]):
        team = _parse_team(file, index, raw)
        if team.id in teams:
            raise _Where(file, team.id).error("id", "is used by another team")
        teams[team.id] = team

    categories = data["categories"]
    if not isinstance(categories, Mapping):
        raise top.error("categories", "must map category names to {team, priority}")
    routes: dict[str, CategoryRoute] = {}
    for name, raw in categories.items():
        where = _Where(file, str(name), "category")
        if name not in CATEGORIES:
            raise where.error(None, f"is not a known category ({', '.join(CATEGORIES)})")
        if not isinstance(raw, Mapping):
            raise where.error(None, "must be {team: ..., priority: ...}")
        team_id = raw.get("team")
        if team_id not in teams:
            raise where.error("team", f"{team_id!r} is not a team in this file")
        priority = raw.get("priority")
        if priority not in PRIORITIES:
            raise where.error("priority", f"must be one of {', '.join(PRIORITIES)}, "
                                          f"got {priority!r}")
        ooh = raw.get("out_of_hours_team")
        if ooh is not None and ooh not in teams:
            raise where.error("out_of_hours_team", f"{ooh!r} is not a team in this file")
        unknown = set(raw) - {"team", "priority", "out_of_hours_team"}
        if unknown:
            raise where.error(sorted(unknown)[0], "is not a known field")
        routes[name] = CategoryRoute(name, team_id, priority, ooh)
    for name in CATEGORIES:
        if name not in routes:
            raise _Where(file, name, "category").error("team", "no route for this category")

    if data["fallback_team"] not in teams:
        raise top.error("fallback_team", f"{data['fallback_team']!r} is not a team in this file")

    region = data["bank_holiday_region"]
    if region not in BANK_HOLIDAY_REGIONS:
        raise top.error(
            "bank_holiday_region", f"must be one of {', '.join(BANK_HOLIDAY_REGIONS)}, "
                                   f"got {region!r}"
        )
    holidays_raw = data["bank_holidays"]
    if holidays_raw is None:
        holidays_raw = []
    if not isinstance(holidays_raw, list):
        raise top.error("bank_holidays", "must be a list of dates (YYYY-MM-DD)")
    holidays: set[date] = set()
    for value in holidays_raw:
        if isinstance(value, date) and not isinstance(value, datetime):
            holidays.add(value)
            continue
        try:
            holidays.add(date.fromisoformat(str(value)))
        except ValueError:
            raise top.error(
                "bank_holidays", f"{value!r} is not a date (YYYY-MM-DD)"
            ) from None
    return Directory(
        teams,
        routes,
        data["fallback_team"],
        BankHolidays(region, holidays),
        zone or council_zone(),
    )


def load_directory(content_dir: Path) -> Directory:
    """Read and validate ``content_dir/directory.yml`` (duplicate keys are refused).

    Times are local to ``content_dir/council.yml``'s ``council.timezone``; a
    directory without a council file beside it uses the configured council's.
    """
    path = Path(content_dir) / FILE_NAME
    try:
        data = read_yaml(path)
    except DirectoryError:
        raise
    except ContentError as exc:
        raise DirectoryError(exc.file, None, None, exc.message, line=exc.line) from None
    zone = None
    if (Path(content_dir) / COUNCIL_FILE).exists():
        zone = load_council_settings(Path(content_dir)).council.zone
    return parse_directory(data, display_path(path), zone)


_cache_lock = threading.Lock()
_cache: dict[Path, Directory] = {}


def default_directory() -> Directory:
    """The directory from ``get_settings().content_dir``, loaded once per process."""
    from firstpoint.settings import get_settings

    content_dir = get_settings().content_dir
    with _cache_lock:
        if content_dir not in _cache:
            _cache[content_dir] = load_directory(content_dir)
        return _cache[content_dir]

"""Parse and validate report parameters (shared by the CLI and the JSON API).

Every error is a :class:`ParameterError` whose message names the parameter,
so the CLI and the API can show it to the user unchanged.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

from firstpoint.reports.model import GROUP_BYS, Scope
from knowledge.loader import council_zone

DEFAULT_DAYS = 30
MAX_TOP = 100
_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,20}$")


class ParameterError(ValueError):
    """A report parameter is malformed; ``param`` is its name."""

    def __init__(self, param: str, message: str) -> None:
        super().__init__(f"parameter '{param}': {message}")
        self.param = param


def council_today(now: datetime | None = None) -> date:
    """Today's date in the council's time zone (``council.timezone``)."""
    zone = council_zone()
    moment = now or datetime.now(tz=zone)
    return moment.astimezone(zone).date()


def default_range(today: date | None = None, days: int = DEFAULT_DAYS) -> tuple[date, date]:
    """The last ``days`` council-local days, ending today inclusive."""
    end = today or council_today()
    return end - timedelta(days=days - 1), end


def parse_date(param: str, value: str) -> date:
    """An ISO ``YYYY-MM-DD`` date, or ParameterError naming ``param``."""
    try:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value.strip()):
            raise ValueError(value)
        return date.fromisoformat(value.strip())
    except ValueError:
        raise ParameterError(param, f"expected a date YYYY-MM-DD, got {value!r}") from None


def parse_group_by(value: str | None, param: str = "group_by") -> str:
    """``day``, ``week`` or ``month`` (default ``month``)."""
    if value is None or value == "":
        return "month"
    if value not in GROUP_BYS:
        raise ParameterError(param, f"expected one of {', '.join(GROUP_BYS)}, got {value!r}")
    return value


def parse_name(param: str, value: str | None) -> str | None:
    """An optional channel/audience filter: 1–20 letters, digits, '_', '.', '-'."""
    if value is None or value == "":
        return None
    if not _NAME.fullmatch(value):
        raise ParameterError(
            param, f"expected 1-20 letters, digits, '_', '.' or '-', got {value!r}"
        )
    return value


def parse_top(value: str | None, param: str = "top", default: int = 10) -> int:
    """How many top topics/messages to list: an integer 1–100."""
    if value is None or value == "":
        return default
    try:
        n = int(value)
    except ValueError:
        raise ParameterError(param, f"expected an integer 1-{MAX_TOP}, got {value!r}") from None
    if not 1 <= n <= MAX_TOP:
        raise ParameterError(param, f"expected an integer 1-{MAX_TOP}, got {n}")
    return n


def make_scope(
    date_from: str | None,
    date_to: str | None,
    channel: str | None = None,
    audience: str | None = None,
    *,
    today: date | None = None,
    from_param: str = "from",
    to_param: str = "to",
) -> Scope:
    """Build a :class:`Scope` from text parameters; missing dates mean the last 30 days.

    With only ``to`` given the range is the 30 days ending then; with only ``from``
    it runs from then to today.
    """
    default_from, default_to = default_range(today)
    end = parse_date(to_param, date_to) if date_to else default_to
    if date_from:
        start = parse_date(from_param, date_from)
    else:
        start = default_range(end)[0] if date_to else default_from
    if start > end:
        raise ParameterError(
            from_param,
            f"{start.isoformat()} is after '{to_param}' {end.isoformat()}",
        )
    return Scope(
        date_from=start,
        date_to=end,
        channel=parse_name("channel", channel),
        audience=parse_name("audience", audience),
    )

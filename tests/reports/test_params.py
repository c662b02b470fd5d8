"""Report parameter parsing: clear errors that name the parameter."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from firstpoint.reports.params import (
    ParameterError,
    council_today,
    default_range,
    make_scope,
    parse_date,
    parse_group_by,
    parse_name,
    parse_top,
)


def test_parse_date() -> None:
    assert parse_date("from", "2026-11-01") == date(2026, 11, 1)
    for bad in ("2026-13-01", "01/11/2026", "2026-11-31", "yesterday", "2026-1-1", ""):
        with pytest.raises(ParameterError, match=r"parameter 'from': expected a date YYYY-MM-DD"):
            parse_date("from", bad)


def test_default_range_is_last_30_days_inclusive() -> None:
    assert default_range(date(2026, 11, 30)) == (date(2026, 11, 1), date(2026, 11, 30))


def test_council_today_is_london_date() -> None:
    # 23:30 UTC on 30 June is 00:30 BST on 1 July
    assert council_today(datetime(2026, 6, 30, 23, 30, tzinfo=timezone.utc)) == date(2026, 7, 1)
    assert council_today(datetime(2026, 12, 31, 23, 30, tzinfo=timezone.utc)) == date(2026, 12, 31)


def test_make_scope_defaults_and_validation() -> None:
    today = date(2026, 11, 30)
    scope = make_scope(None, None, today=today)
    assert (scope.date_from, scope.date_to) == (date(2026, 11, 1), today)
    only_to = make_scope(None, "2026-10-31", today=today)
    assert (only_to.date_from, only_to.date_to) == (date(2026, 10, 2), date(2026, 10, 31))
    only_from = make_scope("2026-11-20", None, "web", "staff", today=today)
    assert (only_from.date_from, only_from.date_to) == (date(2026, 11, 20), today)
    assert (only_from.channel, only_from.audience) == ("web", "staff")
    with pytest.raises(ParameterError, match="parameter 'from': 2026-12-01 is after 'to'") as err:
        make_scope("2026-12-01", "2026-11-30")
    assert err.value.param == "from"
    with pytest.raises(ParameterError, match="parameter '--to'"):
        make_scope(None, "30/11/2026", to_param="--to")


def test_other_parameters() -> None:
    assert parse_group_by(None) == "month" and parse_group_by("week") == "week"
    with pytest.raises(ParameterError, match="parameter 'group_by': expected one of day"):
        parse_group_by("year")
    assert parse_name("channel", "") is None and parse_name("channel", "web") == "web"
    with pytest.raises(ParameterError, match="parameter 'channel'"):
        parse_name("channel", "web'; drop table contacts; --")
    assert parse_top(None) == 10 and parse_top("3") == 3
    for bad in ("0", "101", "ten"):
        with pytest.raises(ParameterError, match="parameter 'top'"):
            parse_top(bad)

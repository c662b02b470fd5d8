"""The directory of accountable teams: validation, routing, opening hours and SLA clocks."""

from __future__ import annotations

import copy
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import yaml

from firstpoint.settings import PROJECT_ROOT
from knowledge.directory import (
    CATEGORIES,
    Directory,
    DirectoryError,
    format_local,
    load_directory,
    parse_directory,
)
from knowledge.schema import ContentError

CONTENT = PROJECT_ROOT / "knowledge" / "content"
UTC = timezone.utc


@pytest.fixture(scope="module")
def raw() -> dict[str, Any]:
    return yaml.safe_load((CONTENT / "directory.yml").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def directory() -> Directory:
    return load_directory(CONTENT)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def team_entry(data: dict[str, Any], team_id: str) -> dict[str, Any]:
    return next(t for t in data["teams"] if t["id"] == team_id)


# ----------------------------------------------------------------- content and validation


def test_shipped_directory_loads_with_every_team_and_category(directory: Directory) -> None:
    assert set(directory.teams) == {
        "childrens-front-door", "adult-social-care-front-door", "domestic-abuse-team",
        "emergency-duty-team", "childrens-social-work", "adult-social-care-casework",
        "general-enquiries",
    }
    assert set(directory.routes) == set(CATEGORIES)
    for team in directory.teams.values():
        assert team.phone.startswith("01632 960")
        assert team.email.endswith("@example.org")
        assert all(a.endswith("@example.org") for a in team.notify.email)
        assert team.what_happens_next.endswith(".")


def test_bank_holidays_cover_2026_and_2027(directory: Directory) -> None:
    assert date(2026, 12, 28) in directory.bank_holidays  # Boxing Day substitute
    assert date(2027, 3, 26) in directory.bank_holidays  # Good Friday 2027
    assert date(2027, 12, 28) in directory.bank_holidays
    assert len([d for d in directory.bank_holidays if d.year == 2026]) == 8
    assert len([d for d in directory.bank_holidays if d.year == 2027]) == 8
    assert all(d.weekday() < 5 for d in directory.bank_holidays)


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda d: team_entry(d, "domestic-abuse-team").pop("phone"),
         "team 'domestic-abuse-team': field 'phone': is missing"),
        (lambda d: team_entry(d, "domestic-abuse-team").update(phone=1632960300),
         "team 'domestic-abuse-team': field 'phone': must be a quoted phone number"),
        (lambda d: team_entry(d, "general-enquiries").update(email="not-an-address"),
         "team 'general-enquiries': field 'email': must be an email address"),
        (lambda d: team_entry(d, "childrens-front-door")["opening_hours"].update(
            monday="17:00-08:30"),
         "team 'childrens-front-door': field 'opening_hours.monday': '17:00-08:30' ends before"),
        (lambda d: team_entry(d, "childrens-front-door")["opening_hours"].update(
            tuesday="9 till 5"),
         "team 'childrens-front-door': field 'opening_hours.tuesday': '9 till 5' is not"),
        (lambda d: team_entry(d, "childrens-front-door")["opening_hours"].pop("sunday"),
         "team 'childrens-front-door': field 'opening_hours.sunday': is missing"),
        (lambda d: team_entry(d, "emergency-duty-team").update(
            response_promise={"working_hours": 1, "calendar_hours": 2}),
         "team 'emergency-duty-team': field 'response_promise': must be exactly one"),
        (lambda d: team_entry(d, "emergency-duty-team").update(
            response_promise={"calendar_hours": 0}),
         "team 'emergency-duty-team': field 'response_promise.calendar_hours': must be a "
         "positive"),
        (lambda d: team_entry(d, "childrens-social-work")["notify"].update(
            teams_webhook_env="https://outlook.office.com/webhook/secret"),
         "team 'childrens-social-work': field 'notify.teams_webhook_env': must be an "
         "environment variable NAME"),
        (lambda d: team_entry(d, "childrens-social-work")["notify"].update(email=[]),
         "team 'childrens-social-work': field 'notify.email': must be a non-empty list"),
        (lambda d: team_entry(d, "childrens-social-work")["out_of_hours"].pop("phone"),
         "team 'childrens-social-work': field 'out_of_hours.phone'"),
        (lambda d: team_entry(d, "childrens-social-work").update(colour="blue"),
         "team 'childrens-social-work': field 'colour': is not a known field"),
        (lambda d: d["teams"].append(copy.deepcopy(d["teams"][0])),
         "team 'childrens-front-door': field 'id': is used by another team"),
        (lambda d: d["categories"]["danger"].update(team="police"),
         "category 'danger': field 'team': 'police' is not a team"),
        (lambda d: d["categories"]["casework"].update(priority="high"),
         "category 'casework': field 'priority': must be one of emergency, urgent, normal"),
        (lambda d: d["categories"].pop("domestic_abuse"),
         "category 'domestic_abuse': field 'team': no route for this category"),
        (lambda d: d["bank_holidays"].append("2026-02-30"),
         "directory.yml: field 'bank_holidays': '2026-02-30' is not a date"),
        (lambda d: d.update(fallback_team="nobody"),
         "directory.yml: field 'fallback_team': 'nobody' is not a team"),
    ],
)
def test_validation_errors_name_file_entry_and_field(raw, mutate, expected) -> None:
    data = copy.deepcopy(raw)
    mutate(data)
    with pytest.raises(DirectoryError) as info:
        parse_directory(data, "knowledge/content/directory.yml")
    message = str(info.value)
    assert message.startswith("knowledge/content/directory.yml: ")
    assert expected in message


def test_load_directory_reports_the_real_path(tmp_path: Path, raw) -> None:
    data = copy.deepcopy(raw)
    team_entry(data, "emergency-duty-team")["opening_hours"]["friday"] = "25:00-26:00"
    (tmp_path / "directory.yml").write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(DirectoryError, match=r"directory\.yml: team 'emergency-duty-team': "
                                             r"field 'opening_hours\.friday'"):
        load_directory(tmp_path)
    assert issubclass(DirectoryError, ContentError) and issubclass(DirectoryError, ValueError)


def test_missing_file_is_a_directory_error(tmp_path: Path) -> None:
    with pytest.raises(DirectoryError, match="cannot read"):
        load_directory(tmp_path)


def test_yaml_syntax_error_gives_the_line(tmp_path: Path) -> None:
    (tmp_path / "directory.yml").write_text("teams:\n  - id: x\n    name: [unclosed\n",
                                            encoding="utf-8")
    with pytest.raises(DirectoryError,
                       match=r"directory\.yml: line \d+: YAML syntax error") as info:
        load_directory(tmp_path)
    assert info.value.line is not None


# ----------------------------------------------------------------- routing


@pytest.mark.parametrize(
    ("category", "team_id", "priority"),
    [
        ("danger", "childrens-front-door", "emergency"),
        ("self_harm", "adult-social-care-front-door", "emergency"),
        ("child_safeguarding", "childrens-front-door", "urgent"),
        ("adult_safeguarding", "adult-social-care-front-door", "urgent"),
        ("domestic_abuse", "domestic-abuse-team", "urgent"),
        ("casework_children", "childrens-social-work", "normal"),
        ("casework_adults", "adult-social-care-casework", "normal"),
        ("casework", "general-enquiries", "normal"),
    ],
)
def test_route_every_category(directory: Directory, category, team_id, priority) -> None:
    team, got_priority = directory.route(category)
    assert (team.id, got_priority) == (team_id, priority)


def test_unknown_category_goes_to_the_fallback_team(directory: Directory, caplog) -> None:
    team, priority = directory.route("parking_fine")
    assert (team.id, priority) == ("general-enquiries", "normal")
    assert "parking_fine" in caplog.text


# ----------------------------------------------------------------- opening hours


def test_is_open_weekday_weekend_and_boundaries(directory: Directory) -> None:
    front = directory.team("childrens-front-door")
    # Tuesday 13 January 2026 (GMT): 08:30-17:00
    assert not directory.is_open(front, utc(2026, 1, 13, 8, 29))
    assert directory.is_open(front, utc(2026, 1, 13, 8, 30))
    assert directory.is_open(front, utc(2026, 1, 13, 16, 59))
    assert not directory.is_open(front, utc(2026, 1, 13, 17, 0))
    # Saturday closed, EDT open
    assert not directory.is_open(front, utc(2026, 1, 17, 12, 0))
    assert directory.is_open("emergency-duty-team", utc(2026, 1, 17, 12, 0))


def test_is_open_follows_british_summer_time(directory: Directory) -> None:
    front = directory.team("childrens-front-door")
    # Wednesday 15 July 2026: 08:30 BST is 07:30 UTC
    assert directory.is_open(front, utc(2026, 7, 15, 7, 30))
    assert not directory.is_open(front, utc(2026, 7, 15, 7, 29))
    assert not directory.is_open(front, utc(2026, 7, 15, 16, 0))  # 17:00 BST
    # naive datetimes are UTC
    assert directory.is_open(front, datetime(2026, 7, 15, 7, 30))


def test_bank_holiday_closes_day_teams_but_not_the_emergency_duty_team(directory) -> None:
    early_may = utc(2026, 5, 4, 10, 0)  # Monday, bank holiday, 11:00 BST
    for team_id in ("childrens-front-door", "domestic-abuse-team", "general-enquiries"):
        assert not directory.is_open(team_id, early_may)
        assert directory.is_open(team_id, early_may + timedelta(days=1))
    assert directory.is_open("emergency-duty-team", early_may)
    # the EDT is a night/weekend service: closed in office hours on a normal Tuesday
    assert not directory.is_open("emergency-duty-team", early_may + timedelta(days=1))


def test_next_opening(directory: Directory) -> None:
    front = directory.team("childrens-front-door")
    friday_evening = utc(2026, 5, 1, 18, 0)  # Fri 1 May 19:00 BST; Mon 4 May is a holiday
    assert directory.next_opening(front, friday_evening) == utc(2026, 5, 5, 7, 30)
    open_now = utc(2026, 5, 5, 9, 0)
    assert directory.next_opening(front, open_now) == open_now


# ----------------------------------------------------------------- SLA clock


def test_sla_working_hours_inside_one_day(directory: Directory) -> None:
    # 4 working hours from Tuesday 13 Jan 2026 09:00 GMT -> 13:00 the same day
    assert directory.sla_due("childrens-front-door", utc(2026, 1, 13, 9, 0)) == \
        utc(2026, 1, 13, 13, 0)


def test_sla_working_hours_across_a_weekend(directory: Directory) -> None:
    # Friday 16 Jan 15:00 GMT: 1.5h until 16:30 Friday close, 2.5h from Monday 08:30
    assert directory.sla_due("childrens-front-door", utc(2026, 1, 16, 15, 0)) == \
        utc(2026, 1, 19, 11, 0)


def test_sla_working_hours_created_out_of_hours(directory: Directory) -> None:
    # Saturday night: the clock starts at Monday's opening
    assert directory.sla_due("childrens-front-door", utc(2026, 1, 17, 22, 0)) == \
        utc(2026, 1, 19, 12, 30)
    # Early Tuesday morning before opening
    assert directory.sla_due("childrens-front-door", utc(2026, 1, 20, 6, 0)) == \
        utc(2026, 1, 20, 12, 30)


def test_sla_working_hours_skip_bank_holidays(directory: Directory) -> None:
    # Thursday 2 April 2026 16:00 BST (15:00 UTC): 1h Thursday; Good Friday, weekend and
    # Easter Monday closed; 3h from Tuesday 7 April 08:30 BST -> 11:30 BST = 10:30 UTC
    assert directory.sla_due("childrens-front-door", utc(2026, 4, 2, 15, 0)) == \
        utc(2026, 4, 7, 10, 30)


def test_sla_working_hours_across_the_clocks_going_back(directory: Directory) -> None:
    # Friday 23 Oct 2026 16:00 BST (15:00 UTC): 0.5h Friday (closes 16:30 BST);
    # clocks go back Sunday 25 Oct; 3.5h from Monday 08:30 GMT -> 12:00 GMT = 12:00 UTC
    due = directory.sla_due("childrens-front-door", utc(2026, 10, 23, 15, 0))
    assert due == utc(2026, 10, 26, 12, 0)
    assert format_local(due) == "12:00 on Monday 26 October 2026"


def test_sla_working_hours_across_the_clocks_going_forward(directory: Directory) -> None:
    # Friday 27 March 2026 16:00 GMT: 0.5h Friday; clocks go forward Sunday 29 March;
    # 3.5h from Monday 30 March 08:30 BST (07:30 UTC) -> 11:00 UTC
    assert directory.sla_due("childrens-front-door", utc(2026, 3, 27, 16, 0)) == \
        utc(2026, 3, 30, 11, 0)


def test_sla_multi_day_promise(directory: Directory) -> None:
    # 16 working hours for Children's Social Work (8.5h Mon-Thu, 8h Fri) from Thursday
    # 15 Jan 2026 12:00 GMT: 5h Thu, 8h Fri, 3h Monday from 08:30 -> 11:30
    assert directory.sla_due("childrens-social-work", utc(2026, 1, 15, 12, 0)) == \
        utc(2026, 1, 19, 11, 30)


def test_sla_calendar_hours_ignore_opening_hours_and_clock_changes(directory) -> None:
    edt = directory.team("emergency-duty-team")
    assert edt.response_promise.kind == "calendar"
    start = utc(2026, 3, 29, 0, 30)  # the night the clocks go forward
    assert directory.sla_due(edt, start) == start + timedelta(hours=1)
    # out of the team's hours too: calendar hours still count
    weekday_noon = utc(2026, 1, 13, 12, 0)
    assert not directory.is_open(edt, weekday_noon)
    assert directory.sla_due(edt, weekday_noon) == utc(2026, 1, 13, 13, 0)


def test_sla_rejects_a_team_that_never_opens(raw) -> None:
    data = copy.deepcopy(raw)
    hours = team_entry(data, "general-enquiries")["opening_hours"]
    for day in hours:
        hours[day] = "closed"
    with pytest.raises(DirectoryError, match="working_hours needs at least one open day"):
        parse_directory(data)


def test_default_directory_is_loaded_once_from_settings(monkeypatch, tmp_path, raw) -> None:
    from firstpoint.settings import get_settings
    from knowledge.directory import default_directory

    data = copy.deepcopy(raw)
    team_entry(data, "general-enquiries")["name"] = "Test Council Business Support"
    (tmp_path / "directory.yml").write_text(yaml.safe_dump(data), encoding="utf-8")
    monkeypatch.setenv("FIRSTPOINT_CONTENT_DIR", str(tmp_path))
    get_settings.cache_clear()
    try:
        first = default_directory()
        assert first.team("general-enquiries").name == "Test Council Business Support"
        (tmp_path / "directory.yml").write_text("not: valid", encoding="utf-8")
        assert default_directory() is first  # cached: the file is not read again
    finally:
        get_settings.cache_clear()


# ----------------------------------------------------------------- bank holidays and time zone


def test_bank_holidays_do_not_stop_at_the_end_of_a_typed_list(directory: Directory) -> None:
    """The typed list in directory.yml stopped at 2027; the holidays package knows every year."""
    days_2028 = sorted(d for d in directory.bank_holidays if d.year == 2028)
    assert days_2028 == [
        date(2028, 1, 3),  # New Year's Day falls on a Saturday: Monday is the day off
        date(2028, 4, 14), date(2028, 4, 17), date(2028, 5, 1), date(2028, 5, 29),
        date(2028, 8, 28), date(2028, 12, 25), date(2028, 12, 26),
    ]
    assert date(2035, 12, 25) in directory.bank_holidays  # any year, not only listed ones
    assert date(2028, 1, 1) not in directory.bank_holidays  # a Saturday: the weekday rules
    assert directory.hours_on("childrens-front-door", date(2028, 12, 26)) == ()
    assert directory.bank_holidays.name(date(2028, 1, 3)) == "New Year's Day (observed)"


def test_sla_clock_skips_2028_bank_holidays(directory: Directory) -> None:
    # Friday 22 December 2028, 16:00: 30 minutes of Friday, then Christmas and Boxing Day.
    due = directory.sla_due("childrens-social-work", utc(2028, 12, 22, 16, 0))
    assert due.date() == date(2028, 12, 28)


def test_extra_closure_days_and_region_are_validated(raw) -> None:
    data = copy.deepcopy(raw)
    data["bank_holidays"] = ["2028-07-03"]
    directory = parse_directory(data)
    assert date(2028, 7, 3) in directory.bank_holidays
    assert directory.bank_holidays.name(date(2028, 7, 3)) == "closure day"

    scotland = copy.deepcopy(raw)
    scotland["bank_holiday_region"] = "scotland"
    assert date(2028, 1, 4) in parse_directory(scotland).bank_holidays  # 2 January, substitute
    assert date(2028, 1, 4) not in parse_directory(raw).bank_holidays

    bad = copy.deepcopy(raw)
    bad["bank_holiday_region"] = "narnia"
    with pytest.raises(DirectoryError, match=r"field 'bank_holiday_region': must be one of "
                                             r"england, wales, scotland, northern-ireland"):
        parse_directory(bad, "knowledge/content/directory.yml")


def test_opening_hours_follow_the_councils_validated_time_zone(tmp_path: Path) -> None:
    """Times are local to council.yml's council.timezone, not a hard-coded Europe/London."""
    content = tmp_path / "content"
    content.mkdir()
    (content / "directory.yml").write_text(
        (CONTENT / "directory.yml").read_text(encoding="utf-8"), encoding="utf-8")
    council = (CONTENT / "council.yml").read_text(encoding="utf-8")
    assert "timezone: Europe/London" in council
    (content / "council.yml").write_text(
        council.replace("timezone: Europe/London", "timezone: Pacific/Auckland"),
        encoding="utf-8")
    london, auckland = load_directory(CONTENT), load_directory(content)
    tuesday_10am_london = utc(2026, 11, 24, 10, 0)  # 23:00 in Auckland
    assert london.is_open("childrens-front-door", tuesday_10am_london)
    assert not auckland.is_open("childrens-front-door", tuesday_10am_london)
    assert auckland.format_local(tuesday_10am_london) == "23:00 on Tuesday 24 November 2026"
    assert london.format_local(tuesday_10am_london) == "10:00 on Tuesday 24 November 2026"

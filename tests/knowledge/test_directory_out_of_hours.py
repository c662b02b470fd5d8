"""Out-of-hours routing: safeguarding and emergencies go to the Emergency Duty Team at night."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest
import yaml

from knowledge.directory import ContentError, load_directory, parse_directory

CONTENT = Path(__file__).resolve().parents[2] / "knowledge" / "content"
TUESDAY_10AM = datetime(2026, 11, 24, 10, 0, tzinfo=timezone.utc)
SATURDAY_11PM = datetime(2026, 11, 28, 23, 0, tzinfo=timezone.utc)
CHRISTMAS_NOON = datetime(2026, 12, 25, 12, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize("category", ["danger", "self_harm", "child_safeguarding",
                                      "adult_safeguarding"])
def test_closed_day_team_hands_to_the_duty_team(category: str) -> None:
    directory = load_directory(CONTENT)
    day_team, priority = directory.route(category)
    assert directory.route_at(category, TUESDAY_10AM) == (day_team, priority)
    for when in (SATURDAY_11PM, CHRISTMAS_NOON):
        team, prio = directory.route_at(category, when)
        assert team.id == "emergency-duty-team" and prio == priority
        assert directory.is_open(team, when)


def test_routes_without_an_out_of_hours_team_stay_with_the_day_team() -> None:
    directory = load_directory(CONTENT)
    team, _ = directory.route_at("casework_children", SATURDAY_11PM)
    assert team.id == "childrens-social-work"


def test_unknown_out_of_hours_team_is_rejected_with_file_category_and_field() -> None:
    data = yaml.safe_load((CONTENT / "directory.yml").read_text(encoding="utf-8"))
    data["categories"]["danger"]["out_of_hours_team"] = "night-owls"
    with pytest.raises(ContentError) as err:
        parse_directory(data)
    assert "danger" in str(err.value) and "out_of_hours_team" in str(err.value)

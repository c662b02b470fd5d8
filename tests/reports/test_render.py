"""Table, tidy CSV and JSON renderings of the fixture report."""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal

import pytest
from sqlalchemy.engine import Engine

from firstpoint.reports.queries import build_report
from firstpoint.reports.render import (
    CSV_HEADER,
    format_table,
    gbp,
    one_line,
    pct,
    render,
    render_csv,
    render_json,
    render_table,
)
from firstpoint.reports.value import compute_value
from tests.reports import expected
from tests.reports.fixtures import PERIOD


@pytest.fixture
def report_and_value(fixture_engine: Engine):
    report = build_report(fixture_engine, *PERIOD, group_by="month")
    return report, compute_value(report)


def _csv_index(text: str) -> dict[tuple[str, str, str, str], str]:
    reader = csv.reader(io.StringIO(text))
    assert tuple(next(reader)) == CSV_HEADER
    index: dict[tuple[str, str, str, str], str] = {}
    for row in reader:
        assert len(row) == 5, row
        key = (row[0], row[1], row[2], row[3])
        assert key not in index, f"duplicate figure {key}"
        index[key] = row[4]
    return index


def test_csv_is_tidy_long_format(report_and_value) -> None:
    index = _csv_index(render_csv(*report_and_value))
    assert index["summary", "all", "all", "contacts"] == "12"
    assert index["summary", "all", "all", "containment_rate"] == "0.3636"
    assert index["summary", "all", "all", "open"] == "1"
    assert index["by_channel", "channel", "web", "containment_rate"] == "0.6667"
    assert index["by_channel", "channel", "facebook", "escalated"] == "3"
    assert index["by_audience", "audience", "staff", "helpful_rate"] == "0.3333"
    assert index["by_period", "month", "2026-11", "contained"] == "1"
    assert index["escalation", "handoff_team", "bs-admin", "total"] == "2"
    assert index["demand", "weekday_hour", "Mon 09", "contacts"] == "3"
    assert index["demand", "weekday_hour", "Sun 20", "contacts"] == "1"
    assert index["demand", "month", "2026-10", "contacts"] == "6"
    assert index["top_topics", "entry_id", "menu.minute-taking", "contacts"] == "5"
    assert index["top_not_understood", "text_redacted", expected.TOP_NOT_UNDERSTOOD[0][0],
                 "messages"] == "3"
    # value: web 4 contained x 2.723 = 10.892 -> 10.89
    assert index["value", "channel", "web", "value_gbp"] == "10.89"
    assert index["value", "all", "all", "value_gbp"] == "10.89"
    assert index["value", "cost_class", "phone", "unit_cost_gbp"] == "2.83"
    assert sum(1 for k in index if k[1] == "weekday_hour") == 7 * 24


def test_csv_leaves_undefined_rates_empty(fixture_engine: Engine) -> None:
    from datetime import date

    report = build_report(fixture_engine, date(2030, 1, 1), date(2030, 1, 2))
    index = _csv_index(render_csv(report, compute_value(report)))
    assert index["summary", "all", "all", "containment_rate"] == ""
    assert index["summary", "all", "all", "contacts"] == "0"
    assert index["value", "all", "all", "value_gbp"] == "0.00"


def test_json_round_trips(report_and_value) -> None:
    doc = json.loads(render_json(*report_and_value))
    assert doc["report"]["summary"] == expected.SUMMARY
    assert doc["value"]["total_gbp"] == "10.89"
    assert doc["report"]["top_topics"][0] == {"entry_id": "menu.minute-taking", "contacts": 5}


def test_table_shows_every_section_with_pounds_and_percent(report_and_value) -> None:
    text = render_table(*report_and_value)
    for heading in ("Summary", "By channel", "By audience", "By month",
                    "Escalation by handoff team", "Demand by council-local hour",
                    "Demand by month", "Top topics", "Top not-understood messages",
                    "Value of the shift"):
        assert f"\n{heading}" in text, heading
    assert "2026-10-01 to 2026-11-30" in text
    assert "36.4%" in text          # containment 4/11
    assert "66.7% of 6" in text     # helpful 4 of 6 ratings
    assert "£10.89" in text and "£2.72" in text
    web_line = next(line for line in text.splitlines() if line.strip().startswith("web  "))
    assert "66.7%" in web_line


def test_format_table_aligns_columns() -> None:
    text = format_table(("name", "n", "rate"), [("a", 1, "5.0%"), ("longer", 12345, "50.0%")])
    assert text.splitlines() == [
        "  name        n   rate",
        "  ------  -----  -----",
        "  a           1   5.0%",
        "  longer  12345  50.0%",
    ]


def test_cell_helpers() -> None:
    assert pct(0.58333) == "58.3%" and pct(None) == "-"
    assert gbp(Decimal("1234.5")) == "£1,234.50" and gbp(Decimal("-3")) == "-£3.00"
    assert one_line("a\nb   c") == "a b c"
    assert one_line("x" * 80, 10) == "x" * 9 + "…"


def test_render_dispatch(report_and_value) -> None:
    report, value = report_and_value
    assert render(report, value, "csv").startswith("section,dimension,key,metric,value\n")
    assert json.loads(render(report, value, "json"))["report"]["group_by"] == "month"
    assert render(report, value, "table") == render_table(report, value)
    with pytest.raises(ValueError, match="format"):
        render(report, value, "xml")

"""build_report and its queries against the hand-checked fixture, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import date

import pytest
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from firstpoint.reports.model import Scope
from firstpoint.reports.queries import build_report, contact_figures, demand, figures_query
from tests.reports import expected
from tests.reports.fixtures import PERIOD, load_fixture

FROM, TO = PERIOD


@pytest.fixture(
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.services)],
)
def engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    """The fixture loaded into SQLite, or into a throwaway PostgreSQL database."""
    from firstpoint.records.db import make_engine

    url = request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "postgres_url")
    load_fixture(url)
    eng = make_engine(url)
    yield eng
    eng.dispose()


def _subset(actual: dict, wanted: dict) -> dict:
    return {k: actual[k] for k in wanted}


def test_summary_matches_hand_count(engine: Engine) -> None:
    report = build_report(engine, FROM, TO)
    assert report.summary.to_dict() == expected.SUMMARY


def test_rates_partition_decided_contacts(engine: Engine) -> None:
    rates = build_report(engine, FROM, TO).summary.rates()
    parts = ("containment_rate", "escalation_rate", "not_understood_rate", "abandonment_rate")
    assert sum(rates[p] or 0.0 for p in parts) == pytest.approx(1.0, abs=1e-3)


def test_by_channel(engine: Engine) -> None:
    report = build_report(engine, FROM, TO)
    got = {b.key: b.figures.to_dict() for b in report.by_channel}
    assert got == expected.BY_CHANNEL
    assert [b.key for b in report.by_channel] == ["facebook", "web"]


def test_by_audience(engine: Engine) -> None:
    report = build_report(engine, FROM, TO)
    got = {b.key: _subset(b.figures.to_dict(), expected.BY_AUDIENCE[b.key])
           for b in report.by_audience}
    assert got == expected.BY_AUDIENCE


def test_by_month(engine: Engine) -> None:
    report = build_report(engine, FROM, TO, group_by="month")
    got = {b.key: _subset(b.figures.to_dict(), expected.BY_MONTH[b.key])
           for b in report.by_period}
    assert got == expected.BY_MONTH


def test_by_week_starts_on_council_local_monday(engine: Engine) -> None:
    report = build_report(engine, FROM, TO, group_by="week")
    assert {b.key: b.figures.contacts for b in report.by_period} == expected.BY_WEEK
    contained = {b.key: b.figures.contained for b in report.by_period}
    for week, n in expected.BY_WEEK_CONTAINED.items():
        assert contained[week] == n


def test_by_day(engine: Engine) -> None:
    report = build_report(engine, FROM, TO, group_by="day")
    assert [b.key for b in report.by_period] == sorted(expected.BY_DAY)
    assert {b.key: b.figures.contacts for b in report.by_period} == expected.BY_DAY


def test_escalation_by_team(engine: Engine) -> None:
    report = build_report(engine, FROM, TO)
    assert [t.to_dict() for t in report.escalation_by_team] == expected.ESCALATION


def test_demand_matrix_and_months(engine: Engine) -> None:
    result = demand(engine, Scope(FROM, TO))
    want = [[expected.DEMAND_CELLS.get((d, h), 0) for h in range(24)] for d in range(7)]
    assert result.matrix == want
    assert result.by_month == expected.DEMAND_BY_MONTH


def test_top_topics_count_contacts(engine: Engine) -> None:
    report = build_report(engine, FROM, TO)
    got = [(t.entry_id, t.contacts) for t in report.topics.top_topics]
    assert got == expected.TOP_TOPICS
    top2 = build_report(engine, FROM, TO, top_n=2).topics.top_topics
    assert [(t.entry_id, t.contacts) for t in top2] == expected.TOP_TOPICS[:2]


def test_top_not_understood_messages(engine: Engine) -> None:
    report = build_report(engine, FROM, TO)
    got = [(m.text_redacted, m.messages, m.contacts) for m in report.topics.top_not_understood]
    assert got == expected.TOP_NOT_UNDERSTOOD


def test_channel_filter_applies_to_every_section(engine: Engine) -> None:
    # web only: rows 1, 2, 3, 5, 7, 10, 11.
    report = build_report(engine, FROM, TO, channel="web")
    assert report.summary.to_dict() == expected.BY_CHANNEL["web"]
    assert [b.key for b in report.by_channel] == ["web"]
    # audiences among web rows: resident 1, 2, 7, 11 = 4; staff 3, 5, 10 = 3
    assert {b.key: b.figures.contacts for b in report.by_audience} == {"resident": 4, "staff": 3}
    # teams: only row 10 escalated on web
    assert [t.to_dict() for t in report.escalation_by_team] == [
        {"team": "bs-minutes", "handed_off": 1, "emergency": 0, "total": 1}
    ]
    # topics of web rows: minute-taking 1, 2, 7 = 3; payroll 3, 10 = 2; room-booking 1, 7 = 2
    assert [(t.entry_id, t.contacts) for t in report.topics.top_topics] == [
        ("menu.minute-taking", 3), ("menu.payroll", 2), ("menu.room-booking", 2)
    ]
    # not understood on web: row 5 only
    assert [(m.text_redacted, m.messages) for m in report.topics.top_not_understood] == [
        ("can you do my [REDACTED] thing", 1), ("what about the [PHONE]", 1)
    ]
    assert sum(map(sum, report.demand.matrix)) == 7


def test_channel_and_audience_filters_combine(engine: Engine) -> None:
    # facebook + staff: row 8 only (handed_off to bs-admin, rated helpful)
    fig = contact_figures(engine, Scope(FROM, TO, channel="facebook", audience="staff")).summary
    assert (fig.contacts, fig.outcomes["handed_off"], fig.helpful) == (1, 1, 1)
    assert fig.rates()["escalation_rate"] == 1.0


@pytest.mark.parametrize(
    ("day", "rows"),
    [
        (date(2026, 10, 1), 1),   # row 1: UTC 30 Sep 23:30 is BST 1 Oct 00:30
        (date(2026, 9, 30), 1),   # row 13 only (row 1 is NOT 30 Sep for the council)
        (date(2026, 11, 30), 1),  # row 11 (GMT: UTC date = local date)
        (date(2026, 12, 1), 1),   # row 14
        (date(2026, 10, 2), 0),
    ],
)
def test_periods_use_council_local_dates(engine: Engine, day: date, rows: int) -> None:
    assert contact_figures(engine, Scope(day, day)).summary.contacts == rows


def test_bst_contact_lands_in_local_hour_and_day(engine: Engine) -> None:
    one_day = demand(engine, Scope(date(2026, 10, 1), date(2026, 10, 1)))
    assert one_day.matrix[3][0] == 1  # Thursday, 00:xx local — not Wednesday 23:xx UTC
    assert sum(map(sum, one_day.matrix)) == 1


def test_empty_period_gives_zeros_and_no_rates(engine: Engine) -> None:
    report = build_report(engine, date(2030, 1, 1), date(2030, 1, 31))
    assert report.summary.contacts == 0
    assert set(report.summary.rates().values()) == {None}
    assert report.by_channel == [] and report.by_period == []
    assert report.topics.top_topics == [] and report.topics.top_not_understood == []
    assert report.demand.matrix == [[0] * 24 for _ in range(7)]


def test_accepts_session_connection_or_engine(engine: Engine) -> None:
    from firstpoint.records.db import session_factory

    by_engine = build_report(engine, FROM, TO).to_dict()
    with engine.connect() as conn:
        assert build_report(conn, FROM, TO).to_dict() == by_engine
    with Session(engine) as session:
        assert build_report(session, FROM, TO).to_dict() == by_engine
    with session_factory(engine)() as session:
        weeks = contact_figures(session, Scope(FROM, TO), "week").by_period
        assert weeks[0].key == "2026-09-28"


def test_report_is_json_serialisable(engine: Engine) -> None:
    doc = json.loads(json.dumps(build_report(engine, FROM, TO).to_dict()))
    assert doc["scope"] == {"date_from": "2026-10-01", "date_to": "2026-11-30",
                            "channel": None, "audience": None}
    assert doc["summary"]["contacts"] == 12
    assert doc["demand"]["hour_by_weekday"][0][9] == 3
    assert doc["definitions"]["containment_rate"] == "contained / decided"


def test_demand_by_month_matches_the_figures_section(engine: Engine) -> None:
    # the /demand endpoint counts months with its own query; build_report takes them
    # from the single figures statement — both must agree with the hand count
    assert demand(engine, Scope(FROM, TO)).by_month == expected.DEMAND_BY_MONTH
    assert build_report(engine, FROM, TO).demand.by_month == expected.DEMAND_BY_MONTH


def test_contact_figures_is_one_statement(engine: Engine) -> None:
    from sqlalchemy import event

    statements: list[str] = []

    def count(conn, cursor, statement, *args) -> None:  # type: ignore[no-untyped-def]
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        figures = contact_figures(engine, Scope(FROM, TO), "week")
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert len(statements) == 1 and "GROUP BY" in statements[0].upper()
    assert figures.summary.contacts == 12 and len(figures.by_period) == 7


def test_bad_arguments_are_rejected() -> None:
    with pytest.raises(ValueError, match="group_by"):
        build_report(None, FROM, TO, group_by="year")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="group_by"):
        figures_query(Scope(FROM, TO), "fortnight", "sqlite")
    with pytest.raises(ValueError, match="after"):
        Scope(TO, FROM)


# --- the lists read the contact's scope copied onto the child tables -------------------

SCOPES = [
    Scope(FROM, TO, channel, audience)
    for channel in (None, "web", "facebook", "teams")
    for audience in (None, "resident", "staff")
] + [Scope(date(2026, 9, 30), date(2026, 10, 1)), Scope(date(2026, 11, 30), date(2026, 12, 1))]


def _through_contacts(engine: Engine, scope: Scope) -> tuple[list, list]:
    """Top topics and not-understood messages scoped by JOINing ``contacts`` (the
    definition the denormalised columns must reproduce)."""
    from sqlalchemy import text

    where = "c.local_date BETWEEN :f AND :t"
    params: dict = {"f": scope.date_from, "t": scope.date_to}
    for name in ("channel", "audience"):
        if getattr(scope, name) is not None:
            where += f" AND c.{name} = :{name}"
            params[name] = getattr(scope, name)
    with engine.connect() as conn:
        topics = conn.execute(text(
            "SELECT t.entry_id, count(DISTINCT t.contact_id) AS n FROM contact_topics t "
            f"JOIN contacts c ON c.id = t.contact_id WHERE {where} "
            "GROUP BY t.entry_id ORDER BY n DESC, t.entry_id"), params).all()
        messages = conn.execute(text(
            "SELECT u.text_redacted, count(*) AS m, count(DISTINCT u.contact_id) FROM "
            f"unrecognised_messages u JOIN contacts c ON c.id = u.contact_id WHERE {where} "
            "GROUP BY u.text_redacted ORDER BY m DESC, u.text_redacted"), params).all()
    return [tuple(r) for r in topics], [tuple(r) for r in messages]


@pytest.mark.parametrize("scope", SCOPES, ids=lambda s: f"{s.channel}-{s.audience}-{s.date_from}")
def test_lists_match_scoping_through_the_contact(engine: Engine, scope: Scope) -> None:
    from firstpoint.reports.queries import top_not_understood, top_topics

    topics, messages = _through_contacts(engine, scope)
    assert [(t.entry_id, t.contacts) for t in top_topics(engine, scope, 50)] == topics
    assert [(m.text_redacted, m.messages, m.contacts)
            for m in top_not_understood(engine, scope, 50)] == messages


def test_lists_do_not_join_contacts(engine: Engine) -> None:
    from sqlalchemy import event

    from firstpoint.reports.queries import build_topics

    statements: list[str] = []

    def seen(conn, cursor, statement, *args) -> None:  # type: ignore[no-untyped-def]
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", seen)
    try:
        build_topics(engine, Scope(FROM, TO, "web", "staff"))
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert len(statements) == 2
    for statement in statements:
        assert "JOIN" not in statement.upper() and not re.search(r"\bcontacts\b", statement)

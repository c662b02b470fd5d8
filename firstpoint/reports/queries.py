"""Channel-shift figures over the contact log, every aggregation done in SQL.

Each function below issues one SQLAlchemy Core ``SELECT … GROUP BY`` against the
tables described in ``docs/contact-log-schema.md`` and turns the (few) grouped
rows it gets back into the dataclasses of :mod:`firstpoint.reports.model`; no
contact row is ever fetched into Python. Periods filter on ``contacts.local_date``
(the Europe/London date precomputed at insert), so a report "for November" means
November in the council's time zone, whatever the UTC timestamps say.

Topics and not-understood messages are scoped by their *contact*: a message
counts in the period, channel and audience of the contact it belongs to.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any, TypeAlias, Union

from sqlalchemy import Date, Integer, SmallInteger, String, Text, and_, case, column, func, table
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement, Select, select

from firstpoint.reports.model import (
    GROUP_BYS,
    NONE_KEY,
    OPEN,
    OUTCOMES,
    Breakdown,
    Demand,
    Figures,
    MessageCount,
    Report,
    Scope,
    TeamEscalation,
    TopicCount,
    Topics,
)

# Lightweight table clauses: only the columns reports read. They are not
# registered in any MetaData, so they never create or migrate anything.
contacts = table(
    "contacts",
    column("id", Integer),
    column("channel", String),
    column("audience", String),
    column("local_date", Date),
    column("local_month", String),
    column("local_hour", SmallInteger),
    column("local_weekday", SmallInteger),
    column("outcome", String),
    column("handoff_team", String),
    column("rating", String),
)
contact_topics = table(
    "contact_topics",
    column("contact_id", Integer),
    column("entry_id", String),
)
unrecognised_messages = table(
    "unrecognised_messages",
    column("contact_id", Integer),
    column("text_redacted", Text),
)

Source: TypeAlias = Union[Session, Connection, Engine]
Executor: TypeAlias = Union[Session, Connection]
DIMENSIONS: tuple[str, ...] = ("channel", "audience", *GROUP_BYS)


@contextmanager
def _executor(source: Source) -> Iterator[Executor]:
    """A Connection for an Engine (closed afterwards); Sessions/Connections as given."""
    if isinstance(source, Engine):
        with source.connect() as conn:
            yield conn
    else:
        yield source


def _dialect_name(conn: Executor) -> str:
    if isinstance(conn, Session):
        return conn.get_bind().dialect.name
    return conn.dialect.name


def _where(scope: Scope) -> ColumnElement:
    """Council-local date range (inclusive) plus the optional channel/audience filters."""
    conditions = [
        contacts.c.local_date >= scope.date_from,
        contacts.c.local_date <= scope.date_to,
    ]
    if scope.channel is not None:
        conditions.append(contacts.c.channel == scope.channel)
    if scope.audience is not None:
        conditions.append(contacts.c.audience == scope.audience)
    return and_(*conditions)


def _count_if(condition: ColumnElement) -> ColumnElement:
    return func.sum(case((condition, 1), else_=0))


def _figure_columns() -> list[ColumnElement]:
    """count(*), one conditional sum per outcome (and open), and the two ratings."""
    columns: list[ColumnElement] = [func.count().label("contacts")]
    for outcome in OUTCOMES:
        columns.append(_count_if(contacts.c.outcome == outcome).label(f"o_{outcome}"))
    columns.append(_count_if(contacts.c.outcome.is_(None)).label(f"o_{OPEN}"))
    columns.append(_count_if(contacts.c.rating == "helpful").label("helpful"))
    columns.append(_count_if(contacts.c.rating == "not_helpful").label("not_helpful"))
    return columns


def _figures(row: Any) -> Figures:
    mapping = row._mapping
    outcomes = {k: int(mapping[f"o_{k}"] or 0) for k in (*OUTCOMES, OPEN)}
    return Figures(
        contacts=int(mapping["contacts"] or 0),
        outcomes=outcomes,
        helpful=int(mapping["helpful"] or 0),
        not_helpful=int(mapping["not_helpful"] or 0),
    )


def _key(value: Any) -> str:
    if value is None:
        return NONE_KEY
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def dimension_expression(dimension: str, dialect: str) -> ColumnElement:
    """The SQL expression a breakdown groups by.

    ``week`` is the Monday starting the council-local week: ``local_date`` minus
    ``local_weekday`` days (0 = Monday), written per dialect.
    """
    if dimension in ("channel", "audience"):
        return contacts.c[dimension]
    if dimension == "day":
        return contacts.c.local_date
    if dimension == "month":
        return contacts.c.local_month
    if dimension == "week":
        if dialect == "sqlite":
            shift = func.printf("-%d days", contacts.c.local_weekday)
            return func.date(contacts.c.local_date, shift)
        return contacts.c.local_date - contacts.c.local_weekday
    raise ValueError(f"unknown dimension {dimension!r}; expected one of {', '.join(DIMENSIONS)}")


def summary_query(scope: Scope) -> Select:
    """SELECT of the overall figures for ``scope``."""
    return select(*_figure_columns()).select_from(contacts).where(_where(scope))


def breakdown_query(scope: Scope, dimension: str, dialect: str) -> Select:
    """SELECT of the figures grouped by ``dimension`` (ordered by its key)."""
    key = dimension_expression(dimension, dialect).label("key")
    return (
        select(key, *_figure_columns())
        .select_from(contacts)
        .where(_where(scope))
        .group_by(key)
        .order_by(key)
    )


def summary_figures(source: Source, scope: Scope) -> Figures:
    """Overall counts and rates for ``scope``."""
    with _executor(source) as conn:
        return _figures(conn.execute(summary_query(scope)).one())


def figures_by(source: Source, scope: Scope, dimension: str) -> list[Breakdown]:
    """Counts and rates per channel, audience, day, week or month."""
    with _executor(source) as conn:
        rows = conn.execute(breakdown_query(scope, dimension, _dialect_name(conn))).all()
    return [Breakdown(key=_key(row.key), figures=_figures(row)) for row in rows]


def escalation_by_team(source: Source, scope: Scope) -> list[TeamEscalation]:
    """handed_off and emergency contacts per handoff team, largest first."""
    team = func.coalesce(contacts.c.handoff_team, NONE_KEY).label("team")
    total = func.count().label("total")
    query = (
        select(
            team,
            _count_if(contacts.c.outcome == "handed_off").label("handed_off"),
            _count_if(contacts.c.outcome == "emergency").label("emergency"),
            total,
        )
        .select_from(contacts)
        .where(and_(_where(scope), contacts.c.outcome.in_(("handed_off", "emergency"))))
        .group_by(team)
        .order_by(total.desc(), team)
    )
    with _executor(source) as conn:
        rows = conn.execute(query).all()
    return [
        TeamEscalation(team=row.team, handed_off=int(row.handed_off), emergency=int(row.emergency))
        for row in rows
    ]


def demand(source: Source, scope: Scope) -> Demand:
    """Contacts per council-local weekday × hour, and per council-local month."""
    grid_query = (
        select(contacts.c.local_weekday, contacts.c.local_hour, func.count().label("n"))
        .select_from(contacts)
        .where(_where(scope))
        .group_by(contacts.c.local_weekday, contacts.c.local_hour)
    )
    month_query = (
        select(contacts.c.local_month, func.count().label("n"))
        .select_from(contacts)
        .where(_where(scope))
        .group_by(contacts.c.local_month)
        .order_by(contacts.c.local_month)
    )
    matrix = [[0] * 24 for _ in range(7)]
    with _executor(source) as conn:
        for weekday, hour, n in conn.execute(grid_query):
            matrix[int(weekday)][int(hour)] = int(n)
        by_month = [(str(m), int(n)) for m, n in conn.execute(month_query)]
    return Demand(matrix=matrix, by_month=by_month)


def top_topics(source: Source, scope: Scope, limit: int = 10) -> list[TopicCount]:
    """Knowledge entries by number of distinct contacts that touched them, top ``limit``."""
    n = func.count(func.distinct(contact_topics.c.contact_id)).label("n")
    query = (
        select(contact_topics.c.entry_id, n)
        .select_from(contact_topics.join(contacts, contact_topics.c.contact_id == contacts.c.id))
        .where(_where(scope))
        .group_by(contact_topics.c.entry_id)
        .order_by(n.desc(), contact_topics.c.entry_id)
        .limit(limit)
    )
    with _executor(source) as conn:
        return [TopicCount(entry_id=e, contacts=int(c)) for e, c in conn.execute(query)]


def top_not_understood(source: Source, scope: Scope, limit: int = 10) -> list[MessageCount]:
    """Most frequent (already redacted) not-understood messages, top ``limit``."""
    um = unrecognised_messages
    messages = func.count().label("messages")
    query = (
        select(
            um.c.text_redacted,
            messages,
            func.count(func.distinct(um.c.contact_id)).label("n_contacts"),
        )
        .select_from(um.join(contacts, um.c.contact_id == contacts.c.id))
        .where(_where(scope))
        .group_by(um.c.text_redacted)
        .order_by(messages.desc(), um.c.text_redacted)
        .limit(limit)
    )
    with _executor(source) as conn:
        return [
            MessageCount(text_redacted=t, messages=int(m), contacts=int(c))
            for t, m, c in conn.execute(query)
        ]


def build_topics(source: Source, scope: Scope, limit: int = 10) -> Topics:
    """Top topics and top not-understood messages."""
    with _executor(source) as conn:
        return Topics(
            top_topics=top_topics(conn, scope, limit),
            top_not_understood=top_not_understood(conn, scope, limit),
        )


def build_report(
    source: Source,
    date_from: date,
    date_to: date,
    channel: str | None = None,
    audience: str | None = None,
    *,
    group_by: str = "month",
    top_n: int = 10,
) -> Report:
    """The full channel-shift report for council-local ``date_from``–``date_to`` inclusive.

    ``source`` is a Session, Connection or Engine. ``channel``/``audience`` filter
    every figure. ``group_by`` (day, week, month) sets the periods of ``by_period``;
    ``top_n`` how many topics and not-understood messages are listed.
    """
    if group_by not in GROUP_BYS:
        raise ValueError(f"group_by must be one of {', '.join(GROUP_BYS)}, got {group_by!r}")
    scope = Scope(date_from=date_from, date_to=date_to, channel=channel, audience=audience)
    with _executor(source) as conn:
        return Report(
            scope=scope,
            group_by=group_by,
            summary=summary_figures(conn, scope),
            by_channel=figures_by(conn, scope, "channel"),
            by_audience=figures_by(conn, scope, "audience"),
            by_period=figures_by(conn, scope, group_by),
            escalation_by_team=escalation_by_team(conn, scope),
            demand=demand(conn, scope),
            topics=build_topics(conn, scope, top_n),
        )

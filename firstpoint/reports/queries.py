"""Channel-shift figures over the contact log, every aggregation done in SQL.

Each function below issues one SQLAlchemy Core ``SELECT … GROUP BY`` against the
tables described in ``docs/contact-log-schema.md`` and turns the (few) grouped
rows it gets back into the dataclasses of :mod:`firstpoint.reports.model`; no
contact row is ever fetched into Python. Periods filter on ``contacts.local_date``
(the Europe/London date precomputed at insert), so a report "for November" means
November in the council's time zone, whatever the UTC timestamps say.

Topics and not-understood messages are scoped by their *contact*: a message
counts in the period, channel and audience of the contact it belongs to. Those
three columns are copied onto ``contact_topics`` and ``unrecognised_messages``
(migration ``0003_report_indexes``, kept in step by the contact-log models), so
the two lists filter their own table and never join ``contacts``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from typing import Any, TypeAlias, Union

from sqlalchemy import (
    Date,
    Integer,
    SmallInteger,
    String,
    Text,
    and_,
    case,
    cast,
    column,
    func,
    literal_column,
    table,
    union_all,
)
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement, Select, select

from firstpoint.reports.model import (
    ESCALATED,
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
    column("local_date", Date),
    column("channel", String),
    column("audience", String),
)
unrecognised_messages = table(
    "unrecognised_messages",
    column("contact_id", Integer),
    column("text_redacted", Text),
    column("local_date", Date),
    column("channel", String),
    column("audience", String),
)

Source: TypeAlias = Union[Session, Connection, Engine]
Executor: TypeAlias = Union[Session, Connection]


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


def _where(scope: Scope, source: Any = contacts) -> ColumnElement:
    """Council-local date range (inclusive) plus the optional channel/audience filters.

    ``source`` is ``contacts`` or a child table carrying its contact's copies of
    ``local_date``, ``channel`` and ``audience``.
    """
    c = source.c
    conditions = [c.local_date >= scope.date_from, c.local_date <= scope.date_to]
    if scope.channel is not None:
        conditions.append(c.channel == scope.channel)
    if scope.audience is not None:
        conditions.append(c.audience == scope.audience)
    return and_(*conditions)


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


def _week_start(local_date: ColumnElement, local_weekday: ColumnElement, dialect: str) -> Any:
    """The Monday starting the week of ``local_date`` (``local_weekday``: 0 = Monday)."""
    if dialect == "sqlite":
        return func.date(local_date, func.printf("-%d days", local_weekday))
    return local_date - local_weekday


# --- every contact figure in ONE statement -----------------------------------------
#
# ``base`` groups the scoped contacts by everything the figures need (period,
# month, channel, audience, outcome, rating, team) with a plain count(*): a few
# thousand rows, so ONE pass over ``contacts`` feeds every section. The sections
# are tiny aggregations of ``base`` glued with UNION ALL; a CTE used several times
# is materialised once (SQLite >= 3.35, PostgreSQL >= 12).
#
# The grouping keys differ per database. PostgreSQL hashes, so fewer groups is
# better: the period itself is the key. SQLite has no hash aggregate and sorts
# unless an index delivers the rows in GROUP BY order, so it groups by the
# council-local date first: with ix_contacts_report, led by (local_date,
# local_weekday, local_month, channel, audience, outcome, rating, handoff_team)
# (migration 0003_report_indexes) the whole statement streams off that index.

_COMMON_KEYS = ("local_month", "channel", "audience", "outcome", "rating", "handoff_team")


def _base_cte(scope: Scope, group_by: str, dialect: str) -> tuple[Any, ColumnElement]:
    """The grouped CTE and the expression (over it) of the period key."""
    c = contacts.c
    common = [c[name] for name in _COMMON_KEYS]
    if dialect == "sqlite":
        keys: list[Any] = [c.local_date, c.local_weekday, *common]
    else:
        period_expr = {
            "day": c.local_date,
            "week": _week_start(c.local_date, c.local_weekday, dialect),
            "month": c.local_month,
        }[group_by]
        keys = [period_expr.label("period"), *common]
    base = (
        select(*keys, func.count().label("n"))
        .select_from(contacts)
        .where(_where(scope))
        .group_by(*keys)
        .cte("base")
    )
    if dialect != "sqlite":
        return base, base.c.period
    period = {
        "day": base.c.local_date,
        "week": _week_start(base.c.local_date, base.c.local_weekday, dialect),
        "month": base.c.local_month,
    }[group_by]
    return base, period


def _sum_if(condition: ColumnElement, n: ColumnElement) -> ColumnElement:
    return func.sum(case((condition, n), else_=0))


def _base_sums(base: Any) -> list[ColumnElement]:
    n = base.c.n
    columns: list[ColumnElement] = [func.sum(n).label("contacts")]
    for outcome in OUTCOMES:
        columns.append(_sum_if(base.c.outcome == outcome, n).label(f"o_{outcome}"))
    columns.append(_sum_if(base.c.outcome.is_(None), n).label(f"o_{OPEN}"))
    columns.append(_sum_if(base.c.rating == "helpful", n).label("helpful"))
    columns.append(_sum_if(base.c.rating == "not_helpful", n).label("not_helpful"))
    return columns


def _section(base: Any, name: str, key: Any | None, where: Any | None = None) -> Select:
    key_column = literal_column("'all'") if key is None else cast(key, String)
    query = select(
        literal_column(f"'{name}'").label("section"), key_column.label("key"), *_base_sums(base)
    ).select_from(base)
    if where is not None:
        query = query.where(where)
    return query if key is None else query.group_by(key)


def figures_query(scope: Scope, group_by: str, dialect: str) -> Select:
    """ONE statement: summary, channel, audience, period, month and team sections.

    Rows are ``(section, key, contacts, o_<outcome>…, helpful, not_helpful)``, ordered
    by section, then (teams only) largest first, then key.
    """
    if group_by not in GROUP_BYS:
        raise ValueError(f"group_by must be one of {', '.join(GROUP_BYS)}, got {group_by!r}")
    base, period = _base_cte(scope, group_by, dialect)
    sections = union_all(
        _section(base, "summary", None),
        _section(base, "channel", base.c.channel),
        _section(base, "audience", base.c.audience),
        _section(base, "period", period),
        _section(base, "month", base.c.local_month),
        _section(
            base, "team", func.coalesce(base.c.handoff_team, NONE_KEY),
            base.c.outcome.in_(ESCALATED),
        ),
    ).subquery("sections")
    largest_team_first = case((sections.c.section == "team", -sections.c.contacts), else_=0)
    return select(sections).order_by(sections.c.section, largest_team_first, sections.c.key)


@dataclass(frozen=True)
class ContactFigures:
    """Every section :func:`contact_figures` computes in its single statement."""

    summary: Figures
    by_channel: list[Breakdown]
    by_audience: list[Breakdown]
    by_period: list[Breakdown]
    by_month: list[tuple[str, int]]
    escalation_by_team: list[TeamEscalation]


def contact_figures(source: Source, scope: Scope, group_by: str = "month") -> ContactFigures:
    """Summary, per channel/audience/period/month and escalation by team, in one SELECT."""
    sections: dict[str, list[Breakdown]] = {
        name: [] for name in ("summary", "channel", "audience", "period", "month", "team")
    }
    with _executor(source) as conn:
        result = conn.execute(figures_query(scope, group_by, _dialect_name(conn)))
        for row in result:  # already aggregated: a handful of rows per section
            sections[row.section].append(Breakdown(key=_key(row.key), figures=_figures(row)))
    return ContactFigures(
        summary=sections["summary"][0].figures,  # no GROUP BY: always exactly one row
        by_channel=sections["channel"],
        by_audience=sections["audience"],
        by_period=sections["period"],
        by_month=[(b.key, b.figures.contacts) for b in sections["month"]],
        escalation_by_team=[
            TeamEscalation(
                team=b.key,
                handed_off=b.figures.outcomes["handed_off"],
                emergency=b.figures.outcomes["emergency"],
            )
            for b in sections["team"]
        ],
    )


def demand_grid(source: Source, scope: Scope) -> list[list[int]]:
    """Contacts per council-local weekday (rows, 0 = Monday) × hour (columns, 0–23).

    Two levels: per (date, weekday, hour) first — streamable off
    ``ix_contacts_hours`` on those columns — then per (weekday, hour).
    """
    c = contacts.c
    per_day = (
        select(c.local_date, c.local_weekday, c.local_hour, func.count().label("n"))
        .select_from(contacts)
        .where(_where(scope))
        .group_by(c.local_date, c.local_weekday, c.local_hour)
        .subquery("per_day")
    )
    query = select(
        per_day.c.local_weekday, per_day.c.local_hour, func.sum(per_day.c.n).label("n")
    ).group_by(per_day.c.local_weekday, per_day.c.local_hour)
    matrix = [[0] * 24 for _ in range(7)]
    with _executor(source) as conn:
        for weekday, hour, n in conn.execute(query):  # at most 168 rows
            matrix[int(weekday)][int(hour)] = int(n)
    return matrix


def demand_by_month(source: Source, scope: Scope) -> list[tuple[str, int]]:
    """Contacts per council-local month ("YYYY-MM"), in order."""
    query = (
        select(contacts.c.local_month, func.count().label("n"))
        .select_from(contacts)
        .where(_where(scope))
        .group_by(contacts.c.local_month)
        .order_by(contacts.c.local_month)
    )
    with _executor(source) as conn:
        return [(str(m), int(n)) for m, n in conn.execute(query)]


def demand(source: Source, scope: Scope) -> Demand:
    """Contacts per council-local weekday × hour, and per council-local month."""
    with _executor(source) as conn:
        return Demand(matrix=demand_grid(conn, scope), by_month=demand_by_month(conn, scope))


def top_topics(source: Source, scope: Scope, limit: int = 10) -> list[TopicCount]:
    """Knowledge entries by number of contacts in scope that were answered them, top ``limit``.

    Counts ``contact_topics`` rows: ``UNIQUE (contact_id, entry_id)`` guarantees an
    entry at most once per contact, so rows are contacts (``count(DISTINCT
    contact_id)`` would say the same but forces a sort of every topic row). Filters
    the contact's scope copied onto the topic rows: no join, and an index led by
    ``entry_id`` delivers the rows already grouped.
    """
    n = func.count().label("n")
    query = (
        select(contact_topics.c.entry_id, n)
        .select_from(contact_topics)
        .where(_where(scope, contact_topics))
        .group_by(contact_topics.c.entry_id)
        .order_by(n.desc(), contact_topics.c.entry_id)
        .limit(limit)
    )
    with _executor(source) as conn:
        return [TopicCount(entry_id=e, contacts=int(c)) for e, c in conn.execute(query)]


def top_not_understood(source: Source, scope: Scope, limit: int = 10) -> list[MessageCount]:
    """Most frequent (already redacted) not-understood messages, top ``limit``.

    Filters the contact's scope copied onto the message rows (no join).
    """
    um = unrecognised_messages
    messages = func.count().label("messages")
    query = (
        select(
            um.c.text_redacted,
            messages,
            func.count(func.distinct(um.c.contact_id)).label("n_contacts"),
        )
        .select_from(um)
        .where(_where(scope, um))
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
        figures = contact_figures(conn, scope, group_by)
        return Report(
            scope=scope,
            group_by=group_by,
            summary=figures.summary,
            by_channel=figures.by_channel,
            by_audience=figures.by_audience,
            by_period=figures.by_period,
            escalation_by_team=figures.escalation_by_team,
            demand=Demand(matrix=demand_grid(conn, scope), by_month=figures.by_month),
            topics=build_topics(conn, scope, top_n),
        )

"""``firstpoint report``: the channel-shift report as a table, tidy CSV or JSON."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from firstpoint.records.db import make_engine
from firstpoint.records.migrate import upgrade
from firstpoint.reports.model import GROUP_BYS
from firstpoint.reports.params import make_scope, parse_top
from firstpoint.reports.queries import build_report
from firstpoint.reports.render import FORMATS, render
from firstpoint.reports.value import compute_value, load_reporting
from firstpoint.settings import Settings, get_settings


def run_report(args: argparse.Namespace, settings: Settings | None = None) -> int:
    """Migrate the database, build the report and its value, write it out.

    Exit codes: 0 done; 2 bad parameters or a bad council.yml ``reporting:``
    section; 1 the database could not be reached or read.
    """
    from sqlalchemy.exc import SQLAlchemyError

    settings = settings or get_settings()
    try:
        scope = make_scope(
            args.date_from,
            args.date_to,
            args.channel,
            args.audience,
            from_param="--from",
            to_param="--to",
        )
        top = parse_top(str(args.top), param="--top")
        reporting = load_reporting(settings.content_dir)
    except ValueError as exc:  # ParameterError, or knowledge's ContentError for council.yml
        print(f"firstpoint report: error: {exc}", file=sys.stderr)
        return 2
    url = args.database_url or settings.database_url
    try:
        upgrade(url)  # an empty database gives an empty report, not a crash
        engine = make_engine(url)
        try:
            report = build_report(
                engine,
                scope.date_from,
                scope.date_to,
                scope.channel,
                scope.audience,
                group_by=args.group_by,
                top_n=top,
            )
        finally:
            engine.dispose()
    except SQLAlchemyError as exc:
        reason = type(getattr(exc, "orig", None) or exc).__name__
        print(
            f"firstpoint report: error: cannot read the database at {url.split('@')[-1]} "
            f"({reason}: {str(getattr(exc, 'orig', exc)).strip().splitlines()[0]})",
            file=sys.stderr,
        )
        return 1
    try:
        value = compute_value(report, reporting)
    except ValueError as exc:
        print(f"firstpoint report: error: {exc}", file=sys.stderr)
        return 2
    text = render(report, value, args.format)
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
        print(f"report written to {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``firstpoint report``."""
    parser = sub.add_parser(
        "report",
        help="channel-shift report over the contact log",
        description=(
            "Contacts, containment, escalation, abandonment, ratings, demand, top topics "
            "and the value of the shift, for council-local dates (inclusive). "
            "Default: the last 30 days."
        ),
    )
    parser.add_argument("--from", dest="date_from", metavar="YYYY-MM-DD", help="first day")
    parser.add_argument("--to", dest="date_to", metavar="YYYY-MM-DD", help="last day (inclusive)")
    parser.add_argument("--channel", help="only this channel (web, facebook, teams, rest …)")
    parser.add_argument("--audience", help="only this audience (resident, staff)")
    parser.add_argument("--group-by", choices=GROUP_BYS, default="month", help="period size")
    parser.add_argument("--format", choices=FORMATS, default="table", help="output format")
    parser.add_argument("--top", type=int, default=10, help="top N topics/messages (1-100)")
    parser.add_argument("--output", metavar="FILE", help="write to FILE instead of stdout")
    parser.add_argument("--database-url", help="database URL (default: FIRSTPOINT_DATABASE_URL)")
    parser.set_defaults(func=run_report)

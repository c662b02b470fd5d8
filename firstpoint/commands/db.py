"""``firstpoint db upgrade``: apply migrations to the configured database."""

from __future__ import annotations

import argparse

from firstpoint.records.migrate import upgrade
from firstpoint.settings import get_settings


def _upgrade(args: argparse.Namespace) -> int:
    url = args.url or get_settings().database_url
    upgrade(url)
    print(f"database at {url.split('@')[-1]} is up to date")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    db = sub.add_parser("db", help="database maintenance")
    dbsub = db.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    up = dbsub.add_parser("upgrade", help="apply Alembic migrations")
    up.add_argument("--url", help="database URL (default: FIRSTPOINT_DATABASE_URL)")
    up.set_defaults(func=_upgrade)

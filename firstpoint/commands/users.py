"""``firstpoint users add|disable|enable|reset|list``: the supervisor console's accounts.

``add`` and ``reset`` read the new password from standard input with
``--password-stdin`` (one line), ask for it twice on a terminal, or else make a
random one and print it once. ``--sso-only`` makes an account with no password,
for councils that sign in through their proxy (``FIRSTPOINT_CONSOLE_SSO_HEADER``).
Every command applies the migrations first.
"""

from __future__ import annotations

import argparse
import getpass
import secrets
import sys

from firstpoint.console.accounts import AccountError, Accounts
from firstpoint.console.models import ROLES
from firstpoint.records.db import make_engine, session_factory
from firstpoint.records.migrate import upgrade
from firstpoint.settings import Settings, get_settings


def accounts_from_settings(settings: Settings) -> Accounts:
    """Accounts on the configured database (migrated first)."""
    upgrade(settings.database_url)
    return Accounts(session_factory(make_engine(settings.database_url)),
                    max_attempts=settings.console_login_attempts,
                    lockout_minutes=settings.console_lockout_minutes)


def _new_password(args: argparse.Namespace) -> tuple[str, bool]:
    """(password, generated?) from stdin, a terminal prompt, or made up."""
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n"), False
    if sys.stdin.isatty():
        first = getpass.getpass("New password: ")
        if first != getpass.getpass("Again: "):
            raise AccountError("the two passwords differ")
        return first, False
    return secrets.token_urlsafe(18), True


def _team_ok(settings: Settings, team: str | None) -> None:
    if team is None:
        return
    from knowledge.directory import load_directory

    teams = load_directory(settings.content_dir).teams
    if team not in teams:
        raise AccountError(f"no team {team!r} in directory.yml (one of {', '.join(teams)})")


def _add(args: argparse.Namespace) -> int:
    settings = get_settings()
    try:
        _team_ok(settings, args.team)
        password, generated = (None, False) if args.sso_only else _new_password(args)
        user = accounts_from_settings(settings).add(
            args.username, args.role, display_name=args.name, team_id=args.team,
            password=password)
    except AccountError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"added {user.username} ({user.role}" + (f", {user.team_id}" if user.team_id else "")
          + ")")
    if generated:
        print(f"password (shown once): {password}")
    return 0


def _disable(args: argparse.Namespace) -> int:
    try:
        user = accounts_from_settings(get_settings()).disable(args.username)
    except AccountError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"disabled {user.username}; their sessions are ended")
    return 0


def _enable(args: argparse.Namespace) -> int:
    try:
        user = accounts_from_settings(get_settings()).enable(args.username)
    except AccountError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"enabled {user.username}")
    return 0


def _reset(args: argparse.Namespace) -> int:
    try:
        password, generated = _new_password(args)
        user = accounts_from_settings(get_settings()).reset(args.username, password)
    except AccountError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"reset {user.username}: lock-out cleared, sessions ended")
    if generated:
        print(f"password (shown once): {password}")
    return 0


def _list(args: argparse.Namespace) -> int:
    users = accounts_from_settings(get_settings()).list()
    if not users:
        print("no console users (firstpoint users add NAME --role supervisor)")
        return 0
    print(f"{'USER':<24} {'ROLE':<11} {'TEAM':<30} STATE")
    for u in users:
        state = "disabled" if u.disabled else ("locked" if u.locked_until else "active")
        print(f"{u.username:<24} {u.role:<11} {u.team_id or '-':<30} {state}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``firstpoint users``."""
    users = sub.add_parser("users", help="supervisor console accounts")
    usub = users.add_subparsers(dest="users_command", metavar="ACTION", required=True)
    add = usub.add_parser("add", help="create an account")
    add.add_argument("username")
    add.add_argument("--role", required=True, choices=ROLES)
    add.add_argument("--team", help="directory team id (required for officers)")
    add.add_argument("--name", help="display name")
    add.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    add.add_argument("--sso-only", action="store_true", help="no password: single sign-on only")
    add.set_defaults(func=_add)
    disable = usub.add_parser("disable", help="disable an account and end its sessions")
    disable.add_argument("username")
    disable.set_defaults(func=_disable)
    enable = usub.add_parser("enable", help="enable a disabled account")
    enable.add_argument("username")
    enable.set_defaults(func=_enable)
    reset = usub.add_parser("reset", help="new password; clears the lock-out, ends sessions")
    reset.add_argument("username")
    reset.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    reset.set_defaults(func=_reset)
    lst = usub.add_parser("list", help="list accounts")
    lst.set_defaults(func=_list)

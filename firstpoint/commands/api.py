"""``firstpoint api``: serve the JSON API (health and channel-shift reports)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from firstpoint.records.migrate import upgrade
from firstpoint.secrets import local_secret
from firstpoint.settings import Settings, get_settings


def api_token(args: argparse.Namespace, settings: Settings) -> str | None:
    """The bearer token: ``--token-file`` contents, else ``FIRSTPOINT_API_TOKEN``, else
    the install's own token in ``<var_dir>/api.token`` (made, mode 0600, on first use).

    Credentials are needed by default; only ``--no-auth`` serves without them.
    """
    if getattr(args, "no_auth", False):
        return None
    if args.token_file:
        token = Path(args.token_file).read_text(encoding="utf-8").strip()
        if not token:
            raise ValueError(f"{args.token_file}: the token file is empty")
        return token
    if getattr(settings, "api_token", None):
        return settings.api_token
    path = Path(settings.var_dir) / "api.token"
    token = local_secret(path)
    print(f"firstpoint api: bearer token required on /api/ (in {path})", file=sys.stderr)
    return token


def run_api(args: argparse.Namespace, settings: Settings | None = None) -> int:
    """Apply migrations, then run the aiohttp app until interrupted."""
    from aiohttp import web

    settings = settings or get_settings()
    try:
        token = api_token(args, settings)
    except (OSError, ValueError) as exc:
        print(f"firstpoint api: error: {exc}", file=sys.stderr)
        return 2
    upgrade(settings.database_url)
    from firstpoint.console.app import build_app  # the supervisor console at /console/

    app = build_app(settings, api_token=token)
    web.run_app(app, host=args.host, port=args.port or settings.api_port)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``firstpoint api``."""
    parser = sub.add_parser("api", help="serve the JSON API (reports, health)")
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port (default: FIRSTPOINT_API_PORT or 8080)")
    parser.add_argument(
        "--token-file",
        metavar="FILE",
        help="file holding the bearer token required on /api/ (default: FIRSTPOINT_API_TOKEN, "
             "else var/api.token, made on first use)",
    )
    parser.add_argument("--no-auth", action="store_true",
                        help="serve /api/ WITHOUT a token (a private development port only)")
    parser.set_defaults(func=run_api)

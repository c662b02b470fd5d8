"""``firstpoint api``: serve the JSON API (health and channel-shift reports)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from firstpoint.settings import Settings, get_settings


def api_token(args: argparse.Namespace, settings: Settings) -> str | None:
    """The bearer token: ``--token-file`` contents, else ``settings.api_token`` if it exists.

    (Settings has no ``api_token`` field yet; once it gains one it is used here.)
    """
    if args.token_file:
        token = Path(args.token_file).read_text(encoding="utf-8").strip()
        if not token:
            raise ValueError(f"{args.token_file}: the token file is empty")
        return token
    return getattr(settings, "api_token", None) or None


def run_api(args: argparse.Namespace, settings: Settings | None = None) -> int:
    """Apply migrations, then run the aiohttp app until interrupted."""
    from aiohttp import web

    from firstpoint.api.app import init_app
    from firstpoint.records.migrate import upgrade

    settings = settings or get_settings()
    try:
        token = api_token(args, settings)
    except (OSError, ValueError) as exc:
        print(f"firstpoint api: error: {exc}", file=sys.stderr)
        return 2
    upgrade(settings.database_url)
    app = init_app(settings, api_token=token)
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
        help="file holding the bearer token required on /api/ (default: no token)",
    )
    parser.set_defaults(func=run_api)

"""The FirstPoint JSON API (aiohttp): health and channel-shift reports.

Build it with :func:`init_app`. The database engine lives in a ``cleanup_ctx``
(created at startup unless one is injected, disposed at shutdown) and is found
by handlers — including those of sub-applications — as
``request.config_dict[ENGINE]``. Blocking SQL runs in a worker thread
(``asyncio.to_thread``) so the event loop never waits on the database.

Extending the app (the outbox worker, the supervisor console …): pass
``cleanup_contexts`` (run after the engine's, so they can use ``app[ENGINE]``)
and ``subapps`` (``{"/console": console_app}``), or call ``app.add_subapp``
yourself before the app starts.

Routes:

* ``GET /health`` — ``200 {"status": "ok"}``, or ``503 {"status": "error", "error": ...}``
  when the database does not answer. Never needs the token (load balancers).
* ``GET /api/reports/summary`` — :func:`build_report` + value of the shift.
* ``GET /api/reports/demand`` — weekday × hour grid and contacts per month.
* ``GET /api/reports/topics`` — top topics and top not-understood messages.

Report query parameters: ``from``, ``to`` (YYYY-MM-DD, council-local, inclusive;
default the last 30 days), ``channel``, ``audience``, ``group_by`` (day, week,
month), ``top`` (1–100). A malformed one gives ``400 {"error": "parameter 'x': ..."}``.

With ``api_token`` set, every path under ``/api/`` needs
``Authorization: Bearer <token>`` (compared in constant time), else ``401``.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from typing import Any

from aiohttp import web
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from firstpoint.reports.model import Scope
from firstpoint.reports.params import ParameterError, make_scope, parse_group_by, parse_top
from firstpoint.reports.value import ReportingLike, compute_value, load_reporting
from firstpoint.settings import Settings

log = logging.getLogger(__name__)

CleanupContext = Callable[[web.Application], AsyncIterator[None]]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

SETTINGS = web.AppKey("settings", Settings)
ENGINE = web.AppKey("engine", Engine)
REPORTING = web.AppKey("reporting", ReportingLike)  # type: ignore[type-abstract]
API_TOKEN = web.AppKey("api_token", str)
PROTECTED_PREFIX = "/api/"


def json_error(status: int, message: str, **extra: Any) -> web.Response:
    """A JSON error response ``{"error": message, ...}``."""
    return web.json_response({"error": message, **extra}, status=status)


def _token_ok(header: str | None, token: str) -> bool:
    if not header or not header.startswith("Bearer "):
        return False
    given = header[len("Bearer "):].strip().encode("utf-8")
    return hmac.compare_digest(given, token.encode("utf-8"))


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Require the bearer token on ``/api/`` paths when one is configured."""
    token = request.config_dict.get(API_TOKEN)
    if (
        token
        and request.path.startswith(PROTECTED_PREFIX)
        and not _token_ok(request.headers.get("Authorization"), token)
    ):
        return web.json_response(
            {"error": "missing or invalid bearer token"},
            status=401,
            headers={"WWW-Authenticate": 'Bearer realm="firstpoint"'},
        )
    return await handler(request)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Bad parameters -> 400, database down -> 503, both as JSON."""
    try:
        return await handler(request)
    except ParameterError as exc:
        return json_error(400, str(exc), parameter=exc.param)
    except OperationalError as exc:  # cannot connect, server gone, locked, missing schema
        reason = type(exc.orig).__name__
        log.warning("database unavailable on %s: %s", request.path, reason)
        return json_error(503, f"database unavailable ({reason})")
    except SQLAlchemyError:
        log.exception("database error on %s", request.path)
        return json_error(500, "database error")


async def _engine_ctx(app: web.Application) -> AsyncIterator[None]:
    """Create the engine (unless injected) and the reporting config; dispose at shutdown."""
    from firstpoint.records.db import make_engine

    injected = ENGINE in app
    if not injected:
        app[ENGINE] = make_engine(app[SETTINGS].database_url)
    if REPORTING not in app:
        app[REPORTING] = await asyncio.to_thread(load_reporting, app[SETTINGS].content_dir)
    try:
        yield
    finally:
        if not injected:
            app[ENGINE].dispose()


def _ping(engine: Engine) -> None:
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))


async def health(request: web.Request) -> web.Response:
    """``200 {"status": "ok"}`` if the database answers ``SELECT 1``, else 503."""
    try:
        await asyncio.to_thread(_ping, request.config_dict[ENGINE])
    except SQLAlchemyError as exc:
        reason = type(getattr(exc, "orig", None) or exc).__name__
        log.warning("health check: database unavailable (%s)", reason)
        return web.json_response(
            {"status": "error", "error": f"database unavailable ({reason})"}, status=503
        )
    return web.json_response({"status": "ok"})


def _scope(request: web.Request) -> Scope:
    q = request.query
    return make_scope(q.get("from"), q.get("to"), q.get("channel"), q.get("audience"))


async def report_summary(request: web.Request) -> web.Response:
    """The full report (``build_report``) plus the value of the shift."""
    from firstpoint.reports.queries import build_report
    from firstpoint.reports.render import report_document

    scope = _scope(request)
    group_by = parse_group_by(request.query.get("group_by"))
    top = parse_top(request.query.get("top"))
    report = await asyncio.to_thread(
        build_report,
        request.config_dict[ENGINE],
        scope.date_from,
        scope.date_to,
        scope.channel,
        scope.audience,
        group_by=group_by,
        top_n=top,
    )
    value = compute_value(report, request.config_dict[REPORTING])
    return web.json_response(report_document(report, value))


async def report_demand(request: web.Request) -> web.Response:
    """Contacts per weekday × hour and per month."""
    from firstpoint.reports.queries import demand

    scope = _scope(request)
    result = await asyncio.to_thread(demand, request.config_dict[ENGINE], scope)
    return web.json_response({"scope": scope.to_dict(), "demand": result.to_dict()})


async def report_topics(request: web.Request) -> web.Response:
    """Top topics and top not-understood (redacted) messages."""
    from firstpoint.reports.queries import build_topics

    scope = _scope(request)
    top = parse_top(request.query.get("top"))
    result = await asyncio.to_thread(build_topics, request.config_dict[ENGINE], scope, top)
    return web.json_response({"scope": scope.to_dict(), **result.to_dict()})


def init_app(
    settings: Settings,
    engine: Engine | None = None,
    *,
    api_token: str | None = None,
    reporting: ReportingLike | None = None,
    cleanup_contexts: Iterable[CleanupContext] = (),
    subapps: Mapping[str, web.Application] | None = None,
    middlewares: Iterable[Any] = (),
) -> web.Application:
    """The API application.

    ``engine`` — use this engine instead of creating one from ``settings.database_url``
    (an injected engine is left for its owner to dispose). ``api_token`` — require it as a
    bearer token on ``/api/``. ``reporting`` — unit costs (default: council.yml via
    ``knowledge.loader``, else Socitm 2011). ``cleanup_contexts`` / ``subapps`` /
    ``middlewares`` — extensions from other parts of FirstPoint.
    """
    app = web.Application(middlewares=[error_middleware, auth_middleware, *middlewares])
    app[SETTINGS] = settings
    if engine is not None:
        app[ENGINE] = engine
    if reporting is not None:
        app[REPORTING] = reporting
    if api_token:
        app[API_TOKEN] = api_token
    app.cleanup_ctx.append(_engine_ctx)
    app.cleanup_ctx.extend(cleanup_contexts)
    app.router.add_get("/health", health)
    app.router.add_get("/api/reports/summary", report_summary)
    app.router.add_get("/api/reports/demand", report_demand)
    app.router.add_get("/api/reports/topics", report_topics)
    for prefix, subapp in (subapps or {}).items():
        app.add_subapp(prefix, subapp)
    return app

"""The supervisor console application (aiohttp, aiohttp-jinja2, GOV.UK Frontend).

:func:`create_console_app` builds the sub-application; :func:`console_context`
is the cleanup context that wires its services to the API app's database engine
(``init_app(cleanup_contexts=...)`` runs it after the engine exists) and runs the
live-takeover poller. :func:`build_app` does both on :func:`~firstpoint.api.init_app`::

    app = build_app(settings, api_token=token)   # JSON API + console at /console/

Pages (who may see them is declared on each handler, see :mod:`.security`):

==========================  ==============================================
``/console/``               home: what this role can do
``/console/login``          sign in (local account); ``/console/logout``
``/console/handoffs``       queue with filters and SLA; ``.csv`` export
``/console/handoffs/{ref}`` detail (decrypts: audited), status, assign, notes
``/console/live``           conversations happening now; join (takeover)
``/console/takeovers/{id}`` the live conversation; send, hand back, close
``/console/reports``        channel-shift figures, charts + tables; ``.csv``
``/console/review``         not-understood messages; marks; NLU YAML export
``/console/audit``          the audit trail (supervisors); ``.csv``
==========================  ==============================================
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import re
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import aiohttp_jinja2
import jinja2
from aiohttp import web
from sqlalchemy.engine import Engine

from firstpoint.console.accounts import Accounts
from firstpoint.console.audit import AuditLog
from firstpoint.console.rasa import RasaClient
from firstpoint.console.review import ReviewQueue
from firstpoint.console.security import (
    ANY_USER,
    PUBLIC,
    RateLimiter,
    allow,
    clear_session_cookie,
    client_address,
    cookie_name,
    current_user,
    login_csrf,
    make_middlewares,
    set_session_cookie,
)
from firstpoint.console.takeover import TakeoverService
from firstpoint.records.handoffs import HandoffService
from firstpoint.settings import Settings
from knowledge.directory import Directory, format_local

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"
VENDOR = STATIC / "vendor"
T = TypeVar("T")


@dataclass
class ConsoleState:
    """The console's services (set up by :func:`console_context`)."""

    settings: Settings
    accounts: Accounts = field(init=False)
    audit: AuditLog = field(init=False)
    handoffs: HandoffService = field(init=False)
    takeovers: TakeoverService = field(init=False)
    review: ReviewQueue = field(init=False)
    directory: Directory = field(init=False)
    engine: Engine = field(init=False)
    rasa: RasaClient = field(init=False)
    login_limiter: RateLimiter = field(default_factory=lambda: RateLimiter(10, 600.0))
    entries: list[tuple[str, str]] = field(default_factory=list)
    intents: list[str] = field(default_factory=list)
    ready: bool = False
    _css: bytes | None = None

    async def run(self, func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run blocking ``func`` (SQL, decryption) in a worker thread."""
        return await asyncio.to_thread(partial(func, *args, **kwargs))


STATE = web.AppKey("console_state", ConsoleState)


def _knowledge_choices(settings: Settings) -> tuple[list[tuple[str, str]], list[str]]:
    """(entry id, title) of every knowledge entry and the domain's intents."""
    import yaml

    entries: list[tuple[str, str]] = []
    with contextlib.suppress(Exception):  # the review queue still works without them
        from knowledge.loader import load_knowledge_base

        kb = load_knowledge_base(settings.content_dir)
        entries = sorted(((e.id, e.title) for e in kb.entries), key=lambda p: p[1].lower())
    intents: list[str] = []
    with contextlib.suppress(Exception):
        domain = yaml.safe_load((settings.project_root / "domain.yml").read_text("utf-8"))
        for item in domain.get("intents") or []:
            intents.append(item if isinstance(item, str) else next(iter(item)))
    return entries, sorted(intents)


def setup_state(state: ConsoleState, engine: Engine, *, directory: Directory | None = None,
                rasa: RasaClient | None = None, clock: Callable[[], Any] | None = None) -> None:
    """Create the services on ``engine`` (tests may inject a directory, Rasa client, clock)."""
    from firstpoint.records.crypto import cipher_from_settings
    from firstpoint.records.db import session_factory
    from knowledge.directory import load_directory

    settings = state.settings
    factory = session_factory(engine)
    cipher = cipher_from_settings(settings)
    state.engine = engine
    state.directory = directory or load_directory(settings.content_dir)
    extra: dict[str, Any] = {"clock": clock} if clock else {}
    state.accounts = Accounts(factory, max_attempts=settings.console_login_attempts,
                              lockout_minutes=settings.console_lockout_minutes,
                              idle_minutes=settings.console_idle_minutes,
                              absolute_hours=settings.console_absolute_hours, **extra)
    state.audit = AuditLog(factory, **extra)
    state.handoffs = HandoffService(factory, cipher, state.directory, **extra)
    state.rasa = rasa or RasaClient(settings.rasa_api_url,
                                    getattr(settings, "rasa_api_token", None))
    state.takeovers = TakeoverService(factory, cipher, state.directory, state.rasa, state.audit,
                                      idle_seconds=settings.console_takeover_idle_seconds,
                                      **extra)
    state.review = ReviewQueue(factory, **extra)
    state.entries, state.intents = _knowledge_choices(settings)
    state.ready = True


def console_context(console: web.Application, poll_seconds: float = 1.0,
                    **inject: Any) -> Callable[[web.Application], AsyncIterator[None]]:
    """A cleanup context for the *parent* app: services on its engine, the takeover poller."""
    from firstpoint.api.app import ENGINE

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        state = console[STATE]
        setup_state(state, app[ENGINE], **inject)

        async def poller() -> None:
            while True:
                try:
                    await state.takeovers.sweep()
                except Exception:  # noqa: BLE001 - the poller must keep going
                    log.exception("takeover poller failed")
                await asyncio.sleep(poll_seconds)

        task = asyncio.get_running_loop().create_task(poller())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            with contextlib.suppress(Exception):
                await asyncio.wait_for(state.takeovers.hand_back_all(), 10)
            await state.rasa.close()

    return ctx


# --------------------------------------------------------------------------- helpers


def render(request: web.Request, template: str, context: dict[str, Any],
           status: int = 200) -> web.Response:
    """Render a template with the common context (user, CSRF token, navigation)."""
    info = request.get("session")
    base = {"user": current_user(request), "csrf_token": info.csrf_token if info else "",
            "path": request.path, "format_local": format_local}
    return aiohttp_jinja2.render_template(template, request, {**base, **context}, status=status)


def state_of(request: web.Request) -> ConsoleState:
    """The console's services."""
    return request.app[STATE]


def safe_next(value: str | None) -> str:
    """A local console path to go to after signing in (never another site)."""
    if not value:
        return "/console/"
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or not value.startswith("/console/") or "\\" in value:
        return "/console/"
    return value


# --------------------------------------------------------------------------- pages


@allow(ANY_USER)
async def home(request: web.Request) -> web.Response:
    """What this role can do."""
    return render(request, "home.html", {"title": "Home"})


@allow(PUBLIC)
async def login_form(request: web.Request) -> web.Response:
    """The sign-in page."""
    if current_user(request):
        raise web.HTTPSeeOther(safe_next(request.query.get("next")))
    return render(request, "login.html", {"title": "Sign in", "login_csrf": login_csrf(request),
                                          "next": safe_next(request.query.get("next")),
                                          "errors": {}, "username": ""})


@allow(PUBLIC)
async def login_submit(request: web.Request) -> web.Response:
    """Check the password (rate-limited per address, lock-out per account)."""
    state = state_of(request)
    form = await request.post()
    cookie = request.cookies.get("fpconsole_login", "")
    given = str(form.get("login_csrf") or "")
    if not cookie or not hmac.compare_digest(cookie.encode(), given.encode()):
        raise web.HTTPForbidden(text="the sign-in form has expired: reload the page")
    address = client_address(request)
    username = str(form.get("username") or "").strip().lower()[:64]
    password = str(form.get("password") or "")
    next_url = safe_next(str(form.get("next") or ""))
    wait = state.login_limiter.retry_after(address)
    if wait:
        response = render(request, "login.html", {
            "title": "Sign in", "login_csrf": login_csrf(request), "next": next_url,
            "errors": {"form": f"Too many attempts. Try again in {int(wait // 60) + 1} minutes."},
            "username": username}, status=429)
        response.headers["Retry-After"] = str(int(wait) + 1)
        return response
    state.login_limiter.hit(address)
    errors: dict[str, str] = {}
    if not username:
        errors["username"] = "Enter your user name"
    if not password:
        errors["password"] = "Enter your password"
    if not errors:
        result = await state.run(state.accounts.authenticate, username, password)
        if result.user is not None:
            token, _ = await state.run(state.accounts.start_session, result.user)
            await state.run(state.audit.record, result.user.username, "signed_in",
                            role=result.user.role, address=address)
            response = web.HTTPSeeOther(next_url)
            set_session_cookie(response, token, state.settings.console_secure_cookies,
                               int(state.settings.console_absolute_hours * 3600))
            raise response
        await state.run(state.audit.record, username or "-", "sign_in_failed",
                        detail=result.reason, address=address)
        errors["form"] = ("This account is locked after too many wrong passwords. Try again "
                          "later or ask a supervisor to reset it." if result.reason == "locked"
                          else "The user name or password is not right.")
    return render(request, "login.html", {"title": "Sign in", "login_csrf": login_csrf(request),
                                          "next": next_url, "errors": errors,
                                          "username": username}, status=400)


@allow(ANY_USER)
async def logout(request: web.Request) -> web.Response:
    """Sign out (POST with the CSRF token)."""
    state = state_of(request)
    secure = state.settings.console_secure_cookies
    token = request.cookies.get(cookie_name(secure), "")
    user = current_user(request)
    if token:
        await state.run(state.accounts.end_session, token)
    if user:
        await state.run(state.audit.record, user.username, "signed_out", role=user.role,
                        address=client_address(request))
    response = web.HTTPSeeOther("/console/login")
    clear_session_cookie(response, secure)
    raise response


_FONT_FACE = re.compile(r"@font-face\{[^}]*\}")


def govuk_css() -> bytes:
    """GOV.UK Frontend's compiled CSS for a council service.

    The GDS Transport font and the crown are for GOV.UK only, so the ``@font-face``
    rules are dropped (text falls back to Arial, as the Design System advises for
    services off GOV.UK) and asset URLs point at the vendored copy.
    """
    path = VENDOR / "govuk-frontend.min.css"
    if not path.is_file():
        raise web.HTTPServiceUnavailable(
            text="GOV.UK Frontend is not installed: run `make install` (scripts/install.sh)")
    css = _FONT_FACE.sub("", path.read_text(encoding="utf-8"))
    return css.replace("url(/assets/", "url(/console/static/vendor/assets/").encode("utf-8")


@allow(PUBLIC)
async def css(request: web.Request) -> web.Response:
    """The GOV.UK stylesheet (prepared once)."""
    state = state_of(request)
    if state._css is None:
        state._css = govuk_css()
    return web.Response(body=state._css, content_type="text/css", charset="utf-8",
                        headers={"Cache-Control": "public, max-age=3600"})


def create_console_app(settings: Settings) -> web.Application:
    """The console sub-application (mount at ``/console``)."""
    from firstpoint.console import web_handoffs, web_live, web_reports

    app = web.Application(middlewares=make_middlewares(STATE))
    app[STATE] = ConsoleState(settings)
    aiohttp_jinja2.setup(app, loader=jinja2.FileSystemLoader(str(TEMPLATES)),
                         autoescape=jinja2.select_autoescape(("html",), default=True),
                         undefined=jinja2.StrictUndefined)
    app.router.add_get("/", home)
    app.router.add_get("/login", login_form)
    app.router.add_post("/login", login_submit)
    app.router.add_post("/logout", logout)
    app.router.add_get("/static/govuk.css", css)
    for module in (web_handoffs, web_live, web_reports):
        module.add_routes(app)
    app.router.add_static("/static/", STATIC, show_index=False, follow_symlinks=False)
    return app


def build_app(settings: Settings, *, engine: Engine | None = None,
              api_token: str | None = None, cleanup_contexts: Iterable[Any] = (),
              poll_seconds: float = 1.0, **inject: Any) -> web.Application:
    """The JSON API with the console mounted at ``/console``."""
    from firstpoint.api.app import init_app

    console = create_console_app(settings)
    return init_app(settings, engine, api_token=api_token,
                    cleanup_contexts=[console_context(console, poll_seconds, **inject),
                                      *cleanup_contexts],
                    subapps={"/console": console})

"""The console's request pipeline: security headers, sessions, single sign-on, CSRF, roles.

* **Headers** on every response: a Content Security Policy with no
  ``unsafe-inline`` (scripts, styles, images, fonts and connections from the
  console's own origin only; ``frame-ancestors 'none'``; ``form-action 'self'``),
  ``X-Content-Type-Options: nosniff``, ``Referrer-Policy: same-origin``,
  ``X-Frame-Options: DENY``, a closed ``Permissions-Policy``, ``Cross-Origin-Opener-
  Policy: same-origin`` and ``Cache-Control: no-store`` on every page.
* **Sessions**: an ``HttpOnly``, ``SameSite=Strict`` cookie (``Secure`` and the
  ``__Host-`` prefix unless ``console_secure_cookies`` is off), holding a random
  token of a server-side session (:class:`~firstpoint.console.accounts.Accounts`)
  with idle and absolute timeouts.
* **Single sign-on** (off by default): when ``console_sso_header`` is set, a
  request *from an address in* ``console_sso_proxies`` carrying that header signs in
  the named, existing, enabled account; the header from anywhere else is ignored.
* **CSRF**: every unsafe request needs the session's token (form field
  ``csrf_token`` or header ``X-CSRF-Token``) and must not come from another site
  (``Sec-Fetch-Site`` / ``Origin``); the sign-in form uses a double-submit cookie.
* **Roles**: each handler declares who may use it (:func:`allow`); a handler
  without a declaration is refused (deny by default).
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import secrets
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from firstpoint.console.accounts import SessionInfo, User

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
PUBLIC = "public"
ANY_USER = "any"
LOGIN_CSRF_COOKIE = "fpconsole_login"
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
       "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
       "form-action 'self'; frame-ancestors 'none'")
SVG_CSP = "default-src 'none'; frame-ancestors 'self'"
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    # same-origin, not no-referrer: with no-referrer browsers send "Origin: null" on
    # the console's own form posts, which the cross-site check must refuse
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def allow(*roles: str) -> Callable[[Handler], Handler]:
    """Declare who may call a handler: roles, :data:`ANY_USER` or :data:`PUBLIC`."""
    def mark(handler: Handler) -> Handler:
        handler.console_roles = frozenset(roles)  # type: ignore[attr-defined]
        return handler

    return mark


def cookie_name(secure: bool) -> str:
    """The session cookie's name (``__Host-`` prefixed when it is Secure)."""
    return "__Host-fpconsole" if secure else "fpconsole"


def current_user(request: web.Request) -> User | None:
    """The signed-in user of this request, if any."""
    info: SessionInfo | None = request.get("session")
    return info.user if info else None


def client_address(request: web.Request) -> str:
    """The peer address (the proxy's when behind one)."""
    return request.remote or ""


class RateLimiter:
    """At most ``limit`` events per ``window`` seconds per key (sliding window, in memory)."""

    def __init__(self, limit: int = 10, window: float = 600.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.window = window
        self.clock = clock
        self._events: dict[str, deque[float]] = {}

    def retry_after(self, key: str) -> float:
        """Seconds until ``key`` may try again (0: now)."""
        now = self.clock()
        events = self._events.get(key)
        if not events:
            return 0.0
        while events and now - events[0] > self.window:
            events.popleft()
        if len(events) < self.limit:
            return 0.0
        return max(0.0, self.window - (now - events[0]))

    def hit(self, key: str) -> None:
        """Count one event for ``key``."""
        self._events.setdefault(key, deque()).append(self.clock())
        if len(self._events) > 10_000:  # forget the oldest keys, never grow without bound
            for stale in list(self._events)[:1000]:
                self._events.pop(stale, None)


def _same_site(request: web.Request) -> bool:
    """False for a request a browser says came from another site."""
    fetch_site = request.headers.get("Sec-Fetch-Site")
    if fetch_site is not None and fetch_site not in ("same-origin", "none"):
        return False
    origin = request.headers.get("Origin")
    if origin is not None:
        expected = f"{request.scheme}://{request.host}"
        if origin != expected:
            return False
    return True


def _proxy_allowed(address: str, allowed: tuple[str, ...]) -> bool:
    try:
        peer = ipaddress.ip_address(address)
    except ValueError:
        return False
    for entry in allowed:
        try:
            if peer in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:
            continue
    return False


def set_session_cookie(response: web.StreamResponse, token: str, secure: bool,
                       max_age: int) -> None:
    """Attach the session cookie."""
    response.set_cookie(cookie_name(secure), token, path="/", secure=secure, httponly=True,
                        samesite="Strict", max_age=max_age)


def clear_session_cookie(response: web.StreamResponse, secure: bool) -> None:
    """Remove the session cookie."""
    response.del_cookie(cookie_name(secure), path="/")


def login_csrf(request: web.Request) -> str:
    """The sign-in form's token (the double-submit cookie's value, made if missing)."""
    token = request.cookies.get(LOGIN_CSRF_COOKIE)
    if not token or len(token) > 128:
        token = request.get("new_login_csrf") or secrets.token_urlsafe(32)
        request["new_login_csrf"] = token
    return token


def make_middlewares(state_key: web.AppKey[Any]) -> list[Any]:
    """The console's middlewares, reading services from ``request.app[state_key]``."""

    @web.middleware
    async def headers(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            response = exc
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if response.content_type == "image/svg+xml":
            response.headers["Content-Security-Policy"] = SVG_CSP
        else:
            response.headers.setdefault("Content-Security-Policy", CSP)
        if not request.path.startswith("/console/static/"):
            response.headers.setdefault("Cache-Control", "no-store")
        new_login = request.get("new_login_csrf")
        if new_login:
            response.set_cookie(LOGIN_CSRF_COOKIE, new_login, path="/console/",
                                httponly=True, samesite="Strict",
                                secure=request.app[state_key].settings.console_secure_cookies)
        if isinstance(response, web.HTTPException):
            raise response
        return response

    @web.middleware
    async def session(request: web.Request, handler: Handler) -> web.StreamResponse:
        state = request.app[state_key]
        settings = state.settings
        secure = settings.console_secure_cookies
        token = request.cookies.get(cookie_name(secure), "")
        info = await state.run(state.accounts.load_session, token) if token else None
        new_token: str | None = None
        header = settings.console_sso_header
        if header and request.headers.get(header):
            claimed = request.headers[header].strip().lower()
            if not _proxy_allowed(client_address(request), settings.console_sso_proxies):
                log.warning("ignored %s from %s: not an allowed proxy", header,
                            client_address(request))
            elif info is None or info.user.username != claimed:
                user = await state.run(state.accounts.get, claimed)
                if user is not None and not user.disabled:
                    new_token, _ = await state.run(state.accounts.start_session, user, "sso")
                    info = await state.run(state.accounts.load_session, new_token)
                    await state.run(state.audit.record, user.username, "signed_in",
                                    role=user.role, detail="single sign-on",
                                    address=client_address(request))
                else:
                    info = None
        request["session"] = info
        roles = getattr(handler, "console_roles", None)
        if roles is None and request.path.startswith("/console/static/"):
            roles = frozenset({PUBLIC})
        if roles is None:
            raise web.HTTPForbidden(text="not available")
        if PUBLIC not in roles:
            if info is None:
                if request.method in UNSAFE:
                    raise web.HTTPForbidden(text="sign in first")
                raise web.HTTPSeeOther(f"/console/login?next={request.rel_url.path}")
            if ANY_USER not in roles and info.user.role not in roles:
                raise web.HTTPForbidden(text="your role cannot use this page")
        if request.method in UNSAFE:
            if not _same_site(request):
                raise web.HTTPForbidden(text="cross-site request refused")
            if info is not None and PUBLIC not in roles:
                form = await request.post()
                given = str(form.get("csrf_token") or request.headers.get("X-CSRF-Token") or "")
                if not hmac.compare_digest(given.encode(), info.csrf_token.encode()):
                    raise web.HTTPForbidden(text="the form has expired: reload the page")
        response = await handler(request)
        if new_token:
            set_session_cookie(response, new_token, secure,
                               int(settings.console_absolute_hours * 3600))
        return response

    return [headers, session]

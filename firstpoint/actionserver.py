"""The action server, on loopback and behind a bearer token.

``rasa run actions`` (rasa-sdk 3.6) binds ``SANIC_HOST`` or ``0.0.0.0`` and
accepts any POST to ``/webhook``: anyone who reaches the port could create
handoff records and queue officer notifications without going through Rasa.
This module serves the same rasa-sdk application (``rasa_sdk.endpoint.create_app``,
so the actions and the wire format are unchanged) with three differences:

* it binds ``Settings.action_host`` (``127.0.0.1`` unless deliberately changed);
* every route but ``GET /health`` needs ``Authorization: Bearer <token>``
  (``Settings.action_token``), which Rasa sends from ``endpoints.yml``
  (``action_endpoint: headers: {Authorization: "Bearer ${FIRSTPOINT_ACTION_TOKEN}"}``);
  without a configured token it refuses to start, unless ``--no-token`` is given
  for a developer who knows the port is private;
* an exception inside an action answers a plain 500 without echoing the request
  body (rasa-sdk's handler returns the whole tracker, personal data included);
* it speaks the domain-digest protocol of :mod:`firstpoint.rasa_patches`: a call
  that carries ``firstpoint_domain_digest`` and no domain gets the domain last sent
  with that digest put back before rasa-sdk runs the action (:class:`DomainCache`),
  or a 449 when it has none, and Rasa repeats the call with the domain. Calls
  without the key run exactly as before.

Run: ``python -m firstpoint.actionserver --actions bot.actions --port 5055``.
"""

from __future__ import annotations

import argparse
import hmac
import json
import logging
import sys
import threading
import zlib
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

from firstpoint.rasa_patches import DIGEST_KEY, DOMAIN_MISSING_STATUS, digest_of
from firstpoint.settings import get_settings

log = logging.getLogger(__name__)

OPEN_PATHS = frozenset({"/health"})


def token_ok(header: str | None, token: str) -> bool:
    """True when ``header`` is ``Bearer <token>`` (compared in constant time)."""
    if not header or not header.startswith("Bearer "):
        return False
    given = header[len("Bearer "):].strip().encode("utf-8")
    return hmac.compare_digest(given, token.encode("utf-8"))


class DomainCache:
    """The domains Rasa has sent, by digest (a few: one per model in service)."""

    def __init__(self, size: int = 4) -> None:
        self.size = size
        self._domains: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def remember(self, digest: str, domain: dict[str, Any]) -> bool:
        """Keep ``domain`` under ``digest`` if that is its digest; returns whether it was kept."""
        if digest_of(domain) != digest:
            log.warning("action call: the domain sent does not match its digest; not kept")
            return False
        with self._lock:
            self._domains[digest] = domain
            self._domains.move_to_end(digest)
            while len(self._domains) > self.size:
                self._domains.popitem(last=False)
        return True

    def get(self, digest: str) -> dict[str, Any] | None:
        """The domain sent with ``digest``, or ``None``."""
        with self._lock:
            return self._domains.get(digest)

    def complete(self, call: dict[str, Any]) -> bool:
        """Put the domain back into an action call; False when it is unknown (answer 449).

        A call with a domain and a digest teaches the cache; a call without the
        digest key is left alone (plain Rasa).
        """
        digest = call.get(DIGEST_KEY)
        if not isinstance(digest, str):
            return True
        if isinstance(call.get("domain"), dict):
            self.remember(digest, call["domain"])
            return True
        domain = self.get(digest)
        if domain is None:
            return False
        call["domain"] = domain
        return True


def create_app(actions: str, token: str | None,  # noqa: ANN201 - sanic.Sanic
               domains: DomainCache | None = None):
    """rasa-sdk's action server app with the token check, the domain cache and a quiet
    error handler."""
    from rasa_sdk.endpoint import create_app as sdk_app
    from sanic import response

    app = sdk_app(actions, cors_origins=None)
    cache = domains if domains is not None else DomainCache()

    if token:
        @app.middleware("request")
        async def _require_token(request):  # noqa: ANN001, ANN202 - sanic signature
            if request.path in OPEN_PATHS:
                return None
            if not token_ok(request.headers.get("Authorization"), token):
                return response.json({"error": "missing or invalid bearer token"}, status=401,
                                     headers={"WWW-Authenticate": 'Bearer realm="actions"'})
            return None

    @app.middleware("request")
    async def _domain_from_digest(request):  # noqa: ANN001, ANN202 - sanic signature
        # after the token check (middleware runs in the order registered)
        if request.method != "POST" or request.path != "/webhook" or not request.body:
            return None
        deflated = request.headers.get("Content-Encoding") == "deflate"
        try:
            call = json.loads(zlib.decompress(request.body)) if deflated else request.json
        except Exception:  # noqa: BLE001 - rasa-sdk's handler answers malformed bodies
            return None
        if not isinstance(call, dict) or DIGEST_KEY not in call:
            return None
        if not cache.complete(call):
            return response.json({"error": "domain not known for this digest; send it",
                                  "action_name": call.get("next_action")},
                                 status=DOMAIN_MISSING_STATUS)
        if deflated:  # rasa-sdk decompresses the body itself
            request.body = zlib.compress(json.dumps(call).encode("utf-8"))
        return None

    async def _quiet_error(request, exception: Exception):  # noqa: ANN001, ANN202
        log.error("action server error on %s: %s", request.path, type(exception).__name__,
                  exc_info=exception)
        status = getattr(exception, "status_code", 500)
        status = status if isinstance(status, int) and 400 <= status < 600 else 500
        return response.json({"error": "the action could not be run"}, status=status)

    app.error_handler.add(Exception, _quiet_error)
    return app


def main(argv: Sequence[str] | None = None) -> int:
    """Parse arguments, then serve until interrupted."""
    settings = get_settings()
    parser = argparse.ArgumentParser(prog="firstpoint-actions", description=__doc__.split("\n")[0])
    parser.add_argument("--actions", default="bot.actions", help="action package")
    parser.add_argument("--port", type=int, default=settings.action_port)
    parser.add_argument("--host", default=settings.action_host,
                        help="interface to bind (default FIRSTPOINT_ACTION_HOST or 127.0.0.1)")
    parser.add_argument("--no-token", action="store_true",
                        help="serve without a token (a private development port only)")
    args = parser.parse_args(argv)
    token = settings.action_token
    if not token and not args.no_token:
        print("firstpoint-actions: FIRSTPOINT_ACTION_TOKEN is not set; refusing to serve "
              "actions without authentication (--no-token overrides)", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    app = create_app(args.actions, None if args.no_token else token)
    log.info("action server on http://%s:%d (token %s)", args.host, args.port,
             "required" if token and not args.no_token else "NOT required")
    app.run(host=args.host, port=args.port, workers=1, access_log=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Local stand-ins for Facebook's Graph API and the Bot Framework's services.

One aiohttp server, in a thread of its own, on a free loopback port:

* ``POST /graph/{version}/me/messages`` records Send API calls (Facebook);
* ``GET /openid`` (OpenID metadata) and ``GET /jwks`` (signing keys),
  ``POST /token`` (client-credentials tokens) and
  ``POST /bf/v3/conversations/{id}/activities[/{reply_to}]`` (the connector's
  service URL, which records the bot's replies and the bearer token used).

Keys are generated in the test (``cryptography``) and tokens minted with PyJWT.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import jwt
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

ISSUER = "https://api.botframework.com"


@dataclass
class SigningKey:
    """An RSA key pair and its JWK (with Bot Framework endorsements)."""

    kid: str
    private: Any
    endorsements: list[str] = field(default_factory=lambda: ["msteams"])

    @classmethod
    def generate(cls, kid: str | None = None) -> SigningKey:
        """A fresh 2048-bit key."""
        return cls(kid or f"kid-{uuid.uuid4().hex[:8]}",
                   rsa.generate_private_key(public_exponent=65537, key_size=2048))

    def jwk(self) -> dict[str, Any]:
        """The public key as a JWK."""
        data = json.loads(RSAAlgorithm.to_jwk(self.private.public_key()))
        return {**data, "kid": self.kid, "use": "sig", "endorsements": self.endorsements}


def mint(key: SigningKey, app_id: str, service_url: str, *, issuer: str = ISSUER,
         lifetime: float = 3600, now: float | None = None, kid: str | None = None,
         **extra: Any) -> str:
    """A connector token as the Bot Framework would sign it."""
    issued = time.time() if now is None else now
    claims = {"iss": issuer, "aud": app_id, "serviceUrl": service_url,
              "nbf": int(issued) - 5, "iat": int(issued), "exp": int(issued + lifetime), **extra}
    return jwt.encode(claims, key.private, algorithm="RS256", headers={"kid": kid or key.kid})


class FakeServices:
    """The fake Graph API and Bot Framework, recording what FirstPoint sends them."""

    def __init__(self) -> None:
        self.keys: list[SigningKey] = [SigningKey.generate()]
        self.graph_calls: list[dict[str, Any]] = []
        self.replies: list[dict[str, Any]] = []
        self.token_requests: list[dict[str, str]] = []
        self.metadata_fetches = 0
        self.jwks_fetches = 0
        self.issued_tokens: list[str] = []
        self.token_lifetime = 3600
        self.url = ""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._lock = threading.Lock()

    @property
    def key(self) -> SigningKey:
        """The current signing key."""
        return self.keys[0]

    # ------------------------------------------------------------------ handlers
    async def _graph(self, request: web.Request) -> web.Response:
        body = await request.json()
        with self._lock:
            self.graph_calls.append({"version": request.match_info["version"],
                                     "params": dict(request.query), "body": body})
        return web.json_response({"recipient_id": body.get("recipient", {}).get("id"),
                                  "message_id": f"m_{uuid.uuid4().hex[:8]}"})

    async def _openid(self, request: web.Request) -> web.Response:
        self.metadata_fetches += 1
        return web.json_response({"issuer": ISSUER, "jwks_uri": f"{self.url}/jwks",
                                  "id_token_signing_alg_values_supported": ["RS256"]})

    async def _jwks(self, request: web.Request) -> web.Response:
        self.jwks_fetches += 1
        return web.json_response({"keys": [k.jwk() for k in self.keys]})

    async def _token(self, request: web.Request) -> web.Response:
        form = dict(await request.post())
        token = f"bf-access-{uuid.uuid4().hex[:12]}"
        with self._lock:
            self.token_requests.append({k: str(v) for k, v in form.items()})
            self.issued_tokens.append(token)
        return web.json_response({"token_type": "Bearer", "expires_in": self.token_lifetime,
                                  "access_token": token})

    async def _activity(self, request: web.Request) -> web.Response:
        body = await request.json()
        with self._lock:
            self.replies.append({
                "conversation": request.match_info["conversation"],
                "reply_to": request.match_info.get("reply_to"),
                "authorization": request.headers.get("Authorization", ""),
                "body": body,
            })
        return web.json_response({"id": uuid.uuid4().hex[:8]})

    # ------------------------------------------------------------------ lifecycle
    def _app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/graph/{version}/me/messages", self._graph)
        app.router.add_get("/openid", self._openid)
        app.router.add_get("/jwks", self._jwks)
        app.router.add_post("/token", self._token)
        app.router.add_post("/bf/v3/conversations/{conversation}/activities", self._activity)
        app.router.add_post("/bf/v3/conversations/{conversation}/activities/{reply_to}",
                            self._activity)
        return app

    def start(self) -> FakeServices:
        """Serve on a free loopback port in a background thread."""
        started = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            runner = web.AppRunner(self._app())
            loop.run_until_complete(runner.setup())
            site = web.TCPSite(runner, "127.0.0.1", 0)
            loop.run_until_complete(site.start())
            port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            self.url = f"http://127.0.0.1:{port}"
            self._runner = runner
            started.set()
            loop.run_forever()
            loop.run_until_complete(runner.cleanup())
            loop.close()

        self._thread = threading.Thread(target=run, name="fake-services", daemon=True)
        self._thread.start()
        if not started.wait(10):
            raise RuntimeError("the fake services did not start")
        return self

    def stop(self) -> None:
        """Stop serving."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)

    @property
    def graph_url(self) -> str:
        """What ``FIRSTPOINT_FACEBOOK_GRAPH_URL`` points at."""
        return f"{self.url}/graph"

    @property
    def service_url(self) -> str:
        """The Bot Framework service URL activities carry."""
        return f"{self.url}/bf"

    # ------------------------------------------------------------------ waiting
    def wait_for(self, what: Callable[[], Any], timeout: float = 60.0) -> Any:
        """Poll ``what()`` until it is truthy (returns it) or ``timeout`` runs out (returns it)."""
        deadline = time.monotonic() + timeout
        result = what()
        while not result and time.monotonic() < deadline:
            time.sleep(0.2)
            result = what()
        return result

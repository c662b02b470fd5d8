"""The Teams-style staff bot: a Bot Framework connector on aiohttp that starts offline.

Rasa's built-in ``botframework`` channel fetches Microsoft's OpenID
configuration with blocking ``requests`` when it is created, so the whole
server dies when that host cannot be reached, and it blocks the event loop on
every reply. This one:

* **Validates every incoming request's JWT** (``Authorization: Bearer …``)
  with PyJWT: RS256 only (``alg: none`` and HMAC tokens are refused), the
  signing key looked up by ``kid`` in the JWKS named by the configurable
  OpenID metadata document (fetched lazily with aiohttp on the first request,
  cached, refreshed daily, and re-fetched early, at most every five minutes,
  when an unknown ``kid`` appears: key rollover); the key's ``endorsements``,
  when it has them, must include the activity's ``channelId``; ``iss`` must
  be the Bot Framework issuer, ``aud`` the bot's app id, ``exp``/``nbf`` valid
  within a small clock skew; and the token's ``serviceUrl`` claim must equal
  the activity's ``serviceUrl``. Anything else is 401 and nothing reaches the
  bot (503 when no keys could be fetched at all, so the service retries).
* **Replies through the activity's service URL**
  (``POST {serviceUrl}/v3/conversations/{id}/activities/{replyToId}``) with a
  client-credentials token from the configurable token endpoint, cached
  until shortly before it expires (and dropped after a 401).
* Handles ``message`` (Teams ``<at>mentions</at>`` removed; card buttons send
  their payload) and ``conversationUpdate`` (a welcome, once per
  conversation); acknowledges at once (202) and runs the turn in the background.
* Puts ``{"channel": "teams", "audience": "staff", "staff": {"aad_object_id",
  "name"}}`` in every message's metadata: staff get the internal Service Menu.
  Only activities from the allowed channels (``msteams`` by default) and, when
  ``FIRSTPOINT_BOTFRAMEWORK_TENANT_IDS`` is set, the council's tenants count as staff.

Endpoints and secrets come from ``firstpoint.settings``
(``FIRSTPOINT_BOTFRAMEWORK_APP_ID``, ``_APP_PASSWORD``, ``_OPENID_URL``,
``_TOKEN_URL``, ``_TENANT_IDS``); credentials.yml may override the non-secret ones.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote, urlsplit

import jwt
from jwt.algorithms import RSAAlgorithm
from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from connectors.common import (
    STAFF,
    BackgroundTasks,
    LazyHttp,
    RecentSet,
    session_metadata,
    split_text,
)
from connectors.rest import MAX_MESSAGE_CHARS

logger = logging.getLogger(__name__)

ISSUER = "https://api.botframework.com"
TOKEN_SCOPE = "https://api.botframework.com/.default"
ALGORITHMS = ("RS256",)
DEFAULT_CLOCK_SKEW = 300  # seconds; the Bot Framework SDKs allow five minutes
KEY_REFRESH_SECONDS = 24 * 3600
MIN_REFETCH_SECONDS = 300
TOKEN_MARGIN_SECONDS = 120
BEARER_RE = re.compile(r"^Bearer\s+([A-Za-z0-9._~+/=-]+)$")
MENTION_RE = re.compile(r"<at\b[^>]*>.*?</at>", re.IGNORECASE | re.DOTALL)
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
WELCOME = (
    "Hello, I'm FirstPoint, Business Support's assistant for staff. Ask me what Business "
    "Support does and doesn't do, or tell me what you need and I'll point you to the right team."
)



def _obj(value: Any) -> dict[str, Any]:
    """``value`` if it is a JSON object, else an empty one (activities come from outside)."""
    return value if isinstance(value, dict) else {}

class AuthError(Exception):
    """A request that must be refused: ``status`` (401, or 503 when keys are unavailable)."""

    def __init__(self, reason: str, status: int = 401) -> None:
        super().__init__(reason)
        self.status = status


class OpenIdKeys:
    """Signing keys found through an OpenID metadata document, cached and refreshed.

    Nothing is fetched until the first token arrives; fetching is asynchronous
    (aiohttp) and serialised, so a burst of requests causes one fetch.
    """

    def __init__(self, metadata_url: str, http: LazyHttp | None = None,
                 refresh_seconds: float = KEY_REFRESH_SECONDS,
                 min_refetch_seconds: float = MIN_REFETCH_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        """Keys from the JWKS named in ``metadata_url``'s ``jwks_uri``."""
        self.metadata_url = metadata_url
        self.http = http or LazyHttp(timeout_seconds=10)
        self.refresh_seconds = refresh_seconds
        self.min_refetch_seconds = min_refetch_seconds
        self.clock = clock
        self.keys: dict[str, dict[str, Any]] = {}
        self.fetched_at: float | None = None
        self.fetches = 0
        self._lock = asyncio.Lock()

    async def _get_json(self, url: str) -> Any:
        session = await self.http.session()
        async with session.get(url) as resp:
            if resp.status != 200:
                raise RuntimeError(f"{url} answered {resp.status}")
            return await resp.json(content_type=None)

    async def refresh(self, if_older_than: float = 0.0) -> None:
        """Fetch metadata and keys again unless another caller just did."""
        async with self._lock:
            now = self.clock()
            if self.fetched_at is not None and now - self.fetched_at < if_older_than:
                return
            self.fetches += 1
            try:
                metadata = await self._get_json(self.metadata_url)
                jwks_uri = metadata.get("jwks_uri") if isinstance(metadata, dict) else None
                if not isinstance(jwks_uri, str):
                    raise RuntimeError("the OpenID metadata has no jwks_uri")
                document = await self._get_json(jwks_uri)
                keys = {
                    str(k["kid"]): k for k in (document or {}).get("keys", [])
                    if isinstance(k, dict) and k.get("kid") and k.get("kty") == "RSA"
                }
            except Exception as exc:
                self.fetched_at = now if self.keys else None
                if self.keys:
                    logger.warning("botframework: keeping cached keys; refresh failed: %s", exc)
                    return
                raise AuthError(f"signing keys unavailable: {exc}", status=503) from exc
            self.keys, self.fetched_at = keys, now

    async def get(self, kid: str) -> dict[str, Any] | None:
        """The JWK with ``kid`` (refreshing when stale or when the kid is new), or None."""
        if self.fetched_at is None:
            await self.refresh(if_older_than=self.min_refetch_seconds)
        elif self.clock() - self.fetched_at > self.refresh_seconds:
            await self.refresh(if_older_than=self.refresh_seconds)
        if kid not in self.keys:
            await self.refresh(if_older_than=self.min_refetch_seconds)
        return self.keys.get(kid)


def _same_url(a: Any, b: Any) -> bool:
    return isinstance(a, str) and isinstance(b, str) and \
        a.rstrip("/").lower() == b.rstrip("/").lower()


class TokenValidator:
    """Checks a Bot Framework connector's bearer token against one activity."""

    def __init__(self, keys: OpenIdKeys, app_id: str, issuer: str = ISSUER,
                 leeway: float = DEFAULT_CLOCK_SKEW) -> None:
        """Tokens must be for ``app_id`` from ``issuer``, allowing ``leeway`` seconds of skew."""
        self.keys = keys
        self.app_id = app_id
        self.issuer = issuer
        self.leeway = leeway

    async def validate(self, authorization: str | None, activity: dict[str, Any]) -> dict:
        """The token's claims, or :class:`AuthError` saying why it is refused."""
        match = BEARER_RE.match((authorization or "").strip())
        if not match:
            raise AuthError("no bearer token")
        token = match.group(1)
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise AuthError("malformed token") from exc
        if header.get("alg") not in ALGORITHMS:
            raise AuthError(f"algorithm {header.get('alg')!r} is not allowed")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise AuthError("token names no signing key")
        jwk = await self.keys.get(kid)
        if jwk is None:
            raise AuthError("unknown signing key")
        endorsements = jwk.get("endorsements")
        if isinstance(endorsements, list) and activity.get("channelId") not in endorsements:
            raise AuthError("the signing key is not endorsed for this channel")
        try:
            public_key = RSAAlgorithm.from_jwk(json.dumps(jwk))
            claims = jwt.decode(
                token, key=public_key,  # type: ignore[arg-type]
                algorithms=list(ALGORITHMS), audience=self.app_id, issuer=self.issuer,
                leeway=self.leeway, options={"require": ["exp", "iss", "aud"]},
            )
        except jwt.PyJWTError as exc:
            raise AuthError(f"token refused: {type(exc).__name__}") from exc
        if not _same_url(claims.get("serviceUrl"), activity.get("serviceUrl")):
            raise AuthError("the token's serviceUrl does not match the activity")
        return claims


class ConnectorToken:
    """A client-credentials token for calling the Bot Connector, cached until near expiry."""

    def __init__(self, token_url: str, app_id: str, app_password: str,
                 scope: str = TOKEN_SCOPE, http: LazyHttp | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        """Tokens from ``token_url`` for ``app_id``/``app_password``."""
        self.token_url = token_url
        self.app_id = app_id
        self.app_password = app_password
        self.scope = scope
        self.http = http or LazyHttp()
        self.clock = clock
        self._token: str | None = None
        self._expires = 0.0
        self.fetches = 0
        self._lock = asyncio.Lock()

    def invalidate(self) -> None:
        """Forget the cached token (after the connector refused it)."""
        self._token = None

    async def get(self) -> str:
        """A valid access token (fetched when there is none or it is about to expire)."""
        async with self._lock:
            if self._token and self.clock() < self._expires:
                return self._token
            session = await self.http.session()
            self.fetches += 1
            async with session.post(self.token_url, data={
                "grant_type": "client_credentials", "client_id": self.app_id,
                "client_secret": self.app_password, "scope": self.scope,
            }) as resp:
                if resp.status != 200:
                    raise RuntimeError(f"token endpoint answered {resp.status}")
                body = await resp.json(content_type=None)
            token, expires_in = body.get("access_token"), body.get("expires_in", 3600)
            if not isinstance(token, str) or not token:
                raise RuntimeError("token endpoint gave no access_token")
            self._token = token
            self._expires = self.clock() + max(0.0, float(expires_in) - TOKEN_MARGIN_SECONDS)
            return token


class ConnectorClient:
    """Sends activities to a conversation through its service URL."""

    def __init__(self, token: ConnectorToken, http: LazyHttp) -> None:
        """Authenticated with ``token``."""
        self.token = token
        self.http = http

    async def send(self, service_url: str, conversation_id: str, activity: dict[str, Any],
                   reply_to_id: str | None = None) -> bool:
        """POST one activity; retries once with a fresh token after a 401."""
        url = f"{service_url.rstrip('/')}/v3/conversations/{quote(conversation_id, safe='')}" \
              "/activities"
        if reply_to_id:
            url += f"/{quote(reply_to_id, safe='')}"
        session = await self.http.session()
        for attempt in (1, 2):
            try:
                bearer = await self.token.get()
                async with session.post(url, json=activity,
                                        headers={"Authorization": f"Bearer {bearer}"}) as resp:
                    if resp.status == 401 and attempt == 1:
                        self.token.invalidate()
                        continue
                    if resp.status >= 300:
                        logger.warning("botframework: connector answered %s", resp.status)
                        return False
                    return True
            except Exception as exc:  # noqa: BLE001 - log, the turn is still recorded
                logger.warning("botframework: could not send a reply: %s", exc)
                return False
        return False


class BotFrameworkOutput(OutputChannel):
    """Replies into the conversation an activity came from."""

    @classmethod
    def name(cls) -> str:
        """``botframework``: channel-specific responses in the domain apply."""
        return "botframework"

    def __init__(self, client: ConnectorClient, activity: dict[str, Any]) -> None:
        """Replies go to ``activity``'s conversation, as replies to it."""
        self.client = client
        self.service_url = str(activity["serviceUrl"])
        self.conversation = dict(activity.get("conversation") or {})
        self.bot = dict(activity.get("recipient") or {})
        self.user = dict(_obj(activity.get("from")))
        self.reply_to_id = activity.get("id") if isinstance(activity.get("id"), str) else None

    def _activity(self, extra: dict[str, Any]) -> dict[str, Any]:
        return {"type": "message", "from": self.bot, "recipient": self.user,
                "conversation": self.conversation, "replyToId": self.reply_to_id,
                "textFormat": "plain", **extra}

    async def _send(self, extra: dict[str, Any]) -> None:
        await self.client.send(self.service_url, str(self.conversation.get("id")),
                               self._activity(extra), self.reply_to_id)

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        """One message per paragraph."""
        for part in split_text(text, 4000):
            await self._send({"text": part})

    async def send_text_with_buttons(self, recipient_id: str, text: str,
                                     buttons: list[dict[str, Any]], **kwargs: Any) -> None:
        """A hero card whose buttons send their payload and show their title."""
        actions = [
            {"type": "messageBack", "title": str(b["title"]), "text": str(b["payload"]),
             "displayText": str(b["title"]), "value": {"payload": str(b["payload"])}}
            for b in buttons if b.get("title") and b.get("payload")
        ]
        await self._send({"text": text, "attachments": [{
            "contentType": "application/vnd.microsoft.card.hero",
            "content": {"buttons": actions},
        }]})

    async def send_image_url(self, recipient_id: str, image: str, **kwargs: Any) -> None:
        """An image in a hero card."""
        await self._send({"attachments": [{
            "contentType": "application/vnd.microsoft.card.hero",
            "content": {"images": [{"url": image}]}}]})

    async def send_custom_json(self, recipient_id: str, json_message: dict[str, Any],
                               **kwargs: Any) -> None:
        """Activity fields as the domain gives them."""
        await self._send(dict(json_message))


class ProactiveBotFrameworkOutput(OutputChannel):
    """Messages nobody just asked for (an officer's live reply from the console).

    Rasa's HTTP API sends them through ``get_output_channel()`` with only the sender
    id; the conversation to post into is the one that sender last wrote from
    (remembered by :meth:`FirstPointBotFrameworkInput.handle_message`, in memory).
    """

    @classmethod
    def name(cls) -> str:
        """``botframework``."""
        return "botframework"

    def __init__(self, client: ConnectorClient, addresses: OrderedDict[str, dict[str, Any]]
                 ) -> None:
        """Posts with ``client`` into the conversations of ``addresses`` (sender -> activity)."""
        self.client = client
        self.addresses = addresses

    async def send_response(self, recipient_id: str, message: dict[str, Any]) -> None:
        """Send ``message`` into the sender's last conversation (dropped, logged, if unknown)."""
        activity = self.addresses.get(recipient_id)
        if activity is None:
            logger.warning("botframework: no conversation known for a proactive message")
            return
        await BotFrameworkOutput(self.client, activity).send_response(recipient_id, message)

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        """Text into the sender's last conversation."""
        await self.send_response(recipient_id, {"text": text})


def message_text(activity: dict[str, Any]) -> str:
    """What the staff member said: the text without @mentions, or a card button's payload."""
    raw = activity.get("text")
    text = MENTION_RE.sub(" ", raw).strip() if isinstance(raw, str) else ""
    value = activity.get("value")
    if not text and isinstance(value, dict) and isinstance(value.get("payload"), str):
        text = value["payload"].strip()
    return text[:MAX_MESSAGE_CHARS]


class FirstPointBotFrameworkInput(InputChannel):
    """Bot Framework (Teams-style) staff bot with JWT validation and aiohttp replies."""

    CHANNEL = "teams"

    @classmethod
    def name(cls) -> str:
        """The URL prefix: ``/webhooks/botframework/``."""
        return "botframework"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        """Secrets and endpoints from the settings; credentials.yml may override them."""
        from firstpoint.settings import get_settings

        s = get_settings()
        c = credentials or {}
        return cls(
            app_id=c.get("app_id") or s.botframework_app_id,
            app_password=c.get("app_password") or s.botframework_app_password,
            openid_metadata_url=c.get("openid_metadata_url") or s.botframework_openid_url,
            token_url=c.get("token_url") or s.botframework_token_url,
            issuer=c.get("issuer") or ISSUER,
            clock_skew_seconds=float(c.get("clock_skew_seconds") or DEFAULT_CLOCK_SKEW),
            allowed_channel_ids=list(c.get("allowed_channel_ids") or ["msteams"]),
            allowed_tenant_ids=list(c.get("allowed_tenant_ids") or s.botframework_tenant_ids),
            welcome=c.get("welcome") or WELCOME,
        )

    def __init__(self, app_id: str | None, app_password: str | None,
                 openid_metadata_url: str, token_url: str, issuer: str = ISSUER,
                 clock_skew_seconds: float = DEFAULT_CLOCK_SKEW,
                 allowed_channel_ids: list[str] | None = None,
                 allowed_tenant_ids: list[str] | None = None, welcome: str = WELCOME) -> None:
        """Nothing is fetched here: the channel starts without any network."""
        self.app_id = app_id
        self.http = LazyHttp()
        self.keys = OpenIdKeys(openid_metadata_url, self.http)
        self.validator = TokenValidator(self.keys, app_id or "", issuer, clock_skew_seconds)
        self.token = ConnectorToken(token_url, app_id or "", app_password or "", http=self.http)
        self.client = ConnectorClient(self.token, self.http)
        self.allowed_channel_ids = set(allowed_channel_ids or ["msteams"])
        self.allowed_tenant_ids = set(allowed_tenant_ids or [])
        self.welcome = welcome
        self.welcomed = RecentSet()
        self.seen = RecentSet()
        self.tasks = BackgroundTasks()
        #: sender id -> where they last wrote from (for proactive messages), bounded
        self.addresses: OrderedDict[str, dict[str, Any]] = OrderedDict()
        if not (app_id and app_password):
            logger.info("botframework: not configured (FIRSTPOINT_BOTFRAMEWORK_*): refused")

    def get_metadata(self, request: Request | None, activity: dict[str, Any] | None = None
                     ) -> dict[str, Any]:
        """``teams`` / ``staff``, with the staff member's Azure AD object id and name."""
        sender = _obj(_obj(activity).get("from"))
        staff = {"aad_object_id": sender.get("aadObjectId"), "name": sender.get("name")}
        return session_metadata(self.CHANNEL, STAFF, staff=staff)

    def _check_activity(self, activity: Any) -> str | None:
        """Why a (validly signed) activity is not accepted, or None."""
        if not isinstance(activity, dict):
            return "the body must be a JSON object"
        service_url = activity.get("serviceUrl")
        parts = urlsplit(service_url) if isinstance(service_url, str) else None
        if parts is None or not parts.hostname or not (
            parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in LOOPBACK)
        ):
            return "serviceUrl must be an https URL"
        if not isinstance(_obj(activity.get("conversation")).get("id"), str):
            return "conversation.id is missing"
        if not isinstance(_obj(activity.get("from")).get("id"), str):
            return "from.id is missing"
        if activity.get("channelId") not in self.allowed_channel_ids:
            return "channel not allowed"
        if self.allowed_tenant_ids:
            tenant = _obj(_obj(activity.get("channelData")).get("tenant")).get("id")
            if tenant not in self.allowed_tenant_ids:
                return "tenant not allowed"
        return None

    async def handle_message(self, activity: dict[str, Any],
                             on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> None:
        """One staff message through the assistant; replies go back to the conversation."""
        out = BotFrameworkOutput(self.client, activity)
        text = message_text(activity)
        if not text:
            return
        self._remember(activity)
        await on_new_message(UserMessage(
            text, out, str(activity["from"]["id"]), input_channel=self.name(),
            message_id=activity.get("id") if isinstance(activity.get("id"), str) else None,
            metadata=self.get_metadata(None, activity),
        ))

    def _remember(self, activity: dict[str, Any]) -> None:
        """Keep where this sender wrote from, for messages nobody just asked for."""
        sender = str(activity["from"]["id"])
        self.addresses[sender] = {key: activity.get(key) for key in
                                  ("serviceUrl", "conversation", "recipient", "from")}
        self.addresses.move_to_end(sender)
        while len(self.addresses) > 10_000:
            self.addresses.popitem(last=False)

    def get_output_channel(self) -> OutputChannel | None:
        """Proactive output (used by Rasa's HTTP API for the console's live takeover)."""
        return ProactiveBotFrameworkOutput(self.client, self.addresses)

    async def send_welcome(self, activity: dict[str, Any]) -> None:
        """The welcome message, into the conversation the bot was added to."""
        out = BotFrameworkOutput(self.client, activity)
        await out.send_text_message("", self.welcome)

    def blueprint(
        self, on_new_message: Callable[[UserMessage], Awaitable[Any]]
    ) -> Blueprint:
        """Health and the authenticated webhook."""
        hook = Blueprint("firstpoint_botframework", __name__)

        @hook.listener("after_server_stop")
        async def close(*_: Any) -> None:
            await self.tasks.drain()
            await self.http.close()

        @hook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @hook.route("/webhook", methods=["POST"])
        async def webhook(request: Request) -> HTTPResponse:
            if not self.app_id:
                return response.json({"error": "the Bot Framework channel is not configured"},
                                     status=401)
            try:
                activity = json.loads(request.body or b"")
            except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: too deep
                return response.json({"error": "the body must be JSON"}, status=400)
            if not isinstance(activity, dict):
                return response.json({"error": "the body must be a JSON object"}, status=400)
            try:
                await self.validator.validate(request.headers.get("Authorization"), activity)
            except AuthError as exc:
                logger.warning("botframework: request refused: %s", exc)
                return response.json({"error": "unauthorized" if exc.status == 401
                                      else "try again later"}, status=exc.status)
            problem = self._check_activity(activity)
            if problem:
                logger.warning("botframework: activity refused: %s", problem)
                return response.json({"error": problem}, status=403)
            kind = activity.get("type")
            activity_id = activity.get("id")
            if isinstance(activity_id, str) and not self.seen.add(
                    f"{activity['conversation']['id']}|{activity_id}"):
                return response.empty(status=202)
            if kind == "message":
                self.tasks.spawn(self.handle_message(activity, on_new_message), "teams turn")
            elif (
                kind == "conversationUpdate"
                and activity.get("membersAdded")
                and self.welcomed.add(str(activity["conversation"]["id"]))
            ):
                self.tasks.spawn(self.send_welcome(activity), "teams welcome")
            return response.empty(status=202)

        return hook

"""Facebook Messenger for residents: Rasa's Facebook channel, hardened and non-blocking.

Configured in credentials.yml (``connectors.facebook.FirstPointFacebookInput``);
the secrets come from the environment through ``firstpoint.settings``
(``FIRSTPOINT_FACEBOOK_VERIFY_TOKEN``, ``_APP_SECRET``, ``_PAGE_TOKEN``), and
``FIRSTPOINT_FACEBOOK_GRAPH_URL`` moves the Graph API (the tests point it at a
local server that records the Send API calls).

What differs from Rasa's :class:`~rasa.core.channels.facebook.FacebookInput`:

* ``POST /webhooks/facebook/webhook`` checks ``X-Hub-Signature-256``
  (HMAC-SHA256 of the raw body with the app secret, compared with
  :func:`hmac.compare_digest`). A missing or wrong signature, or no app
  secret configured, gets **403** and nothing reaches the bot. (Rasa's
  answers 200 and picks the hash function named by the header.)
* Every message of every entry in a delivery is handled (Rasa's stops at the
  first); echoes of the page's own messages, deliveries and reads are ignored;
  quick replies and postbacks send their payload; a redelivered message id is
  handled once; attachments get a polite "please type" reply.
* The webhook answers at once and the turn runs in the background, as
  Facebook asks (it retries slow webhooks). Replies go through the Send API
  with aiohttp (Rasa's client uses blocking ``requests`` on the event loop),
  with ``appsecret_proof``.
* ``GET /webhooks/facebook/webhook`` is the verify handshake:
  ``hub.mode=subscribe`` and the right ``hub.verify_token`` echo
  ``hub.challenge``; anything else is 403.
* Every message carries ``{"channel": "facebook", "audience": "resident"}``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from rasa.core.channels.facebook import FacebookInput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from connectors.common import (
    RESIDENT,
    BackgroundTasks,
    LazyHttp,
    RecentSet,
    session_metadata,
    split_text,
)
from connectors.rest import MAX_MESSAGE_CHARS

logger = logging.getLogger(__name__)

DEFAULT_API_VERSION = "v19.0"
SIGNATURE_HEADER = "X-Hub-Signature-256"
TEXT_LIMIT = 2000  # Send API: characters per text message
QUICK_REPLY_LIMIT = 13
QUICK_REPLY_TITLE_LIMIT = 20
PSID_RE = re.compile(r"^[0-9]{1,32}$")
PLEASE_TYPE = "Sorry, I can only read typed messages. Please type your question."


def expected_signature(app_secret: str, body: bytes) -> str:
    """``sha256=<hex>``: what Facebook sends in ``X-Hub-Signature-256`` for ``body``."""
    digest = hmac.new(app_secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def valid_signature(app_secret: str | None, body: bytes, header: str | None) -> bool:
    """Whether ``header`` is the right ``X-Hub-Signature-256`` for ``body`` (constant time)."""
    if not app_secret or not header:
        return False
    try:
        given = header.encode("ascii")
    except UnicodeEncodeError:  # a signature is ASCII hex; anything else is wrong
        return False
    return hmac.compare_digest(expected_signature(app_secret, body).encode(), given)


@dataclass(frozen=True)
class Incoming:
    """One thing a person sent the page: text (or a payload), or only an attachment."""

    sender_id: str
    text: str | None
    message_id: str | None = None


def incoming_messages(payload: Any) -> list[Incoming]:
    """The person-to-page messages in a webhook delivery, in order.

    Quick replies and postbacks give their payload; echoes, deliveries, reads
    and anything without a valid sender are skipped; a message with only
    attachments gives ``text=None``.
    """
    found: list[Incoming] = []
    if not isinstance(payload, dict) or payload.get("object") != "page":
        return found
    entries = payload.get("entry")
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict):
            continue
        events = entry.get("messaging")
        for event in events if isinstance(events, list) else []:
            if not isinstance(event, dict):
                continue
            sender_obj = event.get("sender")
            sender = sender_obj.get("id") if isinstance(sender_obj, dict) else None
            if not isinstance(sender, str) or not PSID_RE.match(sender):
                continue
            message, postback = event.get("message"), event.get("postback")
            if isinstance(message, dict):
                if message.get("is_echo"):
                    continue
                mid = message.get("mid") if isinstance(message.get("mid"), str) else None
                quick = message.get("quick_reply") or {}
                text = quick.get("payload") if isinstance(quick, dict) else None
                text = text if isinstance(text, str) and text else message.get("text")
                if isinstance(text, str) and text.strip():
                    found.append(Incoming(sender, text[:MAX_MESSAGE_CHARS], mid))
                elif message.get("attachments"):
                    found.append(Incoming(sender, None, mid))
            elif isinstance(postback, dict):
                text = postback.get("payload") or postback.get("title")
                mid = postback.get("mid") if isinstance(postback.get("mid"), str) else None
                if isinstance(text, str) and text.strip():
                    found.append(Incoming(sender, text[:MAX_MESSAGE_CHARS], mid))
    return found


def _short(title: str) -> str:
    if len(title) <= QUICK_REPLY_TITLE_LIMIT:
        return title
    return title[: QUICK_REPLY_TITLE_LIMIT - 1] + "…"


def quick_reply_message(text: str, buttons: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """A Send API message with quick replies for Rasa buttons.

    Messenger allows 13 quick replies of 20 characters; when a title has to be
    shortened, the full titles are listed in the text so nothing is lost.
    """
    usable = [b for b in buttons if b.get("title") and b.get("payload")][:QUICK_REPLY_LIMIT]
    body = text
    if any(len(str(b["title"])) > QUICK_REPLY_TITLE_LIMIT for b in usable):
        body = text + "\n\n" + "\n".join(f"• {b['title']}" for b in usable)
    return {
        "text": body[:TEXT_LIMIT],
        "quick_replies": [
            {"content_type": "text", "title": _short(str(b["title"])),
             "payload": str(b["payload"])[:1000]}
            for b in usable
        ],
    }


class GraphClient:
    """The few Send API calls FirstPoint makes, over aiohttp."""

    def __init__(self, base_url: str, api_version: str, page_token: str | None,
                 app_secret: str | None, http: LazyHttp | None = None) -> None:
        """``base_url`` such as ``https://graph.facebook.com`` (configurable for tests)."""
        self.url = f"{base_url.rstrip('/')}/{api_version}/me/messages"
        self.page_token = page_token
        self.app_secret = app_secret
        self.http = http or LazyHttp()

    def _params(self) -> dict[str, str]:
        params = {"access_token": self.page_token or ""}
        if self.app_secret and self.page_token:
            params["appsecret_proof"] = hmac.new(
                self.app_secret.encode(), self.page_token.encode(), hashlib.sha256
            ).hexdigest()
        return params

    async def post(self, body: dict[str, Any]) -> bool:
        """POST one Send API body; False (and a log line, without the token) on failure."""
        if not self.page_token:
            logger.error("facebook: no page access token configured; reply not sent")
            return False
        session = await self.http.session()
        try:
            async with session.post(self.url, params=self._params(), json=body) as resp:
                if resp.status >= 300:
                    detail = (await resp.text())[:300]
                    logger.warning("facebook: Send API answered %s: %s", resp.status, detail)
                    return False
        except Exception as exc:  # noqa: BLE001 - network trouble must not end the turn
            logger.warning("facebook: Send API unreachable: %s", type(exc).__name__)
            return False
        return True


class MessengerOutput(OutputChannel):
    """Replies through the Send API (texts, quick replies, images, templates)."""

    @classmethod
    def name(cls) -> str:
        """``facebook``: channel-specific responses in the domain apply."""
        return "facebook"

    def __init__(self, graph: GraphClient) -> None:
        """Send through ``graph``."""
        self.graph = graph

    async def _send(self, recipient_id: str, message: dict[str, Any]) -> None:
        await self.graph.post(
            {"recipient": {"id": recipient_id}, "messaging_type": "RESPONSE", "message": message}
        )

    async def send_action(self, recipient_id: str, sender_action: str) -> None:
        """``mark_seen``, ``typing_on`` or ``typing_off``."""
        await self.graph.post({"recipient": {"id": recipient_id}, "sender_action": sender_action})

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        """Text, one Send API message per paragraph (each within Messenger's 2,000 chars)."""
        for part in split_text(text, TEXT_LIMIT):
            await self._send(recipient_id, {"text": part})

    async def send_text_with_buttons(self, recipient_id: str, text: str,
                                     buttons: list[dict[str, Any]], **kwargs: Any) -> None:
        """Rasa buttons become quick replies attached to the last paragraph."""
        parts = split_text(text, TEXT_LIMIT) or [""]
        for part in parts[:-1]:
            await self._send(recipient_id, {"text": part})
        await self._send(recipient_id, quick_reply_message(parts[-1], buttons))

    async def send_quick_replies(self, recipient_id: str, text: str,
                                 quick_replies: list[dict[str, Any]], **kwargs: Any) -> None:
        """Quick replies as given (title/payload pairs)."""
        await self._send(recipient_id, quick_reply_message(text, quick_replies))

    async def send_image_url(self, recipient_id: str, image: str, **kwargs: Any) -> None:
        """An image attachment by URL."""
        await self._send(recipient_id, {"attachment": {
            "type": "image", "payload": {"url": image, "is_reusable": True}}})

    async def send_elements(self, recipient_id: str, elements: Iterable[dict[str, Any]],
                            **kwargs: Any) -> None:
        """A generic template."""
        await self._send(recipient_id, {"attachment": {"type": "template", "payload": {
            "template_type": "generic", "elements": list(elements)}}})

    async def send_custom_json(self, recipient_id: str, json_message: dict[str, Any],
                               **kwargs: Any) -> None:
        """A Send API ``message`` object as the domain gives it."""
        await self._send(recipient_id, dict(json_message))


class FirstPointFacebookInput(FacebookInput):
    """Facebook Messenger for residents (signature-checked, non-blocking)."""

    CHANNEL = "facebook"

    @classmethod
    def name(cls) -> str:
        """The URL prefix: ``/webhooks/facebook/``."""
        return "facebook"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        """Values from credentials.yml win; secrets normally come from the settings."""
        from firstpoint.settings import get_settings

        settings = get_settings()
        credentials = credentials or {}
        return cls(
            credentials.get("verify") or settings.facebook_verify_token,
            credentials.get("secret") or settings.facebook_app_secret,
            credentials.get("page-access-token") or settings.facebook_page_token,
            graph_url=credentials.get("graph_url") or settings.facebook_graph_url,
            api_version=credentials.get("api_version") or DEFAULT_API_VERSION,
        )

    def __init__(self, fb_verify: str | None, fb_secret: str | None,
                 fb_access_token: str | None, graph_url: str = "https://graph.facebook.com",
                 api_version: str = DEFAULT_API_VERSION) -> None:
        """Secrets may be None: the channel then refuses every webhook (fail closed)."""
        super().__init__(fb_verify or "", fb_secret or "", fb_access_token or "")
        self.http = LazyHttp()
        self.graph = GraphClient(graph_url, api_version, fb_access_token, fb_secret, self.http)
        self.tasks = BackgroundTasks()
        self.seen = RecentSet()
        if not (fb_verify and fb_secret and fb_access_token):
            logger.info("facebook: not configured (FIRSTPOINT_FACEBOOK_*): webhooks are refused")

    def get_metadata(self, request: Request | None) -> dict[str, Any]:
        """Always ``facebook`` / ``resident``."""
        return session_metadata(self.CHANNEL, RESIDENT)

    def get_output_channel(self) -> OutputChannel:
        """Send API output (for messages the user did not just ask for)."""
        return MessengerOutput(self.graph)

    async def handle(self, messages: list[Incoming],
                     on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> None:
        """Pass each message to the bot in order, with read receipts and typing on/off."""
        out = MessengerOutput(self.graph)
        for item in messages:
            await out.send_action(item.sender_id, "mark_seen")
            if item.text is None:
                await out.send_text_message(item.sender_id, PLEASE_TYPE)
                continue
            await out.send_action(item.sender_id, "typing_on")
            try:
                await on_new_message(UserMessage(
                    item.text, out, item.sender_id, input_channel=self.name(),
                    message_id=item.message_id, metadata=self.get_metadata(None),
                ))
            except Exception:  # noqa: BLE001 - say sorry rather than go quiet
                logger.exception("facebook: a message could not be handled")
                await out.send_text_message(
                    item.sender_id, "Sorry, something went wrong. Please try again.")
            finally:
                await out.send_action(item.sender_id, "typing_off")

    def blueprint(
        self, on_new_message: Callable[[UserMessage], Awaitable[Any]]
    ) -> Blueprint:
        """Health, the verify handshake and the signed webhook."""
        hook = Blueprint("firstpoint_facebook", __name__)

        @hook.listener("after_server_stop")
        async def close(*_: Any) -> None:
            await self.tasks.drain()
            await self.http.close()

        @hook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @hook.route("/webhook", methods=["GET"])
        async def verify(request: Request) -> HTTPResponse:
            token = request.args.get("hub.verify_token") or ""
            challenge = request.args.get("hub.challenge") or ""
            if (
                self.fb_verify
                and request.args.get("hub.mode") == "subscribe"
                and hmac.compare_digest(token.encode(), self.fb_verify.encode())
                and 0 < len(challenge) <= 256
            ):
                return response.text(challenge)
            logger.warning("facebook: verify handshake refused")
            return response.text("forbidden", status=403)

        @hook.route("/webhook", methods=["POST"])
        async def webhook(request: Request) -> HTTPResponse:
            body = request.body or b""
            if not valid_signature(self.fb_secret, body, request.headers.get(SIGNATURE_HEADER)):
                logger.warning("facebook: webhook with a missing or wrong signature refused")
                return response.text("forbidden", status=403)
            try:
                payload = json.loads(body)
            except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: too deep
                return response.text("the body must be JSON", status=400)
            fresh = [m for m in incoming_messages(payload)
                     if m.message_id is None or self.seen.add(m.message_id)]
            if fresh:
                self.tasks.spawn(self.handle(fresh, on_new_message), "facebook turn")
            return response.text("EVENT_RECEIVED")

        return hook

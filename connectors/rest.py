"""The REST channel with input validation: malformed requests get a clear 4xx error.

Same URL and response shape as Rasa's built-in ``rest`` channel
(``POST /webhooks/rest/webhook`` with ``{"sender", "message", "metadata"}``),
but a body that is not a JSON object, a missing or odd sender, an empty or
over-long message, or bad metadata gets ``{"error": "..."}`` with status 400
or 413 instead of a 500. Channel and audience travel in ``metadata``.

Hardening (issue 13): the raw body is capped (:data:`MAX_BODY_BYTES`) and JSON
nesting deeper than :data:`MAX_DEPTH` is refused before it is parsed (a
1,000-deep object used to reach a ``RecursionError`` and a 500); ``metadata``
keeps only the keys FirstPoint reads (:data:`METADATA_KEYS`) and is refused
over ``Settings.metadata_max_bytes`` (413); NUL and other control characters
and lone surrogates in the sender, message or metadata are refused (400)
instead of being stored as sent.

REST is a developer channel. Only in development (``FIRSTPOINT_DEV_MODE=1``,
``Settings.dev_mode``) does it believe the client's ``channel`` and
``audience`` claims; otherwise every REST conversation is ``rest`` /
``resident`` whatever the body says, so a resident cannot claim to be staff.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.channels.rest import RestInput
from rasa.core.lock_store import LockError
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from knowledge.vocabulary import CHANNEL_RE, DEFAULT_AUDIENCE, DEFAULT_CHANNEL, VIEWER_AUDIENCES

logger = logging.getLogger(__name__)

MAX_MESSAGE_CHARS = 5000
#: Largest request body read at all (a message of 5,000 characters fits many times).
MAX_BODY_BYTES = 64 * 1024
#: Deepest JSON nesting accepted anywhere in the body.
MAX_DEPTH = 8
#: Metadata keys FirstPoint reads; anything else a client sends is dropped.
METADATA_KEYS = ("channel", "audience", "language")
DEFAULT_METADATA_MAX_BYTES = 2048
#: C0 controls except tab, newline and carriage return; DEL; C1 controls.
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
SENDER_RE = re.compile(r"^[A-Za-z0-9_.:@\-]{1,128}$")
AUDIENCES = VIEWER_AUDIENCES


class RequestError(ValueError):
    """A client error: ``status`` and a message safe to show the client."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def json_depth_exceeds(raw: bytes, limit: int) -> bool:
    """True when brackets outside strings nest deeper than ``limit`` (a linear scan)."""
    depth = 0
    in_string = escaped = False
    for byte in raw:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x7B, 0x5B):  # { [
            depth += 1
            if depth > limit:
                return True
        elif byte in (0x7D, 0x5D):
            depth -= 1
    return False


def clean_text(value: str, field: str) -> str:
    """``value`` unless it holds a lone surrogate or a control character (RequestError)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise RequestError(f"'{field}' is not valid Unicode (lone surrogate)") from exc
    if _CONTROL_RE.search(value):
        raise RequestError(f"'{field}' must not contain NUL or other control characters")
    return value


def _clean_metadata(metadata: dict[str, Any], max_bytes: int) -> dict[str, Any]:
    """Only the known keys, each a short clean string; the whole object size-capped."""
    size = len(json.dumps(metadata, ensure_ascii=False).encode("utf-8", "surrogatepass"))
    if size > max_bytes:
        raise RequestError(f"'metadata' is larger than {max_bytes} bytes", 413)
    kept: dict[str, Any] = {}
    for key in METADATA_KEYS:
        if key in metadata:
            value = metadata[key]
            if not isinstance(value, str):
                raise RequestError(f"'metadata.{key}' must be a string")
            kept[key] = clean_text(value, f"metadata.{key}")
    return kept


def parse_body(
    raw: bytes, default_channel: str = DEFAULT_CHANNEL, trust_claims: bool = True,
    metadata_max_bytes: int = DEFAULT_METADATA_MAX_BYTES,
) -> tuple[str, str, dict[str, Any]]:
    """Validate a webhook body; returns (sender, message, metadata) or raises RequestError.

    With ``trust_claims`` False (outside development) the client's ``channel``
    and ``audience`` are still validated but then replaced by
    ``default_channel`` and ``resident``. Metadata keeps only :data:`METADATA_KEYS`.
    """
    raw = raw or b""
    if len(raw) > MAX_BODY_BYTES:
        raise RequestError(f"the body is larger than {MAX_BODY_BYTES} bytes", 413)
    if json_depth_exceeds(raw, MAX_DEPTH):
        raise RequestError(f"the body nests deeper than {MAX_DEPTH} levels")
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise RequestError("the body must be JSON") from exc
    if not isinstance(body, dict):
        raise RequestError("the body must be a JSON object")
    sender = body.get("sender")
    if not isinstance(sender, str) or not SENDER_RE.match(sender):
        raise RequestError(
            "'sender' must be 1-128 characters: letters, digits and _ . : @ -"
        )
    message = body.get("message")
    if not isinstance(message, str):
        raise RequestError("'message' must be a string")
    if not message.strip():
        raise RequestError("'message' must not be empty")
    if len(message) > MAX_MESSAGE_CHARS:
        raise RequestError(f"'message' is longer than {MAX_MESSAGE_CHARS} characters", 413)
    message = clean_text(message, "message")
    metadata = body.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise RequestError("'metadata' must be a JSON object")
    metadata = _clean_metadata(metadata, metadata_max_bytes)
    audience = metadata.get("audience", DEFAULT_AUDIENCE)
    if audience not in AUDIENCES:
        raise RequestError("'metadata.audience' must be 'resident' or 'staff'")
    channel = metadata.get("channel", default_channel)
    if not isinstance(channel, str) or not CHANNEL_RE.match(channel):
        raise RequestError("'metadata.channel' must be a short lower-case name such as 'web'")
    if not trust_claims:
        audience, channel = DEFAULT_AUDIENCE, default_channel
    return sender, message, {**metadata, "audience": audience, "channel": channel}


class FirstPointRestInput(RestInput):
    """Rasa's REST channel, with validation (configured in credentials.yml)."""

    def __init__(self, trust_claims: bool = False,
                 metadata_max_bytes: int = DEFAULT_METADATA_MAX_BYTES) -> None:
        """``trust_claims``: believe the client's channel/audience (development only)."""
        self.trust_claims = trust_claims
        self.metadata_max_bytes = metadata_max_bytes

    @classmethod
    def name(cls) -> str:
        """The URL prefix: ``/webhooks/rest/``."""
        return "rest"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> FirstPointRestInput:
        """Claims are trusted only in development (``Settings.dev_mode``)."""
        from firstpoint.settings import get_settings

        settings = get_settings()
        return cls(trust_claims=settings.dev_mode,
                   metadata_max_bytes=settings.metadata_max_bytes)

    def blueprint(
        self, on_new_message: Callable[[UserMessage], Awaitable[Any]]
    ) -> Blueprint:
        """``GET /`` health and ``POST /webhook`` (replies collected into the response)."""
        hook = Blueprint(f"custom_webhook_{type(self).__name__}", __name__)

        @hook.route("/", methods=["GET"])
        async def health(request: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @hook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            try:
                sender, text, metadata = parse_body(request.body, self.name(), self.trust_claims,
                                                    self.metadata_max_bytes)
            except RequestError as exc:
                return response.json({"error": str(exc)}, status=exc.status)
            collector = CollectingOutputChannel()
            try:
                await on_new_message(
                    UserMessage(
                        text, collector, sender, input_channel=self.name(), metadata=metadata
                    )
                )
            except LockError:
                # this conversation is still busy with earlier messages (one sender
                # flooding): a client condition, not a server fault
                logger.warning("conversation %s busy: lock not acquired", sender)
                return response.json(
                    {"error": "this conversation is still answering earlier messages; "
                              "send the next one after the reply"},
                    status=429, headers={"Retry-After": "2"},
                )
            except Exception:  # noqa: BLE001 - the client gets a clear error, we keep the log
                logger.exception("message from %s could not be handled", sender)
                return response.json(
                    {"error": "the assistant could not handle this message; please try again"},
                    status=503,
                )
            return response.json(collector.messages)

        return hook

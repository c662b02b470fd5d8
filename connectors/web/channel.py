"""The residents' web widget channel: Rasa's socket.io channel, made safe and session-aware.

A council embeds the widget with one tag::

    <script src="https://firstpoint.example.org/webhooks/socketio/widget.js" defer></script>

``widget.js`` then loads ``widget.css`` and the vendored socket.io browser client
(``vendor/socket.io.min.js``, fetched from the npm registry by
``scripts/install.sh``) from the same place and talks to Rasa over socket.io.

What this adds to Rasa's :class:`~rasa.core.channels.socketio.SocketIOInput`:

* **Server-side channel and audience.** Every message carries
  ``{"channel": "web", "audience": "resident"}``; whatever metadata a client
  sends is ignored.
* **Sessions kept across reloads and tabs.** The browser keeps a random
  session id (32 hex digits; anything else is replaced by a new one). The
  socket joins the room ``web-<id>``, which is also the Rasa sender id, so
  every tab of the session gets the replies, and messages the user did not
  just ask for (an officer's live reply, through
  :meth:`get_output_channel`) arrive too. The session is bound to the socket
  on the server: a message names no sender of its own.
* **History.** After ``session_confirm`` the server sends ``history``: the
  current Rasa session's turns from the tracker store, with button payloads
  shown as the titles the user chose.
* **Turn boundaries.** ``bot_done`` after each reply (the typing indicator
  stops), ``bot_error`` when the turn failed (the widget offers a retry),
  ``user_echo`` to the session's other tabs.
* **Handoff references** found in a bot message are added as
  ``handoff_reference`` so the widget can offer to copy them.
* **Long-polling only by default** (``transports`` in credentials.yml):
  Sanic 21.12's websocket implementation (Rasa 3.6's pin) fails on Python
  3.11 (``asyncio.wait`` given coroutines), which kills every websocket
  upgrade; engine.io's HTTP long-polling works and carries the same events.
* **Allowed origins** (``cors_allowed_origins`` in credentials.yml, else
  ``FIRSTPOINT_WEB_ORIGINS`` plus the demo page): other sites' pages cannot
  open a socket. (Rasa's own channel allows every origin.)
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any

from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from rasa.core.channels.socketio import SocketBlueprint, SocketIOInput, SocketIOOutput
from sanic import Blueprint, Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse
from socketio import AsyncServer

from connectors.common import RESIDENT, find_reference, session_metadata, split_text
from connectors.rest import MAX_MESSAGE_CHARS

logger = logging.getLogger(__name__)

WEB_DIR = Path(__file__).resolve().parent
STATIC_DIR = WEB_DIR / "static"
VENDOR_DIR = WEB_DIR / "vendor"
SESSION_ID_RE = re.compile(r"^[0-9a-f]{32}$")
SENDER_PREFIX = "web-"
MAX_DISPLAY_CHARS = 200
#: Files the channel serves: URL name -> (path, content type).
ASSETS = {
    "widget.js": (STATIC_DIR / "widget.js", "application/javascript; charset=utf-8"),
    "widget.css": (STATIC_DIR / "widget.css", "text/css; charset=utf-8"),
    "vendor/socket.io.min.js": (
        VENDOR_DIR / "socket.io.min.js", "application/javascript; charset=utf-8"
    ),
}


def sender_for(session_id: str) -> str:
    """The Rasa sender id (and socket.io room) of a widget session."""
    return SENDER_PREFIX + session_id


def valid_session_id(value: Any) -> str | None:
    """``value`` when it is a widget session id (32 lower-case hex digits), else None."""
    return value if isinstance(value, str) and SESSION_ID_RE.match(value) else None


def decorate(message: dict[str, Any]) -> dict[str, Any]:
    """A bot message for the widget, with ``handoff_reference`` when its text has one."""
    reference = find_reference(message.get("text"))
    return {**message, "handoff_reference": reference} if reference else message


def _buttons_of(data: dict[str, Any] | None) -> list[dict[str, Any]]:
    buttons = (data or {}).get("buttons") or (data or {}).get("quick_replies") or []
    return [b for b in buttons if isinstance(b, dict) and "title" in b and "payload" in b]


def history_messages(events: Iterable[Any], now: float, expiry_minutes: float) -> list[dict]:
    """The current session's turns as the widget shows them, oldest first.

    ``events`` are Rasa events (``UserUttered``/``BotUttered``/``SessionStarted``
    objects or their ``as_dict()`` forms). Only turns after the last session
    start count, and none once the session has been idle longer than
    ``expiry_minutes`` (Rasa will start a fresh one with the next message). A
    user turn that was a button payload (``/affirm``) shows the button's title.
    """
    turns: list[dict[str, Any]] = []
    last_buttons: list[dict[str, Any]] = []
    last_at = 0.0
    for raw in events:
        event = raw if isinstance(raw, dict) else raw.as_dict()
        kind = event.get("event")
        if kind == "session_started":
            turns, last_buttons = [], []
            continue
        if kind not in ("user", "bot"):
            continue
        last_at = float(event.get("timestamp") or last_at)
        text = str(event.get("text") or "")
        if kind == "user":
            if text.startswith("/"):
                titles = [b["title"] for b in last_buttons if b["payload"] == text]
                text = str(titles[0]) if titles else "(chose an option)"
            if text:
                turns.append({"sender": "user", "text": text})
            continue
        buttons = _buttons_of(event.get("data"))
        last_buttons = buttons
        parts = split_text(text, 10_000) or ([""] if buttons else [])
        for i, part in enumerate(parts):
            message: dict[str, Any] = {"sender": "bot", "text": part}
            if buttons and i == len(parts) - 1:
                message["quick_replies"] = [
                    {"title": b["title"], "payload": b["payload"]} for b in buttons
                ]
            turns.append(decorate(message))
    if expiry_minutes and last_at and now - last_at > expiry_minutes * 60:
        return []
    return turns


class _Asset:
    """A static file read once at start-up, served with an ETag."""

    def __init__(self, path: Path, content_type: str) -> None:
        self.path = path
        self.content_type = content_type
        self.body = path.read_bytes() if path.is_file() else None
        self.etag = f'"{hashlib.sha256(self.body).hexdigest()[:20]}"' if self.body else ""

    def respond(self, request: Request) -> HTTPResponse:
        if self.body is None:
            return response.text(
                f"{self.path.name} is not installed; run `make install` (scripts/install.sh)",
                status=503,
            )
        headers = {
            "Cache-Control": "no-cache",
            "ETag": self.etag,
            "X-Content-Type-Options": "nosniff",
            "Cross-Origin-Resource-Policy": "cross-origin",
        }
        if request.headers.get("If-None-Match") == self.etag:
            return response.empty(status=304, headers=headers)
        return response.raw(self.body, content_type=self.content_type, headers=headers)


class _AppBlueprint(SocketBlueprint):
    """Rasa's socket.io blueprint that also remembers the Sanic app (for the tracker store)."""

    def register(self, app: Sanic, options: dict[str, Any]) -> None:
        self.ctx.app = app
        super().register(app, options)


class WebOutput(SocketIOOutput):
    """Rasa's socket.io output, adding ``handoff_reference`` to messages that carry one."""

    async def _send_message(self, socket_id: str, response: Any) -> None:
        """Emit a bot message to the session's room (every tab of the session)."""
        payload = decorate(response) if isinstance(response, dict) else response
        await self.sio.emit(self.bot_message_evt, payload, room=socket_id)


class FirstPointWebInput(SocketIOInput):
    """The residents' web widget: socket.io with server-side audience and sessions."""

    CHANNEL = "web"

    @classmethod
    def name(cls) -> str:
        """``socketio``: Rasa's name, so socket.io-specific responses still apply."""
        return "socketio"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        """Event names and paths as Rasa's channel; origins from credentials or settings."""
        from firstpoint.settings import get_settings

        credentials = credentials or {}
        origins = credentials.get("cors_allowed_origins") or list(
            get_settings().allowed_web_origins
        )
        return cls(
            user_message_evt=credentials.get("user_message_evt", "user_uttered"),
            bot_message_evt=credentials.get("bot_message_evt", "bot_uttered"),
            namespace=credentials.get("namespace"),
            socketio_path=credentials.get("socketio_path", "/socket.io"),
            cors_allowed_origins=[str(o) for o in origins],
            transports=[str(t) for t in credentials.get("transports") or ["polling"]],
        )

    def __init__(
        self,
        user_message_evt: str = "user_uttered",
        bot_message_evt: str = "bot_uttered",
        namespace: str | None = None,
        socketio_path: str = "/socket.io",
        cors_allowed_origins: list[str] | None = None,
        transports: list[str] | None = None,
    ) -> None:
        """A widget channel; ``cors_allowed_origins`` lists the pages that may embed it."""
        super().__init__(
            user_message_evt, bot_message_evt, namespace, True, socketio_path, None
        )
        self.cors_allowed_origins = list(cors_allowed_origins or [])
        self.transports = list(transports or ["polling"])
        self.app: Sanic | None = None

    def get_metadata(self, request: Request | None) -> dict[str, Any]:
        """Always ``web`` / ``resident``: nothing the browser sends can change it."""
        return session_metadata(self.CHANNEL, RESIDENT)

    def get_output_channel(self) -> OutputChannel | None:
        """Output for messages the user did not just ask for (sent to the session's room)."""
        if self.sio is None:
            return None
        return WebOutput(self.sio, self.bot_message_evt)

    async def history(self, sender_id: str) -> list[dict[str, Any]]:
        """The current session's turns for ``sender_id`` from Rasa's tracker store."""
        agent = getattr(getattr(self.app, "ctx", None), "agent", None)
        store = getattr(agent, "tracker_store", None)
        if store is None:
            return []
        tracker = await store.retrieve(sender_id)
        if tracker is None:
            return []
        domain = getattr(agent, "domain", None)
        expiry = getattr(getattr(domain, "session_config", None), "session_expiration_time", 0)
        return history_messages(tracker.events, time.time(), float(expiry or 0))

    def blueprint(
        self, on_new_message: Callable[[UserMessage], Awaitable[Any]]
    ) -> Blueprint:
        """Health route, the widget's files and the socket.io endpoint (the "webhook")."""
        sio = AsyncServer(
            async_mode="sanic",
            cors_allowed_origins=self.cors_allowed_origins,
            max_http_buffer_size=64 * 1024,
            transports=self.transports,
        )
        hook = _AppBlueprint(sio, self.socketio_path, "firstpoint_web", __name__)
        self.sio = sio
        assets = {name: _Asset(path, kind) for name, (path, kind) in ASSETS.items()}
        namespace = self.namespace

        @hook.listener("before_server_start")
        async def remember_app(app: Sanic, _: Any) -> None:
            self.app = app

        @hook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @hook.route("/widget.js", methods=["GET"])
        async def widget_js(request: Request) -> HTTPResponse:
            return assets["widget.js"].respond(request)

        @hook.route("/widget.css", methods=["GET"])
        async def widget_css(request: Request) -> HTTPResponse:
            return assets["widget.css"].respond(request)

        @hook.route("/vendor/socket.io.min.js", methods=["GET"])
        async def socketio_client(request: Request) -> HTTPResponse:
            return assets["vendor/socket.io.min.js"].respond(request)

        @sio.on("connect", namespace=namespace)
        async def connect(sid: str, environ: dict, auth: dict | None = None) -> bool:
            return True

        @sio.on("session_request", namespace=namespace)
        async def session_request(sid: str, data: Any) -> None:
            wanted = valid_session_id(data.get("session_id")) if isinstance(data, dict) else None
            session_id = wanted or uuid.uuid4().hex
            sender = sender_for(session_id)
            await sio.save_session(sid, {"sender_id": sender}, namespace=namespace)
            await sio.enter_room(sid, sender, namespace=namespace)
            await sio.emit("session_confirm", session_id, room=sid, namespace=namespace)
            try:
                past = await self.history(sender) if wanted else []
            except Exception:  # noqa: BLE001 - history is a courtesy; the chat still works
                logger.exception("could not read the history of a web session")
                past = []
            await sio.emit("history", {"messages": past}, room=sid, namespace=namespace)

        @sio.on(self.user_message_evt, namespace=namespace)
        async def handle_message(sid: str, data: Any) -> None:
            session = await sio.get_session(sid, namespace=namespace)
            sender = (session or {}).get("sender_id")
            text = data.get("message") if isinstance(data, dict) else None
            if not sender:
                await sio.emit("bot_error", {"reason": "no_session"}, room=sid,
                               namespace=namespace)
                return
            if not isinstance(text, str) or not text.strip() or len(text) > MAX_MESSAGE_CHARS:
                await sio.emit("bot_error", {"reason": "invalid_message"}, room=sid,
                               namespace=namespace)
                return
            display = data.get("display") if isinstance(data.get("display"), str) else text
            await sio.emit("user_echo", {"text": display[:MAX_DISPLAY_CHARS]}, room=sender,
                           skip_sid=sid, namespace=namespace)
            message = UserMessage(
                text,
                WebOutput(sio, self.bot_message_evt),
                sender,
                input_channel=self.name(),
                metadata=self.get_metadata(None),
            )
            try:
                await on_new_message(message)
            except Exception:  # noqa: BLE001 - the widget offers a retry; the log keeps why
                logger.exception("a web widget message could not be handled")
                await sio.emit("bot_error", {"reason": "server_error"}, room=sid,
                               namespace=namespace)
                return
            await sio.emit("bot_done", {}, room=sender, namespace=namespace)

        return hook

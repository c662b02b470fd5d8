"""Fixtures for notifier tests: a real SMTP server, a Teams webhook receiver, a handoff store."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import datetime, timezone

import pytest
from aiohttp import web
from aiosmtpd.controller import Controller

from firstpoint.records.crypto import FieldCipher, generate_key
from firstpoint.records.db import make_engine, session_factory
from firstpoint.records.handoffs import HandoffService
from firstpoint.records.migrate import upgrade
from firstpoint.settings import PROJECT_ROOT
from knowledge.directory import load_directory

UTC = timezone.utc
#: What a caller told the bot: none of it may reach an email or a Teams card.
PERSONAL = {
    "caller_name": "Jo Bloggs",
    "contact_method": "email",
    "contact_details": "jo.bloggs@example.net",
    "contact_time": "after 6pm",
    "message": "My neighbour's son Sam has bruises again and is scared to go home",
}
PERSONAL_WORDS = ("Bloggs", "jo.bloggs", "after 6pm", "bruises", "scared", "Sam ")


def free_port() -> int:
    """A localhost TCP port nothing is listening on (right now)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class FakeClock:
    """A settable clock for the SLA and the outbox backoff."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class RecordingSmtpHandler:
    """aiosmtpd handler that keeps every message it accepts."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd hook name
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 Message accepted for delivery"


class SmtpServer:
    """A real SMTP server on localhost that can be stopped and started on the same port."""

    def __init__(self) -> None:
        self.port = free_port()
        self.handler = RecordingSmtpHandler()
        self._controller: Controller | None = None

    def start(self) -> None:
        self._controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """A running SMTP server (stop() it to simulate an outage)."""
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def smtp_down() -> Iterator[SmtpServer]:
    """An SMTP server that is NOT running yet (start() it to recover)."""
    server = SmtpServer()
    yield server
    server.stop()


class WebhookReceiver:
    """A Teams incoming-webhook stand-in: records posts, answers with ``status``."""

    def __init__(self) -> None:
        self.status = 200
        self.posts: list[dict] = []
        self.failures = 0

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.json()
        if self.status >= 300:
            self.failures += 1
            return web.Response(status=self.status, text="webhook unavailable")
        self.posts.append(body)
        return web.Response(status=self.status, text="1")

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/webhook/secret-token", self.handle)
        return app


@pytest.fixture
async def webhook(aiohttp_server):
    """A running webhook receiver; returns (receiver, url)."""
    receiver = WebhookReceiver()
    server = await aiohttp_server(receiver.app())
    return receiver, str(server.make_url("/webhook/secret-token"))


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 1, 13, 10, 0, tzinfo=UTC))


@pytest.fixture
def handoffs(sqlite_url, clock) -> Iterator[HandoffService]:
    """A HandoffService on a fresh migrated SQLite database."""
    upgrade(sqlite_url)
    engine = make_engine(sqlite_url)
    yield HandoffService(session_factory(engine), FieldCipher(generate_key()),
                         load_directory(PROJECT_ROOT / "knowledge" / "content"), clock=clock)
    engine.dispose()


def make_handoff(service: HandoffService, category: str = "child_safeguarding") -> str:
    """Create a handoff full of personal data (a new caller each time); returns its reference."""
    import uuid

    return service.create(category, "web", "resident", f"sender-{uuid.uuid4().hex[:8]}",
                          caller_name=PERSONAL["caller_name"],
                          contact_method=PERSONAL["contact_method"],
                          contact_details=PERSONAL["contact_details"],
                          contact_time=PERSONAL["contact_time"],
                          message=PERSONAL["message"],
                          transcript=[{"speaker": "caller", "text": PERSONAL["message"]}],
                          consent_to_share=True).reference

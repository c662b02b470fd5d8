"""Fixtures for the supervisor console: a migrated database with accounts and handoffs,
a stand-in for Rasa's HTTP API, and the console app on a fixed clock.

``FakeRasa`` answers the two endpoints the console calls exactly as Rasa 3.6's
``rasa/server.py`` shapes them (``GET /conversations/{id}/tracker`` and ``POST
/conversations/{id}/tracker/events`` with ``token``, ``output_channel`` and
``execute_side_effects``), keeps ``paused`` the way ConversationPaused /
ConversationResumed / Restarted apply, and records which bot messages would have
been *sent* through the caller's channel. The real Rasa server is used by the
browser test (test_console_browser.py).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from cryptography.fernet import Fernet

from firstpoint.settings import Settings, get_settings

#: Monday 30 November 2026, 11:00 UK time (GMT): every day team is open.
OPEN_TIME = datetime(2026, 11, 30, 11, 0, tzinfo=timezone.utc)
#: Saturday 28 November 2026, 23:00: the day teams are closed.
CLOSED_TIME = datetime(2026, 11, 28, 23, 0, tzinfo=timezone.utc)
TOKEN = "rasa-api-test-token"
PASSWORD = "correct horse battery staple"
USERS = {
    "sam": ("supervisor", None),
    "olive": ("officer", "childrens-front-door"),
    "otto": ("officer", "adult-social-care-front-door"),
    "ana": ("analyst", None),
}


class Clock:
    """A settable clock for the console's services."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@dataclass
class FakeRasa:
    """Rasa's HTTP API for takeover tests; ``sent`` holds what reached the caller."""

    trackers: dict[str, dict[str, Any]] = field(default_factory=dict)
    sent: list[tuple[str, str]] = field(default_factory=list)
    calls: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    url: str = ""

    def conversation(self, sender: str, channel: str = "socketio") -> None:
        """A conversation with a greeting, as a widget session would have."""
        now = time.time() - 60
        self.trackers[sender] = {"sender_id": sender, "paused": False,
                                 "latest_input_channel": channel, "events": [
                                     {"event": "session_started", "timestamp": now},
                                     {"event": "user", "text": "hello", "timestamp": now + 1,
                                      "input_channel": channel, "parse_data": {}},
                                     {"event": "bot", "text": "Hello, how can I help?",
                                      "timestamp": now + 2}]}

    def user_says(self, sender: str, text: str, risk: str | None = None) -> None:
        """The caller writes (stored, and not answered while paused)."""
        parse = {"risk": {"level": risk}} if risk else {}
        self.trackers[sender]["events"].append(
            {"event": "user", "text": text, "timestamp": time.time(), "parse_data": parse})

    def app(self) -> web.Application:
        async def tracker(request: web.Request) -> web.Response:
            self.calls.append(("GET", request.path, dict(request.query)))
            if request.query.get("token") != TOKEN:
                return web.json_response({"status": "failure"}, status=401)
            conv = request.match_info["conv"]
            state = self.trackers.setdefault(conv, {
                "sender_id": conv, "paused": False, "latest_input_channel": None, "events": []})
            return web.json_response(state)

        async def events(request: web.Request) -> web.Response:
            self.calls.append(("POST", request.path, dict(request.query)))
            if request.query.get("token") != TOKEN:
                return web.json_response({"status": "failure"}, status=401)
            conv = request.match_info["conv"]
            state = self.trackers[conv]
            body = await request.json()
            for event in body if isinstance(body, list) else [body]:
                kind = event["event"]
                event = {**event, "timestamp": time.time()}
                state["events"].append(event)
                if kind == "pause":
                    state["paused"] = True
                elif kind in ("resume", "restart", "session_started"):
                    state["paused"] = False
                elif kind == "bot" and request.query.get("execute_side_effects") == "true" \
                        and request.query.get("output_channel") == "latest" \
                        and state["latest_input_channel"] in ("socketio", "facebook",
                                                              "botframework"):
                    self.sent.append((conv, event["text"]))
            return web.json_response(state)

        app = web.Application()
        app.router.add_get("/conversations/{conv}/tracker", tracker)
        app.router.add_post("/conversations/{conv}/tracker/events", events)
        return app


def console_settings(tmp_path: Path, **extra: Any) -> Settings:
    """Settings on a fresh SQLite database in ``tmp_path``."""
    return replace(get_settings(), var_dir=tmp_path,
                   database_url=f"sqlite:///{tmp_path / 'console.db'}",
                   data_key=Fernet.generate_key().decode(), console_secure_cookies=False,
                   **extra)


def seed(settings: Settings, clock: Clock) -> dict[str, str]:
    """Accounts (USERS, one password) and three handoffs; returns category -> reference."""
    from firstpoint.console.accounts import Accounts
    from firstpoint.records.crypto import cipher_from_settings
    from firstpoint.records.db import make_engine, session_factory
    from firstpoint.records.handoffs import HandoffService
    from firstpoint.records.migrate import upgrade
    from knowledge.directory import load_directory

    upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    factory = session_factory(engine)
    accounts = Accounts(factory)
    for name, (role, team) in USERS.items():
        accounts.add(name, role, team_id=team, password=PASSWORD,
                     display_name=name.capitalize())
    refs: dict[str, str] = {}
    directory = load_directory(settings.content_dir)
    for category, conv, when in (("child_safeguarding", "web-" + "a" * 32, clock.now),
                                 ("adult_safeguarding", "web-" + "b" * 32, clock.now),
                                 ("child_safeguarding", "rest-caller", clock.now
                                  - timedelta(days=3))):
        service = HandoffService(factory, cipher_from_settings(settings), directory,
                                 clock=lambda when=when: when)
        receipt = service.create(category, "web" if conv.startswith("web") else "rest",
                                 "resident", conv, caller_name="Pat Example",
                                 contact_method="phone", contact_details="01632 960123",
                                 message=f"Worried about a neighbour ({category})",
                                 transcript=[{"speaker": "user", "text": "I am worried"},
                                             {"speaker": "bot", "text": "Tell me more"}])
        refs[category if conv != "rest-caller" else "overdue"] = receipt.reference
    engine.dispose()
    return refs


@dataclass
class ConsoleHarness:
    """The app under test and what it talks to."""

    client: Any
    rasa: FakeRasa
    clock: Clock
    refs: dict[str, str]
    settings: Settings

    async def login(self, username: str, password: str = PASSWORD) -> Any:
        """Sign in through the form (login CSRF cookie first); returns the response."""
        page = await self.client.get("/console/login")
        token = _field(await page.text(), "login_csrf")
        return await self.client.post("/console/login", data={
            "login_csrf": token, "username": username, "password": password,
            "next": "/console/"}, allow_redirects=False)

    async def csrf(self, path: str = "/console/") -> str:
        """The signed-in session's CSRF token, read from a page."""
        page = await self.client.get(path)
        return _field(await page.text(), "csrf_token")


def _field(html: str, name: str) -> str:
    import re

    match = re.search(rf'name="{name}" value="([^"]+)"', html)
    assert match, f"no {name} field on the page"
    return match.group(1)


@pytest.fixture
def clock() -> Clock:
    """A clock at a time every day team is open."""
    return Clock(OPEN_TIME)


@pytest.fixture
async def harness(tmp_path: Path, clock: Clock, aiohttp_client: Any,
                  aiohttp_server: Any) -> AsyncIterator[ConsoleHarness]:
    """The API app with the console, on a seeded database and a fake Rasa."""
    from firstpoint.console.app import build_app
    from firstpoint.console.rasa import RasaClient
    from firstpoint.records.db import make_engine

    fake = FakeRasa()
    server = await aiohttp_server(fake.app())
    fake.url = str(server.make_url("")).rstrip("/")
    settings = console_settings(tmp_path)
    refs = seed(settings, clock)
    engine = make_engine(settings.database_url)
    app = build_app(settings, engine=engine, poll_seconds=0.05,
                    rasa=RasaClient(fake.url, TOKEN), clock=clock)
    client = await aiohttp_client(app)
    try:
        yield ConsoleHarness(client, fake, clock, refs, settings)
    finally:
        engine.dispose()


@pytest.fixture
def seeded(tmp_path: Path, clock: Clock) -> Iterator[tuple[Settings, dict[str, str]]]:
    """Settings and handoff references of a seeded database (no app)."""
    settings = console_settings(tmp_path)
    yield settings, seed(settings, clock)

"""The real servers with every channel configured, once for tests/connectors/.

``channel_stack`` starts the action server, the Rasa server (all channels of
credentials.yml, NOT in dev mode) and the demo page, with Facebook's Graph API
and the Bot Framework's OpenID/JWKS/token/connector endpoints pointed at a
local fake (``tests/connectors/fakes.py``). Package-scoped: it stops when the
last test here has run, before the other real-server tests start theirs.
"""

from __future__ import annotations

import socket
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from firstpoint.events.facts import conversation_key
from firstpoint.records.contacts import contact_key_from_settings
from firstpoint.runner import Stack, start_stack
from firstpoint.settings import get_settings
from tests.connectors.fakes import FakeServices

FB_SECRET = "test-app-secret-" + "x" * 16
FB_VERIFY = "test-verify-token"
FB_PAGE_TOKEN = "test-page-token"
BF_APP_ID = "00000000-aaaa-bbbb-cccc-000000000001"
BF_PASSWORD = "test-app-password"


def free_port() -> int:
    """A free TCP port on localhost."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class ChannelStack:
    """The running stack, the fakes it talks to, and ways to look at what it recorded."""

    stack: Stack
    fakes: FakeServices

    def tracker_events(self, sender: str) -> int:
        """How many tracker events Rasa stored for ``sender`` (0: nothing reached the bot)."""
        conn = sqlite3.connect(self.stack.settings.var_dir / "tracker.db")
        try:
            return int(conn.execute(
                "SELECT count(*) FROM events WHERE sender_id = ?", (sender,)).fetchone()[0])
        except sqlite3.OperationalError:  # no table yet: nothing stored at all
            return 0
        finally:
            conn.close()

    def contacts(self, sender: str, timeout: float = 20.0, **expect: object) -> list[dict]:
        """The contact-log rows of ``sender``, waiting until the last matches ``expect``."""
        key = conversation_key(contact_key_from_settings(self.stack.settings), sender)
        path = self.stack.settings.database_url.removeprefix("sqlite:///")
        deadline = time.monotonic() + timeout
        rows: list[dict] = []
        while True:
            conn = sqlite3.connect(path)
            conn.row_factory = sqlite3.Row
            try:
                rows = [dict(r) for r in conn.execute(
                    "SELECT * FROM contacts WHERE conversation_key = ? ORDER BY session_no",
                    (key,))]
            finally:
                conn.close()
            if rows and all(rows[-1].get(k) == v for k, v in expect.items()):
                return rows
            if time.monotonic() > deadline:
                return rows
            time.sleep(0.5)


@pytest.fixture(scope="package")
def fakes() -> Iterator[FakeServices]:
    """The fake Graph API and Bot Framework services."""
    services = FakeServices().start()
    try:
        yield services
    finally:
        services.stop()


@pytest.fixture(scope="package")
def channel_stack(tmp_path_factory: pytest.TempPathFactory,
                  fakes: FakeServices) -> Iterator[ChannelStack]:
    """Action server + Rasa server (all channels, production mode) + demo page."""
    var_dir: Path = tmp_path_factory.mktemp("firstpoint-channels")
    settings = replace(
        get_settings(),
        var_dir=var_dir,
        database_url=f"sqlite:///{var_dir / 'firstpoint.db'}",
        data_key=Fernet.generate_key().decode(),
        rasa_port=free_port(),
        action_port=free_port(),
        api_port=free_port(),
        web_port=free_port(),
        smtp_port=free_port(),
        dev_mode=False,
        web_origins=(),
        facebook_verify_token=FB_VERIFY,
        facebook_app_secret=FB_SECRET,
        facebook_page_token=FB_PAGE_TOKEN,
        facebook_graph_url=fakes.graph_url,
        botframework_app_id=BF_APP_ID,
        botframework_app_password=BF_PASSWORD,
        botframework_openid_url=f"{fakes.url}/openid",
        botframework_token_url=f"{fakes.url}/token",
        botframework_tenant_ids=(),
    )
    from firstpoint.records.migrate import upgrade

    upgrade(settings.database_url)
    running = start_stack(settings, with_api=False, with_web=True)
    try:
        yield ChannelStack(running, fakes)
    finally:
        running.stop()

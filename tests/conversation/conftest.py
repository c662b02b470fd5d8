"""The real Rasa server and action server, started once per test session.

The model is trained once (firstpoint.model.ensure_model) and reused while the
training data is unchanged; each test session gets its own SQLite databases.
"""

from __future__ import annotations

import json
import socket
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet

from firstpoint.runner import Stack, start_stack
from firstpoint.settings import get_settings


def free_port() -> int:
    """A free TCP port on localhost."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Action server + Rasa server (REST channel) + API on free ports, SQLite in a temp dir."""
    var_dir: Path = tmp_path_factory.mktemp("firstpoint-var")
    settings = replace(
        get_settings(),
        var_dir=var_dir,
        database_url=f"sqlite:///{var_dir / 'firstpoint.db'}",
        data_key=Fernet.generate_key().decode(),
        rasa_port=free_port(),
        action_port=free_port(),
        api_port=free_port(),
        smtp_host="127.0.0.1",
        smtp_port=free_port(),  # nothing listens: every e-mail notification fails (an outage)
        dev_mode=True,  # these tests claim channel/audience over REST, as a developer does
    )
    from firstpoint.records.migrate import upgrade

    upgrade(settings.database_url)
    # A loaded machine (CI beside other jobs) can take minutes to load the model.
    running = start_stack(settings, with_api=True, timeout=600.0)
    try:
        yield running
    finally:
        running.stop()


Say = Callable[..., list[dict[str, Any]]]


@pytest.fixture(scope="session")
def say(stack: Stack) -> Say:
    """Send a message over the REST webhook; returns the bot's messages."""

    def _say(
        text: str,
        sender: str | None = None,
        channel: str = "web",
        audience: str = "resident",
    ) -> list[dict[str, Any]]:
        body = {
            "sender": sender or f"test-{uuid.uuid4().hex[:10]}",
            "message": text,
            "metadata": {"channel": channel, "audience": audience},
        }
        req = urllib.request.Request(
            stack.webhook_url,
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=60) as resp:  # noqa: S310 - localhost
            return list(json.loads(resp.read()))

    return _say


def joined(messages: list[dict[str, Any]]) -> str:
    """All the bot's texts in one string."""
    return "\n".join(str(m.get("text") or "") for m in messages)

"""SmtpNotifier against a real aiosmtpd server on a free localhost port."""

from __future__ import annotations

import asyncio
import email
import time
from datetime import datetime, timezone
from email import policy

import pytest

from firstpoint.notify.base import NotifierError, compose_notification
from firstpoint.notify.smtp import SmtpNotifier
from firstpoint.settings import settings_from_env
from tests.notify.conftest import free_port


def notification(target: str = "mash.duty@example.org"):
    from dataclasses import replace

    note = compose_notification(
        reference="FP-7K3M9Q", category="child_safeguarding", priority="urgent",
        team_name="Children's Services Front Door (MASH)",
        due_at=datetime(2026, 1, 13, 14, 0, tzinfo=timezone.utc),
        due_text="14:00 on Tuesday 13 January 2026",
    )
    return replace(note, target=target)


async def test_email_is_delivered(smtp_server) -> None:
    notifier = SmtpNotifier("127.0.0.1", smtp_server.port, "firstpoint@example.org")
    await notifier.send(notification())
    [(sender, recipients, raw)] = smtp_server.handler.messages
    assert sender == "firstpoint@example.org"
    assert recipients == ["mash.duty@example.org"]
    message = email.message_from_bytes(raw, policy=policy.default)
    assert message["Subject"] == ("[FirstPoint URGENT] New handoff FP-7K3M9Q for "
                                  "Children's Services Front Door (MASH)")
    assert message["X-FirstPoint-Reference"] == "FP-7K3M9Q"
    body = message.get_content()
    assert "firstpoint handoff show FP-7K3M9Q" in body
    assert "14:00 on Tuesday 13 January 2026" in body


async def test_send_does_not_block_the_event_loop(smtp_server) -> None:
    """While smtplib talks to the server, other coroutines keep running."""
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    notifier = SmtpNotifier("127.0.0.1", smtp_server.port, "firstpoint@example.org")
    task = asyncio.create_task(ticker())
    started = time.perf_counter()
    await notifier.send(notification())
    task.cancel()
    assert time.perf_counter() - started < 10
    assert ticks > 1


async def test_server_down_is_a_notifier_error() -> None:
    notifier = SmtpNotifier("127.0.0.1", free_port(), "firstpoint@example.org", timeout=5)
    with pytest.raises(NotifierError, match="SMTP 127.0.0.1:"):
        await notifier.send(notification())


async def test_bad_target_is_refused_without_connecting() -> None:
    notifier = SmtpNotifier("127.0.0.1", free_port(), "firstpoint@example.org")
    with pytest.raises(NotifierError, match="not an email address"):
        await notifier.send(notification(target="FIRSTPOINT_TEAMS_WEBHOOK_X"))


def test_from_settings() -> None:
    settings = settings_from_env({"FIRSTPOINT_SMTP_HOST": "mail.example.org",
                                  "FIRSTPOINT_SMTP_PORT": "587",
                                  "FIRSTPOINT_SMTP_STARTTLS": "yes",
                                  "FIRSTPOINT_SMTP_USERNAME": "bot"})
    notifier = SmtpNotifier.from_settings(settings)
    assert (notifier.host, notifier.port, notifier.starttls, notifier.username) == \
        ("mail.example.org", 587, True, "bot")

"""TeamsWebhookNotifier against an aiohttp webhook receiver started by the test."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone

import aiohttp
import pytest

from firstpoint.notify.base import NotifierError, compose_notification
from firstpoint.notify.teams import TeamsWebhookNotifier
from tests.notify.conftest import free_port


def notification(target: str):
    note = compose_notification(
        reference="FP-7K3M9Q", category="domestic_abuse", priority="urgent",
        team_name="Domestic Abuse Partnership Hub",
        due_at=datetime(2026, 1, 13, 17, 0, tzinfo=timezone.utc),
        due_text="17:00 on Tuesday 13 January 2026",
    )
    return replace(note, target=target)


async def test_card_is_posted(webhook) -> None:
    receiver, url = webhook
    await TeamsWebhookNotifier().send(notification(url))
    [body] = receiver.posts
    assert body["type"] == "message"
    card = body["attachments"][0]
    assert card["contentType"] == "application/vnd.microsoft.card.adaptive"
    facts = {f["title"]: f["value"] for f in card["content"]["body"][1]["facts"]}
    assert facts == {
        "Reference": "FP-7K3M9Q",
        "Team": "Domestic Abuse Partnership Hub",
        "Category": "domestic abuse",
        "Priority": "urgent",
        "Respond by": "17:00 on Tuesday 13 January 2026 (UK time)",
    }
    assert "firstpoint handoff show FP-7K3M9Q" in card["content"]["body"][2]["text"]


async def test_shared_session_is_used_and_left_open(webhook) -> None:
    receiver, url = webhook
    async with aiohttp.ClientSession() as session:
        notifier = TeamsWebhookNotifier(session=session)
        await notifier.send(notification(url))
        await notifier.send(notification(url))
        assert not session.closed
    assert len(receiver.posts) == 2


@pytest.mark.parametrize("status", [500, 404, 429])
async def test_non_2xx_is_an_error_without_the_url(webhook, status) -> None:
    receiver, url = webhook
    receiver.status = status
    with pytest.raises(NotifierError, match=f"HTTP {status}") as info:
        await TeamsWebhookNotifier().send(notification(url))
    assert "secret-token" not in str(info.value)
    assert receiver.failures == 1


async def test_unreachable_webhook_is_an_error_without_the_url() -> None:
    url = f"http://127.0.0.1:{free_port()}/webhook/secret-token"
    with pytest.raises(NotifierError, match="request failed") as info:
        await TeamsWebhookNotifier(timeout=5).send(notification(url))
    assert "secret-token" not in str(info.value)


async def test_target_must_be_a_url() -> None:
    with pytest.raises(NotifierError, match="not an http"):
        await TeamsWebhookNotifier().send(notification("env:FIRSTPOINT_TEAMS_WEBHOOK_X"))

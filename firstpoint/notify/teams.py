"""Microsoft Teams notifications: an Adaptive Card posted to an incoming-webhook URL.

The URL is a secret: it comes from the environment variable named in directory.yml
(resolved by the outbox dispatcher) and never appears in errors or logs.
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp

from firstpoint.notify.base import Notification, Notifier, NotifierError

_COLOURS = {"emergency": "Attention", "urgent": "Warning", "normal": "Default"}


def adaptive_card(message: Notification) -> dict[str, Any]:
    """The webhook body for ``message``: an Adaptive Card inside a Teams message."""
    return {
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": None,
            "content": {
                "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                "type": "AdaptiveCard",
                "version": "1.4",
                "body": [
                    {"type": "TextBlock", "text": message.subject, "weight": "Bolder",
                     "size": "Medium", "wrap": True,
                     "color": _COLOURS.get(message.priority, "Default")},
                    {"type": "FactSet", "facts": [
                        {"title": "Reference", "value": message.reference},
                        {"title": "Team", "value": message.team},
                        {"title": "Category", "value": message.category.replace("_", " ")},
                        {"title": "Priority", "value": message.priority},
                        {"title": "Respond by", "value": f"{message.due_text} (UK time)"},
                    ]},
                    {"type": "TextBlock", "wrap": True,
                     "text": f"Read it with `firstpoint handoff show {message.reference}`. "
                             "The caller's details are not included in this message."},
                ],
            },
        }],
    }


class TeamsWebhookNotifier(Notifier):
    """Posts to the webhook URL in ``message.target``; a non-2xx answer is an error.

    Pass a shared ``session`` (closed by its owner); without one, each send opens
    and closes its own.
    """

    name = "teams"

    def __init__(self, session: aiohttp.ClientSession | None = None,
                 timeout: float = 10.0) -> None:
        self.session = session
        self.timeout = aiohttp.ClientTimeout(total=timeout)

    async def send(self, message: Notification) -> None:
        """Post the card; network errors, timeouts and non-2xx become :class:`NotifierError`."""
        if not message.target.startswith(("https://", "http://")):
            raise NotifierError("Teams webhook target is not an http(s) URL")
        if self.session is not None:
            await self._post(self.session, message)
            return
        async with aiohttp.ClientSession() as session:
            await self._post(session, message)

    async def _post(self, session: aiohttp.ClientSession, message: Notification) -> None:
        try:
            async with session.post(message.target, json=adaptive_card(message),
                                    timeout=self.timeout) as response:
                if not 200 <= response.status < 300:
                    raise NotifierError(f"Teams webhook answered HTTP {response.status}")
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            # str(exc) can contain the URL (a secret): report the kind of failure only
            raise NotifierError(f"Teams webhook request failed: {type(exc).__name__}") from exc

"""A small client for Rasa 3.6's HTTP API (``rasa run --enable-api --auth-token``).

Only what the live takeover needs, as documented for Rasa Open Source 3.x and
read in ``rasa/server.py`` 3.6.21:

* ``GET /conversations/{id}/tracker`` — the tracker (``events``, ``paused``,
  ``latest_input_channel``); the token travels as the ``token`` query parameter.
* ``POST /conversations/{id}/tracker/events?execute_side_effects=true&output_channel=latest``
  — appends events. ``{"event": "pause"}`` (ConversationPaused) stops the bot
  predicting actions: the caller's messages are still parsed and stored, nothing
  answers them. ``{"event": "resume"}`` (ConversationResumed) gives the bot back.
  A ``{"event": "bot", "text": …}`` (BotUttered) with ``execute_side_effects`` is
  *sent* through the output channel of the conversation's latest input channel
  (``InputChannel.get_output_channel()``): the web widget's socket.io room, the
  Messenger Send API, the Bot Framework conversation.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import aiohttp

#: Input channels whose ``get_output_channel()`` delivers a message nobody asked for.
LIVE_CHANNELS = {"socketio": "web widget", "facebook": "Facebook Messenger",
                 "botframework": "Teams"}


class RasaError(RuntimeError):
    """Rasa's HTTP API refused or could not be reached."""


class RasaClient:
    """Calls to one Rasa server's HTTP API with its token."""

    def __init__(self, base_url: str, token: str | None, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    async def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self.timeout)
        return self._session

    def _url(self, conversation_id: str, tail: str) -> str:
        return f"{self.base_url}/conversations/{quote(conversation_id, safe='')}/{tail}"

    def _params(self, **extra: str) -> dict[str, str]:
        params = dict(extra)
        if self.token:
            params["token"] = self.token
        return params

    async def tracker(self, conversation_id: str) -> dict[str, Any]:
        """The conversation's tracker (events since the last restart)."""
        http = await self._http()
        try:
            async with http.get(self._url(conversation_id, "tracker"),
                                params=self._params(include_events="AFTER_RESTART")) as resp:
                if resp.status != 200:
                    raise RasaError(f"tracker: Rasa answered {resp.status}")
                return dict(await resp.json())
        except aiohttp.ClientError as exc:
            raise RasaError(f"tracker: {type(exc).__name__}") from exc

    async def append(self, conversation_id: str, events: list[dict[str, Any]],
                     send: bool = True) -> dict[str, Any]:
        """Append ``events``; with ``send`` their bot messages go to the caller's channel."""
        params = self._params(output_channel="latest",
                              execute_side_effects="true" if send else "false")
        http = await self._http()
        try:
            async with http.post(self._url(conversation_id, "tracker/events"),
                                 params=params, json=events) as resp:
                if resp.status != 200:
                    raise RasaError(f"append events: Rasa answered {resp.status}")
                return dict(await resp.json())
        except aiohttp.ClientError as exc:
            raise RasaError(f"append events: {type(exc).__name__}") from exc

    async def close(self) -> None:
        """Close the HTTP session."""
        if self._session is not None:
            await self._session.close()
            self._session = None

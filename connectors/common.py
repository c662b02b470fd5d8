"""What every FirstPoint channel shares: server-side session metadata and small helpers.

Each channel decides *on the server* which ``channel`` and ``audience`` a
conversation has and puts them into every message's metadata, which is where
the actions (``bot.actions.common.conversation_context``) and the contact log
(``firstpoint.events.facts``) read them. Nothing a client sends can change
them: the web widget and Facebook are always ``resident``; only the Bot
Framework (Teams-style) staff bot is ``staff``.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections import OrderedDict
from collections.abc import Coroutine
from typing import Any

from firstpoint.records.handoffs import REFERENCE_ALPHABET, REFERENCE_LENGTH, REFERENCE_PREFIX
from knowledge.vocabulary import RESIDENT as RESIDENT  # re-exported for the channels
from knowledge.vocabulary import STAFF as STAFF
from knowledge.vocabulary import VIEWER_AUDIENCES

logger = logging.getLogger(__name__)

#: A handoff reference as the bot words it ("Your reference is FP-7K3M9Q.").
REFERENCE_RE = re.compile(
    rf"\b{re.escape(REFERENCE_PREFIX)}[{REFERENCE_ALPHABET}]{{{REFERENCE_LENGTH}}}\b"
)


def session_metadata(channel: str, audience: str, **extra: Any) -> dict[str, Any]:
    """The metadata a channel attaches to every message: its channel, its audience, extras."""
    if audience not in VIEWER_AUDIENCES:
        raise ValueError(f"unknown audience {audience!r}")
    return {"channel": channel, "audience": audience, **extra}


def find_reference(text: str | None) -> str | None:
    """The handoff reference in a bot message, if it carries one."""
    match = REFERENCE_RE.search(text or "")
    return match.group(0) if match else None


class RecentSet:
    """A bounded set of recently seen keys (message ids, welcomed conversations)."""

    def __init__(self, size: int = 10_000) -> None:
        self.size = size
        self._items: OrderedDict[str, None] = OrderedDict()

    def add(self, key: str) -> bool:
        """Remember ``key``; False when it was already there (a duplicate)."""
        if key in self._items:
            self._items.move_to_end(key)
            return False
        self._items[key] = None
        while len(self._items) > self.size:
            self._items.popitem(last=False)
        return True

    def __contains__(self, key: object) -> bool:
        return key in self._items


class BackgroundTasks:
    """Work a webhook acknowledges at once and finishes afterwards.

    Facebook and the Bot Framework expect a quick 200; the conversation turn
    (NLU, actions, replies through their APIs) runs as a task whose failure is
    logged rather than lost. References are kept so tasks are not collected early.
    """

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, coro: Coroutine[Any, Any, Any], what: str) -> asyncio.Task[Any]:
        """Run ``coro`` in the background; ``what`` names it in the log if it fails."""
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)

        def _done(t: asyncio.Task[Any]) -> None:
            self._tasks.discard(t)
            if not t.cancelled() and t.exception() is not None:
                logger.error("%s failed", what, exc_info=t.exception())

        task.add_done_callback(_done)
        return task

    async def drain(self, timeout: float = 10.0) -> None:
        """Wait (up to ``timeout`` seconds) for the running tasks, e.g. at shutdown."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=timeout)

    def __len__(self) -> int:
        return len(self._tasks)


def split_text(text: str, limit: int) -> list[str]:
    """``text`` in paragraphs (blank-line separated), each cut to at most ``limit`` chars."""
    parts: list[str] = []
    for paragraph in (p.strip() for p in (text or "").strip().split("\n\n")):
        while len(paragraph) > limit:
            cut = paragraph.rfind(" ", 0, limit)
            cut = cut if cut > limit // 2 else limit
            parts.append(paragraph[:cut].rstrip())
            paragraph = paragraph[cut:].lstrip()
        if paragraph:
            parts.append(paragraph)
    return parts


class LazyHttp:
    """One aiohttp client session per connector, created inside the running loop on first use."""

    def __init__(self, timeout_seconds: float = 15.0) -> None:
        self.timeout_seconds = timeout_seconds
        self._session: Any = None

    async def session(self) -> Any:
        """The shared ``aiohttp.ClientSession`` (created when first needed)."""
        import aiohttp

        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.timeout_seconds)
            )
        return self._session

    async def close(self) -> None:
        """Close the session (at server shutdown)."""
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

"""Concurrent scripted conversations over Rasa's REST webhook (aiohttp client).

Used by ``benchmarks/load_benchmark.py`` (speed figures) and by the fault tests in
``tests/production/`` (who got what, while something is being broken).

Each conversation is a script of messages sent one after another by one sender,
with ``think`` seconds between them. A request that fails the way a browser would
see a replica die (connection error, 502/503/504) is retried up to ``retries``
times after a short pause, as the web widget's "please try again" does; each
retry is counted. Latency is measured per successful request, client side.
"""

from __future__ import annotations

import asyncio
import re
import statistics
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

REFERENCE_RE = re.compile(r"\bFP-[A-Z0-9]{6}\b")

#: FirstPoint scripts: a knowledge answer with a rating, a handoff form, small talk.
ANSWER_AND_RATING = ("hello", "what does business support do?", "yes")
HANDOFF_FORM = (
    "I'm really worried, the little girl next door always has bruises on her arms",
    "skip", "I'd rather not say", "no contact", "skip",
)
ANSWERS = ("can you take minutes for a meeting?", "do you book rooms?",
           "who do I ask about printing?", "thanks")
FIRSTPOINT_SCRIPTS = (ANSWER_AND_RATING, HANDOFF_FORM, ANSWERS)
#: Rasa's starter bot (``rasa init``): greet, mood, goodbye.
STARTER_SCRIPTS = (("hello", "I am feeling great", "bye"),
                   ("hi", "I am sad", "yes", "bye"),
                   ("good morning", "very good", "goodbye"))


@dataclass
class Conversation:
    """One scripted conversation and what happened to it."""

    sender: str
    script: Sequence[str]
    replies: list[list[dict[str, Any]]] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    retries: int = 0
    failures: list[str] = field(default_factory=list)

    @property
    def is_handoff(self) -> bool:
        """True for the handoff-form script."""
        return tuple(self.script) == HANDOFF_FORM

    @property
    def reference(self) -> str | None:
        """The handoff reference the bot gave, if any."""
        for reply in self.replies:
            for message in reply:
                match = REFERENCE_RE.search(str(message.get("text") or ""))
                if match:
                    return match.group(0)
        return None


@dataclass
class LoadResult:
    """Everything one load run measured."""

    conversations: list[Conversation]
    wall_seconds: float
    status_counts: dict[int, int] = field(default_factory=dict)

    @property
    def latencies(self) -> list[float]:
        """Every successful request's latency (seconds)."""
        return [x for c in self.conversations for x in c.latencies]

    def percentile(self, q: float) -> float:
        """The ``q`` quantile (0..1) of the latencies, in milliseconds."""
        values = sorted(self.latencies)
        if not values:
            return float("nan")
        index = min(len(values) - 1, max(0, int(round(q * (len(values) - 1)))))
        return values[index] * 1000

    @property
    def messages(self) -> int:
        """Successful requests."""
        return len(self.latencies)

    @property
    def throughput(self) -> float:
        """Successful messages per wall-clock second."""
        return self.messages / self.wall_seconds if self.wall_seconds else 0.0

    @property
    def failures(self) -> list[str]:
        """Requests that still failed after every retry."""
        return [f for c in self.conversations for f in c.failures]

    @property
    def retries(self) -> int:
        """Requests retried after a connection error or 502/503/504."""
        return sum(c.retries for c in self.conversations)

    def summary(self) -> dict[str, float]:
        """p50/p95/p99 (ms), throughput, counts."""
        return {
            "messages": self.messages, "p50_ms": round(self.percentile(0.50), 1),
            "p95_ms": round(self.percentile(0.95), 1), "p99_ms": round(self.percentile(0.99), 1),
            "mean_ms": round(statistics.fmean(self.latencies) * 1000, 1) if self.latencies
            else float("nan"),
            "throughput_msg_s": round(self.throughput, 2), "wall_s": round(self.wall_seconds, 1),
            "retries": self.retries, "failures": len(self.failures),
        }


async def _send(session: Any, url: str, conversation: Conversation, text: str,
                retries: int, status_counts: dict[int, int],
                headers: dict[str, str] | None) -> None:
    import aiohttp

    body = {"sender": conversation.sender, "message": text}
    for attempt in range(retries + 1):
        started = time.perf_counter()
        try:
            async with session.post(url, json=body, headers=headers) as resp:
                status_counts[resp.status] = status_counts.get(resp.status, 0) + 1
                if resp.status in (502, 503, 504) and attempt < retries:
                    conversation.retries += 1
                    await asyncio.sleep(1.0)
                    continue
                payload = await resp.json(content_type=None)
                if resp.status != 200:
                    conversation.failures.append(f"{resp.status}: {payload}")
                    return
                conversation.latencies.append(time.perf_counter() - started)
                conversation.replies.append(list(payload))
                return
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            if attempt < retries:
                conversation.retries += 1
                await asyncio.sleep(1.0)
                continue
            conversation.failures.append(f"{type(exc).__name__}: {exc}")
            return


async def run_load(url: str, scripts: Sequence[Sequence[str]], conversations: int, *,
                   concurrency: int | None = None, think: float = 0.0, retries: int = 5,
                   ramp: float = 0.0, prefix: str = "load", timeout: float = 120.0,
                   headers: dict[str, str] | None = None) -> LoadResult:
    """Run ``conversations`` scripted conversations (scripts in turn) against ``url``.

    ``concurrency`` caps how many run at once (default: all); ``ramp`` spreads their
    starts over that many seconds; ``think`` is the pause between a reply and the
    next message of the same conversation.
    """
    import aiohttp

    run_id = uuid.uuid4().hex[:6]
    convs = [Conversation(f"{prefix}-{run_id}-{i:05d}", scripts[i % len(scripts)])
             for i in range(conversations)]
    limit = asyncio.Semaphore(concurrency or conversations)
    status_counts: dict[int, int] = {}
    connector = aiohttp.TCPConnector(limit=concurrency or conversations)
    client_timeout = aiohttp.ClientTimeout(total=timeout)

    async with aiohttp.ClientSession(connector=connector, timeout=client_timeout) as session:
        async def one(index: int, conversation: Conversation) -> None:
            if ramp:
                await asyncio.sleep(ramp * index / max(1, conversations))
            async with limit:
                for n, text in enumerate(conversation.script):
                    if n and think:
                        await asyncio.sleep(think)
                    await _send(session, url, conversation, text, retries, status_counts,
                                headers)

        started = time.perf_counter()
        await asyncio.gather(*(one(i, c) for i, c in enumerate(convs)))
        wall = time.perf_counter() - started
    return LoadResult(convs, wall, status_counts)


def run_load_sync(*args: Any, **kwargs: Any) -> LoadResult:
    """:func:`run_load` in a fresh event loop (for threads and plain scripts)."""
    return asyncio.run(run_load(*args, **kwargs))

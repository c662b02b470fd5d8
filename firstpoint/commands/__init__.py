"""Sub-commands of the ``firstpoint`` CLI.

Each module here exposes ``register(subparsers)`` which adds its sub-command(s)
with ``parser.set_defaults(func=...)``; ``func(args) -> int`` is the exit code.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from typing import Protocol


class Supervised(Protocol):
    """A started stack of processes (``firstpoint.runner.Stack``, the production stack)."""

    def failed(self) -> str | None: ...

    def stop(self) -> None: ...


def supervise(stack: Supervised, report_dead: Callable[[str], None]) -> int:
    """Wait until SIGTERM/SIGINT (0) or until a process of ``stack`` dies (1, after
    ``report_dead(name)``); the stack is stopped either way."""
    stopping = False

    def _stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    try:
        while not stopping:
            dead = stack.failed()
            if dead:
                report_dead(dead)
                return 1
            time.sleep(1)
    finally:
        stack.stop()
    return 0

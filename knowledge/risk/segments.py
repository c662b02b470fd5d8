"""Splitting a message into the points it makes, so a worry in a second point is read on its own.

People often raise a worry after a routine request ("can you book room 4 for
Tuesday. also mum said at reception …"). Read as a whole, such a message
looks like the routine request: its sentence embedding and its character
n-grams are dominated by the admin words. The assessor therefore also reads
each point of a message that makes several, and a point it is very sure of
decides (:mod:`knowledge.risk.assess`).

A point ends at a sentence end (``.``, ``!``, ``?``, ``;``), a line break, or
before a word that starts a new topic ("also", "btw", "separately",
"unrelated", "another thing", "ps" …). Points shorter than
:data:`MIN_WORDS` words are dropped: too short to judge without context.
"""

from __future__ import annotations

import re

#: Points with fewer words than this are not assessed on their own.
MIN_WORDS = 4
#: At most this many points per message are assessed (cost bound).
MAX_SEGMENTS = 8

_TOPIC_SHIFT = (
    r"also|btw|by the way|unrelated|separately|on another note|another thing|"
    r"one more thing|oh and|and also|ps|p\.s\.|plus"
)
_SPLIT = re.compile(
    rf"(?<=[.!?;])\s+|\s*[\r\n]+\s*|[,\s]\s*(?=(?:{_TOPIC_SHIFT})\b[\s,:-])",
    re.IGNORECASE,
)
_TRIM = " \t,-–—:"


def split_points(text: str) -> list[str]:
    """The points of ``text`` worth reading on their own; ``[]`` for a one-point message."""
    parts = [p.strip(_TRIM) for p in _SPLIT.split(text) if p]
    points = [p for p in parts if len(p.split()) >= MIN_WORDS]
    if len(points) < 2:
        return []
    return points[:MAX_SEGMENTS]

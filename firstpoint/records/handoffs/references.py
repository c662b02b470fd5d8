"""Handoff references: ``FP-`` and six characters a person can read out and type back."""

from __future__ import annotations

import secrets

#: Reference alphabet: digits and capitals without the look-alikes 0/O and 1/I.
REFERENCE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
REFERENCE_PREFIX = "FP-"
REFERENCE_LENGTH = 6


def new_reference() -> str:
    """A random reference like ``FP-7K3M9Q`` (about a billion possibilities)."""
    return REFERENCE_PREFIX + "".join(
        secrets.choice(REFERENCE_ALPHABET) for _ in range(REFERENCE_LENGTH)
    )


def normalise_reference(text: str) -> str:
    """A reference as typed by a person (``fp-7k3m9q``, ``7K3M9Q``) in canonical form."""
    value = text.strip().upper().replace(" ", "")
    if not value.startswith(REFERENCE_PREFIX):
        value = REFERENCE_PREFIX + value.removeprefix("FP")
    return value

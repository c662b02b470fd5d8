"""What the redactor finds: typed spans, and how overlapping ones are resolved."""

from __future__ import annotations

from dataclasses import dataclass

KINDS = (
    "EMAIL",
    "URL",
    "CARD_NUMBER",
    "PHONE",
    "NHS_NUMBER",
    "NI_NUMBER",
    "POSTCODE",
    "DATE_OF_BIRTH",
    "DATE",
    "ADDRESS",
    "NAME",
)
#: Lower number wins when two findings overlap.
_PRIORITY = {kind: rank for rank, kind in enumerate(KINDS)}


@dataclass(frozen=True)
class Finding:
    """One piece of personal data: character offsets into the normalised text and its kind."""

    start: int
    end: int
    kind: str


def resolve(findings: list[Finding]) -> list[Finding]:
    """Non-overlapping findings: higher priority first, then longer, then earlier."""
    chosen: list[Finding] = []
    ordered = sorted(findings, key=lambda f: (_PRIORITY[f.kind], -(f.end - f.start), f.start))
    for finding in ordered:
        if all(finding.end <= c.start or finding.start >= c.end for c in chosen):
            chosen.append(finding)
    return sorted(chosen, key=lambda f: f.start)


def add(found: list[Finding], start: int, end: int, kind: str) -> None:
    if end > start:
        found.append(Finding(start, end, kind))

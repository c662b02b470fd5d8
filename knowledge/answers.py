"""Turning a search result into what the assistant says.

Plain functions, no Rasa: the knowledge action calls :func:`answer_query`.
A "will not" answer leads with the exemption and where to go instead, never
with a yes; every answer ends with a short citation of its source entry.
"""

from __future__ import annotations

from dataclasses import dataclass

from knowledge.schema import CouncilSettings, Entry
from knowledge.search import Hit, KnowledgeIndex, SearchResult

MAX_TASKS_SHOWN = 4


@dataclass(frozen=True)
class Choice:
    """A button offered when two entries are close: title and the entry id."""

    title: str
    entry_id: str


@dataclass(frozen=True)
class Answer:
    """What to say, and what the contact log records about it."""

    text: str
    outcome: str  # "answered" | "declined" | "clarify" | "none"
    entry_id: str | None = None
    choices: tuple[Choice, ...] = ()


def citation(entry: Entry) -> str:
    """Short source line, e.g. ``Service Menu: Meetings — reviewed 1 October 2026``."""
    source = entry.source.replace("Business Support ", "")
    reviewed = f"{entry.last_reviewed.day} {entry.last_reviewed:%B %Y}"
    return f"({source}: {entry.title} — reviewed {reviewed})"


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:] if text[:2] != text[:2].upper() else text


def _is_staff_menu(entry: Entry) -> bool:
    return entry.id.startswith("menu.")


def render_entry(
    entry: Entry, kind: str, council: CouncilSettings, item_index: int | None = None
) -> Answer:
    """Render ``entry`` as a ``does`` or ``will_not`` answer (the latter needs an item)."""
    who = "Business Support" if _is_staff_menu(entry) else council.council.name
    lines: list[str] = []
    if kind == "will_not" and entry.will_not:
        wn = entry.will_not[item_index or 0]
        lines.append(f"No — {who} will not {_lower_first(wn.what).rstrip('.')}.")
        lines.append(f"Instead: {wn.instead}")
        if entry.principles:
            lines.append(f"Why: {entry.principles[0]}")
        outcome = "declined"
    else:
        lines.append(entry.summary)
        tasks = list(entry.does)
        if item_index is not None and 0 <= item_index < len(tasks):
            tasks.insert(0, tasks.pop(item_index))
        if tasks:
            lines.append("This includes:")
            lines.extend(f"• {t}" for t in tasks[:MAX_TASKS_SHOWN])
        for caveat in entry.caveats[:2]:
            lines.append(f"Please note: {caveat}")
        if entry.will_not:
            wn = entry.will_not[0]
            lines.append(f"It does not cover: {_lower_first(wn.what)} — {wn.instead}")
        outcome = "answered"
    lines.append(citation(entry))
    return Answer(council.fill("\n".join(lines)), outcome, entry.id)


def render_hit(hit: Hit, council: CouncilSettings) -> Answer:
    """Render the best hit, choosing the matching exemption or task."""
    if hit.kind == "will_not" and hit.best_will_not is not None:
        return render_entry(hit.entry, "will_not", council, hit.best_will_not.index)
    index = hit.best_does.index if hit.best_does is not None else None
    return render_entry(hit.entry, "does", council, index)


def render_result(result: SearchResult, council: CouncilSettings) -> Answer:
    """Answer, offer a choice between two close entries, or admit there's no match."""
    if result.decision == "answer" and result.best is not None:
        return render_hit(result.best, council)
    if result.decision == "clarify":
        choices = tuple(Choice(h.entry.title, h.entry.id) for h in result.choices)
        text = "I can help with a couple of things that sound close. Which did you mean?"
        return Answer(text, "clarify", None, choices)
    return Answer("", "none")


def answer_query(
    index: KnowledgeIndex,
    council: CouncilSettings,
    query: str,
    audience: str,
    previous_entry_id: str | None = None,
) -> Answer:
    """Answer ``query``; a follow-up is tried first within the previous entry's area."""
    if previous_entry_id:
        try:
            previous = index.kb.get(previous_entry_id)
        except KeyError:
            previous = None
        if previous is not None:
            scoped = index.search(query, audience, within_area=previous.area)
            if scoped.decision in ("answer", "clarify") and scoped.best is not None:
                # Within the topic, take the best entry even if a sibling is close.
                return render_hit(scoped.best, council)
            if scoped.best is None or scoped.best.score < index.min_score:
                # Nothing in the query itself: answer about the previous topic again.
                fallback = index.search(query, audience)
                if fallback.decision == "none":
                    return render_entry(previous, "does", council)
                return render_result(fallback, council)
    return render_result(index.search(query, audience), council)

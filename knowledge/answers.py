"""Turning a search result into what the assistant says.

Plain functions, no Rasa: the knowledge action calls :func:`answer_query`,
:func:`answer_choice` and :func:`detail_for`. The words come from
``knowledge/content/wording.yml`` (:class:`knowledge.schema.Wording`) and the
content itself; this module only decides which pieces to put together.

Every answer has two parts (GOV.UK content style):

* the **direct answer**, one or two sentences: yes or no (for a yes/no
  question), what happens or who does it instead, and how to reach them. A
  "will not" answer names every exemption that matched (and the others of the
  same bundle), each with its own alternative. Residents get at most
  :data:`WORD_LIMITS` ``["resident"]`` words; what does not fit moves to the detail;
* the **detail**, behind a "More detail" button: the reason for each
  exemption, the other tasks, caveats and the citation line.

An answer carries a *reference* (``Answer.ref``, e.g. ``menu.property-accommodation#w0,w1``)
naming the entry and the items it was built from, so the detail can be
rebuilt from a button payload after :func:`parse_ref` has checked it against
the knowledge base.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from knowledge.schema import CouncilSettings, Entry, KnowledgeBase, Task, WillNot, Wording
from knowledge.search import DOES, WILL_NOT, Hit, KnowledgeIndex, SearchResult

#: Most words in a direct answer (after placeholders are filled), per audience.
WORD_LIMITS = {"resident": 60, "staff": 120}
MAX_TASKS_SHOWN = 6
MAX_EXEMPTIONS_LISTED = 4
MAX_CAVEATS_SHOWN = 5

#: First words of a yes/no question (after greetings and fillers).
_POLAR_STARTS = frozenset(
    "can could will would do does did is are am was were should shall may might has have "
    "cant can't couldnt couldn't wont won't dont don't doesnt doesn't isnt isn't "
    "arent aren't".split()
)
_FILLERS = frozenset(
    "hi hello hey hiya please pls ok okay so and but um er also sorry quick".split()
)
_REF = re.compile(
    r"^(?P<entry>[a-z0-9]+(?:[.-][a-z0-9]+)*)"
    r"(?:#(?P<items>[dw]\d{1,3}(?:,[dw]\d{1,3})*))?$"
)


@dataclass(frozen=True)
class Choice:
    """A button offered when two entries are close: title and the entry id."""

    title: str
    entry_id: str


@dataclass(frozen=True)
class Answer:
    """What to say, the detail behind "More detail", and what the contact log records."""

    text: str
    outcome: str  # "answered" | "declined" | "clarify" | "none"
    entry_id: str | None = None
    choices: tuple[Choice, ...] = ()
    detail: str = ""
    ref: str = ""

    @property
    def words(self) -> int:
        """Words in the direct answer."""
        return len(self.text.split())


@dataclass(frozen=True)
class Selection:
    """Which items of an entry an answer was built from."""

    kind: str  # "does" | "will_not"
    indices: tuple[int, ...] = ()

    def ref(self, entry_id: str) -> str:
        """``entry_id#w0,w1`` (or just ``entry_id`` when no item was used)."""
        if not self.indices:
            return entry_id
        letter = "w" if self.kind == WILL_NOT else "d"
        return f"{entry_id}#" + ",".join(f"{letter}{i}" for i in self.indices)


def is_yes_no_question(text: str) -> bool:
    """Whether ``text`` reads as a yes/no question ("Can Business Support ...?")."""
    words = re.findall(r"[a-z']+", (text or "").lower())
    while words and words[0] in _FILLERS:
        words.pop(0)
    return bool(words) and words[0] in _POLAR_STARTS


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:] if text[:2] != text[:2].upper() else text


def _sentence(text: str) -> str:
    """Capitalise the first letter (a leading ``{placeholder}`` is left as it is)."""
    for i, ch in enumerate(text):
        if ch == "{":
            return text
        if ch.isalpha():
            return text[:i] + ch.upper() + text[i + 1 :]
    return text


def _clause(text: str) -> str:
    """A content sentence made into a clause: first letter lowered, final full stop dropped."""
    return _lower_first(text.strip()).rstrip(".")


def _join_or(parts: list[str], wording: Wording) -> str:
    word = wording.line("direct.or")
    if len(parts) <= 1:
        return "".join(parts)
    return ", ".join(parts[:-1]) + f" {word} " + parts[-1]


def _words(text: str, council: CouncilSettings) -> int:
    return len(council.fill(text).split())


def citation(entry: Entry, wording: Wording) -> str:
    """Short source line, e.g. ``(Business Support Service Menu: Meetings — reviewed ...)``."""
    reviewed = f"{entry.last_reviewed.day} {entry.last_reviewed:%B %Y}"
    if entry.derived_from:
        return wording.line(
            "detail.citation_derived",
            source=entry.source,
            title=entry.title,
            reviewed=reviewed,
            derived_from=entry.derived_from,
        )
    return wording.line(
        "detail.citation", source=entry.source, title=entry.title, reviewed=reviewed
    )


# --------------------------------------------------------------------------- "will not"


def _exemption_order(entry: Entry, matched: list[int], audience: str) -> list[int]:
    """Matched exemptions (best first), each followed by the rest of its bundle."""
    out: list[int] = []
    for index in matched:
        for member in entry.bundle_of(index):
            if member not in out and entry.will_not[member].visible_to(audience):
                out.append(member)
    return out


def _will_not_direct(
    entry: Entry, shown: list[int], audience: str, wording: Wording, polar: bool
) -> str:
    provider = entry.provider.name_for(audience)
    whats = [_clause(entry.will_not[i].what) for i in shown]
    parts = [wording.line("direct.no")] if polar else []
    what = _join_or(whats, wording)
    parts.append(_sentence(wording.line("direct.will_not", provider=provider, what=what)))
    parts.extend(entry.will_not[i].instead for i in shown)
    return " ".join(parts)


def _split_exemptions(
    entry: Entry, order: list[int], audience: str, council: CouncilSettings, wording: Wording
) -> tuple[list[int], list[int]]:
    """(shown in the direct answer, moved to the detail) within the word limit.

    The yes/no word is always counted, so the split does not depend on the question
    and the detail can be rebuilt from the reference alone.
    """
    limit = WORD_LIMITS[audience]
    for k in range(len(order), 0, -1):
        text = _will_not_direct(entry, order[:k], audience, wording, polar=True)
        if _words(text, council) <= limit:
            return order[:k], order[k:]
    return order[:1], order[1:]


def _tasks_lines(entry: Entry, audience: str, skip: int | None, heading: str) -> list[str]:
    tasks = [t for i, t in entry.tasks_for(audience) if i != skip][:MAX_TASKS_SHOWN]
    if not tasks:
        return []
    return [heading, *(f"• {t.text_for(audience)}" for t in tasks)]


def _caveat_lines(entry: Entry, audience: str, wording: Wording) -> list[str]:
    return [
        wording.line("detail.caveat", caveat=c.text)
        for c in entry.caveats_for(audience)[:MAX_CAVEATS_SHOWN]
    ]


def _will_not_detail(
    entry: Entry, shown: list[int], overflow: list[int], audience: str, wording: Wording
) -> str:
    provider = entry.provider.name_for(audience)
    lines: list[str] = []
    seen: set[str] = set()
    for i in shown:
        why = entry.will_not[i].why
        if why and why not in seen:
            seen.add(why)
            lines.append(wording.line("detail.why", why=why))
    for i in overflow:
        item = entry.will_not[i]
        lines.append(
            _sentence(
                wording.line(
                    "detail.also_will_not",
                    provider=provider,
                    what=_clause(item.what),
                    instead=item.instead,
                )
            )
        )
        if item.why and item.why not in seen:
            seen.add(item.why)
            lines.append(wording.line("detail.why", why=item.why))
    lines += _tasks_lines(
        entry, audience, None, _sentence(wording.line("detail.tasks", provider=provider))
    )
    lines += _caveat_lines(entry, audience, wording)
    lines.append(citation(entry, wording))
    return "\n".join(lines)


def render_will_not(
    entry: Entry,
    matched: list[int],
    council: CouncilSettings,
    wording: Wording,
    audience: str,
    polar: bool = True,
) -> Answer:
    """A "no" answer naming the ``matched`` exemptions (and their bundles), with alternatives."""
    order = _exemption_order(entry, matched, audience)
    if not order:
        return render_does(entry, None, council, wording, audience, polar)
    shown, overflow = _split_exemptions(entry, order, audience, council, wording)
    text = _will_not_direct(entry, shown, audience, wording, polar)
    detail = _will_not_detail(entry, shown, overflow, audience, wording)
    ref = Selection(WILL_NOT, tuple(shown + overflow)).ref(entry.id)
    return Answer(council.fill(text), "declined", entry.id, detail=council.fill(detail), ref=ref)


# --------------------------------------------------------------------------- "does"


def _overlap(a: str, b: str) -> float:
    """Share of ``a``'s words that also occur in ``b``."""
    wa = set(re.findall(r"[a-z0-9{}.]+", a.lower()))
    wb = set(re.findall(r"[a-z0-9{}.]+", b.lower()))
    return len(wa & wb) / max(len(wa), 1)


def _does_direct(
    entry: Entry,
    task_index: int | None,
    audience: str,
    council: CouncilSettings,
    wording: Wording,
    polar: bool,
) -> tuple[str, int | None]:
    """(direct answer, the task it names or None)."""
    provider = entry.provider.name_for(audience)
    lead = [wording.line("direct.yes")] if polar else []
    task = entry.does[task_index] if task_index is not None else None
    if task is not None and not task.visible_to(audience):
        task, task_index = None, None
    if entry.task_style == "actions":
        if task is not None:
            clause = _clause(task.text_for(audience))
            body = _sentence(wording.line("direct.task", provider=provider, task=clause))
        else:
            body = entry.summary_for(audience)
        return " ".join([*lead, body, wording.line(f"direct.next_step.{audience}")]), task_index
    summary = entry.summary_for(audience)
    text = " ".join([*lead, summary])
    if task is not None and _overlap(task.text_for(audience), summary) < 0.6:
        longer = f"{text} {task.text_for(audience)}"
        if _words(longer, council) <= WORD_LIMITS[audience]:
            return longer, task_index
    return text, None


def _does_detail(entry: Entry, task_index: int | None, audience: str, wording: Wording) -> str:
    provider = entry.provider.name_for(audience)
    if entry.task_style == "actions":
        key = "detail.more_tasks" if task_index is not None else "detail.tasks"
        heading = _sentence(wording.line(key, provider=provider))
    else:
        heading = wording.line("detail.more_points")
    lines = _tasks_lines(entry, audience, task_index, heading)
    exemptions = [w for _, w in entry.exemptions_for(audience)][:MAX_EXEMPTIONS_LISTED]
    if exemptions:
        lines.append(_sentence(wording.line("detail.will_not_list", provider=provider)))
        lines.extend(f"• {w.what.rstrip('.')}" for w in exemptions)
    lines += _caveat_lines(entry, audience, wording)
    lines.append(citation(entry, wording))
    return "\n".join(lines)


def render_does(
    entry: Entry,
    task_index: int | None,
    council: CouncilSettings,
    wording: Wording,
    audience: str,
    polar: bool = False,
) -> Answer:
    """A "yes / here is what happens" answer, naming task ``task_index`` when given."""
    text, used = _does_direct(entry, task_index, audience, council, wording, polar)
    detail = _does_detail(entry, used, audience, wording)
    ref = Selection(DOES, (used,) if used is not None else ()).ref(entry.id)
    return Answer(council.fill(text), "answered", entry.id, detail=council.fill(detail), ref=ref)


# --------------------------------------------------------------------------- results


def render_hit(
    hit: Hit,
    council: CouncilSettings,
    wording: Wording,
    audience: str,
    query: str = "",
    min_task_score: float = 0.0,
) -> Answer:
    """Render the best hit: its matching exemptions, or its best task."""
    polar = is_yes_no_question(query)
    if hit.kind == WILL_NOT and hit.will_nots:
        matched = [h.index for h in hit.will_nots]
        return render_will_not(hit.entry, matched, council, wording, audience, polar)
    task = hit.best_does
    index = task.index if task is not None and task.score >= min_task_score else None
    return render_does(hit.entry, index, council, wording, audience, polar)


def render_result(
    result: SearchResult,
    council: CouncilSettings,
    wording: Wording,
    audience: str,
    min_task_score: float = 0.0,
) -> Answer:
    """Answer, offer a choice between two close entries, or admit there's no match."""
    if result.decision == "answer" and result.best is not None:
        return render_hit(result.best, council, wording, audience, result.query, min_task_score)
    if result.decision == "clarify":
        choices = tuple(Choice(h.entry.title, h.entry.id) for h in result.choices)
        return Answer(wording.line("messages.clarify"), "clarify", None, choices)
    return Answer(council.fill(wording.line("messages.not_found")), "none")


def answer_query(
    index: KnowledgeIndex,
    council: CouncilSettings,
    wording: Wording,
    query: str,
    audience: str,
    previous_entry_id: str | None = None,
) -> Answer:
    """Answer ``query``; a follow-up is tried first within the previous entry's area."""
    task_floor = index.tuning.min_task_score
    if previous_entry_id:
        try:
            previous: Entry | None = index.kb.get(previous_entry_id)
        except KeyError:
            previous = None
        if previous is not None and previous.visible_to(audience):
            scoped = index.search(query, audience, within_area=previous.area)
            if scoped.decision in ("answer", "clarify") and scoped.best is not None:
                # Within the topic, keep the previous entry unless a sibling is clearly better.
                best = scoped.best
                for hit in scoped.hits:
                    if hit.entry.id == previous.id and (
                        hit.score >= index.tuning.follow_up_ratio * best.score
                    ):
                        best = hit
                return render_hit(best, council, wording, audience, query, task_floor)
            if scoped.best is None or scoped.best.score < index.min_score:
                # Nothing in the query itself: answer about the previous topic again.
                fallback = index.search(query, audience)
                if fallback.decision == "none":
                    return render_does(previous, None, council, wording, audience)
                return render_result(fallback, council, wording, audience, task_floor)
    return render_result(index.search(query, audience), council, wording, audience, task_floor)


def answer_choice(
    index: KnowledgeIndex,
    council: CouncilSettings,
    wording: Wording,
    entry_id: str,
    query: str,
    audience: str,
) -> Answer | None:
    """Answer ``query`` from the entry the person chose; None if it is unknown or hidden."""
    try:
        entry = index.kb.get(entry_id)
    except KeyError:
        return None
    if not entry.visible_to(audience):
        return None
    result = index.search(query, audience, only_entry=entry_id) if query else None
    if result is not None and result.best is not None:
        return render_hit(
            result.best, council, wording, audience, query, index.tuning.min_task_score
        )
    return render_does(entry, None, council, wording, audience)


# --------------------------------------------------------------------------- "More detail"


def parse_ref(kb: KnowledgeBase, ref: object, audience: str) -> tuple[Entry, Selection] | None:
    """The entry and items named by an answer reference, or None if it is not valid.

    The reference comes from a button payload, so nothing in it is trusted: it
    must be text of the right form, name an entry ``audience`` may see, and
    only items of that entry that ``audience`` may see, all of one kind.
    """
    if not isinstance(ref, str) or len(ref) > 200:
        return None
    match = _REF.match(ref.strip())
    if match is None:
        return None
    try:
        entry = kb.get(match.group("entry"))
    except KeyError:
        return None
    if not entry.visible_to(audience):
        return None
    items = match.group("items")
    if not items:
        return entry, Selection(DOES)
    kinds = {part[0] for part in items.split(",")}
    if len(kinds) != 1:
        return None
    indices = tuple(int(part[1:]) for part in items.split(","))
    if len(set(indices)) != len(indices):
        return None
    kind = WILL_NOT if kinds == {"w"} else DOES
    pool: Sequence[Task | WillNot] = entry.will_not if kind == WILL_NOT else entry.does
    if any(i >= len(pool) or not pool[i].visible_to(audience) for i in indices):
        return None
    if kind == DOES and len(indices) > 1:
        return None
    return entry, Selection(kind, indices)


def detail_for(
    entry: Entry, selection: Selection, council: CouncilSettings, wording: Wording, audience: str
) -> str:
    """The "More detail" text for an answer built from ``selection`` of ``entry``."""
    if selection.kind == WILL_NOT and selection.indices:
        shown, overflow = _split_exemptions(
            entry, list(selection.indices), audience, council, wording
        )
        return council.fill(_will_not_detail(entry, shown, overflow, audience, wording))
    task = selection.indices[0] if selection.indices else None
    _, used = _does_direct(entry, task, audience, council, wording, polar=False)
    return council.fill(_does_detail(entry, used, audience, wording))

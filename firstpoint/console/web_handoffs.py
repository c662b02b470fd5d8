"""Handoff pages: the queue (filters, SLA, CSV), the detail page, status, assignment,
notes, and the audit trail.

Officers see their own team's handoffs only; supervisors every team's; analysts
none. Opening a handoff decrypts what the caller shared, so every view is an
audit entry (``decrypted``), as is every export that includes personal fields
(supervisors only) and every change.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from aiohttp import web
from sqlalchemy import select

from firstpoint.console.accounts import User
from firstpoint.console.audit import audit_csv, safe_cell
from firstpoint.console.models import ConsoleUser, HandoffAssignment, HandoffNote
from firstpoint.console.security import allow, client_address, current_user
from firstpoint.records.db import session_scope
from firstpoint.records.handoffs import (
    PRIORITIES,
    STATUSES,
    TRANSITIONS,
    Handoff,
    HandoffNotFound,
    HandoffSummary,
    TransitionError,
    normalise_reference,
)

OPEN_STATUSES = ("new", "acknowledged", "contacted")
STATUS_LABELS = {"new": "New", "acknowledged": "Acknowledged", "contacted": "Contacted",
                 "closed": "Closed"}
STATUS_TAGS = {"new": "govuk-tag--blue", "acknowledged": "govuk-tag--yellow",
               "contacted": "govuk-tag--purple", "closed": "govuk-tag--grey"}
PRIORITY_TAGS = {"emergency": "govuk-tag--red", "urgent": "govuk-tag--orange",
                 "normal": "govuk-tag--grey"}
MAX_NOTE = 4000


def _now() -> datetime:
    return datetime.now(timezone.utc)


def duration(seconds: float) -> str:
    """``3 h 5 min`` / ``2 days 4 h`` / ``12 min``."""
    minutes = int(abs(seconds) // 60)
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days} day{'s' if days != 1 else ''} {hours} h"
    if hours:
        return f"{hours} h {mins} min"
    return f"{mins} min"


def sla_text(summary: HandoffSummary, now: datetime) -> str:
    """The SLA clock in words."""
    if summary.status in ("contacted", "closed"):
        return "Met" if summary.status == "contacted" else "Closed"
    left = (summary.sla_due_at - now).total_seconds()
    return f"Overdue by {duration(left)}" if left < 0 else f"Due in {duration(left)}"


@dataclass(frozen=True)
class Filters:
    """The queue's filters, from the query string (unknown values are ignored)."""

    team: str | None
    status: str
    category: str | None
    priority: str | None
    overdue: bool

    @classmethod
    def parse(cls, query: Any, teams: set[str], categories: set[str], user: User) -> Filters:
        """Filters an officer cannot widen beyond their own team."""
        team = query.get("team") or None
        if team not in teams:
            team = None
        if not user.is_supervisor:
            team = user.team_id
        status = query.get("status") or "open"
        if status not in (*STATUSES, "open", "all"):
            status = "open"
        category = query.get("category") or None
        priority = query.get("priority") or None
        return cls(team, status, category if category in categories else None,
                   priority if priority in PRIORITIES else None, query.get("overdue") == "1")


def queue_rows(state: Any, filters: Filters) -> list[HandoffSummary]:
    """Handoffs matching ``filters``: overdue first (oldest due first), then by due time."""
    rows = state.handoffs.list(team=filters.team)
    if filters.status == "open":
        rows = [r for r in rows if r.status in OPEN_STATUSES]
    elif filters.status != "all":
        rows = [r for r in rows if r.status == filters.status]
    if filters.category:
        rows = [r for r in rows if r.category == filters.category]
    if filters.priority:
        rows = [r for r in rows if r.priority == filters.priority]
    if filters.overdue:
        rows = [r for r in rows if r.overdue]
    return sorted(rows, key=lambda r: (not r.overdue, r.sla_due_at, r.created_at))


def _handoff_id(session: Any, reference: str) -> int:
    found = session.execute(select(Handoff.id).where(
        Handoff.reference == normalise_reference(reference))).scalar_one_or_none()
    if found is None:
        raise HandoffNotFound(reference)
    return int(found)


def assignments(state: Any) -> dict[str, str]:
    """reference -> assignee user name."""
    with session_scope(state.handoffs.session_factory) as s:
        return {ref: who for ref, who in s.execute(
            select(Handoff.reference, HandoffAssignment.assignee)
            .join(HandoffAssignment, HandoffAssignment.handoff_id == Handoff.id))}


def assign(state: Any, reference: str, assignee: str, by: str) -> None:
    """Give a handoff to ``assignee`` (replacing any earlier assignment)."""
    with session_scope(state.handoffs.session_factory) as s:
        handoff_id = _handoff_id(s, reference)
        row = s.execute(select(HandoffAssignment).where(
            HandoffAssignment.handoff_id == handoff_id)).scalar_one_or_none()
        if row is None:
            row = HandoffAssignment(handoff_id=handoff_id)
            s.add(row)
        row.assignee, row.assigned_by, row.at = assignee, by, _now()


def notes(state: Any, reference: str) -> list[dict[str, Any]]:
    """Officers' notes on a handoff, decrypted, oldest first."""
    cipher = state.handoffs.cipher
    with session_scope(state.handoffs.session_factory) as s:
        handoff_id = _handoff_id(s, reference)
        return [{"author": n.author, "at": n.at if n.at.tzinfo else n.at.replace(
            tzinfo=timezone.utc), "note": cipher.decrypt(n.note)}
            for n in s.execute(select(HandoffNote).where(HandoffNote.handoff_id == handoff_id)
                               .order_by(HandoffNote.id)).scalars()]


def add_note(state: Any, reference: str, author: str, note: str) -> None:
    """Store an encrypted note."""
    with session_scope(state.handoffs.session_factory) as s:
        s.add(HandoffNote(handoff_id=_handoff_id(s, reference), author=author, at=_now(),
                          note=state.handoffs.cipher.encrypt(note)))


def team_members(state: Any, team_id: str) -> list[tuple[str, str]]:
    """(user name, display name) of who may be assigned a team's handoff."""
    with session_scope(state.handoffs.session_factory) as s:
        rows = s.execute(select(ConsoleUser).where(ConsoleUser.disabled.is_(False))
                         .order_by(ConsoleUser.display_name)).scalars()
        return [(u.username, u.display_name) for u in rows
                if u.role == "supervisor" or (u.role == "officer" and u.team_id == team_id)]


# --------------------------------------------------------------------------- views


def _context_lists(state: Any) -> dict[str, Any]:
    return {"teams": state.directory.teams, "statuses": STATUSES,
            "categories": sorted(state.directory.routes),
            "priorities": PRIORITIES, "status_labels": STATUS_LABELS,
            "status_tags": STATUS_TAGS, "priority_tags": PRIORITY_TAGS}


def _filters(request: web.Request, state: Any, user: User) -> Filters:
    return Filters.parse(request.query, set(state.directory.teams),
                         set(state.directory.routes), user)


@allow("supervisor", "officer")
async def queue(request: web.Request) -> web.Response:
    """The handoff queue."""
    from firstpoint.console.app import render, state_of

    state = state_of(request)
    user = current_user(request)
    assert user is not None
    filters = _filters(request, state, user)
    rows = await state.run(queue_rows, state, filters)
    assigned = await state.run(assignments, state)
    now = state.handoffs.clock()
    return render(request, "handoffs.html", {
        "title": "Handoffs", "rows": rows, "filters": filters, "assigned": assigned,
        "sla": {r.reference: sla_text(r, now) for r in rows}, "query": request.query_string,
        **_context_lists(state)})


PERSONAL_COLUMNS = ("caller_name", "contact_method", "contact_details", "contact_time",
                    "message")


def queue_csv(state: Any, rows: list[HandoffSummary], assigned: dict[str, str],
              personal: bool) -> str:
    """The queue as CSV; personal columns only when ``personal``."""
    out = io.StringIO()
    writer = csv.writer(out)
    header = ["reference", "team", "category", "priority", "status", "channel", "created_utc",
              "due_utc", "overdue", "assignee"]
    writer.writerow(header + (list(PERSONAL_COLUMNS) if personal else []))
    for r in rows:
        line = [r.reference, r.team_id, r.category, r.priority, r.status, r.channel,
                r.created_at.isoformat(), r.sla_due_at.isoformat(), "yes" if r.overdue else "no",
                assigned.get(r.reference, "")]
        if personal:
            view = state.handoffs.get(r.reference)
            line += [view.caller_name, view.contact_method, view.contact_details,
                     view.contact_time, view.message]
        writer.writerow([safe_cell(v) for v in line])
    return out.getvalue()


@allow("supervisor", "officer")
async def queue_export(request: web.Request) -> web.Response:
    """CSV of the filtered queue; ``personal=1`` adds what callers shared (supervisors)."""
    from firstpoint.console.app import state_of

    state = state_of(request)
    user = current_user(request)
    assert user is not None
    filters = _filters(request, state, user)
    personal = request.query.get("personal") == "1"
    if personal and not user.is_supervisor:
        raise web.HTTPForbidden(text="only supervisors may export personal fields")
    rows = await state.run(queue_rows, state, filters)
    assigned = await state.run(assignments, state)
    body = await state.run(queue_csv, state, rows, assigned, personal)
    await state.run(state.audit.record, user.username, "exported", role=user.role,
                    detail=f"handoff queue CSV, {len(rows)} rows"
                    + (", with personal fields" if personal else ""),
                    address=client_address(request))
    if personal:
        for r in rows:
            await state.run(state.audit.record, user.username, "decrypted", role=user.role,
                            reference=r.reference, detail="in a CSV export",
                            address=client_address(request))
    return web.Response(text=body, content_type="text/csv", charset="utf-8", headers={
        "Content-Disposition": 'attachment; filename="handoffs.csv"'})


async def _load(request: web.Request, state: Any, user: User) -> Any:
    reference = request.match_info["ref"]
    try:
        view = await state.run(state.handoffs.get, reference)
    except HandoffNotFound as exc:
        raise web.HTTPNotFound(text="no such handoff") from exc
    if not user.may_work_team(view.summary.team_id):
        raise web.HTTPForbidden(text="this handoff belongs to another team")
    return view


async def _detail_page(request: web.Request, errors: dict[str, str],
                       status: int = 200) -> web.Response:
    """The detail page (with form ``errors``): decrypts, so it is audited."""
    from firstpoint.console.app import render, state_of

    state = state_of(request)
    user = current_user(request)
    assert user is not None
    view = await _load(request, state, user)
    s = view.summary
    await state.run(state.audit.record, user.username, "decrypted", role=user.role,
                    reference=s.reference, address=client_address(request))
    team = state.directory.teams.get(s.team_id)
    takeovers = await state.run(state.takeovers.for_handoff, s.reference)
    takeover_lines = {t.id: await state.run(state.takeovers.lines, t.id) for t in takeovers}
    active = await state.run(state.takeovers.active_for, view.conversation_id)
    now = state.handoffs.clock()
    live_reason = None
    if s.channel not in ("web", "facebook", "teams"):
        live_reason = f"The caller used {s.channel}, which cannot take an officer's messages."
    elif not state.takeovers.team_open(s.team_id):
        live_reason = (f"{team.name if team else s.team_id} is closed now: live takeover is "
                       "offered only in the team's opening hours.")
    return render(request, "handoff.html", {
        "title": f"Handoff {s.reference}", "view": view, "s": s, "team": team,
        "sla": sla_text(s, now), "allowed": sorted(TRANSITIONS[s.status]),
        "notes": await state.run(notes, state, s.reference),
        "assignee": (await state.run(assignments, state)).get(s.reference),
        "members": await state.run(team_members, state, s.team_id),
        "audit": await state.run(state.audit.entries, reference=s.reference),
        "takeovers": takeovers, "takeover_lines": takeover_lines, "active_takeover": active,
        "live_reason": live_reason, "errors": errors,
        "message": request.query.get("done"), **_context_lists(state)}, status=status)


@allow("supervisor", "officer")
async def detail(request: web.Request) -> web.Response:
    """One handoff, decrypted (audited)."""
    return await _detail_page(request, {})


@allow("supervisor", "officer")
async def change_status(request: web.Request) -> web.Response:
    """Move a handoff on; closing needs a note."""
    from firstpoint.console.app import state_of

    state = state_of(request)
    user = current_user(request)
    assert user is not None
    view = await _load(request, state, user)
    form = await request.post()
    to_status = str(form.get("status") or "")
    note = str(form.get("note") or "").strip()[:MAX_NOTE] or None
    ref = view.summary.reference
    if to_status == "closed" and not note:
        return await _detail_error(request, {"note": "Enter a note saying how the handoff was "
                                                     "closed"})
    try:
        await state.run(state.handoffs.transition, ref, to_status, user.username, note)
    except TransitionError as exc:
        return await _detail_error(request, {"status": str(exc)})
    await state.run(state.audit.record, user.username, "status_changed", role=user.role,
                    reference=ref, detail=f"{view.summary.status} -> {to_status}"
                    + ("; with a note" if note else ""), address=client_address(request))
    raise web.HTTPSeeOther(f"/console/handoffs/{ref}?done=status")


async def _detail_error(request: web.Request, errors: dict[str, str]) -> web.Response:
    return await _detail_page(request, errors, status=400)


@allow("supervisor", "officer")
async def assign_view(request: web.Request) -> web.Response:
    """Assign a handoff to a member of its team (or a supervisor)."""
    from firstpoint.console.app import state_of

    state = state_of(request)
    user = current_user(request)
    assert user is not None
    view = await _load(request, state, user)
    form = await request.post()
    assignee = str(form.get("assignee") or "")
    members = dict(await state.run(team_members, state, view.summary.team_id))
    if assignee not in members:
        return await _detail_error(request, {"assignee": "Choose someone in the team"})
    await state.run(assign, state, view.summary.reference, assignee, user.username)
    await state.run(state.audit.record, user.username, "assigned", role=user.role,
                    reference=view.summary.reference, detail=f"to {assignee}",
                    address=client_address(request))
    raise web.HTTPSeeOther(f"/console/handoffs/{view.summary.reference}?done=assigned")


@allow("supervisor", "officer")
async def note_view(request: web.Request) -> web.Response:
    """Add a note (encrypted)."""
    from firstpoint.console.app import state_of

    state = state_of(request)
    user = current_user(request)
    assert user is not None
    view = await _load(request, state, user)
    form = await request.post()
    note = str(form.get("note") or "").strip()
    if not note:
        return await _detail_error(request, {"new-note": "Enter a note"})
    await state.run(add_note, state, view.summary.reference, user.username, note[:MAX_NOTE])
    await state.run(state.audit.record, user.username, "note_added", role=user.role,
                    reference=view.summary.reference, address=client_address(request))
    raise web.HTTPSeeOther(f"/console/handoffs/{view.summary.reference}?done=note")


@allow("supervisor", "officer")
async def handoff_audit_csv(request: web.Request) -> web.Response:
    """The audit trail of one handoff as CSV."""
    from firstpoint.console.app import state_of

    state = state_of(request)
    user = current_user(request)
    assert user is not None
    view = await _load(request, state, user)
    records = await state.run(state.audit.entries, reference=view.summary.reference,
                              limit=10_000)
    return web.Response(text=audit_csv(records), content_type="text/csv", charset="utf-8",
                        headers={"Content-Disposition":
                                 f'attachment; filename="audit-{view.summary.reference}.csv"'})


@allow("supervisor")
async def audit_page(request: web.Request) -> web.Response:
    """The whole audit trail (newest first), filterable by person and action."""
    from firstpoint.console.app import render, state_of
    from firstpoint.console.audit import ACTIONS

    state = state_of(request)
    actor = request.query.get("actor") or None
    action = request.query.get("action") or None
    if action not in ACTIONS:
        action = None
    records = await state.run(state.audit.entries, actor=actor, action=action)
    return render(request, "audit.html", {"title": "Audit trail", "records": records,
                                          "actions": ACTIONS, "actor": actor or "",
                                          "action": action or ""})


@allow("supervisor")
async def audit_export(request: web.Request) -> web.Response:
    """The whole audit trail as CSV."""
    from firstpoint.console.app import state_of

    state = state_of(request)
    user = current_user(request)
    assert user is not None
    records = await state.run(state.audit.entries, limit=1_000_000)
    await state.run(state.audit.record, user.username, "exported", role=user.role,
                    detail=f"audit trail CSV, {len(records)} rows",
                    address=client_address(request))
    return web.Response(text=audit_csv(records), content_type="text/csv", charset="utf-8",
                        headers={"Content-Disposition": 'attachment; filename="audit.csv"'})


def add_routes(app: web.Application) -> None:
    """Register the handoff and audit pages."""
    app.router.add_get("/handoffs", queue)
    app.router.add_get("/handoffs.csv", queue_export)
    app.router.add_get("/handoffs/{ref}", detail)
    app.router.add_post("/handoffs/{ref}/status", change_status)
    app.router.add_post("/handoffs/{ref}/assign", assign_view)
    app.router.add_post("/handoffs/{ref}/notes", note_view)
    app.router.add_get("/handoffs/{ref}/audit.csv", handoff_audit_csv)
    app.router.add_get("/audit", audit_page)
    app.router.add_get("/audit.csv", audit_export)

"""Live conversations and takeover pages.

``/console/live`` lists the conversations with activity in the last
``LIVE_MINUTES`` (read from Rasa's SQL tracker store: sender id and time only;
the channel and pause state come from Rasa's HTTP API). Officers see those
without a handoff and those handed to their own team; supervisors all. Joining
(``POST /console/live/join``) is offered only for teams open now.

``/console/takeovers/{id}`` is the conversation itself: the session so far, then
the takeover's transcript, which ``console.js`` keeps current from the
``/stream`` server-sent events (new lines also go to a polite live region).
Without JavaScript the page still works: sending reloads it.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from aiohttp import web
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from firstpoint.console.accounts import User
from firstpoint.console.rasa import LIVE_CHANNELS, RasaError
from firstpoint.console.security import allow, client_address, current_user
from firstpoint.console.takeover import TakeoverError, history_lines
from firstpoint.records.handoffs import Handoff

LIVE_MINUTES = 30
LIVE_LIMIT = 25
_TRACKER_ENGINES: dict[str, Any] = {}


def recent_senders(tracker_url: str, minutes: int = LIVE_MINUTES,
                   limit: int = LIVE_LIMIT) -> list[tuple[str, float]]:
    """(sender id, last event time) of conversations active in the last ``minutes``."""
    from firstpoint.records.db import make_engine

    engine = _TRACKER_ENGINES.get(tracker_url)
    if engine is None:
        engine = _TRACKER_ENGINES[tracker_url] = make_engine(tracker_url)
    since = time.time() - minutes * 60
    try:
        with engine.connect() as conn:
            rows = conn.execute(text(
                "SELECT sender_id, MAX(timestamp) AS last FROM events "
                "WHERE timestamp >= :since GROUP BY sender_id ORDER BY last DESC LIMIT :n"),
                {"since": since, "n": limit}).all()
    except SQLAlchemyError:  # no tracker store yet (nobody has talked to the bot)
        return []
    return [(str(r[0]), float(r[1])) for r in rows]


def handoffs_by_conversation(state: Any, senders: list[str]) -> dict[str, list[tuple[str, str]]]:
    """sender id -> [(reference, team id)] of its handoffs."""
    from sqlalchemy import select

    from firstpoint.records.db import session_scope

    if not senders:
        return {}
    found: dict[str, list[tuple[str, str]]] = {}
    with session_scope(state.handoffs.session_factory) as s:
        for conv, ref, team in s.execute(select(
                Handoff.conversation_id, Handoff.reference, Handoff.team_id)
                .where(Handoff.conversation_id.in_(senders))):
            found.setdefault(conv, []).append((ref, team))
    return found


def may_see(user: User, handoffs: list[tuple[str, str]]) -> bool:
    """Officers: conversations with no handoff or one for their team. Supervisors: all."""
    return user.is_supervisor or not handoffs or any(
        user.may_work_team(team) for _, team in handoffs)


async def live_conversations(state: Any, user: User) -> list[dict[str, Any]]:
    """The live list for ``user``."""
    senders = await state.run(recent_senders, state.settings.tracker_database_url)
    handoffs = await state.run(handoffs_by_conversation, state, [s for s, _ in senders])
    visible = [(s, last) for s, last in senders if may_see(user, handoffs.get(s, []))]

    async def describe(sender: str, last: float) -> dict[str, Any]:
        try:
            tracker = await state.rasa.tracker(sender)
        except RasaError:
            tracker = {}
        events = tracker.get("events") or []
        turns = sum(1 for e in history_lines(events, limit=10_000) if e["speaker"] == "caller")
        channel = str(tracker.get("latest_input_channel") or "")
        takeover = await state.run(state.takeovers.active_for, sender)
        return {"conversation_id": sender, "short": sender[-6:], "last": last,
                "minutes_ago": int((time.time() - last) // 60), "channel": channel,
                "channel_name": LIVE_CHANNELS.get(channel, channel or "unknown"),
                "live_capable": channel in LIVE_CHANNELS, "paused": tracker.get("paused"),
                "turns": turns, "handoffs": handoffs.get(sender, []), "takeover": takeover}

    return list(await asyncio.gather(*(describe(s, last) for s, last in visible)))


@allow("supervisor", "officer")
async def live_page(request: web.Request) -> web.Response:
    """Conversations happening now."""
    from firstpoint.console.app import render, state_of

    state = state_of(request)
    user = current_user(request)
    assert user is not None
    rows = await live_conversations(state, user)
    teams = state.takeovers.joinable_teams(user)
    mine = [t for t in state.directory.teams.values() if user.may_work_team(t.id)]
    return render(request, "live.html", {"title": "Conversations now", "rows": rows,
                                         "teams": teams, "closed_teams": [
                                             t for t in mine if t not in teams],
                                         "minutes": LIVE_MINUTES,
                                         "error": request.query.get("error")})


@allow("supervisor", "officer")
async def join(request: web.Request) -> web.Response:
    """Join a conversation (from the live list or a handoff)."""
    from firstpoint.console.app import render, state_of

    state = state_of(request)
    user = current_user(request)
    assert user is not None
    form = await request.post()
    conversation = str(form.get("conversation_id") or "")
    reference = str(form.get("handoff") or "") or None
    team_id = str(form.get("team") or "")
    handoffs = (await state.run(handoffs_by_conversation, state, [conversation])).get(
        conversation, [])
    if reference is not None:
        match = [h for h in handoffs if h[0] == reference]
        if not match:
            raise web.HTTPBadRequest(text="that handoff is not from this conversation")
        team_id = match[0][1]
    if not conversation or not may_see(user, handoffs):
        raise web.HTTPForbidden(text="you cannot join this conversation")
    try:
        view = await state.takeovers.join(conversation, user, team_id,
                                          handoff_reference=reference,
                                          address=client_address(request))
    except TakeoverError as exc:
        if exc.status == 403:
            raise web.HTTPForbidden(text=str(exc)) from exc
        return render(request, "error.html", {"title": "You cannot join this conversation",
                                              "errors": {"join": str(exc)},
                                              "back": "/console/live"}, status=exc.status)
    raise web.HTTPSeeOther(f"/console/takeovers/{view.id}")


async def _takeover(request: web.Request, state: Any, user: User) -> Any:
    try:
        takeover_id = int(request.match_info["id"])
    except ValueError as exc:
        raise web.HTTPNotFound() from exc
    view = await state.run(state.takeovers.get, takeover_id)
    if view is None:
        raise web.HTTPNotFound(text="no such takeover")
    if not user.may_work_team(view.team_id):
        raise web.HTTPForbidden(text="this takeover belongs to another team")
    return view


@allow("supervisor", "officer")
async def takeover_page(request: web.Request) -> web.Response:
    """The live conversation (decrypts: audited)."""
    from firstpoint.console.app import render, state_of

    state = state_of(request)
    user = current_user(request)
    assert user is not None
    view = await _takeover(request, state, user)
    history: list[dict[str, str]] = []
    if view.active:
        await state.run(state.takeovers.watched, view.id)
    try:
        tracker = await state.rasa.tracker(view.conversation_id)
        events = list(tracker.get("events") or [])
        pauses = [i for i, e in enumerate(events) if e.get("event") == "pause"]
        # the turns before this takeover paused the bot (Rasa's own timeline)
        history = history_lines(events[:pauses[-1]] if pauses else events)
    except RasaError:
        history = []
    lines = await state.run(state.takeovers.lines, view.id)
    await state.run(state.audit.record, user.username, "decrypted", role=user.role,
                    reference=view.handoff_reference, conversation=view.conversation_id,
                    detail="live conversation", address=client_address(request))
    team = state.directory.teams.get(view.team_id)
    return render(request, "takeover.html", {
        "title": "Live conversation", "t": view, "team": team, "history": history,
        "lines": lines, "last_id": lines[-1].id if lines else 0,
        "channel_name": LIVE_CHANNELS.get(view.channel, view.channel),
        "error": request.query.get("error")})


async def _act(request: web.Request, action: str) -> web.Response:
    from firstpoint.console.app import state_of

    state = state_of(request)
    user = current_user(request)
    assert user is not None
    view = await _takeover(request, state, user)
    address = client_address(request)
    try:
        if action == "say":
            form = await request.post()
            await state.takeovers.say(view.id, user, str(form.get("message") or ""), address)
        elif action == "hand_back":
            await state.takeovers.hand_back(view.id, user, address)
        else:
            await state.takeovers.close(view.id, user, address)
    except TakeoverError as exc:
        if request.headers.get("Accept") == "application/json":
            return web.json_response({"error": str(exc)}, status=exc.status)
        from urllib.parse import quote

        raise web.HTTPSeeOther(f"/console/takeovers/{view.id}?error={quote(str(exc))}"
                               ) from exc
    if request.headers.get("Accept") == "application/json":
        return web.json_response({"ok": True})
    raise web.HTTPSeeOther(f"/console/takeovers/{view.id}" + (
        "#message" if action == "say" else ""))


@allow("supervisor", "officer")
async def say(request: web.Request) -> web.Response:
    """Send the officer's message to the caller."""
    return await _act(request, "say")


@allow("supervisor", "officer")
async def hand_back(request: web.Request) -> web.Response:
    """Give the conversation back to the bot."""
    return await _act(request, "hand_back")


@allow("supervisor", "officer")
async def close(request: web.Request) -> web.Response:
    """End the conversation."""
    return await _act(request, "close")


@allow("supervisor", "officer")
async def stream(request: web.Request) -> web.StreamResponse:
    """Server-sent events: new transcript lines, then ``ended`` when the takeover ends."""
    from firstpoint.console.app import state_of

    state = state_of(request)
    user = current_user(request)
    assert user is not None
    view = await _takeover(request, state, user)
    try:
        after = int(request.headers.get("Last-Event-ID") or request.query.get("after") or 0)
    except ValueError:
        after = 0
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream",
                                           "Cache-Control": "no-store",
                                           "X-Accel-Buffering": "no"})
    await response.prepare(request)
    beat = time.monotonic()
    try:
        while True:
            for line in await state.run(state.takeovers.lines, view.id, after):
                data = json.dumps(line.to_dict(), ensure_ascii=False)
                await response.write(f"id: {line.id}\nevent: line\ndata: {data}\n\n".encode())
                after = line.id
            current = await state.run(state.takeovers.get, view.id)
            if current is None or not current.active:
                reason = current.end_reason if current else "gone"
                await response.write(f"event: ended\ndata: {json.dumps(reason)}\n\n".encode())
                break
            await state.run(state.takeovers.watched, view.id)
            if time.monotonic() - beat > 15:
                await response.write(b": keep-alive\n\n")
                beat = time.monotonic()
            await asyncio.sleep(0.5)
    except ConnectionResetError:  # the console tab went away
        pass
    return response


def add_routes(app: web.Application) -> None:
    """Register the live pages."""
    app.router.add_get("/live", live_page)
    app.router.add_post("/live/join", join)
    app.router.add_get("/takeovers/{id}", takeover_page)
    app.router.add_post("/takeovers/{id}/messages", say)
    app.router.add_post("/takeovers/{id}/hand-back", hand_back)
    app.router.add_post("/takeovers/{id}/close", close)
    app.router.add_get("/takeovers/{id}/stream", stream)

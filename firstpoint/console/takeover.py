"""Live takeover: an officer talks to a caller in place of the bot.

Joining pauses the bot through Rasa's HTTP API (:mod:`firstpoint.console.rasa`)
and tells the caller who has joined ("You are now talking to a member of the …
team"); the officer's messages are BotUttered events sent through the caller's
own channel; the caller's replies (still stored by Rasa while paused) are copied
into the takeover's transcript by :meth:`TakeoverService.poll`, which the console
runs every second for every open takeover. Handing back resumes the bot; closing
says goodbye and restarts the conversation (the next message starts a new session
with the bot). A takeover nobody watches in the console for ``idle_seconds`` is
handed back, so a caller is never left talking to nobody.

Joining is refused outside the team's opening hours (``directory.yml``), for
channels that cannot carry a message nobody asked for (REST), and when someone
else already has the conversation. Transcript lines are encrypted at rest.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from firstpoint.console.accounts import User
from firstpoint.console.audit import AuditLog
from firstpoint.console.models import Takeover, TakeoverMessage
from firstpoint.console.rasa import LIVE_CHANNELS, RasaClient, RasaError
from firstpoint.records.crypto import FieldCipher
from firstpoint.records.db import session_scope
from knowledge.directory import Directory, Team

log = logging.getLogger(__name__)

MAX_MESSAGE = 2000
OFFICER_KEY = "firstpoint_officer"


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(timezone.utc)


def _aware(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


class TakeoverError(ValueError):
    """A takeover step that is not allowed now (``status``: the HTTP status to answer)."""

    def __init__(self, message: str, status: int = 409) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Line:
    """One transcript line of a takeover."""

    id: int
    at: datetime
    speaker: str  # caller | officer | system
    author: str | None
    text: str
    risk_level: str | None

    def to_dict(self) -> dict[str, Any]:
        """JSON for the console's live stream."""
        return {"id": self.id, "at": self.at.isoformat(), "speaker": self.speaker,
                "author": self.author, "text": self.text, "risk_level": self.risk_level}


@dataclass(frozen=True)
class TakeoverView:
    """A takeover and its state (no transcript)."""

    id: int
    conversation_id: str
    handoff_reference: str | None
    team_id: str
    officer: str
    channel: str
    started_at: datetime
    ended_at: datetime | None
    end_reason: str | None

    @property
    def active(self) -> bool:
        """Still open (the bot is paused for it)."""
        return self.ended_at is None


def _view(row: Takeover) -> TakeoverView:
    return TakeoverView(row.id, row.conversation_id, row.handoff_reference, row.team_id,
                        row.officer, row.channel, _aware(row.started_at),  # type: ignore[arg-type]
                        _aware(row.ended_at), row.end_reason)


def history_lines(events: list[dict[str, Any]], limit: int = 40) -> list[dict[str, str]]:
    """The current session's user and bot turns from a Rasa tracker, oldest first."""
    turns: list[dict[str, str]] = []
    for event in events:
        kind = event.get("event")
        if kind == "session_started":
            turns = []
        elif kind in ("user", "bot") and str(event.get("text") or "").strip():
            who = "caller" if kind == "user" else (
                "officer" if (event.get("metadata") or {}).get(OFFICER_KEY) else "bot")
            turns.append({"speaker": who, "text": str(event["text"])})
    return turns[-limit:]


class TakeoverService:
    """Join, speak, poll, hand back and close live takeovers."""

    def __init__(self, session_factory: sessionmaker, cipher: FieldCipher, directory: Directory,
                 rasa: RasaClient, audit: AuditLog, *, idle_seconds: int = 300,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.session_factory = session_factory
        self.cipher = cipher
        self.directory = directory
        self.rasa = rasa
        self.audit = audit
        self.idle = timedelta(seconds=idle_seconds)
        self.clock = clock
        self.changed = asyncio.Event()
        self._locks: dict[str, asyncio.Lock] = {}

    def _lock(self, conversation_id: str) -> asyncio.Lock:
        return self._locks.setdefault(conversation_id, asyncio.Lock())

    # ------------------------------------------------------------------ reading
    def team_open(self, team_id: str) -> bool:
        """Whether ``team_id`` is open now (takeover is offered only then)."""
        team = self.directory.teams.get(team_id)
        return bool(team) and self.directory.is_open(team_id, self.clock())

    def get(self, takeover_id: int) -> TakeoverView | None:
        """One takeover."""
        with session_scope(self.session_factory) as s:
            row = s.get(Takeover, takeover_id)
            return _view(row) if row is not None else None

    def active_for(self, conversation_id: str) -> TakeoverView | None:
        """The open takeover of a conversation, if any."""
        with session_scope(self.session_factory) as s:
            row = s.execute(select(Takeover).where(
                Takeover.conversation_id == conversation_id,
                Takeover.ended_at.is_(None))).scalars().first()
            return _view(row) if row is not None else None

    def active(self) -> list[TakeoverView]:
        """Every open takeover."""
        with session_scope(self.session_factory) as s:
            return [_view(r) for r in s.execute(select(Takeover).where(
                Takeover.ended_at.is_(None)).order_by(Takeover.id)).scalars()]

    def for_handoff(self, reference: str) -> list[TakeoverView]:
        """Takeovers started from one handoff, oldest first."""
        with session_scope(self.session_factory) as s:
            return [_view(r) for r in s.execute(select(Takeover).where(
                Takeover.handoff_reference == reference).order_by(Takeover.id)).scalars()]

    def lines(self, takeover_id: int, after: int = 0) -> list[Line]:
        """Transcript lines with id above ``after``, decrypted."""
        with session_scope(self.session_factory) as s:
            rows = s.execute(select(TakeoverMessage).where(
                TakeoverMessage.takeover_id == takeover_id, TakeoverMessage.id > after)
                .order_by(TakeoverMessage.id)).scalars().all()
            return [Line(r.id, _aware(r.at), r.speaker, r.author,  # type: ignore[arg-type]
                         self.cipher.decrypt(r.text) or "", r.risk_level) for r in rows]

    def watched(self, takeover_id: int) -> None:
        """The console is showing this takeover now (keeps it from the idle hand-back)."""
        with session_scope(self.session_factory) as s:
            row = s.get(Takeover, takeover_id)
            if row is not None and row.ended_at is None:
                row.last_watched_at = self.clock()

    def _add_line(self, s: Any, takeover_id: int, speaker: str, text: str,
                  author: str | None = None, risk: str | None = None) -> None:
        s.add(TakeoverMessage(takeover_id=takeover_id, at=self.clock(), speaker=speaker,
                              author=author, text=self.cipher.encrypt(text), risk_level=risk))

    # ------------------------------------------------------------------ joining
    def joinable_teams(self, user: User) -> list[Team]:
        """Teams ``user`` may join a conversation for that are open now."""
        teams = [t for t in self.directory.teams.values() if user.may_work_team(t.id)]
        return [t for t in teams if self.team_open(t.id)]

    async def join(self, conversation_id: str, user: User, team_id: str, *,
                   handoff_reference: str | None = None,
                   address: str | None = None) -> TakeoverView:
        """Pause the bot, tell the caller who joined, open the takeover."""
        if not user.may_work_team(team_id):
            raise TakeoverError("you cannot join conversations for that team", 403)
        team = self.directory.teams.get(team_id)
        if team is None:
            raise TakeoverError("unknown team", 400)
        if not self.team_open(team_id):
            raise TakeoverError(f"{team.name} is closed now: live takeover is offered only in "
                                "the team's opening hours")
        async with self._lock(conversation_id):
            if self.active_for(conversation_id) is not None:
                raise TakeoverError("someone has already joined this conversation")
            try:
                tracker = await self.rasa.tracker(conversation_id)
            except RasaError as exc:
                raise TakeoverError(f"the assistant cannot be reached ({exc})", 502) from exc
            channel = str(tracker.get("latest_input_channel") or "")
            if channel not in LIVE_CHANNELS:
                raise TakeoverError("this conversation's channel cannot take messages from an "
                                    "officer (only the web widget, Facebook and Teams can)")
            events = tracker.get("events") or []
            last_ts = max((float(e.get("timestamp") or 0) for e in events), default=0.0)
            greeting = f"You are now talking to a member of the {team.name} team."
            try:
                await self.rasa.append(conversation_id, [
                    {"event": "pause"},
                    {"event": "bot", "text": greeting,
                     "metadata": {OFFICER_KEY: user.username, "team": team.id}},
                ])
            except RasaError as exc:
                raise TakeoverError(f"the assistant refused the takeover ({exc})", 502) from exc
            now = self.clock()
            with session_scope(self.session_factory) as s:
                row = Takeover(conversation_id=conversation_id,
                               handoff_reference=handoff_reference, team_id=team.id,
                               officer=user.username, channel=channel, started_at=now,
                               last_watched_at=now, last_event_ts=last_ts)
                s.add(row)
                s.flush()
                self._add_line(s, row.id, "system",
                               f"{user.display_name} joined for {team.name}; the bot is paused.")
                self._add_line(s, row.id, "officer", greeting, user.username)
                view = _view(row)
        self.audit.record(user.username, "joined", role=user.role, reference=handoff_reference,
                          conversation=conversation_id,
                          detail=f"team {team.id}; channel {channel}", address=address)
        self.changed.set()
        return view

    def _require_owner(self, takeover_id: int, user: User) -> TakeoverView:
        view = self.get(takeover_id)
        if view is None:
            raise TakeoverError("no such takeover", 404)
        if not user.may_work_team(view.team_id):
            raise TakeoverError("this takeover belongs to another team", 403)
        if not view.active:
            raise TakeoverError("this takeover has ended")
        return view

    async def say(self, takeover_id: int, user: User, text: str,
                  address: str | None = None) -> None:
        """Send an officer's message to the caller through their channel."""
        text = (text or "").strip()
        if not text:
            raise TakeoverError("write a message first", 400)
        if len(text) > MAX_MESSAGE:
            raise TakeoverError(f"a message can be at most {MAX_MESSAGE} characters", 400)
        view = self._require_owner(takeover_id, user)
        try:
            await self.rasa.append(view.conversation_id, [
                {"event": "bot", "text": text,
                 "metadata": {OFFICER_KEY: user.username, "team": view.team_id}}])
        except RasaError as exc:
            raise TakeoverError(f"the message was not sent ({exc})", 502) from exc
        with session_scope(self.session_factory) as s:
            self._add_line(s, takeover_id, "officer", text, user.username)
            row = s.get(Takeover, takeover_id)
            if row is not None:
                row.last_watched_at = self.clock()
        self.audit.record(user.username, "sent_message", role=user.role,
                          reference=view.handoff_reference, conversation=view.conversation_id,
                          address=address)
        self.changed.set()

    async def _end(self, view: TakeoverView, events: list[dict[str, Any]], reason: str,
                   actor: str, note: str) -> None:
        try:
            await self.rasa.append(view.conversation_id, events)
        except RasaError:
            log.exception("could not give conversation back to the bot")
            raise
        with session_scope(self.session_factory) as s:
            row = s.get(Takeover, view.id)
            if row is not None and row.ended_at is None:
                row.ended_at = self.clock()
                row.end_reason = reason
                self._add_line(s, view.id, "system", note, actor)
        self.changed.set()

    async def hand_back(self, takeover_id: int, user: User, address: str | None = None) -> None:
        """Resume the bot and tell the caller."""
        view = self._require_owner(takeover_id, user)
        text = ("You are back with FirstPoint, the council's automated assistant. "
                "Thank you for talking to us.")
        try:
            await self._end(view, [
                {"event": "bot", "text": text, "metadata": {OFFICER_KEY: user.username}},
                {"event": "resume"}], "handed_back", user.username,
                f"{user.display_name} handed the conversation back to the bot.")
        except RasaError as exc:
            raise TakeoverError(f"the assistant cannot be reached ({exc})", 502) from exc
        self.audit.record(user.username, "handed_back", role=user.role,
                          reference=view.handoff_reference, conversation=view.conversation_id,
                          address=address)

    async def close(self, takeover_id: int, user: User, address: str | None = None) -> None:
        """Say goodbye and end the conversation (the next message starts afresh)."""
        view = self._require_owner(takeover_id, user)
        team = self.directory.teams.get(view.team_id)
        text = (f"The {team.name if team else 'council'} officer has closed this conversation. "
                "If you write again, the automated assistant will answer.")
        try:
            await self._end(view, [
                {"event": "bot", "text": text, "metadata": {OFFICER_KEY: user.username}},
                {"event": "restart"}], "closed", user.username,
                f"{user.display_name} closed the conversation.")
        except RasaError as exc:
            raise TakeoverError(f"the assistant cannot be reached ({exc})", 502) from exc
        self.audit.record(user.username, "closed_conversation", role=user.role,
                          reference=view.handoff_reference, conversation=view.conversation_id,
                          address=address)

    # ------------------------------------------------------------------ polling
    async def poll(self, takeover_id: int) -> int:
        """Copy the caller's new messages into the transcript; returns how many."""
        with session_scope(self.session_factory) as s:
            row = s.get(Takeover, takeover_id)
            if row is None or row.ended_at is not None:
                return 0
            conversation_id, since = row.conversation_id, float(row.last_event_ts or 0)
        tracker = await self.rasa.tracker(conversation_id)
        events = tracker.get("events") or []
        fresh = [e for e in events if float(e.get("timestamp") or 0) > since]
        added = 0
        with session_scope(self.session_factory) as s:
            row = s.get(Takeover, takeover_id)
            if row is None or row.ended_at is not None:
                return 0
            for event in fresh:
                if event.get("event") == "user" and str(event.get("text") or "").strip():
                    risk = ((event.get("parse_data") or {}).get("risk") or {}).get("level")
                    self._add_line(s, takeover_id, "caller", str(event["text"]),
                                   risk=str(risk) if risk else None)
                    added += 1
            if fresh:
                row.last_event_ts = max(float(e.get("timestamp") or 0) for e in fresh)
            if not tracker.get("paused", False):
                # A new session (expiry) or a restart elsewhere gave the bot back already.
                row.ended_at = self.clock()
                row.end_reason = "bot_resumed"
                self._add_line(s, takeover_id, "system",
                               "The conversation went back to the bot (its session ended).")
                added += 1
        if added:
            self.changed.set()
        return added

    async def sweep(self) -> None:
        """Poll every open takeover; hand back those nobody has watched for a while."""
        now = self.clock()
        for view in self.active():
            try:
                await self.poll(view.id)
                with session_scope(self.session_factory) as s:
                    row = s.get(Takeover, view.id)
                    watched = _aware(row.last_watched_at) if row is not None else None
                if row is not None and row.ended_at is None and watched is not None \
                        and now - watched > self.idle:
                    await self._end(view, [
                        {"event": "bot", "text": "You are back with FirstPoint, the council's "
                         "automated assistant.", "metadata": {OFFICER_KEY: "firstpoint"}},
                        {"event": "resume"}], "idle", "firstpoint",
                        "Nobody was watching in the console: handed back to the bot.")
                    self.audit.record("firstpoint", "takeover_ended",
                                      reference=view.handoff_reference,
                                      conversation=view.conversation_id,
                                      detail="no officer watching; handed back")
            except RasaError as exc:
                log.warning("takeover %s: %s", view.id, exc)

    async def hand_back_all(self, reason: str = "console stopped") -> None:
        """At shutdown: give every open conversation back to the bot."""
        for view in self.active():
            try:
                await self._end(view, [
                    {"event": "bot", "text": "You are back with FirstPoint, the council's "
                     "automated assistant.", "metadata": {OFFICER_KEY: "firstpoint"}},
                    {"event": "resume"}], "console_stopped", "firstpoint",
                    f"Handed back to the bot ({reason}).")
            except RasaError as exc:
                log.warning("takeover %s could not be handed back: %s", view.id, exc)

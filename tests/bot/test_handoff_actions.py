"""Handoff actions with injected fakes: a database outage still gives the caller a way on."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from bot.actions.handoff import ActionSubmitHandoff
from knowledge.directory import load_directory

CONTENT = Path(__file__).resolve().parents[2] / "knowledge" / "content"


def _tracker(slots: dict[str, Any]) -> Tracker:
    return Tracker(
        sender_id="s-1",
        slots=slots,
        latest_message={"text": "yes", "intent": {"name": "affirm"},
                        "metadata": {"channel": "web", "audience": "resident"}},
        events=[{"event": "user", "text": "my neighbour's child is left alone all night",
                 "timestamp": 1.0}],
        paused=False,
        followup_action=None,
        active_loop={},
        latest_action_name="handoff_form",
    )


class _DownService:
    def create(self, *args: Any, **kwargs: Any) -> Any:
        raise ConnectionError("database is down")


class _RecordingService:
    def __init__(self) -> None:
        self.calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = []

    def create(self, *args: Any, **kwargs: Any) -> Any:
        from types import SimpleNamespace

        self.calls.append((args, kwargs))
        return SimpleNamespace(reference="FP-TEST22", team_id="childrens-front-door",
                               team_name="Children's Services Front Door", is_open_now=True,
                               sla_due_text="12:30 today", out_of_hours="")


SLOTS = {"handoff_category": "child_safeguarding", "caller_name": "declined",
         "contact_method": "none", "handoff_message": "declined", "consent_to_share": "yes"}


async def test_database_outage_tells_the_caller_who_to_phone() -> None:
    dispatcher = CollectingDispatcher()
    action = ActionSubmitHandoff(service=_DownService(), directory=load_directory(CONTENT))
    events = await action.run(dispatcher, _tracker(SLOTS), {})
    text = dispatcher.messages[0]["text"]
    assert "couldn't record your message" in text
    assert "01632 960100" in text and "999" in text
    assert not any(e.get("name") == "handoff_reference" and e.get("value") for e in events)


async def test_declined_fields_become_an_anonymous_handoff() -> None:
    service = _RecordingService()
    dispatcher = CollectingDispatcher()
    events = await ActionSubmitHandoff(service=service).run(dispatcher, _tracker(SLOTS), {})
    args, kwargs = service.calls[0]
    assert args == ("child_safeguarding", "web", "resident", "s-1")
    assert kwargs["anonymous"] is True and kwargs["caller_name"] is None
    assert kwargs["message"] is None and kwargs["consent_to_share"] is True
    assert kwargs["transcript"][0]["text"].startswith("my neighbour's child")
    assert "FP-TEST22" in dispatcher.messages[0]["text"]
    assert {"event": "slot", "timestamp": None, "name": "handoff_reference",
            "value": "FP-TEST22"} in events


async def test_out_of_hours_disclosure_is_explained_with_the_duty_team() -> None:
    from datetime import datetime, timezone

    from bot.actions.handoff import ActionExplainHandoff

    saturday_night = datetime(2026, 11, 28, 23, 30, tzinfo=timezone.utc)
    action = ActionExplainHandoff(directory=load_directory(CONTENT), clock=lambda: saturday_night)
    tracker = _tracker({"safety_category": "child_safeguarding"})
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, tracker, {})
    text = dispatcher.messages[0]["text"]
    assert text.startswith("If anyone is in immediate danger, call 999")
    assert "Emergency Duty Team" in text and "open now" in text
    assert {"event": "slot", "timestamp": None, "name": "handoff_team",
            "value": "emergency-duty-team"} in events


async def test_out_of_hours_casework_says_the_team_is_closed() -> None:
    from datetime import datetime, timezone

    from bot.actions.handoff import ActionExplainHandoff

    sunday = datetime(2026, 11, 29, 12, 0, tzinfo=timezone.utc)
    action = ActionExplainHandoff(directory=load_directory(CONTENT), clock=lambda: sunday)
    dispatcher = CollectingDispatcher()
    await action.run(dispatcher, _tracker({"safety_category": "casework"}), {})
    text = dispatcher.messages[0]["text"]
    assert "closed at the moment" in text and "Emergency Duty Team on 01632 960999" in text

"""action_answer_service with an injected index: answers, More detail, safety check, case admin."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from bot.actions.common import message_before_check, offered_payloads, payload_entities
from bot.actions.knowledge import ActionAnswerService
from knowledge.loader import load_council_settings, load_knowledge_base, load_wording
from knowledge.search import KnowledgeIndex, load_synonyms

CONTENT = Path(__file__).resolve().parents[2] / "knowledge" / "content"
TRAVEL = "can business support book my train tickets for a conference?"


@pytest.fixture(scope="module")
def action() -> ActionAnswerService:
    # BM25 alone: these tests are about the action, not about ranking quality.
    index = KnowledgeIndex(
        load_knowledge_base(CONTENT), synonyms=load_synonyms(CONTENT), dense=False
    )
    return ActionAnswerService(index, load_council_settings(CONTENT), load_wording(CONTENT))


def _user(text: str, intent: str, **parse: Any) -> dict[str, Any]:
    return {
        "event": "user",
        "text": text,
        "parse_data": {"text": text, "intent": {"name": intent}, "entities": [], **parse},
        "metadata": {"audience": "staff"},
    }


def _tracker(
    text: str,
    intent: str,
    *,
    audience: str = "staff",
    entities: list[dict[str, Any]] | None = None,
    slots: dict[str, Any] | None = None,
    before: list[dict[str, Any]] | None = None,
    risk: dict[str, Any] | None = None,
) -> Tracker:
    latest: dict[str, Any] = {
        "text": text,
        "intent": {"name": intent},
        "entities": entities or [],
        "metadata": {"channel": "web", "audience": audience},
    }
    if risk is not None:
        latest["risk"] = risk
    return Tracker(
        sender_id="s-1",
        slots=slots or {},
        latest_message=latest,
        events=[*(before or []), _user(text, intent)],
        paused=False,
        followup_action=None,
        active_loop={},
        latest_action_name="action_listen",
    )


async def _run(action: ActionAnswerService, tracker: Tracker) -> tuple[list[dict], list[dict]]:
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, tracker, {})
    return dispatcher.messages, events


def _slots(events: list[dict]) -> dict[str, Any]:
    return {e["name"]: e["value"] for e in events if e.get("event") == "slot"}


def _more_payload(messages: list[dict]) -> str:
    (payload,) = [
        b["payload"] for m in messages for b in m.get("buttons") or []
        if b["payload"].startswith("/ask_more")
    ]
    return str(payload)


async def test_answer_comes_first_with_a_more_detail_button(action: ActionAnswerService) -> None:
    messages, events = await _run(action, _tracker(TRAVEL, "ask_service"))
    first = messages[0]
    assert first["text"].startswith("No. Business Support will not arrange travel")
    assert "reviewed" not in first["text"]  # the citation waits behind More detail
    assert [b["title"] for b in first["buttons"]] == ["More detail"]
    entities = payload_entities(_more_payload(messages), "ask_more")
    assert entities == {"kb_topic": "menu.support-managers#w4"}
    assert messages[-1]["text"] == "Did this answer your question?"
    assert _slots(events)["kb_topic"] == "menu.support-managers"
    assert _slots(events)["kb_outcome"] == "declined"


async def test_more_detail_shows_reason_tasks_and_citation(action: ActionAnswerService) -> None:
    messages, _ = await _run(action, _tracker(TRAVEL, "ask_service"))
    payload = _more_payload(messages)
    ref = payload_entities(payload, "ask_more")["kb_topic"]  # type: ignore[index]
    shown = {
        "event": "bot", "text": messages[0]["text"], "data": {"buttons": messages[0]["buttons"]}
    }
    click = _tracker(payload, "ask_more", entities=[{"entity": "kb_topic", "value": ref}],
                     before=[_user(TRAVEL, "ask_service"), shown])
    detail, events = await _run(action, click)
    text = detail[0]["text"]
    assert text.startswith("Why: ")
    assert "Business Support Service Menu: Support for Group, Service and Team Managers" in text
    assert "reviewed" in text
    assert _slots(events)["kb_topic"] == "menu.support-managers"
    # Typed "more detail" uses the button the bot offered last.
    typed = _tracker("tell me more", "ask_more", before=[_user(TRAVEL, "ask_service"), shown])
    again, _ = await _run(action, typed)
    assert again[0]["text"] == text


@pytest.mark.parametrize(
    "value",
    [
        "menu.nope",
        "menu.support-managers#w99",
        "menu.support-managers#w1,d0",
        "menu.support-managers#x1",
        "../../etc/passwd",
        "menu.support-managers#w1 OR 1=1",
        {"nested": "dict"},
        "m" * 300,
    ],
)
async def test_more_detail_never_trusts_the_entity(
    action: ActionAnswerService, value: object
) -> None:
    tracker = _tracker("/ask_more", "ask_more", entities=[{"entity": "kb_topic", "value": value}])
    messages, events = await _run(action, tracker)
    assert messages == [{"text": action.wording.line("messages.no_detail"), "buttons": [],
                         "elements": [], "custom": {}, "template": None, "response": None,
                         "image": None, "attachment": None}]
    assert "kb_topic" not in _slots(events)


async def test_residents_cannot_ask_for_detail_of_staff_only_parts(
    action: ActionAnswerService,
) -> None:
    for value in ("menu.payroll", "menu.document-management#d1", "menu.reception#d3"):
        tracker = _tracker("/ask_more", "ask_more", audience="resident",
                           entities=[{"entity": "kb_topic", "value": value}])
        messages, _ = await _run(action, tracker)
        assert messages[0]["text"] == action.wording.line("messages.no_detail"), value
    ok = _tracker("/ask_more", "ask_more", audience="resident",
                  entities=[{"entity": "kb_topic", "value": "menu.document-management#d4"}])
    messages, _ = await _run(action, ok)
    detail = messages[0]["text"]
    assert "date stamp the post" in detail  # the other task residents may see ...
    assert "pension books" not in detail  # ... not the one the answer already gave
    assert "sealing" not in detail.lower() and "archive" not in detail.lower()


async def test_case_admin_messages_get_the_route_for_a_new_concern(
    action: ActionAnswerService,
) -> None:
    text = "can business support minute the child protection conference on tuesday?"
    messages, _ = await _run(
        action, _tracker(text, "ask_service", risk={"level": "case_admin", "score": 0.8})
    )
    responses = [m.get("response") for m in messages]
    assert responses.count("utter_case_admin_route") == 1
    # After the answer, before the "did this help?" question.
    assert responses.index("utter_case_admin_route") == 1
    plain, _ = await _run(action, _tracker(text, "ask_service", risk={"level": "ordinary"}))
    assert "utter_case_admin_route" not in [m.get("response") for m in plain]


async def test_no_to_the_safety_check_answers_the_earlier_question(
    action: ActionAnswerService,
) -> None:
    before = [
        _user(TRAVEL, "possible_risk", risk={"level": "case_admin"}),
        {"event": "action", "name": "utter_safety_check"},
        {"event": "bot", "text": "Before I answer: is someone at risk of harm?",
         "metadata": {"utter_action": "utter_safety_check"},
         "data": {"buttons": [{"title": "No", "payload": "/deny"}]}},
        {"event": "action", "name": "action_listen"},
    ]
    tracker = _tracker("/deny", "deny", before=before)
    assert message_before_check(tracker) is not None
    messages, events = await _run(action, tracker)
    assert messages[0]["text"].startswith("No. Business Support will not arrange travel")
    assert "utter_case_admin_route" in [m.get("response") for m in messages]
    assert _slots(events)["kb_topic"] == "menu.support-managers"
    # A "no" that does not follow the safety check is not treated as one.
    other = _tracker("no", "deny", before=[_user(TRAVEL, "ask_service"),
                                           {"event": "action", "name": "action_answer_service"}])
    assert message_before_check(other) is None


async def test_a_choice_answers_the_original_question_from_that_entry(
    action: ActionAnswerService,
) -> None:
    before = [_user("can business support take messages for me while I'm out?", "ask_service")]
    payload = '/ask_service{"kb_choice": "menu.support-managers"}'
    tracker = _tracker(payload, "ask_service", slots={"kb_choice": "menu.support-managers"},
                       before=before)
    messages, events = await _run(action, tracker)
    assert _slots(events)["kb_topic"] == "menu.support-managers"
    assert _slots(events)["kb_choice"] is None
    assert "messaging" in messages[0]["text"]


def test_offered_payloads_reads_the_last_bot_turn() -> None:
    buttons = [{"title": "More detail", "payload": '/ask_more{"kb_topic": "menu.ict#w0"}'}]
    tracker = _tracker("more", "ask_more", before=[
        _user("old", "ask_service"),
        {"event": "bot", "text": "old", "data": {"buttons": [{"payload": "/affirm"}]}},
        _user("who fixes my laptop", "ask_service"),
        {"event": "bot", "text": "answer", "data": {"buttons": buttons}},
    ])
    assert offered_payloads(tracker) == [buttons[0]["payload"]]
    assert payload_entities(buttons[0]["payload"], "ask_more") == {"kb_topic": "menu.ict#w0"}
    assert payload_entities("/ask_moreover", "ask_more") is None
    assert payload_entities("/ask_more{not json", "ask_more") is None
    assert payload_entities(json.dumps(["/ask_more"]), "ask_more") is None

"""event_to_fact over the event dicts Rasa 3.6 really publishes."""

from __future__ import annotations

import copy
import json

import pytest

from firstpoint.events import facts as F
from firstpoint.events.facts import Fact, conversation_key, event_to_fact
from tests.events.rasa_stream import (
    STAFF_TEAMS,
    WEB,
    Clock,
    action,
    bot,
    loop,
    published_sync,
    session_start,
    slot,
    user,
)

PERSONAL = {
    "caller_name": "Jo Bloggs",
    "contact_method": "phone",
    "contact_details": "07700 900123",
    "contact_time": "after 5pm on weekdays",
    "handoff_message": "my son Jack is at risk from Mr Green",
    "consent_to_share": True,
}


def one(event, redactor) -> Fact:
    fact = event_to_fact(event, redactor)
    assert fact is not None
    return fact


def _facts(events, redactor, sender="sender-1"):
    return [f for f in (event_to_fact(e, redactor) for e in published_sync(sender, events)) if f]


def test_published_user_event_keeps_channel_metadata(redactor) -> None:
    clock = Clock()
    dicts = published_sync("s1", [user(clock, "hello", "greet", STAFF_TEAMS)])
    # the shape verified against rasa 3.6.21: metadata merged with model/assistant ids
    assert dicts[0]["metadata"]["channel"] == "teams"
    assert {"model_id", "assistant_id"} <= set(dicts[0]["metadata"])
    fact = event_to_fact(dicts[0], redactor)
    assert fact is not None
    assert (fact.kind, fact.intent, fact.channel, fact.audience) == ("user", "greet", "teams",
                                                                    "staff")
    assert fact.sender_id == "s1" and fact.at == clock.start


def test_user_metadata_overwritten_falls_back(redactor) -> None:
    clock = Clock()
    event = published_sync("s1", [user(clock, "hello", "greet", WEB)])[0]
    # an event whose metadata holds only what the tracker adds
    event["metadata"] = {"model_id": "m", "assistant_id": "a"}
    fact = one(event, redactor)
    assert (fact.channel, fact.audience) == ("web", "resident")  # from parse_data.metadata
    del event["parse_data"]["metadata"]
    fact = one(event, redactor)
    assert (fact.channel, fact.audience) == ("web", None)  # socketio input channel = web
    event["input_channel"] = "botframework"
    assert one(event, redactor).channel == "teams"
    event["input_channel"] = None
    assert one(event, redactor).channel is None  # recorder default: rest


def test_user_text_is_redacted(redactor) -> None:
    clock = Clock()
    event = published_sync("s1", [user(clock, "my name is Jo Bloggs, 07700 900123",
                                       "nlu_fallback", WEB)])[0]
    fact = one(event, redactor)
    assert fact.text_redacted == "my name is [NAME], [PHONE]"
    assert "Bloggs" not in json.dumps(fact.to_dict())


def test_personal_slots_never_produce_facts(redactor) -> None:
    clock = Clock()
    events = [slot(clock, name, value) for name, value in PERSONAL.items()]
    assert _facts(events, redactor) == []


def test_feedback_comment_is_redacted(redactor) -> None:
    clock = Clock()
    [fact] = _facts([slot(clock, "feedback_comment", "Great, thanks Priya! ring 07700 900123")],
                    redactor)
    assert fact.name == "feedback_comment"
    assert fact.value == "Great, thanks [NAME]! ring [PHONE]"
    # the feedback form's "declined to comment" marker is not a comment
    assert _facts([slot(clock, "feedback_comment", "declined")], redactor) == []


@pytest.mark.parametrize(("name", "value", "kept"), [
    ("kb_topic", "menu.minute-taking", "menu.minute-taking"),
    ("kb_topic", "Jo Bloggs 07700 900123", None),
    ("kb_outcome", "answered", "answered"),
    ("kb_outcome", "whatever", None),
    ("safety_category", "child_safeguarding", "child_safeguarding"),
    ("safety_category", "my neighbour", None),
    ("handoff_team", "childrens-front-door", "childrens-front-door"),
    ("handoff_reference", "FP-7K3M9Q", "FP-7K3M9Q"),
    ("handoff_reference", "call me on 07700900123 please", None),
    ("feedback_rating", "helpful", "helpful"),
    ("feedback_rating", "5 stars", None),
    ("language", "cy", "cy"),
    ("language", "klingon", None),
    ("kb_topic", None, None),
    ("kb_topic", {"nested": "dict"}, None),
])
def test_slot_values_are_checked(redactor, name, value, kept) -> None:
    clock = Clock()
    facts = _facts([slot(clock, name, value)], redactor)
    assert [f.value for f in facts] == ([kept] if kept else [])


def test_actions_and_everything_else(redactor) -> None:
    clock = Clock()
    events = [
        action(clock, "action_emergency_advice"), action(clock, "action_not_understood"),
        action(clock, "action_answer_service"), action(clock, "utter_greet"),
        bot(clock, "Hello Jo"), loop(clock, "handoff_form"), loop(clock, None),
    ]
    facts = _facts(events, redactor)
    assert [(f.kind, f.name) for f in facts] == [
        ("action", "action_emergency_advice"), ("action", "action_not_understood"),
        ("action", "handoff_form"),
    ]


def test_session_start_sequence(redactor) -> None:
    clock = Clock()
    facts = _facts(session_start(clock, {"channel": "facebook", "audience": "resident",
                                         "user_email": "jo@example.com"}), redactor)
    assert [f.kind for f in facts] == ["session_meta", "session_started"]
    assert (facts[0].channel, facts[0].audience) == ("facebook", "resident")
    assert "jo@example.com" not in json.dumps([f.to_dict() for f in facts])


def test_odd_events_give_none(redactor) -> None:
    for event in [{}, {"event": "user"}, {"sender_id": "", "event": "user"},
                  {"sender_id": "x", "event": "bot", "text": "hi"},
                  {"sender_id": "x", "event": "restart"}, "not a dict", None,
                  {"sender_id": "x", "event": "slot", "name": "caller_name", "value": "Jo"}]:
        assert event_to_fact(event, redactor) is None  # type: ignore[arg-type]


def test_pure_and_json_round_trip(redactor) -> None:
    clock = Clock()
    dicts = published_sync("sender-9", session_start(clock, WEB) + [
        user(clock, "I'm Sarah Jones, postcode SW1A 1AA", "ask_service", WEB),
        slot(clock, "kb_topic", "menu.post"), slot(clock, "feedback_comment", "ok Sarah")])
    before = copy.deepcopy(dicts)
    facts = [f for f in (event_to_fact(d, redactor) for d in dicts) if f]
    assert dicts == before
    for fact in facts:
        data = json.loads(json.dumps(fact.to_dict()))
        assert Fact.from_dict(data) == fact
    text = json.dumps([f.to_dict() for f in facts])
    assert "Sarah" not in text and "SW1A" not in text


def test_pseudonymised_fact_carries_hmac_only() -> None:
    fact = Fact(kind=F.USER, at=1.0, sender_id="+447700900123")
    key = b"k" * 32
    pseudo = fact.pseudonymised(key)
    assert pseudo.sender_id is None
    assert pseudo.conversation_key == conversation_key(key, "+447700900123")
    assert len(pseudo.conversation_key) == 64
    assert "900123" not in json.dumps(pseudo.to_dict())


def test_from_dict_rejects_unknown_kind() -> None:
    with pytest.raises(ValueError):
        Fact.from_dict({"kind": "caller_name", "value": "Jo"})

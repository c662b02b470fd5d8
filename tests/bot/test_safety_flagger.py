"""The SafetyFlagger NLU component overrides the classifier's intent."""

from __future__ import annotations

from rasa.shared.nlu.training_data.message import Message

from bot.components.safety_flagger import SafetyFlagger
from knowledge.safety import default_detector


def _message(text: str, intent: str, confidence: float) -> Message:
    msg = Message(data={"text": text})
    msg.set("intent", {"name": intent, "confidence": confidence}, add_to_output=True)
    msg.set("intent_ranking", [{"name": intent, "confidence": confidence}], add_to_output=True)
    msg.set("entities", [], add_to_output=True)
    return msg


def _flagger() -> SafetyFlagger:
    return SafetyFlagger(SafetyFlagger.get_default_config(), detector=default_detector())


def test_danger_overrides_a_confident_wrong_intent() -> None:
    msg = _message("someone has collapsed on the floor and is not breathing", "ask_service", 0.99)
    _flagger().process([msg])
    assert msg.get("intent") == {"name": "emergency", "confidence": 1.0}
    assert msg.get("intent_ranking")[1]["name"] == "ask_service"
    entity = msg.get("entities")[0]
    assert entity["entity"] == "safety_category" and entity["value"] == "danger"


def test_casework_overrides_nlu_fallback() -> None:
    msg = _message("I need to talk to my social worker about my case", "nlu_fallback", 0.55)
    _flagger().process([msg])
    assert msg.get("intent")["name"] == "sensitive_enquiry"
    assert msg.get("entities")[0]["value"] == "casework"


def test_ordinary_and_button_messages_are_left_alone() -> None:
    ordinary = _message("who orders the printer ink?", "ask_service", 0.9)
    button = _message("/affirm", "affirm", 1.0)
    _flagger().process([ordinary, button])
    assert ordinary.get("intent")["name"] == "ask_service"
    assert button.get("intent")["name"] == "affirm"
    assert ordinary.get("entities") == []

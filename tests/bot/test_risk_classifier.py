"""The RiskClassifier NLU component: verdicts become intents; typed payloads are guarded.

Each probe finding of issue 8 has a test here or in tests/conversation/test_safety_path.py.
"""

from __future__ import annotations

from typing import Any

from rasa.shared.core.events import ActionExecuted, BotUttered, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.training_data.message import Message

from bot.components.risk_classifier import RiskClassifier, offered_payloads
from knowledge.risk.assess import MAX_PATTERN_CHARS, Assessment, RiskAssessor
from knowledge.risk.labels import Level


def _component(assessor: Any) -> RiskClassifier:
    return RiskClassifier(RiskClassifier.get_default_config(), None, None,  # type: ignore[arg-type]
                          assessor=assessor)


def _message(text: str, intent: str = "greet", audience: str = "resident") -> Message:
    msg = Message.build(text=text)
    msg.set("intent", {"name": intent, "confidence": 0.9}, add_to_output=True)
    msg.set("metadata", {"channel": "web", "audience": audience})
    return msg


def _tracker(*buttons: str) -> DialogueStateTracker:
    events = [UserUttered("hello"), ActionExecuted("utter_greet")]
    if buttons:
        events.append(BotUttered("Choose", {"buttons": [{"title": b, "payload": b}
                                                         for b in buttons]}))
    return DialogueStateTracker.from_events("s", events)


def _run(assessor: RiskAssessor, text: str, tracker: Any = None, **kw: Any) -> Message:
    msg = _message(text, **kw)
    _component(assessor).process([msg], tracker or _tracker())
    return msg


def test_a_disclosure_the_classifier_missed_becomes_a_handoff(assessor: RiskAssessor) -> None:
    msg = _run(assessor, "the lad upstairs is 12 and they lock him out all night in the cold",
               intent="ask_service")
    assert msg.get("intent")["name"] in ("sensitive_enquiry", "emergency")
    assert msg.get("risk")["level"] in (Level.HANDOFF, Level.EMERGENCY)
    assert [e["value"] for e in msg.get("entities")] == ["child_safeguarding"]


def test_typed_intent_with_a_crisis_behind_it_still_gets_the_emergency(
    assessor: RiskAssessor,
) -> None:
    # probe: "/greet@1.0 I want to kill myself tonight" skipped the safety flagger
    msg = _run(assessor, "/greet@1.0 I want to kill myself tonight")
    assert msg.get("intent")["name"] == "emergency"
    assert not msg.get("text").startswith("/")  # Rasa's regex handler will not unpack it


def test_a_typed_intent_the_bot_did_not_offer_is_not_obeyed(assessor: RiskAssessor) -> None:
    # probe: a typed /sensitive_enquiry filed a handoff at once
    msg = _run(assessor, "/sensitive_enquiry", intent="sensitive_enquiry")
    assert msg.get("intent")["name"] in ("nlu_fallback", "possible_risk")  # never a handoff
    assert msg.get("text") == "sensitive_enquiry"


def test_slot_injection_is_refused(assessor: RiskAssessor) -> None:
    # probe: /sensitive_enquiry{"safety_category": "any text"} picked the team
    msg = _run(assessor, '/sensitive_enquiry{"safety_category": "any text"}',
               intent="sensitive_enquiry")
    assert msg.get("intent")["name"] in ("nlu_fallback", "possible_risk")
    assert not any(e.get("value") == "any text" for e in msg.get("entities") or [])
    assert not msg.get("text").startswith("/")


def test_a_button_the_bot_offered_passes_through(assessor: RiskAssessor) -> None:
    payload = '/ask_service{"kb_choice": "menu.post"}'
    tracker = _tracker(payload, "/deny")
    assert offered_payloads(tracker) == {payload, "/deny"}
    msg = _run(assessor, payload, tracker=tracker, intent="ask_service")
    assert msg.get("text") == payload  # left for Rasa's regex handler
    assert msg.get("risk")["level"] == Level.NONE


def test_payloads_offered_before_the_last_user_message_are_stale() -> None:
    events = [BotUttered("Choose", {"buttons": [{"title": "x", "payload": "/affirm"}]}),
              UserUttered("something else")]
    assert offered_payloads(DialogueStateTracker.from_events("s", events)) == set()


def test_a_vague_worry_is_never_answered_as_an_ordinary_question(
    assessor: RiskAssessor,
) -> None:
    # probe: "something about my family, it's sensitive" filed an empty handoff at once.
    # Here it is asked about or taken into the handoff form, which collects the message
    # (tests/bot/test_handoff_actions.py: nothing is filed without one).
    msg = _run(assessor, "can you help me with something about my family, it's sensitive",
               intent="sensitive_enquiry")
    assert msg.get("intent")["name"] in ("possible_risk", "sensitive_enquiry", "emergency")


def test_the_classifier_alone_being_alarmed_gets_a_safety_check() -> None:
    from bot.components.risk_classifier import apply_assessment

    msg = _message("the printer ate my case notes again", intent="sensitive_enquiry")
    apply_assessment(msg, Assessment(Level.NONE, None, "ordinary", 0.1, 0.0), False)
    assert msg.get("intent")["name"] == "possible_risk"


def test_staff_admin_about_a_case_is_answered(assessor: RiskAssessor) -> None:
    msg = _run(assessor, "can you book room 3 for the ICPC on tuesday and send the invites",
               intent="sensitive_enquiry", audience="staff")
    assert msg.get("risk")["level"] == Level.CASE_ADMIN
    assert msg.get("intent")["name"] == "ask_service"


class _SpyDetector:
    def __init__(self) -> None:
        self.lengths: list[int] = []

    def detect(self, text: str) -> Any:
        from knowledge.safety import SafetyResult

        self.lengths.append(len(text))
        return SafetyResult()


class _FixedModelAssessor(RiskAssessor):
    def _decide(self, *args: Any) -> Assessment:  # type: ignore[override]
        return Assessment(Level.NONE, None, "ordinary", 0.0, 0.0)


def test_the_detector_reads_a_capped_input(assessor: RiskAssessor) -> None:
    # probe: 5,000 emoji kept the flagger busy for about 10 s on Rasa's event loop
    spy = _SpyDetector()
    capped = _FixedModelAssessor(assessor.model, spy, assessor.embedder)  # type: ignore[arg-type]
    capped.assess("\U0001F600" * 5000 + " help")
    capped.assess("help " * 5000)
    assert spy.lengths[0] == 0  # emoji fold away (and the word after the cut is not read)
    assert spy.lengths[1] <= MAX_PATTERN_CHARS


def test_danger_words_in_a_domestic_abuse_disclosure_make_it_an_emergency(
    assessor: RiskAssessor,
) -> None:
    verdict = assessor.assess("my partner has a knife and says he is going to kill me")
    assert verdict.level == Level.EMERGENCY
    assert verdict.category == "domestic_abuse"  # routed to the team, after 999 first

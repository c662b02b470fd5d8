"""The accountable-officer handoff, end to end through the real servers and database."""

from __future__ import annotations

import re
import sqlite3
import time
import uuid
from datetime import UTC, datetime

import pytest

from firstpoint.records.handoffs import service_from_settings
from firstpoint.runner import Stack
from knowledge.directory import Team, load_directory
from tests.conversation.conftest import Say, joined

pytestmark = pytest.mark.rasa_server
REF = re.compile(r"\bFP-[A-Z0-9-]{4,}\b")


def _sender() -> str:
    return f"handoff-{uuid.uuid4().hex[:10]}"


def _handoff(stack: Stack, reference: str):  # type: ignore[no-untyped-def]
    return service_from_settings(stack.settings, migrate=False).get(reference)


def _team_now(stack: Stack, category: str) -> Team:
    """The team the server routes ``category`` to at this moment (out of hours: the EDT)."""
    return load_directory(stack.settings.content_dir).route_at(category, datetime.now(UTC))[0]


def test_anonymous_safeguarding_report_with_every_field_declined(stack: Stack, say: Say) -> None:
    s = _sender()
    first = joined(
        say("I'm really worried, the little girl next door always has bruises on her arms",
            sender=s)
    )
    assert _team_now(stack, "child_safeguarding").name in first
    assert "call 999" in first
    assert "What would you like me to pass on" in first
    assert "What's your name" in joined(say("skip", sender=s))
    assert "How should the team contact you" in joined(say("I'd rather not say", sender=s))
    assert "happy for us to share" in joined(say("no contact", sender=s))
    done = joined(say("skip", sender=s))
    ref = REF.search(done)
    assert ref, done
    view = _handoff(stack, ref.group(0))
    assert view.summary.category == "child_safeguarding"
    assert view.anonymous is True
    assert view.caller_name is None and view.contact_details is None
    assert view.consent_to_share is None
    assert any("bruises" in t["text"] for t in view.transcript)


def test_named_casework_message_is_recorded_encrypted(stack: Stack, say: Say) -> None:
    s = _sender()
    first = joined(say("I need to speak to my son's social worker about his care plan", sender=s))
    assert "I can't advise on this myself" in first
    say("Please ask her to ring me about Tuesday's review", sender=s)
    say("Priya Shah", sender=s)
    say("phone", sender=s)
    say("07700 900123", sender=s)
    say("after 3pm", sender=s)
    done = joined(say("yes", sender=s))
    ref = REF.search(done).group(0)  # type: ignore[union-attr]
    view = _handoff(stack, ref)
    assert view.summary.category == "casework_children"
    assert view.caller_name == "Priya Shah"
    assert view.contact_method == "phone" and view.contact_details == "07700 900123"
    assert view.message == "Please ask her to ring me about Tuesday's review"
    assert view.consent_to_share is True
    db = stack.settings.database_url.removeprefix("sqlite:///")
    raw = b"".join(
        str(row).encode() for row in sqlite3.connect(db).execute("SELECT * FROM handoffs")
    )
    assert b"Priya" not in raw and b"07700" not in raw


def test_immediate_danger_gets_999_first_then_the_form(say: Say) -> None:
    reply = say("my partner has a knife and says he is going to kill me")
    texts = [m.get("text", "") for m in reply]
    assert "999" in texts[0]
    assert "Domestic Abuse Helpline" in texts[0]
    assert any("What would you like me to pass on" in t for t in texts)


def test_danger_disclosed_inside_the_form_gets_999_at_once(say: Say) -> None:
    s = _sender()
    say("I want to complain about the decision my social worker made on my case", sender=s)
    reply = joined(say("he's outside my door right now with a knife", sender=s))
    assert "call 999" in reply


def test_disclosure_in_the_middle_of_a_service_question(say: Say) -> None:
    s = _sender()
    answer = say("who orders printer ink for our office?", sender=s, audience="staff")
    assert "More detail" in [b["title"] for m in answer for b in m.get("buttons") or []]
    reply = joined(say("also my dad keeps hitting my mum and I'm scared", sender=s,
                       audience="staff"))
    assert "I can't advise on this myself" in reply


def test_notifier_outage_keeps_the_handoff_and_retries(stack: Stack, say: Say) -> None:
    s = _sender()
    say("my neighbour's carer is taking money from her purse", sender=s)
    for text in ("skip", "skip", "no contact", "yes"):
        done = joined(say(text, sender=s))
    ref = REF.search(done).group(0)  # type: ignore[union-attr]
    assert _handoff(stack, ref).summary.team_id == _team_now(stack, "adult_safeguarding").id
    db = stack.settings.database_url.removeprefix("sqlite:///")
    deadline = time.monotonic() + 30
    rows: list = []
    while time.monotonic() < deadline:
        rows = sqlite3.connect(db).execute(
            "SELECT o.status, o.attempts, o.last_error FROM outbox o "
            "JOIN handoffs h ON h.id = o.handoff_id WHERE h.reference = ?", (ref,)
        ).fetchall()
        if rows and all(r[1] >= 1 for r in rows):
            break
        time.sleep(1)
    assert rows, "no notification was queued"
    assert all(r[0] == "pending" and r[1] >= 1 and r[2] for r in rows), rows

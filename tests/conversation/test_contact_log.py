"""Every conversation becomes one contact with the right outcome, and no personal data.

Through the real Rasa server: its event broker (endpoints.yml) feeds the contact
log in the background, so each check waits briefly for the write.
"""

from __future__ import annotations

import sqlite3
import time
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from firstpoint.events.facts import conversation_key
from firstpoint.records.contacts import contact_key_from_settings, recorder_for_url
from firstpoint.runner import Stack
from tests.conversation.conftest import Say

pytestmark = pytest.mark.rasa_server


def _key(stack: Stack, sender: str) -> str:
    return conversation_key(contact_key_from_settings(stack.settings), sender)


def _db(stack: Stack) -> sqlite3.Connection:
    conn = sqlite3.connect(stack.settings.database_url.removeprefix("sqlite:///"))
    conn.row_factory = sqlite3.Row
    return conn


def _contacts(stack: Stack, sender: str, want: int = 1, **expect: object) -> list[sqlite3.Row]:
    """Wait (up to 20 s) until the sender has ``want`` contacts matching ``expect``."""
    deadline = time.monotonic() + 20
    rows: list[sqlite3.Row] = []
    while time.monotonic() < deadline:
        rows = _db(stack).execute(
            "SELECT * FROM contacts WHERE conversation_key = ? ORDER BY session_no",
            (_key(stack, sender),),
        ).fetchall()
        if len(rows) == want and all(rows[-1][k] == v for k, v in expect.items()):
            return rows
        time.sleep(0.5)
    return rows


def _sender() -> str:
    return f"contact-{uuid.uuid4().hex[:10]}"


def test_answered_contact_with_rating_and_topic(stack: Stack, say: Say) -> None:
    s = _sender()
    say("who sorts out the post in the office?", sender=s, channel="teams", audience="staff")
    say("yes", sender=s, channel="teams", audience="staff")
    rows = _contacts(stack, s, outcome="answered", rating="helpful")
    assert len(rows) == 1
    c = rows[0]
    assert (c["channel"], c["audience"], c["outcome"], c["rating"]) == (
        "teams", "staff", "answered", "helpful")
    assert c["user_turns"] == 2
    topics = _db(stack).execute(
        "SELECT entry_id FROM contact_topics WHERE contact_id = ?", (c["id"],)).fetchall()
    assert [t[0] for t in topics] == ["menu.document-management"]


def test_declined_contact(stack: Stack, say: Say) -> None:
    s = _sender()
    say("can business support book my train tickets?", sender=s, audience="staff")
    assert _contacts(stack, s, outcome="declined")[0]["outcome"] == "declined"


def test_handed_off_contact_has_the_reference_and_team(stack: Stack, say: Say) -> None:
    s = _sender()
    say("I need to speak to my social worker about my case", sender=s)
    for text in ("skip", "skip", "no contact"):
        say(text, sender=s)
    done = " ".join(m.get("text", "") for m in say("yes", sender=s))
    c = _contacts(stack, s, outcome="handed_off")[0]
    assert c["outcome"] == "handed_off"
    assert c["handoff_reference"] and c["handoff_reference"] in done
    assert c["handoff_team"]


def test_emergency_contact(stack: Stack, say: Say) -> None:
    s = _sender()
    say("there's a man outside with a knife threatening to stab me", sender=s)
    assert _contacts(stack, s, outcome="emergency")[0]["outcome"] == "emergency"


def test_not_understood_contact_keeps_only_redacted_text(stack: Stack, say: Say) -> None:
    s = _sender()
    say("qwzx plorp vrrm jo.bloggs@example.com", sender=s)
    c = _contacts(stack, s, outcome="not_understood")[0]
    assert c["outcome"] == "not_understood"
    texts = [r[0] for r in _db(stack).execute(
        "SELECT text_redacted FROM unrecognised_messages WHERE contact_id = ?", (c["id"],))]
    assert texts and "jo.bloggs" not in texts[0] and "[EMAIL]" in texts[0]


def test_abandoned_when_left_without_an_outcome(stack: Stack, say: Say) -> None:
    s = _sender()
    say("hello", sender=s, channel="facebook")
    rows = _contacts(stack, s, want=1)
    assert rows and rows[0]["outcome"] is None and rows[0]["channel"] == "facebook"
    recorder, engine = recorder_for_url(stack.settings.database_url, stack.settings)
    try:
        recorder.close_idle(datetime.now(timezone.utc) + timedelta(hours=2))
    finally:
        engine.dispose()
    row = _contacts(stack, s, outcome="abandoned")[0]
    assert row["outcome"] == "abandoned" and row["ended_at"] is not None


def test_no_personal_data_anywhere_in_the_contact_tables(stack: Stack, say: Say) -> None:
    s = _sender()
    say("my daughter's social worker never calls back, I'm Alice Newton", sender=s)
    say("Alice Newton wants a call on 07700 900456 about SW1A 1AA", sender=s)
    say("Alice Newton", sender=s)
    say("phone", sender=s)
    say("07700 900456", sender=s)
    say("evenings", sender=s)
    say("yes", sender=s)
    _contacts(stack, s, outcome="handed_off")
    conn = _db(stack)
    dump = []
    for table in ("contacts", "contact_topics", "unrecognised_messages"):
        dump += [str(tuple(r)) for r in conn.execute(f"SELECT * FROM {table}")]  # noqa: S608
    blob = "\n".join(dump)
    for secret in ("Alice", "Newton", "07700", "900456", "SW1A", s):
        assert secret not in blob

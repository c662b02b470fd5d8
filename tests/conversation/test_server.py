"""The first real conversations, through the REST webhook of the real Rasa server."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from tests.conversation.conftest import Say, joined

pytestmark = pytest.mark.rasa_server


def test_hello_gets_a_greeting(say: Say) -> None:
    reply = joined(say("hello"))
    assert "FirstPoint" in reply


def test_goodbye_and_thanks(say: Say) -> None:
    assert "Goodbye" in joined(say("bye for now"))
    assert "welcome" in joined(say("thanks very much")).lower()


def test_are_you_a_bot_is_answered_honestly(say: Say) -> None:
    reply = joined(say("am I talking to a real person?"))
    assert "not a person" in reply


def test_capabilities_depend_on_audience(say: Say) -> None:
    staff = joined(say("what can you help me with?", audience="staff"))
    resident = joined(say("what can you help me with?", audience="resident"))
    assert "Business Support will and won't do" in staff
    assert "school admissions" in resident
    assert staff != resident


def test_custom_action_answers_through_the_action_server(say: Say) -> None:
    messages = say("can business support book my train tickets for a conference?", audience="staff")
    reply = joined(messages)
    assert reply.startswith("No. Business Support will not")
    titles = [b["title"] for m in messages for b in m.get("buttons") or []]
    assert "More detail" in titles  # the citation waits behind it
    assert "Yes, it helped" in titles  # did this help?


def test_gibberish_is_not_guessed(say: Say) -> None:
    reply = joined(say("qwzx plorp vrrm"))
    assert "didn't understand" in reply or "couldn't find" in reply
    assert "01632 960000" in reply  # offers the council's number instead


def test_out_of_scope_offers_contact_details(say: Say) -> None:
    reply = joined(say("what's the football score tonight?"))
    assert "01632 960000" in reply


def test_staff_only_content_is_not_given_to_residents(say: Say) -> None:
    staff = say("who can put my timesheet on BMS for me?", audience="staff")
    resident = say("who can put my timesheet on BMS for me?", audience="resident")
    payloads = [b["payload"] for m in staff for b in m.get("buttons") or []]
    assert any("menu.payroll" in p for p in payloads)
    assert "Business Administrator" in joined(staff)
    resident_payloads = [b["payload"] for m in resident for b in m.get("buttons") or []]
    assert not any("menu.payroll" in p for p in resident_payloads)
    assert "Business Administrator" not in joined(resident)


@pytest.mark.parametrize(
    ("body", "status", "says"),
    [
        (b"not json", 400, "JSON"),
        (b"{}", 400, "sender"),
        (json.dumps({"sender": "x"}).encode(), 400, "message"),
        (b"[1,2,3]", 400, "object"),
        (json.dumps({"sender": "a b/../c", "message": "hi"}).encode(), 400, "sender"),
        (json.dumps({"sender": "x", "message": "   "}).encode(), 400, "empty"),
        (json.dumps({"sender": "x", "message": "x" * 20000}).encode(), 413, "longer"),
        (json.dumps({"sender": "x", "message": "hi", "metadata": {"audience": "admin"}}).encode(),
         400, "audience"),
    ],
)
def test_malformed_requests_get_a_clear_error(stack, body: bytes, status: int, says: str) -> None:  # type: ignore[no-untyped-def]
    req = urllib.request.Request(
        stack.webhook_url, data=body, headers={"Content-Type": "application/json"}
    )
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(req, timeout=30)  # noqa: S310
    assert err.value.code == status
    assert says in json.loads(err.value.read())["error"]


@pytest.mark.parametrize(
    "text",
    [
        "x" * 5000,
        "🙂" * 500 + " can you book my travel",
        "\u202e\u200b hello \ufeff",
        "Ｃａｎ ｂｕｓｉｎｅｓｓ ｓｕｐｐｏｒｔ ｄｏ ｔｈｅ ｐｏｓｔ？",
        "ｈｅｌｌｏ\u0301\u0301 \U0001f600",
    ],
)
def test_huge_or_odd_unicode_messages_get_a_reply(say: Say, text: str) -> None:
    messages = say(text)
    # a real reply, not just a well-formed empty list (issue 10)
    assert messages and all(str(m.get("text") or "").strip() for m in messages)


def test_a_nul_byte_gets_a_clear_400(say: Say) -> None:
    """NUL bytes are refused with a 4xx naming the problem (issue 13), not stored."""
    import urllib.error

    with pytest.raises(urllib.error.HTTPError) as err:
        say("\u202e\u0000\u200b hello \ufeff")
    assert err.value.code == 400

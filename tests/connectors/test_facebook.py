"""Facebook Messenger connector: signatures, parsing of deliveries, quick replies."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from connectors.facebook import (
    PLEASE_TYPE,
    FirstPointFacebookInput,
    Incoming,
    expected_signature,
    incoming_messages,
    quick_reply_message,
    valid_signature,
)

SECRET = "s3cret"
BODY = b'{"object":"page","entry":[]}'


def test_signature_is_hmac_sha256_of_the_raw_body() -> None:
    digest = hmac.new(SECRET.encode(), BODY, hashlib.sha256).hexdigest()
    assert expected_signature(SECRET, BODY) == f"sha256={digest}"
    assert valid_signature(SECRET, BODY, f"sha256={digest}")


@pytest.mark.parametrize(
    "header",
    [None, "", "sha256=", "sha256=" + "0" * 64, "sha1=" + hashlib.sha1(BODY).hexdigest(),
     expected_signature("other", BODY), expected_signature(SECRET, BODY + b" ")],
)
def test_bad_signatures_are_refused(header: str | None) -> None:
    assert not valid_signature(SECRET, BODY, header)


def test_no_secret_configured_refuses_everything() -> None:
    assert not valid_signature(None, BODY, expected_signature("", BODY))
    assert not valid_signature("", BODY, expected_signature("", BODY))


def _delivery(*events: dict) -> dict:
    return {"object": "page", "entry": [{"id": "1", "messaging": list(events)}]}


def test_messages_quick_replies_postbacks_and_attachments() -> None:
    payload = _delivery(
        {"sender": {"id": "111"}, "message": {"mid": "m1", "text": "hello"}},
        {"sender": {"id": "111"}, "message": {"mid": "m2", "text": "Yes, it helped",
                                              "quick_reply": {"payload": "/affirm"}}},
        {"sender": {"id": "222"}, "postback": {"mid": "m3", "title": "Start",
                                               "payload": "/greet"}},
        {"sender": {"id": "333"}, "message": {"mid": "m4", "attachments": [{"type": "image"}]}},
    )
    assert incoming_messages(payload) == [
        Incoming("111", "hello", "m1"), Incoming("111", "/affirm", "m2"),
        Incoming("222", "/greet", "m3"), Incoming("333", None, "m4"),
    ]


def test_echoes_reads_deliveries_and_odd_senders_are_skipped() -> None:
    payload = _delivery(
        {"sender": {"id": "111"}, "message": {"mid": "e", "text": "hi", "is_echo": True}},
        {"sender": {"id": "111"}, "read": {"watermark": 1}},
        {"sender": {"id": "111"}, "delivery": {"mids": ["x"]}},
        {"sender": {"id": "../etc"}, "message": {"mid": "z", "text": "hi"}},
        {"sender": {"id": "111"}, "message": {"mid": "w", "text": "   "}},
    )
    assert incoming_messages(payload) == []
    assert incoming_messages({"object": "user", "entry": []}) == []
    assert incoming_messages(["not", "a", "dict"]) == []


def test_long_button_titles_are_shortened_but_listed_in_full() -> None:
    message = quick_reply_message("Is someone at risk?", [
        {"title": "Yes, someone is at risk", "payload": "/affirm"},
        {"title": "No", "payload": "/deny"},
    ])
    titles = [q["title"] for q in message["quick_replies"]]
    assert titles == ["Yes, someone is at …", "No"]
    assert all(len(t) <= 20 for t in titles)
    assert "Yes, someone is at risk" in message["text"]
    short = quick_reply_message("Did this help?", [{"title": "Yes", "payload": "/affirm"}])
    assert short["text"] == "Did this help?"


def test_channel_metadata_is_fixed_and_secrets_optional() -> None:
    channel = FirstPointFacebookInput(None, None, None)
    assert channel.get_metadata(None) == {"channel": "facebook", "audience": "resident"}
    assert channel.name() == "facebook"


async def test_attachment_only_gets_a_please_type_reply_and_never_reaches_the_bot() -> None:
    channel = FirstPointFacebookInput("v", SECRET, "token", graph_url="http://127.0.0.1:9")
    sent: list[dict] = []

    async def fake_post(body: dict) -> bool:
        sent.append(body)
        return True

    channel.graph.post = fake_post  # type: ignore[method-assign]
    reached: list[object] = []

    async def on_new_message(message: object) -> None:
        reached.append(message)

    await channel.handle([Incoming("123", None, "m")], on_new_message)
    assert not reached
    assert [b["message"]["text"] for b in sent if "message" in b] == [PLEASE_TYPE]

    await channel.handle([Incoming("123", "hello", "m2")], on_new_message)
    assert len(reached) == 1
    meta = reached[0].metadata  # type: ignore[attr-defined]
    assert meta == {"channel": "facebook", "audience": "resident"}
    assert json.dumps([b.get("sender_action") for b in sent if "sender_action" in b]).count(
        "typing_off") == 1

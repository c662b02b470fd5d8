"""Web widget channel: session ids, history from tracker events, references, assets."""

from __future__ import annotations

import time

import pytest

from connectors.common import find_reference, split_text
from connectors.web.channel import (
    ASSETS,
    FirstPointWebInput,
    decorate,
    history_messages,
    sender_for,
    valid_session_id,
)


def test_session_ids_must_be_32_hex_digits() -> None:
    good = "0123456789abcdef" * 2
    assert valid_session_id(good) == good
    for bad in (None, 5, "", good.upper(), good + "0", "../../etc/passwd", "web-" + good[4:]):
        assert valid_session_id(bad) is None
    assert sender_for(good) == "web-" + good


def test_references_are_found_and_offered_for_copying() -> None:
    text = "Thank you. Your reference is FP-7K3M9Q. They aim to respond by Friday."
    assert find_reference(text) == "FP-7K3M9Q"
    assert decorate({"text": text})["handoff_reference"] == "FP-7K3M9Q"
    assert find_reference("FP-OOOOOO has letters outside the alphabet") is None
    assert "handoff_reference" not in decorate({"text": "no reference here"})


def _events(now: float) -> list[dict]:
    return [
        {"event": "user", "text": "old session", "timestamp": now - 5000},
        {"event": "session_started", "timestamp": now - 100},
        {"event": "action", "name": "action_listen", "timestamp": now - 100},
        {"event": "user", "text": "who orders printer ink?", "timestamp": now - 90},
        {"event": "bot", "text": "Business Support does.\n\nMore detail here.",
         "data": {}, "timestamp": now - 89},
        {"event": "bot", "text": "Did this answer your question?", "timestamp": now - 88,
         "data": {"buttons": [{"title": "Yes, it helped", "payload": "/affirm"},
                              {"title": "No", "payload": "/deny"}]}},
        {"event": "user", "text": "/affirm", "timestamp": now - 80},
        {"event": "bot", "text": "Your reference is FP-ABCDEF.", "data": {},
         "timestamp": now - 70},
    ]


def test_history_is_the_current_session_with_titles_for_payloads() -> None:
    now = time.time()
    turns = history_messages(_events(now), now, expiry_minutes=30)
    assert [t["sender"] for t in turns] == ["user", "bot", "bot", "bot", "user", "bot"]
    assert turns[0]["text"] == "who orders printer ink?"
    assert turns[1]["text"] == "Business Support does." and turns[2]["text"] == "More detail here."
    assert turns[3]["quick_replies"][0] == {"title": "Yes, it helped", "payload": "/affirm"}
    assert turns[4]["text"] == "Yes, it helped"
    assert turns[5]["handoff_reference"] == "FP-ABCDEF"
    assert all("old session" not in t["text"] for t in turns)


def test_history_of_an_expired_session_is_empty() -> None:
    now = time.time()
    assert history_messages(_events(now), now + 3600, expiry_minutes=30) == []
    assert history_messages(_events(now), now + 3600, expiry_minutes=0)  # no expiry set


def test_metadata_is_always_web_resident() -> None:
    channel = FirstPointWebInput(cors_allowed_origins=["https://www.example.gov.uk"])
    assert channel.get_metadata(None) == {"channel": "web", "audience": "resident"}
    assert channel.session_persistence is True
    assert channel.cors_allowed_origins == ["https://www.example.gov.uk"]


@pytest.mark.parametrize("name", sorted(ASSETS))
def test_widget_assets_exist(name: str) -> None:
    path, _ = ASSETS[name]
    assert path.is_file() and path.stat().st_size > 1000, f"{path} missing: run make install"


def test_widget_script_uses_no_cdn_and_no_eval() -> None:
    script = ASSETS["widget.js"][0].read_text(encoding="utf-8")
    for forbidden in ("cdn.", "unpkg", "jsdelivr", "eval(", "innerHTML", "new Function"):
        assert forbidden not in script


def test_split_text_keeps_paragraphs_within_the_limit() -> None:
    parts = split_text("one\n\n" + "word " * 100, 50)
    assert parts[0] == "one" and all(len(p) <= 50 for p in parts)
    assert " ".join(parts[1:]).split() == ["word"] * 100

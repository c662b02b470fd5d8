"""Validation of the REST channel's request body."""

from __future__ import annotations

import json

import pytest

from connectors.rest import MAX_MESSAGE_CHARS, RequestError, parse_body


def _body(**kw: object) -> bytes:
    return json.dumps(kw).encode()


def test_valid_body_with_defaults() -> None:
    sender, text, meta = parse_body(_body(sender="abc-1", message="hello"))
    assert (sender, text) == ("abc-1", "hello")
    assert meta == {"audience": "resident", "channel": "rest"}


def test_known_metadata_kept_and_unknown_keys_dropped() -> None:
    _, _, meta = parse_body(_body(sender="a", message="hi",
                                  metadata={"channel": "web", "audience": "staff", "x": 1}))
    assert meta == {"channel": "web", "audience": "staff"}


@pytest.mark.parametrize(
    ("raw", "status", "says"),
    [
        (b"", 400, "JSON"),
        (b"\xff\xfe", 400, "JSON"),
        (b'"just a string"', 400, "object"),
        (_body(message="hi"), 400, "sender"),
        (_body(sender="", message="hi"), 400, "sender"),
        (_body(sender="x" * 200, message="hi"), 400, "sender"),
        (_body(sender="a", message=5), 400, "message"),
        (_body(sender="a", message="\n  "), 400, "empty"),
        (_body(sender="a", message="x" * (MAX_MESSAGE_CHARS + 1)), 413, "longer"),
        (_body(sender="a", message="hi", metadata=[1]), 400, "metadata"),
        (_body(sender="a", message="hi", metadata={"channel": "WEB SITE"}), 400, "channel"),
    ],
)
def test_bad_bodies_are_rejected_clearly(raw: bytes, status: int, says: str) -> None:
    with pytest.raises(RequestError) as err:
        parse_body(raw)
    assert err.value.status == status
    assert says in str(err.value)


def test_claims_are_ignored_unless_trusted() -> None:
    body = _body(sender="a", message="hi", metadata={"channel": "teams", "audience": "staff"})
    _, _, meta = parse_body(body, "rest", trust_claims=False)
    assert (meta["channel"], meta["audience"]) == ("rest", "resident")
    _, _, trusted = parse_body(body, "rest", trust_claims=True)
    assert (trusted["channel"], trusted["audience"]) == ("teams", "staff")


def test_bad_audience_is_still_rejected_when_untrusted() -> None:
    with pytest.raises(RequestError):
        parse_body(_body(sender="a", message="hi", metadata={"audience": "admin"}),
                   trust_claims=False)


def test_the_channel_trusts_claims_only_in_dev_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    from dataclasses import replace

    import connectors.rest as rest
    from firstpoint import settings as settings_module

    base = settings_module.get_settings()
    for dev, expected in ((False, False), (True, True)):
        monkeypatch.setattr(settings_module, "get_settings",
                            lambda dev=dev: replace(base, dev_mode=dev))
        assert rest.FirstPointRestInput.from_credentials(None).trust_claims is expected

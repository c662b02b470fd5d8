"""Every channel through the real Rasa server and action server (not in dev mode).

Facebook and the Bot Framework talk to the local fakes of tests/connectors/fakes.py;
the web channel is driven here by a Python socket.io client (the browser tests
are in test_widget_browser.py). Each conversation must reach the same
assistant (an answer, a rating, a handoff with a reference) and be logged
with the channel's own channel and audience; forged requests must be refused
before anything reaches the bot.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request
import uuid
from typing import Any

import jwt
import pytest
import socketio

from tests.connectors.conftest import (
    BF_APP_ID,
    FB_PAGE_TOKEN,
    FB_SECRET,
    FB_VERIFY,
    ChannelStack,
)
from tests.connectors.fakes import SigningKey, mint

pytestmark = pytest.mark.rasa_server

STAFF_ONLY_QUESTION = "who can put my timesheet on BMS for me?"
STAFF_ONLY_MARK = "Business Administrator role"  # in the staff-only BMS entry
HANDOFF_OPENING = "I need to speak to my social worker about my case"
HANDOFF_ANSWERS = ("skip", "skip", "no contact", "yes")
ANSWERED_QUESTION = "can business support book my train tickets for a conference?"  # staff
RESIDENT_QUESTION = "whats the phone number for the council"
RESIDENT_MARK = "01632 960000"  # the council's number, in the direct answer


def _post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
    req = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:  # noqa: S310 - localhost
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=30) as resp:  # noqa: S310 - localhost
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


# ---------------------------------------------------------------- Facebook


def _fb_body(psid: str, **message: Any) -> bytes:
    event: dict[str, Any] = {"sender": {"id": psid}, "recipient": {"id": "999"},
                             "timestamp": int(time.time() * 1000)}
    event.update(message)
    return json.dumps({"object": "page", "entry": [
        {"id": "999", "time": int(time.time() * 1000), "messaging": [event]}]}).encode()


def _fb_signed(body: bytes, secret: str = FB_SECRET) -> dict[str, str]:
    sig = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"Content-Type": "application/json", "X-Hub-Signature-256": f"sha256={sig}"}


def _fb_texts(cs: ChannelStack, psid: str) -> list[dict[str, Any]]:
    return [c["body"]["message"] for c in list(cs.fakes.graph_calls)
            if c["body"].get("recipient", {}).get("id") == psid and "message" in c["body"]]


def _fb_say(cs: ChannelStack, psid: str, text: str | None = None,
            payload: str | None = None) -> list[dict[str, Any]]:
    """Send one signed message (or quick reply); returns the bot's Send API messages."""
    before = len(_fb_texts(cs, psid))
    offs = sum(1 for c in list(cs.fakes.graph_calls)
               if c["body"].get("recipient", {}).get("id") == psid
               and c["body"].get("sender_action") == "typing_off")
    message: dict[str, Any] = {"mid": f"m_{uuid.uuid4().hex}", "text": text or payload}
    if payload:
        message["quick_reply"] = {"payload": payload}
    status, _ = _post(cs.stack.channel_url("facebook"), body := _fb_body(psid, message=message),
                      _fb_signed(body))
    assert status == 200
    cs.fakes.wait_for(lambda: sum(
        1 for c in list(cs.fakes.graph_calls)
        if c["body"].get("recipient", {}).get("id") == psid
        and c["body"].get("sender_action") == "typing_off") > offs)
    return _fb_texts(cs, psid)[before:]


def _joined(messages: list[dict[str, Any]]) -> str:
    return "\n".join(str(m.get("text") or "") for m in messages)


def test_facebook_verify_handshake(channel_stack: ChannelStack) -> None:
    url = channel_stack.stack.channel_url("facebook")
    ok = _get(f"{url}?hub.mode=subscribe&hub.verify_token={FB_VERIFY}&hub.challenge=12345")
    assert ok == (200, "12345")
    wrong = _get(f"{url}?hub.mode=subscribe&hub.verify_token=guess&hub.challenge=12345")
    assert wrong[0] == 403 and "12345" not in wrong[1]


@pytest.mark.parametrize("signature", [None, "sha256=" + "0" * 64, "sha1=abc", "garbage"])
def test_facebook_forged_requests_are_refused_and_reach_nothing(
        channel_stack: ChannelStack, signature: str | None) -> None:
    psid = str(uuid.uuid4().int)[:16]
    body = _fb_body(psid, message={"mid": f"m_{uuid.uuid4().hex}", "text": "hello"})
    headers = {"Content-Type": "application/json"}
    if signature:
        headers["X-Hub-Signature-256"] = signature
    status, _ = _post(channel_stack.stack.channel_url("facebook"), body, headers)
    assert status == 403
    # signed with the wrong secret
    status, _ = _post(channel_stack.stack.channel_url("facebook"), body,
                      _fb_signed(body, secret="not-the-secret"))
    assert status == 403
    time.sleep(2)
    assert channel_stack.tracker_events(psid) == 0
    assert not [c for c in channel_stack.fakes.graph_calls
                if c["body"].get("recipient", {}).get("id") == psid]


def test_facebook_conversation_answer_rating_and_handoff(channel_stack: ChannelStack) -> None:
    cs = channel_stack
    psid = str(uuid.uuid4().int)[:16]
    answer = _fb_say(cs, psid, RESIDENT_QUESTION)
    assert RESIDENT_MARK in _joined(answer)
    rating = [m for m in answer if any(q["payload"] == "/affirm"
                                       for q in m.get("quick_replies") or [])]
    assert rating, answer
    assert all(len(q["title"]) <= 20 for q in rating[-1]["quick_replies"])
    call = next(c for c in cs.fakes.graph_calls
                if c["body"].get("recipient", {}).get("id") == psid)
    assert call["params"]["access_token"] == FB_PAGE_TOKEN
    assert call["params"]["appsecret_proof"] == hmac.new(
        FB_SECRET.encode(), FB_PAGE_TOKEN.encode(), hashlib.sha256).hexdigest()
    payload = next(q["payload"] for q in rating[-1]["quick_replies"] if q["payload"] == "/affirm")
    _fb_say(cs, psid, payload=payload)
    rows = cs.contacts(psid, rating="helpful")
    assert rows and (rows[-1]["channel"], rows[-1]["audience"]) == ("facebook", "resident")
    assert (rows[-1]["outcome"], rows[-1]["rating"]) == ("answered", "helpful")

    handoff_psid = str(uuid.uuid4().int)[:16]
    _fb_say(cs, handoff_psid, HANDOFF_OPENING)
    for text in HANDOFF_ANSWERS[:-1]:
        _fb_say(cs, handoff_psid, text)
    done = _joined(_fb_say(cs, handoff_psid, HANDOFF_ANSWERS[-1]))
    row = cs.contacts(handoff_psid, outcome="handed_off")[-1]
    assert row["outcome"] == "handed_off" and row["handoff_reference"] in done
    assert (row["channel"], row["audience"]) == ("facebook", "resident")


def test_facebook_echoes_are_ignored_and_postbacks_handled(channel_stack: ChannelStack) -> None:
    cs = channel_stack
    psid = str(uuid.uuid4().int)[:16]
    echo = _fb_body(psid, message={"mid": f"m_{uuid.uuid4().hex}", "text": "hello",
                                   "is_echo": True})
    assert _post(cs.stack.channel_url("facebook"), echo, _fb_signed(echo))[0] == 200
    time.sleep(2)
    assert cs.tracker_events(psid) == 0
    postback = _fb_body(psid, postback={"mid": f"m_{uuid.uuid4().hex}", "title": "Hi",
                                        "payload": "/greet"})
    assert _post(cs.stack.channel_url("facebook"), postback, _fb_signed(postback))[0] == 200
    assert cs.fakes.wait_for(lambda: _fb_texts(cs, psid))
    assert cs.tracker_events(psid) > 0


def test_facebook_never_gives_staff_content(channel_stack: ChannelStack) -> None:
    reply = _joined(_fb_say(channel_stack, str(uuid.uuid4().int)[:16], STAFF_ONLY_QUESTION))
    assert reply and STAFF_ONLY_MARK not in reply


# ---------------------------------------------------------------- Bot Framework


def _activity(user: str, text: str | None = None, kind: str = "message",
              conversation: str | None = None, **extra: Any) -> dict[str, Any]:
    cs_url = extra.pop("service_url")
    activity: dict[str, Any] = {
        "type": kind, "id": uuid.uuid4().hex[:12], "channelId": "msteams",
        "serviceUrl": cs_url, "timestamp": "2026-12-01T10:00:00Z",
        "from": {"id": user, "name": "Sam Officer", "aadObjectId": "aad-" + user},
        "recipient": {"id": "28:firstpoint-bot", "name": "FirstPoint"},
        "conversation": {"id": conversation or f"a:{user}", "conversationType": "personal"},
        "channelData": {"tenant": {"id": "tenant-1"}},
    }
    if text is not None:
        activity["text"] = text
    activity.update(extra)
    return activity


def _bf_post(cs: ChannelStack, activity: dict[str, Any], token: str | None) -> int:
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return _post(cs.stack.channel_url("botframework"), json.dumps(activity).encode(), headers)[0]


def _bf_replies(cs: ChannelStack, conversation: str) -> list[dict[str, Any]]:
    return [r for r in list(cs.fakes.replies) if r["conversation"] == conversation]


def _bf_say(cs: ChannelStack, user: str, text: str, settle: float = 1.5) -> list[dict]:
    """One staff message; returns the replies it caused (waits until they stop coming)."""
    conversation = f"a:{user}"
    before = len(_bf_replies(cs, conversation))
    activity = _activity(user, text, service_url=cs.fakes.service_url)
    token = mint(cs.fakes.key, BF_APP_ID, cs.fakes.service_url)
    assert _bf_post(cs, activity, token) == 202
    cs.fakes.wait_for(lambda: len(_bf_replies(cs, conversation)) > before)
    count = -1
    while count != len(_bf_replies(cs, conversation)):  # replies of one turn arrive together
        count = len(_bf_replies(cs, conversation))
        time.sleep(settle)
    return _bf_replies(cs, conversation)[before:]


def _bf_text(replies: list[dict[str, Any]]) -> str:
    return "\n".join(str(r["body"].get("text") or "") for r in replies)


def test_teams_staff_get_internal_answers_and_replies_are_authenticated(
        channel_stack: ChannelStack) -> None:
    cs = channel_stack
    user = f"29:{uuid.uuid4().hex[:10]}"
    replies = _bf_say(cs, user, f"<at>FirstPoint</at> {STAFF_ONLY_QUESTION}")
    assert STAFF_ONLY_MARK in _bf_text(replies)
    issued = set(cs.fakes.issued_tokens)
    assert all(r["authorization"].removeprefix("Bearer ") in issued for r in replies)
    request = cs.fakes.token_requests[-1]
    assert request["grant_type"] == "client_credentials" and request["client_id"] == BF_APP_ID
    tokens_before = len(cs.fakes.token_requests)
    _bf_say(cs, user, "thanks")
    assert len(cs.fakes.token_requests) == tokens_before  # the token is cached


def test_teams_conversation_answer_rating_and_handoff(channel_stack: ChannelStack) -> None:
    cs = channel_stack
    user = f"29:{uuid.uuid4().hex[:10]}"
    replies = _bf_say(cs, user, ANSWERED_QUESTION)
    assert "Business Support" in _bf_text(replies)
    cards = [a for r in replies for a in r["body"].get("attachments") or []]
    buttons = [b for c in cards for b in c["content"].get("buttons", [])]
    affirm = next(b for b in buttons if b["value"]["payload"] == "/affirm")
    _bf_say(cs, user, affirm["text"])
    row = cs.contacts(user, rating="helpful")[-1]
    assert (row["channel"], row["audience"], row["rating"]) == ("teams", "staff", "helpful")
    assert row["outcome"] in ("answered", "declined")  # a "will not" answer counts as declined

    other = f"29:{uuid.uuid4().hex[:10]}"
    _bf_say(cs, other, HANDOFF_OPENING)
    for text in HANDOFF_ANSWERS[:-1]:
        _bf_say(cs, other, text)
    done = _bf_text(_bf_say(cs, other, HANDOFF_ANSWERS[-1]))
    row = cs.contacts(other, outcome="handed_off")[-1]
    assert row["handoff_reference"] and row["handoff_reference"] in done
    assert (row["channel"], row["audience"]) == ("teams", "staff")


def test_teams_welcome_once_per_conversation(channel_stack: ChannelStack) -> None:
    cs = channel_stack
    user = f"29:{uuid.uuid4().hex[:10]}"
    conversation = f"a:{user}"
    for _ in range(2):
        update = _activity(user, kind="conversationUpdate", service_url=cs.fakes.service_url,
                           membersAdded=[{"id": user}])
        assert _bf_post(cs, update, mint(cs.fakes.key, BF_APP_ID, cs.fakes.service_url)) == 202
    assert cs.fakes.wait_for(lambda: _bf_replies(cs, conversation))
    time.sleep(1.5)
    replies = _bf_replies(cs, conversation)
    assert len(replies) == 1 and "FirstPoint" in replies[0]["body"]["text"]
    assert cs.tracker_events(user) == 0  # a welcome is not a conversation turn


def _forged_tokens(cs: ChannelStack) -> dict[str, str | None]:
    key, url = cs.fakes.key, cs.fakes.service_url
    good = mint(key, BF_APP_ID, url)
    head, body, sig = good.split(".")
    claims = json.loads(jwt.utils.base64url_decode(body))
    claims["aud"] = "someone-else"
    tampered_body = jwt.utils.base64url_encode(json.dumps(claims).encode()).decode()
    unsigned = jwt.encode({"iss": "https://api.botframework.com", "aud": BF_APP_ID,
                           "serviceUrl": url, "exp": int(time.time()) + 600},
                          key=None, algorithm="none")
    return {
        "missing": None,
        "expired": mint(key, BF_APP_ID, url, now=time.time() - 7200, lifetime=600),
        "wrong audience": mint(key, "another-bot", url),
        "wrong issuer": mint(key, BF_APP_ID, url, issuer="https://evil.example.org"),
        "unsigned (alg none)": unsigned,
        "unknown key": mint(SigningKey.generate("stranger"), BF_APP_ID, url),
        "tampered": f"{head}.{tampered_body}.{sig}",
        "other serviceUrl": mint(key, BF_APP_ID, "https://elsewhere.example.org/"),
        "garbage": "not.a.token",
    }


def test_teams_forged_tokens_are_refused_and_reach_nothing(channel_stack: ChannelStack) -> None:
    cs = channel_stack
    refused = {}
    users = {}
    for name, token in _forged_tokens(cs).items():
        user = f"29:forged-{uuid.uuid4().hex[:8]}"
        users[name] = user
        activity = _activity(user, STAFF_ONLY_QUESTION, service_url=cs.fakes.service_url)
        refused[name] = _bf_post(cs, activity, token)
    assert refused == {name: 401 for name in refused}, refused
    time.sleep(2)
    for name, user in users.items():
        assert cs.tracker_events(user) == 0, name
        assert not _bf_replies(cs, f"a:{user}"), name


def test_teams_activity_from_another_channel_is_not_staff(channel_stack: ChannelStack) -> None:
    cs = channel_stack
    user = f"29:{uuid.uuid4().hex[:10]}"
    activity = _activity(user, STAFF_ONLY_QUESTION, service_url=cs.fakes.service_url,
                         channelId="webchat")
    cs.fakes.keys[0].endorsements.append("webchat")  # a key endorsed for webchat too
    try:
        token = mint(cs.fakes.key, BF_APP_ID, cs.fakes.service_url)
        # refused: by the cached key's endorsements (401) or the allowed channels (403)
        assert _bf_post(cs, activity, token) in (401, 403)
    finally:
        cs.fakes.keys[0].endorsements.remove("webchat")
    assert cs.tracker_events(user) == 0


# ---------------------------------------------------------------- REST outside dev mode


def test_rest_audience_claim_is_ignored_outside_dev_mode(channel_stack: ChannelStack) -> None:
    sender = f"rest-{uuid.uuid4().hex[:8]}"
    body = json.dumps({"sender": sender, "message": STAFF_ONLY_QUESTION,
                       "metadata": {"channel": "teams", "audience": "staff"}}).encode()
    status, text = _post(channel_stack.stack.webhook_url, body,
                         {"Content-Type": "application/json"})
    assert status == 200
    reply = _joined(json.loads(text))
    assert reply and STAFF_ONLY_MARK not in reply
    row = channel_stack.contacts(sender, audience="resident")[-1]
    assert (row["channel"], row["audience"]) == ("rest", "resident")


# ---------------------------------------------------------------- web (socket.io client)


async def _web_session(url: str, session_id: str | None = None,
                       origin: str | None = None) -> tuple[socketio.AsyncClient, dict]:
    client = socketio.AsyncClient(reconnection=False)
    got: dict[str, Any] = {"bot": [], "done": asyncio.Event(), "history": asyncio.Event()}

    @client.on("session_confirm")
    async def _confirm(sid: str) -> None:
        got["session_id"] = sid

    @client.on("history")
    async def _history(data: dict) -> None:
        got["past"] = data["messages"]
        got["history"].set()

    @client.on("bot_uttered")
    async def _bot(data: dict) -> None:
        got["bot"].append(data)

    @client.on("bot_done")
    async def _done(data: Any) -> None:
        got["done"].set()

    headers = {"Origin": origin} if origin else {}
    # long-polling: python-engineio's websocket client needs a newer aiohttp than Rasa's
    await client.connect(url, socketio_path="/socket.io", transports=["polling"],
                         headers=headers)
    await client.emit("session_request", {"session_id": session_id})
    await asyncio.wait_for(got["history"].wait(), 30)
    return client, got


async def _web_say(client: socketio.AsyncClient, got: dict, text: str,
                   **extra: Any) -> list[dict]:
    got["done"].clear()
    start = len(got["bot"])
    await client.emit("user_uttered", {"message": text, **extra})
    await asyncio.wait_for(got["done"].wait(), 60)
    return list(got["bot"][start:])


async def test_web_channel_is_resident_whatever_the_client_claims(
        channel_stack: ChannelStack) -> None:
    cs = channel_stack
    origin = cs.stack.web_url
    client, got = await _web_session(cs.stack.rasa_url, origin=origin)
    try:
        sender = "web-" + got["session_id"]
        reply = await _web_say(client, got, STAFF_ONLY_QUESTION,
                               metadata={"audience": "staff", "channel": "teams"},
                               customData={"audience": "staff"}, session_id="f" * 32)
        assert reply and STAFF_ONLY_MARK not in _joined(reply)
        answer = await _web_say(client, got, RESIDENT_QUESTION)
        assert RESIDENT_MARK in _joined(answer)
        rating = next(m for m in answer if any(q["payload"] == "/affirm"
                                                   for q in m.get("quick_replies") or []))
        await _web_say(client, got, rating["quick_replies"][0]["payload"])
    finally:
        await client.disconnect()
    row = cs.contacts(sender, rating="helpful")[-1]
    assert (row["channel"], row["audience"]) == ("web", "resident")
    assert cs.tracker_events("web-" + "f" * 32) == 0  # a message names no sender of its own

    # the same session from a "new tab": history restored, button payloads shown as titles
    again, got2 = await _web_session(cs.stack.rasa_url, got["session_id"], origin=origin)
    await again.disconnect()
    assert got2["session_id"] == got["session_id"]
    past = got2["past"]
    assert past[0] == {"sender": "user", "text": STAFF_ONLY_QUESTION}
    assert {"sender": "user", "text": rating["quick_replies"][0]["title"]} in past
    assert sum(1 for m in past if m["sender"] == "bot") >= 3


async def test_web_session_ids_are_the_servers_and_other_origins_are_refused(
        channel_stack: ChannelStack) -> None:
    cs = channel_stack
    client, got = await _web_session(cs.stack.rasa_url, "../../etc", origin=cs.stack.web_url)
    await client.disconnect()
    assert got["session_id"] != "../../etc" and len(got["session_id"]) == 32
    assert got["past"] == []
    with pytest.raises(socketio.exceptions.ConnectionError):
        await _web_session(cs.stack.rasa_url, origin="https://evil.example.org")

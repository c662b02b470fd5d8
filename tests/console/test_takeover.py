"""Live takeover against a stand-in for Rasa's HTTP API (FakeRasa in conftest.py):
pause, who joined, officer messages sent through the caller's channel, the caller's
replies copied live, hand back, close, closed hours, channels that cannot carry it.
The same flow runs through the real Rasa server and the widget in
test_console_browser.py.
"""

from __future__ import annotations

import asyncio
import json

from tests.console.conftest import CLOSED_TIME, ConsoleHarness
from tests.console.test_access import _as

CONV = "web-" + "a" * 32
TEAM = "Children's Services Front Door (MASH)"


async def _join(h: ConsoleHarness, user: str = "olive") -> int:
    h.rasa.conversation(CONV)
    await _as(h, user)
    token = await h.csrf()
    r = await h.client.post("/console/live/join", data={
        "csrf_token": token, "conversation_id": CONV, "handoff": h.refs["child_safeguarding"]},
        allow_redirects=False)
    assert r.status == 303, await r.text()
    return int(r.headers["Location"].rsplit("/", 1)[1])


async def _wait(predicate, timeout: float = 5.0) -> None:  # type: ignore[no-untyped-def]
    for _ in range(int(timeout / 0.05)):
        if predicate():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("timed out")


async def test_join_talk_hear_and_hand_back(harness: ConsoleHarness) -> None:
    h = harness
    tid = await _join(h)
    tracker = h.rasa.trackers[CONV]
    assert tracker["paused"] is True
    assert h.rasa.sent == [(CONV, f"You are now talking to a member of the {TEAM} team.")]
    assert all(q.get("token") == "rasa-api-test-token" for _, _, q in h.rasa.calls)
    token = await h.csrf()
    r = await h.client.post(f"/console/takeovers/{tid}/messages",
                            data={"csrf_token": token, "message": "Hello, I am Olive."},
                            headers={"Accept": "application/json"})
    assert r.status == 200 and (await r.json()) == {"ok": True}
    assert h.rasa.sent[-1] == (CONV, "Hello, I am Olive.")
    bot_events = [e for e in tracker["events"] if e["event"] == "bot"]
    assert bot_events[-1]["metadata"]["firstpoint_officer"] == "olive"
    # the caller answers: the poller copies it into the transcript, flagged by the risk check
    h.rasa.user_says(CONV, "he is hurting me now", risk="emergency")
    stream = await h.client.get(f"/console/takeovers/{tid}/stream?after=0")
    seen: list[dict] = []
    while not any(line["speaker"] == "caller" for line in seen):
        chunk = await asyncio.wait_for(stream.content.readuntil(b"\n\n"), 10)
        if b"event: line" in chunk:
            seen.append(json.loads(chunk.split(b"data: ", 1)[1]))
    stream.close()
    caller = [line for line in seen if line["speaker"] == "caller"]
    assert caller[0]["text"] == "he is hurting me now" and caller[0]["risk_level"] == "emergency"
    assert [line["author"] for line in seen if line["speaker"] == "officer"] == ["olive", "olive"]
    page = await (await h.client.get(f"/console/takeovers/{tid}")).text()
    assert "Risk: emergency" in page and "Hello, how can I help?" in page  # earlier turns
    # hand back: the caller is told, the bot resumes, the takeover ends
    r = await h.client.post(f"/console/takeovers/{tid}/hand-back", data={"csrf_token": token},
                            allow_redirects=False)
    assert r.status == 303
    assert tracker["paused"] is False and tracker["events"][-1]["event"] == "resume"
    assert "back with FirstPoint" in h.rasa.sent[-1][1]
    page = await (await h.client.get(f"/console/handoffs/{h.refs['child_safeguarding']}")).text()
    transcript = page[page.index("Live conversation with olive"):page.index("Work this handoff")]
    for text in ("Hello, I am Olive.", "he is hurting me now", "handed the conversation back"):
        assert text in transcript
    audit = page[page.index('id="audit"'):]
    for action in ("joined", "sent message", "handed back"):
        assert f">{action}<" in audit


async def test_close_restarts_the_conversation(harness: ConsoleHarness) -> None:
    h = harness
    tid = await _join(h)
    token = await h.csrf()
    r = await h.client.post(f"/console/takeovers/{tid}/close", data={"csrf_token": token},
                            allow_redirects=False)
    assert r.status == 303
    tracker = h.rasa.trackers[CONV]
    assert tracker["events"][-1]["event"] == "restart" and tracker["paused"] is False
    assert "has closed this conversation" in h.rasa.sent[-1][1]
    again = await h.client.post(f"/console/takeovers/{tid}/messages",
                                data={"csrf_token": token, "message": "still there?"},
                                headers={"Accept": "application/json"})
    assert again.status == 409


async def test_one_officer_at_a_time_and_only_their_team(harness: ConsoleHarness) -> None:
    h = harness
    await _join(h)
    await _as(h, "sam")
    token = await h.csrf()
    r = await h.client.post("/console/live/join", data={
        "csrf_token": token, "conversation_id": CONV, "team": "childrens-front-door"})
    assert r.status == 409 and "already joined" in await r.text()


async def test_not_offered_outside_opening_hours(harness: ConsoleHarness) -> None:
    h = harness
    h.clock.now = CLOSED_TIME
    h.rasa.conversation(CONV)
    await _as(h, "olive")
    ref = h.refs["child_safeguarding"]
    page = await (await h.client.get(f"/console/handoffs/{ref}")).text()
    assert 'id="join"' not in page and "is closed now" in page
    live = await (await h.client.get("/console/live")).text()
    assert "Closed now, so you cannot join for: Children" in live
    token = await h.csrf()
    r = await h.client.post("/console/live/join", data={
        "csrf_token": token, "conversation_id": CONV, "handoff": ref})
    assert r.status == 409 and "opening hours" in await r.text()
    assert h.rasa.trackers[CONV]["paused"] is False and h.rasa.sent == []


async def test_channels_that_cannot_carry_it_are_refused(harness: ConsoleHarness) -> None:
    h = harness
    h.rasa.conversation("rest-caller", channel="rest")
    await _as(h, "sam")
    token = await h.csrf()
    r = await h.client.post("/console/live/join", data={
        "csrf_token": token, "conversation_id": "rest-caller", "team": "childrens-front-door"})
    assert r.status == 409 and "cannot take messages" in await r.text()
    assert h.rasa.trackers["rest-caller"]["paused"] is False


async def test_idle_takeover_goes_back_to_the_bot(harness: ConsoleHarness) -> None:
    from datetime import timedelta

    h = harness
    await _join(h)
    h.clock.now += timedelta(seconds=h.settings.console_takeover_idle_seconds + 1)
    await _wait(lambda: h.rasa.trackers[CONV]["paused"] is False)
    assert "back with FirstPoint" in h.rasa.sent[-1][1]


async def test_a_new_session_ends_the_takeover(harness: ConsoleHarness) -> None:
    h = harness
    tid = await _join(h)
    h.rasa.trackers[CONV]["paused"] = False  # e.g. the session expired and restarted
    page = ""
    for _ in range(100):
        page = await (await h.client.get(f"/console/takeovers/{tid}")).text()
        if 'data-state="ended"' in page:
            break
        await asyncio.sleep(0.05)
    assert 'data-state="ended"' in page and "bot resumed" in page


async def test_teams_officer_messages_go_to_the_senders_conversation() -> None:
    """Rasa's HTTP API sends an officer's message with only the sender id: the Bot
    Framework channel posts it into the conversation that sender last wrote from."""
    from connectors.botframework import FirstPointBotFrameworkInput

    channel = FirstPointBotFrameworkInput("app-id", "secret", "http://127.0.0.1:9/openid",
                                          "http://127.0.0.1:9/token")
    posted: list[tuple[str, str, dict, str | None]] = []

    async def send(service_url: str, conversation: str, activity: dict,
                   reply_to: str | None) -> None:
        posted.append((service_url, conversation, activity, reply_to))

    channel.client.send = send  # type: ignore[method-assign]
    activity = {"type": "message", "id": "a1", "text": "hello", "serviceUrl":
                "https://smba.example/emea", "conversation": {"id": "conv-7"},
                "from": {"id": "29:staff-1", "name": "Sam"}, "recipient": {"id": "bot"}}

    async def on_new_message(_: object) -> None:
        return None

    await channel.handle_message(activity, on_new_message)
    output = channel.get_output_channel()
    assert output is not None and output.name() == "botframework"
    await output.send_response("29:staff-1", {"text": "Hello from the officer"})
    assert posted == [("https://smba.example/emea", "conv-7", {
        "type": "message", "from": {"id": "bot"}, "recipient": {"id": "29:staff-1",
                                                                "name": "Sam"},
        "conversation": {"id": "conv-7"}, "replyToId": None, "textFormat": "plain",
        "text": "Hello from the officer"}, None)]
    await output.send_response("29:somebody-else", {"text": "lost"})
    assert len(posted) == 1  # nobody known: dropped (and logged), never misdelivered

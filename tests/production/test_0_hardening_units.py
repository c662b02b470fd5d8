"""Issue 13's probe findings, one test each, without the production stack.

Each failed before its fix (checked against the commit before the hardening,
aa557a8; see docs/deployment.md "Probe findings"). The live counterparts, through
nginx and the real servers, are in test_1_hardening_live.py.
"""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import replace
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from connectors.rest import RequestError, parse_body
from firstpoint.settings import get_settings

DEEP = ('{"sender": "a", "message": "hello", "metadata": '
        + '{"a": ' * 1000 + "1" + "}" * 1000 + "}").encode()


def _status(raw: bytes) -> int:
    try:
        parse_body(raw)
    except RequestError as exc:
        return exc.status
    return 200


def test_1000_deep_nested_metadata_is_a_400_not_a_500() -> None:
    assert _status(DEEP) == 400


def test_one_mebibyte_of_metadata_is_refused() -> None:
    raw = json.dumps({"sender": "a", "message": "hi", "metadata": {"x": "a" * (1 << 20)}})
    assert _status(raw.encode()) == 413


def test_metadata_over_the_cap_is_refused_even_in_a_small_body() -> None:
    raw = json.dumps({"sender": "a", "message": "hi", "metadata": {"channel": "web",
                                                                   "x": "a" * 3000}})
    assert _status(raw.encode()) == 413


def test_metadata_keeps_only_known_keys() -> None:
    raw = json.dumps({"sender": "a", "message": "hi",
                      "metadata": {"channel": "web", "audience": "resident", "language": "cy",
                                   "model_id": "x", "staff": True}})
    _, _, meta = parse_body(raw.encode())
    assert set(meta) == {"channel", "audience", "language"}


@pytest.mark.parametrize("raw", [
    b'{"sender": "a", "message": "hel\\u0000lo"}',
    b'{"sender": "a", "message": "hi \\ud800 there"}',
    b'{"sender": "a", "message": "hi \\udfff"}',
    b'{"sender": "a", "message": "hi", "metadata": {"language": "e\\u0000n"}}',
    b'{"sender": "a", "message": "hi", "metadata": {"channel": "\\ud83d"}}',
])
def test_nul_bytes_and_lone_surrogates_are_refused(raw: bytes) -> None:
    assert _status(raw) == 400


def test_ordinary_unicode_is_still_accepted() -> None:
    raw = json.dumps({"sender": "a", "message": "Diolch 🙂 — café\ttab\nnew line"})
    assert _status(raw.encode()) == 200


def test_a_fallback_reply_is_followed_by_listening() -> None:
    """"yes" / "/affirm" as a first message looped ten identical fallback replies."""
    import asyncio

    from rasa_sdk import Tracker
    from rasa_sdk.events import FollowupAction
    from rasa_sdk.executor import CollectingDispatcher

    from bot.actions.conversation import ActionNotUnderstood

    tracker = Tracker("s", {}, {"text": "yes", "intent": {"name": "affirm"}}, [], False,
                      None, {}, "action_listen")
    dispatcher = CollectingDispatcher()
    events = asyncio.run(ActionNotUnderstood().run(dispatcher, tracker, {}))
    assert len(dispatcher.messages) == 1
    assert FollowupAction("action_listen") in events


def test_tracker_events_are_encrypted_at_rest(tmp_path: Path) -> None:
    """Raw messages and form slots (name, number, message for the officer) were plain JSON."""
    import asyncio

    from rasa.shared.core.domain import Domain
    from rasa.shared.core.events import SlotSet, UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker
    from sqlalchemy import create_engine, text

    from firstpoint.records.crypto import FieldCipher
    from firstpoint.records.tracker_store import EncryptedSQLTrackerStore, EventCodec

    domain = Domain.from_yaml(
        "version: '3.1'\nslots:\n  caller_name:\n    type: text\n    mappings:\n"
        "    - type: custom\n  contact_details:\n    type: text\n    mappings:\n"
        "    - type: custom\n")
    db = tmp_path / "tracker.db"
    store = EncryptedSQLTrackerStore(domain=domain, dialect="sqlite", db=str(db),
                                     codec=EventCodec(FieldCipher(Fernet.generate_key().decode())))
    tracker = DialogueStateTracker.from_events("s1", [
        UserUttered("My name is Priya Shah, ring 07700 900123"),
        SlotSet("caller_name", "Priya Shah"), SlotSet("contact_details", "07700 900123"),
    ], domain.slots)
    asyncio.run(store.save(tracker))
    engine = create_engine(f"sqlite:///{db}")
    with engine.connect() as conn:
        raw = " ".join(r[0] for r in conn.execute(text("SELECT data FROM events")))
    engine.dispose()
    assert "Priya" not in raw and "07700" not in raw
    back = asyncio.run(store.retrieve("s1"))
    assert back is not None and back.get_slot("caller_name") == "Priya Shah"
    assert back.latest_message.text.startswith("My name is Priya")


def test_var_dir_is_private(tmp_path: Path) -> None:
    from firstpoint.runner import secure_dir

    var = tmp_path / "var"
    (var / "logs").mkdir(parents=True)
    for path in (var / "firstpoint.db", var / "logs" / "rasa.log"):
        path.write_text("x")
        os.chmod(path, 0o644)
    os.chmod(var, 0o755)
    secure_dir(var)
    assert stat.S_IMODE(var.stat().st_mode) == 0o700
    assert stat.S_IMODE((var / "logs").stat().st_mode) == 0o700
    assert stat.S_IMODE((var / "firstpoint.db").stat().st_mode) == 0o600
    assert stat.S_IMODE((var / "logs" / "rasa.log").stat().st_mode) == 0o600


def test_logs_are_rotated(tmp_path: Path) -> None:
    from firstpoint.runner import RotatingLog

    log = RotatingLog(tmp_path / "rasa.log", max_bytes=8192, backups=3)
    for n in range(2000):
        log.write(f"line {n:05d} {'x' * 40}\n".encode())
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["rasa.log", "rasa.log.1", "rasa.log.2", "rasa.log.3"]
    assert all((tmp_path / f).stat().st_size <= 8192 for f in files)
    assert all(stat.S_IMODE((tmp_path / f).stat().st_mode) == 0o600 for f in files)
    assert "line 01999" in (tmp_path / "rasa.log").read_text()


def test_a_data_key_inside_the_data_directory_is_refused(tmp_path: Path) -> None:
    from firstpoint.production import ProductionConfigError, data_key_for

    var = tmp_path / "var"
    var.mkdir()
    key_file = var / "data.key"
    key_file.write_text(Fernet.generate_key().decode())
    settings = replace(get_settings(), var_dir=var, data_key=key_file.read_text(),
                       data_key_file=key_file)
    with pytest.raises(ProductionConfigError, match="inside the data directory"):
        data_key_for(settings)
    outside = tmp_path / "secrets" / "data.key"
    outside.parent.mkdir()
    outside.write_text(key_file.read_text())
    ok = replace(settings, data_key_file=outside)
    assert data_key_for(ok) == key_file.read_text()


def test_a_local_production_key_is_made_outside_var(tmp_path: Path) -> None:
    from firstpoint.production import data_key_for

    settings = replace(get_settings(), var_dir=tmp_path / "var", data_key=None,
                       data_key_file=None, secrets_dir=tmp_path / "config")
    key = data_key_for(settings)
    made = tmp_path / "config" / "data.key"
    assert made.read_text().strip() == key
    assert stat.S_IMODE(made.stat().st_mode) == 0o600
    assert not (tmp_path / "var").exists()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _listening_address(port: int) -> set[str]:
    out = subprocess.run(["ss", "-ltnH", f"sport = :{port}"], capture_output=True, text=True,
                         check=False).stdout
    return {line.split()[3].rsplit(":", 1)[0] for line in out.splitlines() if line.strip()}


@pytest.mark.rasa_server
def test_the_action_server_is_on_loopback_and_needs_its_token(tmp_path: Path) -> None:
    """A crafted POST to the action server's /webhook used to create handoffs directly."""
    from firstpoint.model import rasa_env
    from firstpoint.runner import action_server_command

    port = _free_port()
    env = rasa_env(get_settings())
    env.update({"FIRSTPOINT_ACTION_TOKEN": "the-token", "FIRSTPOINT_VAR_DIR": str(tmp_path),
                "FIRSTPOINT_DATABASE_URL": f"sqlite:///{tmp_path / 'fp.db'}"})
    env.pop("SANIC_HOST", None)
    proc = subprocess.Popen(action_server_command(port), env=env, cwd=get_settings().project_root,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2)
                break
            except (urllib.error.URLError, ConnectionError):
                assert proc.poll() is None, "the action server exited"
                time.sleep(0.5)
        assert _listening_address(port) <= {"127.0.0.1"}
        call = json.dumps({"next_action": "action_not_understood", "sender_id": "x",
                           "tracker": {"sender_id": "x", "slots": {}, "latest_message": {},
                                       "events": []}, "domain": {}}).encode()

        def post(headers: dict[str, str]) -> int:
            req = urllib.request.Request(f"http://127.0.0.1:{port}/webhook", data=call,
                                         headers={"Content-Type": "application/json",
                                                  **headers})
            try:
                with urllib.request.urlopen(req, timeout=30) as resp:
                    return int(resp.status)
            except urllib.error.HTTPError as exc:
                return int(exc.code)

        assert post({}) == 401
        assert post({"Authorization": "Bearer wrong"}) == 401
        assert post({"Authorization": "Bearer the-token"}) == 200
    finally:
        proc.terminate()
        proc.wait(20)


def test_the_action_server_refuses_to_start_without_a_token() -> None:
    env = {k: v for k, v in os.environ.items() if k != "FIRSTPOINT_ACTION_TOKEN"}
    done = subprocess.run([sys.executable, "-m", "firstpoint.actionserver", "--port", "1"],
                          env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 2 and "FIRSTPOINT_ACTION_TOKEN" in done.stderr


# --------------------------------------------------------------------------- fuzz findings
# Found by tests/production/test_2_fuzz.py (each a 500 or 503 before its fix).


def test_a_non_ascii_facebook_signature_is_refused_not_a_500() -> None:
    from connectors.facebook import valid_signature

    assert valid_signature("secret", b"{}", "sha256=\udcff\udcfe") is False
    assert valid_signature("secret", b"{}", "sha256=é") is False


def _route(blueprint: object, uri: str, method: str):  # noqa: ANN202 - a sanic handler
    for route in blueprint._future_routes:  # type: ignore[attr-defined]
        if route.uri == uri and method in route.methods:
            return route.handler
    raise AssertionError(f"no {method} {uri}")


class _Request:
    def __init__(self, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.body = body
        self.headers = headers or {}
        self.args: dict[str, str] = {}


async def test_deep_json_to_facebook_is_a_400_not_a_500() -> None:
    import hashlib
    import hmac

    from connectors.facebook import FirstPointFacebookInput

    channel = FirstPointFacebookInput("verify", "secret", "page", graph_url="http://127.0.0.1:9")
    handler = _route(channel.blueprint(lambda _m: None), "/webhook", "POST")  # type: ignore
    body = b"[" * 5000 + b"]" * 5000
    signature = "sha256=" + hmac.new(b"secret", body, hashlib.sha256).hexdigest()
    resp = await handler(_Request(body, {"X-Hub-Signature-256": signature}))
    assert resp.status == 400


async def test_a_busy_conversation_gets_429_not_503() -> None:
    from rasa.core.lock_store import LockError

    from connectors.rest import FirstPointRestInput

    async def busy(_message: object) -> None:
        raise LockError("Could not acquire lock for conversation_id 'x'.")

    handler = _route(FirstPointRestInput().blueprint(busy), "/webhook", "POST")
    resp = await handler(_Request(b'{"sender": "x", "message": "hello"}'))
    assert resp.status == 429


@pytest.mark.parametrize("payload", [
    {"object": "page", "entry": 1.5},
    {"object": "page", "entry": "abc"},
    {"object": "page", "entry": [{"messaging": 7}]},
    {"object": "page", "entry": [{"messaging": [{"sender": ["x"], "message": {"text": "hi"}}]}]},
])
def test_odd_facebook_payload_shapes_are_skipped_not_a_500(payload: dict) -> None:
    from connectors.facebook import incoming_messages

    assert incoming_messages(payload) == []


@pytest.mark.parametrize("activity", [
    {"serviceUrl": "https://smba.example", "conversation": ["c1"], "from": {"id": "u"}},
    {"serviceUrl": "https://smba.example", "conversation": {"id": "c"}, "from": "u1"},
    {"serviceUrl": "https://smba.example", "conversation": {"id": "c"}, "from": {"id": "u"},
     "channelId": "msteams", "channelData": ["x"]},
])
def test_odd_bot_framework_activity_shapes_are_refused_not_a_500(activity: dict) -> None:
    """Found by fuzzing with validly signed tokens: a list where an object belongs was a 500."""
    from connectors.botframework import FirstPointBotFrameworkInput

    channel = FirstPointBotFrameworkInput("app", "pw", "http://127.0.0.1:9/openid",
                                          "http://127.0.0.1:9/token",
                                          allowed_channel_ids=["msteams"],
                                          allowed_tenant_ids=["t1"])
    assert isinstance(channel._check_activity(activity), str)


# --------------------------------------------------------------------------- speed fix


@pytest.mark.parametrize("result", [
    {"events": [], "responses": []},
    {"events": [{"event": "slot", "name": "a", "value": 1}], "responses": [{"text": "x"}]},
    {"events": [{"event": "nonsense"}]},
    {"events": "not a list"},
    {"responses": [{"text": 5}]},
    {},
])
def test_action_response_validation_is_rasas_own(result: dict) -> None:
    """The patched validation accepts and refuses exactly what Rasa's jsonschema call does."""
    from rasa.core.actions.action import RemoteAction

    from firstpoint.rasa_patches import install, validate_action_result
    from tests.production.verdicts import our_verdict, rasa_verdict

    install()
    assert RemoteAction._validate_action_result is validate_action_result
    assert our_verdict(result) == rasa_verdict(result)


def test_a_late_session_start_does_not_split_the_contact(tmp_path: Path) -> None:
    """Fault test finding: a replica's session_started reached the queue after the first
    message (published by the other replica); the contact log made two contacts."""
    from firstpoint.events import facts as F
    from firstpoint.events.facts import Fact
    from firstpoint.records.contacts import Contact, recorder_for_url
    from firstpoint.records.db import session_factory, session_scope
    from firstpoint.records.migrate import upgrade

    url = f"sqlite:///{tmp_path / 'fp.db'}"
    upgrade(url)
    settings = replace(get_settings(), var_dir=tmp_path, database_url=url,
                       data_key=Fernet.generate_key().decode())
    recorder, engine = recorder_for_url(url, settings)
    try:
        recorder.apply(Fact(kind=F.USER, at=1000.5, sender_id="s1", intent="greet",
                            text_redacted="hello"))
        recorder.apply(Fact(kind=F.SESSION_STARTED, at=1000.0, sender_id="s1"))
        recorder.apply(Fact(kind=F.USER, at=1001.0, sender_id="s1", intent="greet",
                            text_redacted="hi"))
        recorder.apply(Fact(kind=F.SESSION_STARTED, at=5000.0, sender_id="s1"))  # a real new one
        with session_scope(session_factory(engine)) as session:
            contacts = session.query(Contact).order_by(Contact.id).all()
            turns = [c.user_turns for c in contacts]
    finally:
        engine.dispose()
    assert turns == [2, 0]

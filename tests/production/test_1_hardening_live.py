"""Issue 13's probe findings replayed through nginx and the real production stack."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.production, pytest.mark.services]


def _request(url: str, body: bytes | None = None, headers: dict[str, str] | None = None,
             method: str | None = None) -> tuple[int, Any]:
    req = urllib.request.Request(url, data=body, method=method,
                                 headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=90) as resp:  # noqa: S310 - loopback
            raw = resp.read()
            return int(resp.status), json.loads(raw) if raw else None
    except urllib.error.HTTPError as exc:
        raw = exc.read()
        try:
            return int(exc.code), json.loads(raw)
        except ValueError:
            return int(exc.code), raw[:200]


def _say(prod: Any, text: str, sender: str | None = None) -> tuple[int, Any]:
    body = json.dumps({"sender": sender or f"live-{uuid.uuid4().hex[:10]}",
                       "message": text}).encode()
    return _request(f"{prod.rasa_url}/webhooks/rest/webhook", body)


@pytest.mark.parametrize("first", ["yes", "/affirm"])
def test_a_first_yes_gets_one_reply_not_ten(prod: Any, first: str) -> None:
    status, replies = _say(prod, first)
    assert status == 200 and len(replies) == 1, replies


@pytest.mark.parametrize(("raw", "expected"), [
    (b'{"sender": "n1", "message": "hel\\u0000lo"}', 400),
    (b'{"sender": "n2", "message": "hi \\ud800 there"}', 400),
    (('{"sender": "n3", "message": "hello", "metadata": ' + '{"a": ' * 1000 + "1"
      + "}" * 1000 + "}").encode(), 400),
    (json.dumps({"sender": "n4", "message": "hi", "metadata": {"x": "a" * (1 << 20)}}).encode(),
     413),
])
def test_malformed_input_gets_a_4xx(prod: Any, raw: bytes, expected: int) -> None:
    status, _ = _request(f"{prod.rasa_url}/webhooks/rest/webhook", raw)
    assert status == expected


def test_the_action_servers_need_their_token(prod: Any) -> None:
    call = json.dumps({"next_action": "action_not_understood", "sender_id": "x",
                       "tracker": {"sender_id": "x", "slots": {}, "latest_message": {},
                                   "events": []}, "domain": {}}).encode()
    for port in (prod.plan.action_port, *prod.plan.action_ports):  # nginx, then each server
        status, _ = _request(f"http://127.0.0.1:{port}/webhook", call)
        assert status == 401, port


def test_rasa_http_api_needs_its_token_and_is_not_public(prod: Any) -> None:
    path = "/conversations/someone/tracker"
    assert _request(prod.replica_url(0) + path)[0] == 401
    token = prod.secrets["FIRSTPOINT_RASA_API_TOKEN"]
    assert _request(prod.replica_url(0) + path + f"?token={token}")[0] == 200
    assert _request(prod.rasa_url + path + f"?token={token}")[0] == 404  # nginx: not public


def test_the_reports_api_needs_credentials(prod: Any) -> None:
    url = f"{prod.rasa_url}/api/reports/summary"
    assert _request(url)[0] == 401
    token = prod.secrets["FIRSTPOINT_API_TOKEN"]
    assert _request(url, headers={"Authorization": f"Bearer {token}"})[0] == 200


def test_form_slots_and_messages_are_not_readable_in_the_tracker_store(prod: Any) -> None:
    from sqlalchemy import create_engine, text

    sender = f"live-{uuid.uuid4().hex[:10]}"
    for message in ("I need to speak to my son's social worker about his care plan",
                    "Please ask her to ring me about the Zebedee review", "Priya Quartermain",
                    "phone", "07700 900765", "after 3pm", "yes"):
        assert _say(prod, message, sender)[0] == 200
    engine = create_engine(prod.plan.tracker_url)
    try:
        with engine.connect() as conn:
            rows = [r[0] for r in conn.execute(
                text("SELECT data FROM events WHERE sender_id = :s"), {"s": sender})]
    finally:
        engine.dispose()
    assert rows, "the conversation is not in the PostgreSQL tracker store"
    joined = "\n".join(rows)
    for secret in ("Quartermain", "07700 900765", "Zebedee", "social worker"):
        assert secret not in joined


def test_logs_do_not_carry_messages(prod: Any) -> None:
    marker = f"Wibbleford{uuid.uuid4().hex[:8]}"
    assert _say(prod, f"my name is {marker}, what does business support do?")[0] == 200
    log_dir = Path(prod.settings.var_dir) / "logs"
    for path in log_dir.iterdir():
        assert marker not in path.read_text(encoding="utf-8", errors="replace"), path.name


def test_var_dir_is_0700_and_its_files_0600(prod: Any) -> None:
    var = Path(prod.settings.var_dir)
    assert stat.S_IMODE(var.stat().st_mode) == 0o700
    loose = []
    for root, dirs, files in os.walk(var):
        for name in files:
            path = Path(root) / name
            if path.is_socket() or path.is_symlink():
                continue
            if stat.S_IMODE(path.stat().st_mode) & 0o077:
                loose.append(f"{path.relative_to(var)} {oct(path.stat().st_mode)}")
        for name in dirs:
            path = Path(root) / name
            if stat.S_IMODE(path.stat().st_mode) & 0o077:
                loose.append(f"{path.relative_to(var)}/ {oct(path.stat().st_mode)}")
    assert not loose, loose


def test_retention_runs_on_a_schedule(prod: Any) -> None:
    assert prod.processes["retention"].poll() is None
    log = (Path(prod.settings.var_dir) / "logs" / "retention.log").read_text()
    assert "tracker events (older than" in log  # the first pass ran at start


def test_every_internal_port_listens_on_loopback_only(prod: Any) -> None:
    plan = prod.plan
    ports = {plan.public_port, plan.action_port, plan.api_port, *plan.replica_ports,
             *plan.action_ports}
    out = subprocess.run(["ss", "-ltnH"], capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        local = line.split()[3]
        address, _, port = local.rpartition(":")
        if port.isdigit() and int(port) in ports:
            assert address in ("127.0.0.1", "[::1]"), line


def test_the_key_is_outside_the_data_directory(prod: Any) -> None:
    var = Path(prod.settings.var_dir)
    for path in var.rglob("*"):
        if path.is_file() and path.stat().st_size < 4096:
            assert prod.env["FIRSTPOINT_DATA_KEY"] not in path.read_text(errors="replace"), path

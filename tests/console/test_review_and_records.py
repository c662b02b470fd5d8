"""The review queue (grouping, marks, NLU YAML Rasa can read), the console's tables
against their migration, the ``firstpoint users`` command, and the chart SVGs."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

import yaml

from firstpoint.console.review import Message, group_messages, nlu_yaml, text_key
from tests.console.conftest import ConsoleHarness
from tests.console.test_access import _as

NOT_UNDERSTOOD = [
    "can you order me a new laptop", "can you order me a new laptop please",
    "can you order me a laptop", "who fixes the lift in the car park",
    "the lift in the car park is broken again", "what time does the canteen open",
]


def _unrecognised(database_url: str, texts: list[str], day: date) -> None:
    """Contact-log rows as the recorder writes them (already redacted)."""
    from firstpoint.records.contacts import Contact, UnrecognisedMessage
    from firstpoint.records.db import make_engine, session_factory, session_scope

    engine = make_engine(database_url)
    with session_scope(session_factory(engine)) as s:
        for i, t in enumerate(texts):
            contact = Contact(conversation_key=f"k{i}", session_no=1, channel="web",
                              audience="resident", language="en", last_event_at=datetime(
                                  day.year, day.month, day.day, 10), user_turns=1,
                              outcome="not_understood")
            contact.set_started(datetime(day.year, day.month, day.day, 10))
            contact.unrecognised.append(UnrecognisedMessage(
                at=datetime(day.year, day.month, day.day, 10), text_redacted=t))
            s.add(contact)
    engine.dispose()


def test_similar_messages_share_a_group() -> None:
    groups = group_messages([Message(text_key(t), t, 1) for t in NOT_UNDERSTOOD])
    as_text = [sorted(m.text for m in g.messages) for g in groups]
    assert sorted(NOT_UNDERSTOOD[:3]) in as_text
    assert sorted(NOT_UNDERSTOOD[3:5]) in as_text
    assert ["what time does the canteen open"] in as_text
    assert groups[0].total == 3


async def test_mark_and_export_as_rasa_nlu_yaml(harness: ConsoleHarness) -> None:
    h = harness
    today = date.today()
    _unrecognised(h.settings.database_url, [*NOT_UNDERSTOOD, NOT_UNDERSTOOD[0]], today)
    await _as(h, "sam")
    page = await (await h.client.get("/console/review")).text()
    assert "can you order me a new laptop" in page and "(2 times)" in page
    token = await h.csrf("/console/review")
    laptop = [text_key(t) for t in NOT_UNDERSTOOD[:3]]
    r = await h.client.post("/console/review/mark", data=[
        ("csrf_token", token), ("decision", "training"), ("intent", "ask_capabilities"),
        *[("text", k) for k in laptop]], allow_redirects=False)
    assert r.status == 303, await r.text()
    r = await h.client.post("/console/review/mark", data=[
        ("csrf_token", token), ("decision", "knowledge"), ("entry", "nonexistent-entry"),
        ("text", text_key(NOT_UNDERSTOOD[5]))], allow_redirects=False)
    assert r.status == 400  # an entry that is not in the knowledge base
    page = await (await h.client.get("/console/review")).text()
    queue = page[:page.index("Marked recently")]
    assert "order me a new laptop" not in queue and "canteen" in queue
    exported = await (await h.client.get("/console/review/export.yml")).text()
    data = yaml.safe_load(exported)
    assert data["version"] == "3.1"
    assert data["nlu"][0]["intent"] == "ask_capabilities"
    from rasa.shared.nlu.training_data.formats.rasa_yaml import RasaYAMLReader

    training = RasaYAMLReader().reads(exported)
    assert sorted(m.get("text") for m in training.training_examples) == sorted(
        NOT_UNDERSTOOD[:3])
    assert {m.get("intent") for m in training.training_examples} == {"ask_capabilities"}


def test_nlu_yaml_keeps_odd_text_on_one_line() -> None:
    from firstpoint.console.review import Mark

    marks = [Mark("what's: a [PHONE] # no\nsecond line", "training", None, "greet", "sam",
                  datetime.now(timezone.utc))]
    data = yaml.safe_load(nlu_yaml(marks))
    assert data["nlu"][0]["examples"] == "- what's: a [PHONE] # no second line\n"


def test_console_tables_match_their_migration(tmp_path: Path) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from firstpoint.records import models_registry  # noqa: F401
    from firstpoint.records.db import Base, make_engine
    from firstpoint.records.migrate import upgrade

    url = f"sqlite:///{tmp_path / 'm.db'}"
    upgrade(url)
    engine = make_engine(url)
    with engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    engine.dispose()
    console = [d for d in diffs if "console_" in repr(d)]
    assert console == []


def _cli(tmp_path: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "FIRSTPOINT_VAR_DIR": str(tmp_path),
           "FIRSTPOINT_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}"}
    env.pop("FIRSTPOINT_DATA_KEY", None)
    return subprocess.run([sys.executable, "-m", "firstpoint.cli", "users", *args], env=env,
                          input=stdin, capture_output=True, text=True, timeout=120)


def test_users_command(tmp_path: Path) -> None:
    from firstpoint.console.accounts import Accounts
    from firstpoint.records.db import make_engine, session_factory

    added = _cli(tmp_path, "add", "olive", "--role", "officer", "--team",
                 "childrens-front-door", "--password-stdin", stdin="a long enough password\n")
    assert added.returncode == 0, added.stderr
    assert _cli(tmp_path, "add", "x", "--role", "officer").returncode == 1  # no team
    assert "no team 'nope'" in _cli(tmp_path, "add", "y", "--role", "officer", "--team",
                                    "nope").stderr
    assert "at least 12" in _cli(tmp_path, "add", "zed", "--role", "analyst",
                                 "--password-stdin", stdin="short\n").stderr
    made = _cli(tmp_path, "add", "sam", "--role", "supervisor")
    generated = made.stdout.split("password (shown once): ")[1].strip()
    accounts: Any = Accounts(session_factory(make_engine(f"sqlite:///{tmp_path / 'cli.db'}")))
    assert accounts.authenticate("sam", generated).user is not None
    assert accounts.authenticate("olive", "a long enough password").user is not None
    assert _cli(tmp_path, "disable", "olive").returncode == 0
    assert accounts.authenticate("olive", "a long enough password").reason == "disabled"
    reset = _cli(tmp_path, "reset", "sam", "--password-stdin", stdin="another long password\n")
    assert reset.returncode == 0
    assert accounts.authenticate("sam", generated).user is None
    assert accounts.authenticate("sam", "another long password").user is not None
    listing = _cli(tmp_path, "list").stdout
    assert "olive" in listing and "disabled" in listing and "supervisor" in listing


async def test_charts_are_svg_without_inline_styles(harness: ConsoleHarness) -> None:
    h = harness
    from tests.reports.fixtures import load_fixture

    load_fixture(h.settings.database_url)
    await _as(h, "ana")
    page = await (await h.client.get("/console/reports?from=2025-01-01&to=2027-12-31")).text()
    assert "Outcomes by channel" in page and "<caption" in page
    for name in ("containment", "channels", "audiences", "demand", "topics", "value"):
        r = await h.client.get(f"/console/reports/charts/{name}.svg?from=2025-01-01&to=2027-12-31")
        body = await r.text()
        assert r.status == 200 and r.content_type == "image/svg+xml"
        assert body.count("<path") > 5 and "style=" not in body and "<style" not in body
    csv_text = await (await h.client.get("/console/reports.csv?from=2025-01-01&to=2027-12-31")
                      ).text()
    assert csv_text.startswith("section,dimension,key,metric,value")


def test_firstpoint_api_serves_the_console(tmp_path: Path) -> None:
    """The process `firstpoint run` starts for the API also serves the console."""
    import time
    import urllib.request

    from tests.connectors.conftest import free_port

    port = free_port()
    env = {**os.environ, "FIRSTPOINT_VAR_DIR": str(tmp_path),
           "FIRSTPOINT_DATABASE_URL": f"sqlite:///{tmp_path / 'api.db'}"}
    env.pop("FIRSTPOINT_DATA_KEY", None)
    proc = subprocess.Popen([sys.executable, "-m", "firstpoint.cli", "api", "--port", str(port)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/console/login",  # noqa: S310
                                            timeout=2) as resp:
                    body = resp.read().decode()
                    csp = resp.headers["Content-Security-Policy"]
                break
            except OSError:
                assert proc.poll() is None, "firstpoint api exited"
                assert time.monotonic() < deadline, "the console did not answer"
                time.sleep(0.5)
        assert "Sign in" in body and "unsafe-inline" not in csp
    finally:
        proc.terminate()
        proc.wait(20)

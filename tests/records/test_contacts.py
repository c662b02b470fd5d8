"""The contact log: models, migration 0001_contacts, ContactRecorder, keys, export, purge."""

from __future__ import annotations

import json
import stat
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
import yaml
from sqlalchemy import inspect, select, text

from firstpoint.events.facts import conversation_key, event_to_fact
from firstpoint.records.contacts import (
    Contact,
    ContactRecorder,
    contact_key_from_settings,
    contact_keys_from_settings,
    outcome_rank,
)
from firstpoint.records.db import make_engine, session_factory, session_scope
from firstpoint.records.migrate import upgrade
from firstpoint.records.redaction import Redactor
from firstpoint.settings import settings_from_env
from tests.events.rasa_stream import (
    STAFF_TEAMS,
    WEB,
    Clock,
    action,
    bot,
    loop,
    published_sync,
    session_start,
    slot,
    user,
)

PROJECT_CONTENT = Path(__file__).resolve().parents[2] / "knowledge" / "content"

UTC = timezone.utc
KEY = b"contact-log-test-key-0123456789ab"
MY_TABLES = ("contacts", "contact_topics", "unrecognised_messages")

# Personal data the conversations below contain; none of it may reach the database.
SECRETS = (
    "Jo Bloggs", "Bloggs", "07700 900123", "07700900123", "jo.bloggs@example.com", "SW1A 1AA",
    "QQ 12 34 56 C", "Priya", "Jack", "after 5pm", "Mr Green", "4111 1111 1111 1111",
)


@pytest.fixture(scope="module")
def redactor() -> Redactor:
    return Redactor(today=date(2026, 11, 24))


@pytest.fixture
def engine(sqlite_url):
    upgrade(sqlite_url)
    engine = make_engine(sqlite_url)
    yield engine
    engine.dispose()


class FixedClock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def recorder(engine) -> ContactRecorder:
    return ContactRecorder(session_factory(engine), KEY,
                           clock=FixedClock(datetime(2026, 1, 1, tzinfo=UTC)), idle_minutes=30)


def feed(recorder: ContactRecorder, redactor: Redactor, sender: str, events) -> None:
    """Publish ``events`` the way Rasa does and apply the facts, as the broker would."""
    for event in published_sync(sender, events):
        fact = event_to_fact(event, redactor)
        if fact is not None:
            recorder.apply(fact.pseudonymised(recorder.key))


def contacts(engine, sender: str | None = None) -> list[Contact]:
    with session_scope(session_factory(engine)) as session:
        query = select(Contact).order_by(Contact.id)
        if sender is not None:
            query = query.where(Contact.conversation_key == conversation_key(KEY, sender))
        rows = session.execute(query).scalars().all()
        for row in rows:  # load relationships before the session closes
            _ = (list(row.topics), list(row.unrecognised))
        return list(rows)


def the_contact(engine, sender: str) -> Contact:
    rows = contacts(engine, sender)
    assert len(rows) == 1, rows
    return rows[0]


def at(clock: Clock) -> datetime:
    """Naive UTC of the clock's next tick, as stored."""
    return datetime.fromtimestamp(clock.start, UTC).replace(tzinfo=None)


# ----------------------------------------------------------------- conversations

def answered(clock: Clock, meta=WEB):
    return session_start(clock, meta) + [
        user(clock, "Hi I'm Jo Bloggs, can business support book my travel?", "ask_service",
             meta),
        action(clock, "action_answer_service"), slot(clock, "kb_topic", "menu.travel"),
        slot(clock, "kb_outcome", "answered"), bot(clock, "Yes, Jo: ..."),
        action(clock, "action_listen"),
        user(clock, "and minutes for a panel?", "ask_followup", meta),
        action(clock, "action_answer_service"), slot(clock, "kb_topic", "menu.minute-taking"),
        slot(clock, "kb_outcome", "answered"), slot(clock, "kb_topic", "menu.travel"),
        action(clock, "action_listen"),
        slot(clock, "feedback_rating", "helpful"),
        slot(clock, "feedback_comment", "Great, thanks Priya! ring 07700 900123"),
    ]


def handoff(clock: Clock, reference: str | None = "FP-7K3M9Q", meta=WEB):
    events = [
        user(clock, "can I speak to someone? my email is jo.bloggs@example.com",
             "request_human", meta),
        action(clock, "handoff_form"), loop(clock, "handoff_form"),
        slot(clock, "handoff_team", "business-support"),
        slot(clock, "caller_name", "Jo Bloggs"), slot(clock, "contact_method", "phone"),
        slot(clock, "contact_details", "07700 900123"), slot(clock, "contact_time", "after 5pm"),
        slot(clock, "handoff_message", "my son Jack and Mr Green"),
        slot(clock, "consent_to_share", True),
    ]
    if reference:
        events += [action(clock, "action_submit_handoff"), loop(clock, None),
                   slot(clock, "handoff_reference", reference)]
    return events


def test_answered(recorder, engine, redactor) -> None:
    clock = Clock()
    started = datetime.fromtimestamp(clock.start, UTC).replace(tzinfo=None)
    feed(recorder, redactor, "s-answered", answered(clock))
    c = the_contact(engine, "s-answered")
    assert c.outcome == "answered"
    assert [t.entry_id for t in c.topics] == ["menu.travel", "menu.minute-taking"]
    assert [t.position for t in c.topics] == [0, 1]
    assert (c.user_turns, c.channel, c.audience, c.language) == (2, "web", "resident", "en")
    assert c.rating == "helpful"
    assert c.rating_comment == "Great, thanks [NAME]! ring [PHONE]"
    assert c.session_no == 1 and c.ended_at is None
    assert c.started_at == started + timedelta(seconds=10)  # the session_started event
    assert len(c.contact_uuid) == 36 and len(c.conversation_key) == 64


def test_declined(recorder, engine, redactor) -> None:
    clock = Clock()
    feed(recorder, redactor, "s-declined", session_start(clock, WEB) + [
        user(clock, "can you do my shopping", "ask_service", WEB),
        action(clock, "action_answer_service"), slot(clock, "kb_topic", "menu.shopping"),
        slot(clock, "kb_outcome", "declined")])
    assert the_contact(engine, "s-declined").outcome == "declined"


def test_handed_off(recorder, engine, redactor) -> None:
    clock = Clock()
    feed(recorder, redactor, "s-handoff",
         session_start(clock, STAFF_TEAMS) + handoff(clock, meta=STAFF_TEAMS))
    c = the_contact(engine, "s-handoff")
    assert (c.outcome, c.handoff_team, c.handoff_reference) == (
        "handed_off", "business-support", "FP-7K3M9Q")
    assert (c.channel, c.audience) == ("teams", "staff")


def test_emergency_beats_everything(recorder, engine, redactor) -> None:
    clock = Clock()
    feed(recorder, redactor, "s-emergency", session_start(clock, WEB) + [
        user(clock, "someone is threatening me", "emergency", WEB),
        action(clock, "action_emergency_advice"), slot(clock, "safety_category", "danger"),
    ] + answered(clock)[4:] + handoff(clock))
    c = the_contact(engine, "s-emergency")
    assert (c.outcome, c.safety_category) == ("emergency", "danger")


def test_not_understood_stores_redacted_text_once_per_turn(recorder, engine, redactor) -> None:
    clock = Clock()
    feed(recorder, redactor, "s-nu", session_start(clock, WEB) + [
        user(clock, "my name is Jo Bloggs and the flibbertigibbet ate it", "nlu_fallback", WEB),
        action(clock, "action_not_understood"),
        user(clock, "QQ 12 34 56 C is my NI, the zorb is broken", "out_of_scope", WEB),
        action(clock, "action_not_understood"),
        user(clock, "what's the weather", "out_of_scope", WEB),
        action(clock, "utter_out_of_scope"),
    ])
    c = the_contact(engine, "s-nu")
    assert c.outcome == "not_understood"
    assert [m.text_redacted for m in c.unrecognised] == [
        "my name is [NAME] and the flibbertigibbet ate it",
        "[NI_NUMBER] is my NI, the zorb is broken",
    ]
    assert {(m.channel, m.audience) for m in c.unrecognised} == {("web", "resident")}


def test_abandoned_by_idle_sweep(recorder, engine, redactor) -> None:
    clock = Clock()
    feed(recorder, redactor, "s-idle", session_start(clock, WEB) + [
        user(clock, "hello", "greet", WEB), action(clock, "utter_greet")])
    last = the_contact(engine, "s-idle").last_event_at.replace(tzinfo=UTC)
    assert recorder.close_idle(last + timedelta(minutes=29)) == 0
    assert the_contact(engine, "s-idle").outcome is None
    assert recorder.close_idle(last + timedelta(minutes=31)) == 1
    c = the_contact(engine, "s-idle")
    assert c.outcome == "abandoned" and c.ended_at == last.replace(tzinfo=None)
    assert recorder.close_idle(last + timedelta(hours=5)) == 0  # already closed


def test_abandoned_mid_handoff_form(recorder, engine, redactor) -> None:
    clock = Clock()
    feed(recorder, redactor, "s-midform", session_start(clock, WEB) + handoff(clock, None))
    c = the_contact(engine, "s-midform")
    assert c.outcome is None and c.handoff_team == "business-support"
    assert recorder.close_idle(c.last_event_at.replace(tzinfo=UTC) + timedelta(hours=1)) == 1
    assert the_contact(engine, "s-midform").outcome == "abandoned"


def test_mid_form_after_not_understood_is_abandoned_but_after_answer_is_answered(
        recorder, engine, redactor) -> None:
    clock = Clock()
    feed(recorder, redactor, "s-nu-form", session_start(clock, WEB) + [
        user(clock, "blorp", "nlu_fallback", WEB), action(clock, "action_not_understood"),
    ] + handoff(clock, None))
    feed(recorder, redactor, "s-ans-form", answered(clock) + handoff(clock, None))
    recorder.close_idle(datetime(2030, 1, 1, tzinfo=UTC))
    assert the_contact(engine, "s-nu-form").outcome == "abandoned"
    assert the_contact(engine, "s-ans-form").outcome == "answered"


def test_mid_form_detected_from_the_database_alone(engine, redactor) -> None:
    """A fresh recorder (e.g. ``firstpoint contacts close-idle``) has no memory of the form."""
    clock = Clock()
    first = ContactRecorder(session_factory(engine), KEY)
    feed(first, redactor, "s-midform-2", session_start(clock, WEB) + handoff(clock, None))
    fresh = ContactRecorder(session_factory(engine), KEY)
    assert fresh.close_idle(datetime(2030, 1, 1, tzinfo=UTC)) == 1
    assert the_contact(engine, "s-midform-2").outcome == "abandoned"


def test_two_sessions_two_contacts_and_carried_slots_ignored(recorder, engine, redactor) -> None:
    clock = Clock()
    feed(recorder, redactor, "s-two", answered(clock))
    clock.skip(2 * 3600)
    carried = [slot(clock, "kb_topic", "menu.travel"), slot(clock, "kb_outcome", "answered"),
               slot(clock, "language", "cy"), slot(clock, "caller_name", "Jo Bloggs")]
    feed(recorder, redactor, "s-two", session_start(clock, WEB, carried=carried) + [
        user(clock, "hello again", "greet", WEB), action(clock, "utter_greet")])
    first, second = contacts(engine, "s-two")
    assert (first.session_no, second.session_no) == (1, 2)
    assert first.ended_at is not None and first.outcome == "answered"
    assert second.ended_at is None and second.outcome is None
    assert second.topics == [] and second.user_turns == 1
    assert second.language == "cy"  # the conversation's language carries over


def test_first_fact_without_session_start_opens_a_contact(recorder, engine, redactor) -> None:
    clock = Clock()
    feed(recorder, redactor, "s-nostart", [user(clock, "hi", "greet", WEB)])
    assert the_contact(engine, "s-nostart").user_turns == 1


def test_repeated_session_start_without_messages_is_one_contact_and_swept_away(
        recorder, engine, redactor) -> None:
    clock = Clock()
    feed(recorder, redactor, "s-empty", session_start(clock, WEB))
    clock.skip(3600)
    feed(recorder, redactor, "s-empty", session_start(clock, WEB))
    assert len(contacts(engine, "s-empty")) == 1
    assert recorder.close_idle(datetime(2030, 1, 1, tzinfo=UTC)) == 0
    assert contacts(engine, "s-empty") == []  # a widget opened and never used is no contact


def test_contact_reopens_when_the_same_session_continues(recorder, engine, redactor) -> None:
    clock = Clock()
    feed(recorder, redactor, "s-back", session_start(clock, WEB) + [
        user(clock, "hello", "greet", WEB)])
    recorder.close_idle(datetime(2030, 1, 1, tzinfo=UTC))
    assert the_contact(engine, "s-back").outcome == "abandoned"
    clock.skip(40 * 60)
    feed(recorder, redactor, "s-back", [
        user(clock, "sorry, back: can you book travel", "ask_service", WEB),
        slot(clock, "kb_topic", "menu.travel"), slot(clock, "kb_outcome", "answered")])
    c = the_contact(engine, "s-back")
    assert (c.outcome, c.ended_at, c.user_turns) == ("answered", None, 2)


def test_metadata_defaults_when_absent(recorder, engine, redactor) -> None:
    clock = Clock()
    feed(recorder, redactor, "s-bare", session_start(clock) + [
        user(clock, "hi", "greet", None, input_channel=None)])
    c = the_contact(engine, "s-bare")
    assert (c.channel, c.audience, c.language) == ("rest", "resident", "en")
    clock2 = Clock()
    feed(recorder, redactor, "s-fb", session_start(clock2) + [
        user(clock2, "hi", "greet", None, input_channel="facebook")])
    assert the_contact(engine, "s-fb").channel == "facebook"


def test_session_metadata_used_when_user_metadata_lacks_it(recorder, engine, redactor) -> None:
    clock = Clock()
    feed(recorder, redactor, "s-meta", session_start(clock, STAFF_TEAMS) + [
        user(clock, "hi", "greet", None, input_channel=None)])
    c = the_contact(engine, "s-meta")
    assert (c.channel, c.audience) == ("teams", "staff")


@pytest.mark.parametrize(("timestamp", "expected"), [
    # 23:30 UTC on 1 July 2026 is 00:30 BST on Thursday 2 July
    (datetime(2026, 7, 1, 23, 30, tzinfo=UTC), (date(2026, 7, 2), "2026-07", 0, 3)),
    # 23:30 UTC on 31 December 2026 is still 31 December in London (GMT), a Thursday
    (datetime(2026, 12, 31, 23, 30, tzinfo=UTC), (date(2026, 12, 31), "2026-12", 23, 3)),
    # 23:30 UTC on 31 March 2026 is 00:30 BST on Wednesday 1 April
    (datetime(2026, 3, 31, 23, 30, tzinfo=UTC), (date(2026, 4, 1), "2026-04", 0, 2)),
])
def test_local_fields_in_europe_london(recorder, engine, redactor, timestamp, expected) -> None:
    clock = Clock(start=timestamp.timestamp(), step=0)
    sender = f"s-local-{timestamp.month}"
    feed(recorder, redactor, sender, session_start(clock, WEB))
    c = the_contact(engine, sender)
    assert (c.local_date, c.local_month, c.local_hour, c.local_weekday) == expected
    assert c.started_at == timestamp.replace(tzinfo=None)


def test_outcome_precedence() -> None:
    order = ["emergency", "handed_off", "answered", "declined", "not_understood", "abandoned"]
    ranks = [outcome_rank(o) for o in order]
    assert ranks == sorted(ranks, reverse=True) and len(set(ranks)) == 6
    assert outcome_rank(None) == 0 < outcome_rank("abandoned")


def test_precedence_applied_in_any_order(recorder, engine, redactor) -> None:
    clock = Clock()
    feed(recorder, redactor, "s-order", session_start(clock, WEB) + handoff(clock) + [
        user(clock, "book travel", "ask_service", WEB), slot(clock, "kb_outcome", "answered"),
        user(clock, "blorp", "nlu_fallback", WEB), action(clock, "action_not_understood"),
        slot(clock, "kb_outcome", "declined")])
    assert the_contact(engine, "s-order").outcome == "handed_off"


def test_no_personal_data_anywhere_in_the_database(recorder, engine, redactor) -> None:
    clock = Clock()
    senders = ["+447700900123", "jo.bloggs@example.com"]  # channels whose ids are personal
    feed(recorder, redactor, senders[0], answered(clock) + handoff(clock))
    feed(recorder, redactor, senders[1], session_start(clock, WEB) + [
        user(clock, "I'm Jo Bloggs, SW1A 1AA, QQ 12 34 56 C, card 4111 1111 1111 1111",
             "nlu_fallback", WEB), action(clock, "action_not_understood")] + handoff(clock, None))
    recorder.close_idle(datetime(2030, 1, 1, tzinfo=UTC))
    needles = [s.lower() for s in (*SECRETS, *senders, "900123", "jo.bloggs")]
    raw_texts = [e.text.lower() for e in answered(Clock()) + handoff(Clock())
                 if getattr(e, "text", None) and e.text and len(e.text) > 15]
    seen = 0
    with engine.connect() as conn:
        for table in inspect(engine).get_table_names():
            for row in conn.execute(text(f'SELECT * FROM "{table}"')):
                for value in row:
                    value_text = str(value).lower()
                    seen += 1
                    assert not any(n in value_text for n in needles), (table, value)
                    assert value_text not in raw_texts, (table, value)
    assert seen > 50  # the scan really looked at rows


# ----------------------------------------------------------------- migration and models

def _my_schema_diff(url: str) -> tuple[list, list[str]]:
    """Alembic's differences (types compared) between the migrated ``url`` and the
    models, restricted to the contact-log tables, and the database's alembic heads."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from firstpoint.records import models_registry  # noqa: F401  (every table)
    from firstpoint.records.db import Base

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            diff = compare_metadata(context, Base.metadata)
            heads = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    finally:
        engine.dispose()
    return [d for d in diff if _diff_table(d) in MY_TABLES], list(heads)


def _diff_table(item) -> str | None:  # type: ignore[no-untyped-def]
    """The table an autogenerate difference is about (modify_* come as lists)."""
    if isinstance(item, list):
        return _diff_table(item[0])
    kind, obj = item[0], item[1]
    if kind in ("add_table", "remove_table"):
        return str(obj.name)
    if kind in ("add_column", "remove_column") or kind.startswith("modify_"):
        return str(item[2])
    table = getattr(obj, "table", None)
    return None if table is None else str(table.name)


def _script_heads(url: str) -> list[str]:
    from alembic.script import ScriptDirectory

    from firstpoint.records.migrate import alembic_config

    return list(ScriptDirectory.from_config(alembic_config(url)).get_heads())


def test_migration_matches_models(sqlite_url) -> None:
    upgrade(sqlite_url)
    mine, heads = _my_schema_diff(sqlite_url)
    assert mine == []
    assert heads == _script_heads(sqlite_url)  # one chain: 0001 -> 0002 -> 0003 -> ...


@pytest.mark.services
def test_migration_matches_models_on_postgresql(postgres_url) -> None:
    upgrade(postgres_url)
    mine, heads = _my_schema_diff(postgres_url)
    assert mine == []
    assert heads == _script_heads(postgres_url)


def test_schema_diff_sees_a_missing_report_index(sqlite_url) -> None:
    """The comparison above can fail: 0001 alone lacks what the models declare."""
    upgrade(sqlite_url, "0001_contacts")
    mine, heads = _my_schema_diff(sqlite_url)
    assert heads == ["0001_contacts"]
    reported = repr(mine)
    for name in ("ix_contacts_report", "ix_contacts_hours", "ix_contact_topics_report",
                 "ix_unrecognised_messages_report"):
        assert name in reported


def test_migration_declares_a_root() -> None:
    import importlib.util

    path = Path(__file__).resolve().parents[2] / (
        "firstpoint/records/migrations/versions/0001_contacts.py")
    spec = importlib.util.spec_from_file_location("m0001", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert (module.revision, module.down_revision) == ("0001_contacts", None)


def test_report_indexes_migration_follows_0002() -> None:
    import importlib.util

    path = Path(__file__).resolve().parents[2] / (
        "firstpoint/records/migrations/versions/0003_report_indexes.py")
    spec = importlib.util.spec_from_file_location("m0003", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert (module.revision, module.down_revision) == ("0003_report_indexes", "0002_handoffs")


# ----------------------------------------------------------------- denormalised scope

SCOPE_MISMATCHES = """
SELECT '{table}', x.id FROM {table} x JOIN contacts c ON c.id = x.contact_id
WHERE x.local_date <> c.local_date OR x.channel <> c.channel OR x.audience <> c.audience
   OR x.local_date IS NULL OR x.channel IS NULL OR x.audience IS NULL
"""


def scope_mismatches(engine) -> list[tuple]:
    """Child rows whose local_date/channel/audience differ from their contact's."""
    with engine.connect() as conn:
        return [tuple(row) for table in ("contact_topics", "unrecognised_messages")
                for row in conn.execute(text(SCOPE_MISMATCHES.format(table=table)))]


def child_scopes(engine) -> dict[str, set[tuple]]:
    """The distinct (local_date, channel, audience) stored on each child table."""
    with engine.connect() as conn:
        return {table: {(date.fromisoformat(str(d)), ch, aud) for d, ch, aud in conn.execute(
            text(f"SELECT local_date, channel, audience FROM {table}"))}
            for table in ("contact_topics", "unrecognised_messages")}


def test_denormalised_scope_matches_the_contact(recorder, engine, redactor) -> None:
    clock = Clock()
    feed(recorder, redactor, "s-scope-1", answered(clock, STAFF_TEAMS) + [
        user(clock, "blorp", "nlu_fallback", STAFF_TEAMS)] + handoff(clock))
    feed(recorder, redactor, "s-scope-2", answered(Clock(start=1_780_000_000.0)))
    assert scope_mismatches(engine) == []
    scopes = child_scopes(engine)
    assert scopes["contact_topics"] == {(date(2026, 1, 1), "teams", "staff"),
                                        (date(2026, 5, 28), "web", "resident")}
    assert scopes["unrecognised_messages"] == {(date(2026, 1, 1), "teams", "staff")}


def test_scope_follows_channel_set_at_the_first_user_turn(recorder, engine, redactor) -> None:
    # A topic recorded before the person writes (after a tracked action) takes the
    # session's defaults (rest, resident); the first user message then sets the
    # contact's channel and audience.
    clock = Clock()
    feed(recorder, redactor, "s-late", session_start(clock) + [
        action(clock, "handoff_form"), slot(clock, "kb_topic", "menu.travel")])
    assert child_scopes(engine)["contact_topics"] == {(date(2026, 1, 1), "rest", "resident")}
    feed(recorder, redactor, "s-late", [user(clock, "hi", "greet", STAFF_TEAMS),
                                        slot(clock, "kb_topic", "menu.rooms")])
    c = the_contact(engine, "s-late")
    assert (c.channel, c.audience) == ("teams", "staff") and len(c.topics) == 2
    assert scope_mismatches(engine) == []
    assert child_scopes(engine)["contact_topics"] == {(date(2026, 1, 1), "teams", "staff")}


def test_scope_follows_a_restarted_empty_session(recorder, engine, redactor) -> None:
    # A contact with only a topic (no user turn, no outcome) restarted two days later
    # moves to the new start date, and so does its topic.
    clock = Clock()
    feed(recorder, redactor, "s-restart", session_start(clock, WEB) + [
        action(clock, "handoff_form"), slot(clock, "kb_topic", "menu.travel")])
    clock.skip(2 * 86_400)
    feed(recorder, redactor, "s-restart", session_start(clock, WEB))
    c = the_contact(engine, "s-restart")
    assert c.local_date == date(2026, 1, 3) and [t.entry_id for t in c.topics] == ["menu.travel"]
    assert scope_mismatches(engine) == []


def test_scope_copied_when_children_are_added_without_the_relationship(engine) -> None:
    from firstpoint.records.contacts import ContactTopic, UnrecognisedMessage

    factory = session_factory(engine)
    with session_scope(factory) as session:
        contact = Contact(conversation_key="k" * 64, session_no=1, channel="facebook",
                          audience="staff", language="en",
                          last_event_at=datetime(2026, 6, 1, 12), user_turns=1)
        contact.set_started(datetime(2026, 5, 31, 23, 30))  # 1 June, 00:30 BST
        session.add(contact)
        session.flush()
        session.add(ContactTopic(contact_id=contact.id, entry_id="menu.rooms", position=0))
        session.add(UnrecognisedMessage(contact_id=contact.id, at=datetime(2026, 6, 1),
                                        text_redacted="blorp", channel="?", audience="?"))
    assert scope_mismatches(engine) == []  # the given "?" were replaced too
    assert child_scopes(engine) == {
        "contact_topics": {(date(2026, 6, 1), "facebook", "staff")},
        "unrecognised_messages": {(date(2026, 6, 1), "facebook", "staff")},
    }
    with session_scope(factory) as session:
        contact = session.get(Contact, contact.id)
        assert contact is not None
        contact.channel = "web"
        contact.set_started(datetime(2026, 7, 1, 9))
    assert scope_mismatches(engine) == []
    assert child_scopes(engine) == {
        "contact_topics": {(date(2026, 7, 1), "web", "staff")},
        "unrecognised_messages": {(date(2026, 7, 1), "web", "staff")},
    }


def test_an_entry_is_stored_once_per_contact(recorder, engine, redactor) -> None:
    from sqlalchemy.exc import IntegrityError

    from firstpoint.events.facts import Fact

    clock = Clock()
    feed(recorder, redactor, "s-long", answered(clock))  # menu.travel answered twice
    # a fact from elsewhere (spool, other producer) with an over-long entry: stored
    # truncated to 80 characters, and recognised as the same entry the second time
    long_entry = "menu." + "x" * 100
    for _ in range(2):
        recorder.apply(Fact(kind="slot", at=clock(), name="kb_topic", value=long_entry,
                            conversation_key=conversation_key(KEY, "s-long")))
    assert [t.entry_id for t in the_contact(engine, "s-long").topics] == [
        "menu.travel", "menu.minute-taking", long_entry[:80]]
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO contact_topics (contact_id, entry_id, position, local_date, channel, "
            "audience) SELECT contact_id, entry_id, 9, local_date, channel, audience "
            "FROM contact_topics LIMIT 1"))


def _report_indexes_backfill(url: str) -> None:
    """Rows written under 0001_contacts get their contact's scope from 0003; downgrade
    removes the columns again."""
    from alembic import command

    from firstpoint.records.migrate import alembic_config

    upgrade(url, "0001_contacts")
    engine = make_engine(url)
    try:
        contact = ("INSERT INTO contacts (id, contact_uuid, conversation_key, session_no, "
                   "channel, audience, language, started_at, last_event_at, local_date, "
                   "local_month, local_hour, local_weekday, user_turns) VALUES "
                   "(:id, :uuid, :key, 1, :channel, :audience, 'en', :at, :at, :day, :month, "
                   "9, 0, 1)")
        with engine.begin() as conn:
            for n, channel, audience, day in ((1, "web", "resident", date(2026, 10, 5)),
                                              (2, "teams", "staff", date(2026, 11, 2))):
                conn.execute(text(contact), {
                    "id": n, "uuid": f"uuid-{n}", "key": f"{n:064x}", "channel": channel,
                    "audience": audience, "at": datetime(day.year, day.month, day.day, 9),
                    "day": day, "month": day.isoformat()[:7]})
            conn.execute(text(
                "INSERT INTO contact_topics (contact_id, entry_id, position) VALUES "
                "(1, 'menu.a', 0), (1, 'menu.b', 1), (2, 'menu.a', 0), (2, 'menu.a', 1)"))
            conn.execute(text(
                "INSERT INTO unrecognised_messages (contact_id, at, text_redacted, channel, "
                "audience) VALUES (2, :at, 'blorp', 'rest', 'resident')"),
                {"at": datetime(2026, 11, 2, 9)})
        upgrade(url)
        assert scope_mismatches(engine) == []
        with engine.connect() as conn:
            topics = conn.execute(text(
                "SELECT contact_id, entry_id, local_date, channel, audience FROM contact_topics "
                "ORDER BY contact_id, entry_id")).all()
            messages = conn.execute(text(
                "SELECT local_date, channel, audience FROM unrecognised_messages")).all()
        assert [(c, e, str(d), ch, aud) for c, e, d, ch, aud in topics] == [
            (1, "menu.a", "2026-10-05", "web", "resident"),  # the duplicate (2, menu.a)
            (1, "menu.b", "2026-10-05", "web", "resident"),  # is gone
            (2, "menu.a", "2026-11-02", "teams", "staff"),
        ]
        assert [(str(d), ch, aud) for d, ch, aud in messages] == [
            ("2026-11-02", "teams", "staff")]
        command.downgrade(alembic_config(url), "0001_contacts")
        engine.dispose()
        columns = {c["name"] for c in inspect(engine).get_columns("contact_topics")}
        assert columns == {"id", "contact_id", "entry_id", "position"}
        assert "local_date" not in {
            c["name"] for c in inspect(engine).get_columns("unrecognised_messages")}
        upgrade(url)  # and up again
        assert scope_mismatches(engine) == []
    finally:
        engine.dispose()


def test_report_indexes_migration_backfills_and_downgrades(sqlite_url) -> None:
    _report_indexes_backfill(sqlite_url)


@pytest.mark.services
def test_report_indexes_migration_backfills_and_downgrades_on_postgresql(postgres_url) -> None:
    _report_indexes_backfill(postgres_url)


def test_deleting_a_contact_cascades(engine, recorder, redactor) -> None:
    clock = Clock()
    feed(recorder, redactor, "s-cascade", answered(clock) + [
        user(clock, "blorp", "nlu_fallback", WEB)])
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM contacts"))
        assert conn.execute(text("SELECT count(*) FROM contact_topics")).scalar_one() == 0
        assert conn.execute(text("SELECT count(*) FROM unrecognised_messages")).scalar_one() == 0


# ----------------------------------------------------------------- keys

def test_key_from_data_key_and_rotation(tmp_path) -> None:
    one = settings_from_env({"FIRSTPOINT_VAR_DIR": str(tmp_path), "FIRSTPOINT_DATA_KEY": "new"})
    two = settings_from_env({"FIRSTPOINT_VAR_DIR": str(tmp_path),
                             "FIRSTPOINT_DATA_KEY": "newer,new"})
    assert contact_key_from_settings(one) == contact_keys_from_settings(two)[1]
    assert contact_key_from_settings(two) != contact_key_from_settings(one)
    assert contact_key_from_settings(one) != b"new"  # derived, not the data key itself
    assert not (tmp_path / "contact_log.key").exists()


def test_key_file_created_private_and_stable(tmp_path) -> None:
    settings = settings_from_env({"FIRSTPOINT_VAR_DIR": str(tmp_path / "var")})
    key = contact_key_from_settings(settings)
    path = tmp_path / "var" / "contact_log.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert contact_key_from_settings(settings) == key and len(key) == 32
    other = settings_from_env({"FIRSTPOINT_VAR_DIR": str(tmp_path / "other")})
    assert contact_key_from_settings(other) != key


# ----------------------------------------------------------------- export and purge

@pytest.fixture
def cli_settings(tmp_path, sqlite_url):
    from cryptography.fernet import Fernet

    return settings_from_env({
        "FIRSTPOINT_VAR_DIR": str(tmp_path / "var"),
        "FIRSTPOINT_DATABASE_URL": sqlite_url,
        "FIRSTPOINT_DATA_KEY": Fernet.generate_key().decode(),
    })


def _tracker_store(tmp_path, sender: str, events) -> str:
    """A real Rasa SQLTrackerStore (SQLite) holding ``events`` for ``sender``."""
    import asyncio

    from rasa.core.tracker_store import SQLTrackerStore
    from rasa.shared.core.trackers import DialogueStateTracker

    from tests.events.rasa_stream import DOMAIN

    path = tmp_path / "tracker.db"
    store = SQLTrackerStore(DOMAIN, dialect="sqlite", db=str(path))
    tracker = DialogueStateTracker(sender, DOMAIN.slots)
    for event in events:
        tracker.update(event, DOMAIN)
    asyncio.run(store.save(tracker))
    store.engine.dispose()
    return f"sqlite:///{path}"


def _handoff_service(engine, settings, when: datetime):
    from firstpoint.records.crypto import cipher_from_settings
    from firstpoint.records.handoffs import HandoffService
    from knowledge.directory import load_directory

    return HandoffService(session_factory(engine), cipher_from_settings(settings),
                          load_directory(settings.content_dir), clock=lambda: when)


def test_export_conversation(cli_settings, tmp_path, redactor) -> None:
    from firstpoint.records.subject_access import export_conversation

    url = cli_settings.database_url
    upgrade(url)
    engine = make_engine(url)
    key = contact_key_from_settings(cli_settings)
    rec = ContactRecorder(session_factory(engine), key)
    clock = Clock()
    events = answered(clock) + [user(clock, "blorp, my name is Jo Bloggs", "nlu_fallback", WEB),
                                action(clock, "action_not_understood")]
    feed(rec, redactor, "sender-export", events)
    feed(rec, redactor, "someone-else", answered(Clock()))
    receipt = _handoff_service(engine, cli_settings, datetime(2026, 1, 13, 10, tzinfo=UTC)) \
        .create("child_safeguarding", "web", "resident", "sender-export",
                caller_name="Jo Bloggs", contact_details="07700 900123")
    tracker_url = _tracker_store(tmp_path, "sender-export", events)
    engine.dispose()

    data = export_conversation("sender-export", settings=cli_settings, url=url,
                               tracker_url=tracker_url)
    json.dumps(data)  # JSON-ready
    assert len(data["contacts"]) == 1
    [c] = data["contacts"]
    assert c["topics"] == ["menu.travel", "menu.minute-taking"]
    assert [m["text_redacted"] for m in c["unrecognised_messages"]] == ["blorp, my name is [NAME]"]
    assert [h["summary"]["reference"] for h in data["handoffs"]] == [receipt.reference]
    assert data["handoffs"][0]["caller_name"] == "Jo Bloggs"  # the subject's own data
    assert len(data["tracker_events"]) == len(events)
    assert {e["type_name"] for e in data["tracker_events"]} >= {"user", "slot", "action"}
    nobody = export_conversation("nobody", settings=cli_settings, url=url,
                                 tracker_url=tracker_url)
    assert nobody["contacts"] == [] and nobody["handoffs"] == [] and \
        nobody["tracker_events"] == []


def test_export_command_prints_json(cli_settings, monkeypatch, capsys, tmp_path) -> None:
    from firstpoint.cli import main
    from firstpoint.settings import get_settings

    monkeypatch.setenv("FIRSTPOINT_VAR_DIR", str(cli_settings.var_dir))
    monkeypatch.setenv("FIRSTPOINT_DATABASE_URL", cli_settings.database_url)
    monkeypatch.setenv("FIRSTPOINT_DATA_KEY", cli_settings.data_key or "")
    get_settings.cache_clear()
    try:
        assert main(["contacts", "export", "--conversation-id", "abc",
                     "--tracker-url", f"sqlite:///{tmp_path / 'none.db'}"]) == 0
    finally:
        get_settings.cache_clear()
    data = json.loads(capsys.readouterr().out)
    assert data["contacts"] == [] and data["tracker_events"] is None
    assert not (tmp_path / "none.db").exists()  # a missing tracker store is not created


def test_purge(cli_settings, tmp_path, redactor) -> None:
    from firstpoint.records.handoffs import Handoff
    from firstpoint.records.retention import load_retention_days, purge

    url = cli_settings.database_url
    upgrade(url)
    engine = make_engine(url)
    rec = ContactRecorder(session_factory(engine), contact_key_from_settings(cli_settings))
    now = datetime(2029, 6, 1, tzinfo=UTC)
    old = Clock(start=(now - timedelta(days=800)).timestamp())
    new = Clock(start=(now - timedelta(days=10)).timestamp())
    feed(rec, redactor, "old", answered(old) + [user(old, "blorp", "nlu_fallback", WEB)])
    feed(rec, redactor, "new", answered(new))
    service = _handoff_service(engine, cli_settings, now - timedelta(days=2500))
    closed = service.create("child_safeguarding", "web", "resident", "old", message="one")
    still_open = service.create("child_safeguarding", "web", "resident", "old", message="two")
    for status in ("acknowledged", "contacted", "closed"):
        service.transition(closed.reference, status, "A. Officer")
    _handoff_service(engine, cli_settings, now).create("child_safeguarding", "web",
                                                       "resident", "new")
    old_events = [user(old, "hello", "greet", WEB)]
    tracker_url = _tracker_store(tmp_path, "old", old_events + [
        user(Clock(start=(now - timedelta(days=1)).timestamp()), "hi", "greet", WEB)])

    days = load_retention_days(cli_settings.content_dir)
    assert days == {"contacts": 730, "handoffs": 2190, "tracker": 90}
    dry = purge(url=url, tracker_url=tracker_url, retention_days=days, now=now, dry_run=True)
    assert (dry["contacts"], dry["handoffs"], dry["handoffs_kept_open"],
            dry["tracker_events"]) == (1, 1, 1, 1)
    assert len(contacts(engine)) == 2  # dry run deleted nothing
    done = purge(url=url, tracker_url=tracker_url, retention_days=days, now=now)
    assert (done["contacts"], done["handoffs"], done["tracker_events"]) == (1, 1, 1)
    assert [c.conversation_key for c in contacts(engine)] == [
        conversation_key(rec.key, "new")]
    with engine.connect() as conn:
        refs = conn.execute(select(Handoff.reference)).scalars().all()
        assert closed.reference not in refs and still_open.reference in refs
        assert conn.execute(text("SELECT count(*) FROM handoff_events h LEFT JOIN handoffs "
                                 "o ON o.id = h.handoff_id WHERE o.id IS NULL")).scalar_one() == 0
        assert conn.execute(text("SELECT count(*) FROM outbox x LEFT JOIN handoffs "
                                 "o ON o.id = x.handoff_id WHERE o.id IS NULL")).scalar_one() == 0
        assert conn.execute(text("SELECT count(*) FROM unrecognised_messages")).scalar_one() == 0
    tracker = make_engine(tracker_url)
    with tracker.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM events")).scalar_one() == 1
    tracker.dispose()
    engine.dispose()


def test_retention_is_read_by_the_content_loader_with_clear_errors(tmp_path) -> None:
    import shutil

    from firstpoint.records import retention as cmd
    from knowledge.schema import ContentError

    content = tmp_path / "content"
    shutil.copytree(PROJECT_CONTENT, content)
    council = content / "council.yml"
    text = council.read_text(encoding="utf-8")
    assert cmd.load_retention_days(content) == cmd.load_retention_days(PROJECT_CONTENT)
    doc = yaml.safe_load(text)
    doc["retention_days"]["handoffs"] = -1
    council.write_text(yaml.safe_dump(doc), encoding="utf-8")
    with pytest.raises(ContentError, match=r"council.yml.*retention_days.handoffs"):
        cmd.load_retention_days(content)


# ----------------------------------------------------------------- PostgreSQL

@pytest.mark.services
def test_recorder_on_postgresql(postgres_url, redactor) -> None:
    upgrade(postgres_url)
    engine = make_engine(postgres_url)
    try:
        rec = ContactRecorder(session_factory(engine), KEY)
        clock = Clock()
        feed(rec, redactor, "pg-1", answered(clock) + handoff(clock))
        feed(rec, redactor, "pg-2", session_start(clock, WEB) + handoff(clock, None))
        clock.skip(3 * 3600)
        feed(rec, redactor, "pg-1", session_start(clock, WEB) + [
            user(clock, "blorp, my name is Jo Bloggs", "nlu_fallback", WEB),
            action(clock, "action_not_understood")])
        assert rec.close_idle(datetime(2030, 1, 1, tzinfo=UTC)) == 2
        first, second = contacts(engine, "pg-1")
        assert (first.outcome, first.handoff_reference, first.session_no) == (
            "handed_off", "FP-7K3M9Q", 1)
        assert [t.entry_id for t in first.topics] == ["menu.travel", "menu.minute-taking"]
        assert (second.outcome, second.session_no) == ("not_understood", 2)
        assert [m.text_redacted for m in second.unrecognised] == ["blorp, my name is [NAME]"]
        assert the_contact(engine, "pg-2").outcome == "abandoned"
        assert scope_mismatches(engine) == []
        with engine.connect() as conn:
            for table in MY_TABLES:
                for row in conn.execute(text(f"SELECT * FROM {table}")):
                    assert not any("bloggs" in str(v).lower() for v in row)
    finally:
        engine.dispose()

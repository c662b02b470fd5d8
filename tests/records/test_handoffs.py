"""Handoff records: creation with outbox in one transaction, encryption at rest, statuses,
the 0002_handoffs migration, PostgreSQL, and the ``firstpoint handoff`` commands."""

from __future__ import annotations

import re
import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, select, text

from firstpoint.records import models_registry  # noqa: F401  (every table on Base.metadata)
from firstpoint.records.crypto import FieldCipher, generate_key
from firstpoint.records.db import Base, make_engine, session_factory, session_scope
from firstpoint.records.handoffs import (
    REFERENCE_ALPHABET,
    Handoff,
    HandoffEvent,
    HandoffNotFound,
    HandoffService,
    OutboxMessage,
    TransitionError,
    new_reference,
    normalise_reference,
)
from firstpoint.records.migrate import upgrade
from firstpoint.settings import PROJECT_ROOT, get_settings
from knowledge.directory import load_directory

UTC = timezone.utc
MY_TABLES = {"handoffs", "handoff_events", "outbox"}
PERSONAL = {
    "caller_name": "Jo Bloggs",
    "contact_method": "phone",
    "contact_details": "07700 900123",
    "contact_time": "after 6pm on weekdays",
    "message": "My neighbour's son Sam has bruises again and says he is scared to go home",
}
TRANSCRIPT = [
    {"speaker": "caller", "text": "I am worried about Sam next door",
     "time": datetime(2026, 1, 13, 10, 0, tzinfo=UTC)},
    {"speaker": "bot", "text": "I will pass this to the Children's Services Front Door.",
     "time": "2026-01-13T10:00:05+00:00"},
]


class FakeClock:
    """A settable clock."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(scope="module")
def directory():
    return load_directory(PROJECT_ROOT / "knowledge" / "content")


@pytest.fixture
def db(sqlite_url):
    upgrade(sqlite_url)
    engine = make_engine(sqlite_url)
    yield engine
    engine.dispose()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 1, 13, 10, 0, tzinfo=UTC))  # Tuesday, open


@pytest.fixture
def cipher() -> FieldCipher:
    return FieldCipher(generate_key())


@pytest.fixture
def service(db, cipher, directory, clock) -> HandoffService:
    return HandoffService(session_factory(db), cipher, directory, clock=clock)


def create(service: HandoffService, category: str = "child_safeguarding", **extra):
    fields = {**PERSONAL, "transcript": TRANSCRIPT, "consent_to_share": True, **extra}
    return service.create(category, "web", "resident", "sender-abc-123", **fields)


def count(engine, model) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(model.__table__)).scalar_one())


# ----------------------------------------------------------------- creation and reading


def test_create_returns_what_to_tell_the_caller(service) -> None:
    receipt = create(service)
    assert re.fullmatch(r"FP-[2-9A-HJ-NP-Z]{6}", receipt.reference)
    assert receipt.team_id == "childrens-front-door"
    assert receipt.team_name == "Children's Services Front Door (MASH)"
    assert receipt.priority == "urgent"
    assert receipt.sla_due_at == datetime(2026, 1, 13, 14, 0, tzinfo=UTC)  # 4 working hours
    assert receipt.sla_due_text == "14:00 on Tuesday 13 January 2026"
    assert receipt.is_open_now is True
    assert receipt.out_of_hours == "Emergency Duty Team on 01632 960999"
    assert "social worker" in receipt.what_happens_next


def test_create_out_of_hours_starts_the_clock_at_opening(service, clock) -> None:
    clock.now = datetime(2026, 1, 17, 21, 0, tzinfo=UTC)  # Saturday night
    receipt = create(service, "domestic_abuse")
    assert receipt.team_id == "domestic-abuse-team"
    assert receipt.is_open_now is False
    assert receipt.out_of_hours.startswith("National Domestic Abuse Helpline")
    # 8 working hours from Monday 09:00 -> Monday 17:00
    assert receipt.sla_due_at == datetime(2026, 1, 19, 17, 0, tzinfo=UTC)


def test_get_decrypts_everything_for_the_officer(service) -> None:
    receipt = create(service)
    view = service.get(receipt.reference.lower())  # as typed by a person
    assert view.reference == receipt.reference
    assert view.status == "new"
    assert view.conversation_id == "sender-abc-123"
    assert (view.caller_name, view.contact_method, view.contact_details, view.contact_time,
            view.message) == tuple(PERSONAL.values())
    assert view.consent_to_share is True and view.anonymous is False
    assert view.transcript == [
        {"speaker": "caller", "text": "I am worried about Sam next door",
         "time": "2026-01-13T10:00:00+00:00"},
        {"speaker": "bot", "text": "I will pass this to the Children's Services Front Door.",
         "time": "2026-01-13T10:00:05+00:00"},
    ]
    assert [(e.from_status, e.to_status, e.actor) for e in view.events] == \
        [(None, "new", "firstpoint")]
    assert view.summary.created_at == datetime(2026, 1, 13, 10, 0, tzinfo=UTC)


def test_anonymous_handoff_without_details(service) -> None:
    receipt = service.create("adult_safeguarding", "web", "resident", "anon-1",
                             message="The man at number 4 is left alone for days",
                             anonymous=True)
    view = service.get(receipt.reference)
    assert view.anonymous is True and view.caller_name is None
    assert view.contact_details is None and view.consent_to_share is None
    assert view.transcript == []


def test_transcript_times_from_rasa_epoch_seconds(service) -> None:
    turns = [{"speaker": "caller", "text": "hello", "time": "1768298400.5"},
             {"speaker": "assistant", "text": "hi", "time": 1768298401},
             {"speaker": "caller", "text": "?", "time": ""}]
    reference = service.create("casework", "rest", "staff", "s-2", transcript=turns).reference
    assert [t["time"] for t in service.get(reference).transcript] == [
        "2026-01-13T10:00:00.500000+00:00", "2026-01-13T10:00:01+00:00", ""]


def test_malformed_transcript_refused(service) -> None:
    with pytest.raises(ValueError, match="transcript turn 1"):
        service.create("casework", "web", "resident", "s-3", transcript=[{"text": "no speaker"}])


def test_unknown_reference(service) -> None:
    with pytest.raises(HandoffNotFound):
        service.get("FP-ZZZZZZ")


def test_empty_conversation_id_refused(service) -> None:
    with pytest.raises(ValueError, match="conversation_id"):
        service.create("casework", "web", "resident", " ")


def test_personal_columns_are_not_plaintext_in_the_database_file(service, db, sqlite_url,
                                                                  cipher) -> None:
    receipt = create(service)
    service.transition(receipt.reference, "acknowledged", "duty SW", note="Rang Jo Bloggs back")
    db.dispose()
    path = Path(sqlite_url.removeprefix("sqlite:///"))
    raw = sqlite3.connect(path)
    try:
        row = raw.execute(
            "SELECT caller_name, contact_method, contact_details, contact_time, message, "
            "transcript FROM handoffs WHERE reference = ?", (receipt.reference,)
        ).fetchone()
        notes = [r[0] for r in
                 raw.execute("SELECT note FROM handoff_events WHERE note IS NOT NULL")]
        payloads = [r[0] for r in raw.execute("SELECT payload FROM outbox")]
        raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        raw.close()
    assert row is not None and all(value.startswith("gAAAA") for value in row)
    assert cipher.decrypt(row[2]) == "07700 900123"
    assert notes and all(n.startswith("gAAAA") for n in notes)
    for value in (*row, *notes, *payloads):
        for secret in ("Bloggs", "07700", "bruises", "Sam", "after 6pm"):
            assert secret not in value
    # and nowhere in the bytes on disk (database file plus any WAL)
    data = b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
    assert receipt.reference.encode() in data  # sanity: we are reading the right file
    for secret in ("Bloggs", "07700 900123", "bruises", "scared to go home", "after 6pm"):
        assert secret.encode() not in data


# ----------------------------------------------------------------- outbox in one transaction


def test_create_queues_one_outbox_row_per_target_without_personal_data(service, db) -> None:
    receipt = create(service)
    with session_scope(session_factory(db)) as session:
        handoff = session.execute(select(Handoff)).scalar_one()
        rows = session.execute(select(OutboxMessage).order_by(OutboxMessage.id)).scalars().all()
        assert [(r.notifier, r.target, r.status, r.attempts, r.handoff_id) for r in rows] == [
            ("email", "mash.duty@example.org", "pending", 0, handoff.id),
            ("teams", "env:FIRSTPOINT_TEAMS_WEBHOOK_CHILDRENS_FRONT_DOOR", "pending", 0,
             handoff.id),
        ]
        payload = rows[0].payload
    assert payload["reference"] == receipt.reference
    assert payload["priority"] == "urgent" and payload["category"] == "child_safeguarding"
    assert f"firstpoint handoff show {receipt.reference}" in payload["text"]
    flat = repr(payload)
    for value in PERSONAL.values():
        assert value not in flat
    assert "Sam" not in flat and "sender-abc-123" not in flat


def test_team_without_teams_webhook_gets_email_only(service, db) -> None:
    create(service, "casework")
    with db.connect() as conn:
        rows = conn.execute(text("SELECT notifier, target FROM outbox")).fetchall()
    assert [tuple(r) for r in rows] == [("email", "business.support.duty@example.org")]


def test_handoff_and_outbox_are_one_transaction(service, db) -> None:
    with db.begin() as conn:  # make every outbox insert fail inside the database
        conn.execute(text("CREATE TRIGGER outbox_down BEFORE INSERT ON outbox "
                          "BEGIN SELECT RAISE(ABORT, 'outbox unavailable'); END"))
    with pytest.raises(Exception, match="outbox unavailable"):
        create(service)
    assert count(db, Handoff) == 0  # the handoff row was rolled back with the outbox row
    assert count(db, HandoffEvent) == 0
    with db.begin() as conn:
        conn.execute(text("DROP TRIGGER outbox_down"))
    create(service)
    assert (count(db, Handoff), count(db, HandoffEvent), count(db, OutboxMessage)) == (1, 1, 2)


def test_reference_collisions_are_avoided(db, cipher, directory, clock) -> None:
    first = HandoffService(session_factory(db), cipher, directory, clock,
                           reference_factory=lambda: "FP-AAAAAA")
    assert create(first).reference == "FP-AAAAAA"
    candidates = iter(["FP-AAAAAA", "FP-AAAAAA", "FP-BBBBBB"])
    second = HandoffService(session_factory(db), cipher, directory, clock,
                            reference_factory=lambda: next(candidates))
    assert create(second, message="another message").reference == "FP-BBBBBB"


def test_reference_alphabet_is_unambiguous() -> None:
    assert not set("0O1I") & set(REFERENCE_ALPHABET)
    refs = [new_reference() for _ in range(2000)]
    assert all(re.fullmatch(r"FP-[2-9A-HJ-NP-Z]{6}", r) for r in refs)
    # 31^6 possibilities: 2,000 draws repeat one about 0.2 % of the time (a birthday
    # pair, which the service's uniqueness check handles), so allow that; a broken
    # generator (a fixed seed, a short alphabet) repeats far more.
    assert len(set(refs)) >= 1998
    used = {ch for r in refs for ch in r[3:]}
    assert used == set(REFERENCE_ALPHABET)
    assert normalise_reference(" fp-7k3m9q ") == "FP-7K3M9Q"
    assert normalise_reference("7K3M9Q") == "FP-7K3M9Q"


# ----------------------------------------------------------------- statuses


def test_status_path_with_history(service, clock) -> None:
    reference = create(service).reference
    clock.now += timedelta(minutes=20)
    assert service.transition(reference, "acknowledged", "A. Officer").status == "acknowledged"
    clock.now += timedelta(hours=1)
    service.transition(reference, "contacted", "A. Officer", note="Spoke to caller")
    service.transition(reference, "closed", "A. Officer")
    view = service.get(reference)
    assert view.status == "closed"
    assert [(e.from_status, e.to_status, e.actor, e.note) for e in view.events] == [
        (None, "new", "firstpoint", None),
        ("new", "acknowledged", "A. Officer", None),
        ("acknowledged", "contacted", "A. Officer", "Spoke to caller"),
        ("contacted", "closed", "A. Officer", None),
    ]
    assert view.events[1].at == datetime(2026, 1, 13, 10, 20, tzinfo=UTC)


@pytest.mark.parametrize(
    ("path", "refused", "message"),
    [
        ([], "contacted", "is new; cannot move to contacted"),
        ([], "closed", "is new; cannot move to closed"),
        ([], "new", "cannot move to new"),
        (["acknowledged"], "new", "is acknowledged; cannot move to new"),
        (["acknowledged", "contacted"], "acknowledged", "cannot move to acknowledged"),
        (["acknowledged", "contacted", "closed"], "contacted", "is closed"),
        ([], "resolved", "unknown status 'resolved'"),
        (["acknowledged"], "closed", "needs a note"),
    ],
)
def test_refused_transitions(service, path, refused, message) -> None:
    reference = create(service).reference
    for status in path:
        service.transition(reference, status, "officer")
    with pytest.raises(TransitionError, match=message):
        service.transition(reference, refused, "officer")
    assert service.get(reference).status == (path[-1] if path else "new")


def test_close_after_acknowledging_with_a_reason(service) -> None:
    reference = create(service).reference
    service.transition(reference, "acknowledged", "officer")
    service.transition(reference, "closed", "officer", note="Duplicate of an open referral")
    assert service.get(reference).status == "closed"


def test_actor_is_required(service) -> None:
    reference = create(service).reference
    with pytest.raises(TransitionError, match="actor"):
        service.transition(reference, "acknowledged", "  ")


# ----------------------------------------------------------------- listing


def test_list_filters_and_overdue(service, clock) -> None:
    urgent = create(service, "child_safeguarding").reference
    normal = create(service, "casework_adults").reference
    da = create(service, "domestic_abuse").reference
    service.transition(da, "acknowledged", "officer")
    assert [s.reference for s in service.list()] == [urgent, normal, da]
    assert [s.reference for s in service.list(status="new")] == [urgent, normal]
    assert [s.reference for s in service.list(team="adult-social-care-casework")] == [normal]
    assert service.list(status="closed") == []
    clock.now = datetime(2026, 1, 13, 14, 1, tzinfo=UTC)  # past the 4 working hours
    overdue = {s.reference: s.overdue for s in service.list()}
    assert overdue == {urgent: True, normal: False, da: False}


def test_for_conversation_finds_handoffs_for_subject_access(service) -> None:
    a = create(service).reference
    service.create("casework", "web", "resident", "someone-else")
    b = create(service, "domestic_abuse").reference
    assert service.for_conversation("sender-abc-123") == [a, b]


# ----------------------------------------------------------------- migration


def _schema_diff(engine) -> list:
    """Alembic's autogenerate differences between ``engine``'s schema and the models,
    restricted to this module's tables (other engineers' tables are theirs to check)."""
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, Base.metadata)
    names = tuple(f"'{table}'" for table in MY_TABLES)
    return [item for item in diff if any(name in repr(item) for name in names)]


def test_migration_matches_the_models(db) -> None:
    with db.connect() as conn:
        tables = set(conn.execute(text("SELECT name FROM sqlite_master WHERE type='table'"))
                     .scalars())
        heads = set(conn.execute(text("SELECT version_num FROM alembic_version")).scalars())
    assert tables >= MY_TABLES
    assert len(heads) == 1  # one chain: 0001 -> 0002 -> 0003 -> ...
    assert _schema_diff(db) == []


def test_the_migrations_have_one_head_and_old_two_head_databases_upgrade(sqlite_url) -> None:
    """Wave 1's 0002 had no parent, so `alembic upgrade head` met two heads (issue 10)."""
    import sqlite3

    from alembic.script import ScriptDirectory

    from firstpoint.records.migrate import alembic_config

    assert len(ScriptDirectory.from_config(alembic_config(sqlite_url)).get_heads()) == 1
    upgrade(sqlite_url, "0003_report_indexes")  # where wave 1 left a database
    path = sqlite_url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as conn:  # stamped as wave 1 left it
        conn.execute("DELETE FROM alembic_version")
        conn.execute("INSERT INTO alembic_version VALUES ('0002_handoffs'), "
                     "('0003_report_indexes')")
    upgrade(sqlite_url)
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT version_num FROM alembic_version").fetchall()
    head = ScriptDirectory.from_config(alembic_config(sqlite_url)).get_heads()
    assert rows == [(head[0],)]


def test_schema_diff_detects_a_mismatch(tmp_path) -> None:
    """The comparison above can fail: a table missing from the database is reported."""
    engine = make_engine(f"sqlite:///{tmp_path / 'partial.db'}")
    Base.metadata.create_all(engine, tables=[Handoff.__table__])
    assert _schema_diff(engine) != []
    engine.dispose()


@pytest.mark.services
def test_postgresql_migrate_create_and_read(postgres_url, directory, clock) -> None:
    upgrade(postgres_url)
    engine = make_engine(postgres_url)
    try:
        assert _schema_diff(engine) == []
        cipher = FieldCipher(generate_key())
        pg = HandoffService(session_factory(engine), cipher, directory, clock=clock)
        receipt = create(pg, "self_harm")
        view = pg.get(receipt.reference)
        assert view.message == PERSONAL["message"]
        assert view.summary.sla_due_at == receipt.sla_due_at
        assert view.summary.created_at.tzinfo is not None
        pg.transition(receipt.reference, "acknowledged", "duty")
        assert [s.status for s in pg.list(team="adult-social-care-front-door")] == \
            ["acknowledged"]
        with engine.connect() as conn:
            stored = conn.execute(text("SELECT contact_details FROM handoffs")).scalar_one()
            outbox = conn.execute(text("SELECT count(*) FROM outbox")).scalar_one()
        assert stored.startswith("gAAAA") and "07700" not in stored
        assert outbox == 2
    finally:
        engine.dispose()


# ----------------------------------------------------------------- command line


@pytest.fixture
def cli_env(monkeypatch, tmp_path, sqlite_url):
    monkeypatch.setenv("FIRSTPOINT_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("FIRSTPOINT_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("FIRSTPOINT_DATA_KEY", generate_key())
    monkeypatch.delenv("FIRSTPOINT_CONTENT_DIR", raising=False)
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()


def test_cli_list_show_set_status_and_outbox(cli_env, capsys, clock) -> None:
    from firstpoint.cli import main
    from firstpoint.records.handoffs import service_from_settings

    service = service_from_settings(cli_env)
    service.clock = clock  # filed on a Tuesday morning: the children's front door is open
    reference = create(service).reference

    assert main(["handoff", "list", "--status", "new"]) == 0
    out = capsys.readouterr().out
    assert reference in out and "childrens-front-door" in out
    assert "Bloggs" not in out  # lists carry no personal data

    assert main(["handoff", "show", reference.lower()]) == 0
    out = capsys.readouterr().out
    assert "Jo Bloggs" in out and "07700 900123" in out and "bruises" in out

    assert main(["handoff", "set-status", reference, "contacted", "--actor", "A. Officer"]) == 1
    assert "cannot move to contacted" in capsys.readouterr().out
    assert main(["handoff", "set-status", reference, "acknowledged", "--actor", "A. Officer",
                 "--note", "on it"]) == 0
    assert f"{reference} is now acknowledged" in capsys.readouterr().out
    assert main(["handoff", "show", "FP-ZZZZZZ"]) == 1

    assert main(["outbox", "list", "--status", "pending"]) == 0
    out = capsys.readouterr().out
    assert out.count(reference) == 2 and "attempts=0" in out


# --- one sender cannot bury real handoffs (issue 8 probe: ~70 handoffs a minute) ---

def test_the_same_message_again_returns_the_earlier_reference(service, clock) -> None:
    first = create(service)
    clock.now += timedelta(minutes=5)
    again = create(service)
    assert again.reference == first.reference
    other = create(service, message="A different worry about another child")
    assert other.reference != first.reference
    with session_scope(service.session_factory) as session:
        assert session.execute(select(func.count(Handoff.id))).scalar() == 2


def test_a_sender_is_limited_per_hour_and_free_again_after(db, cipher, directory, clock) -> None:
    from firstpoint.records.handoffs import HandoffLimits, HandoffRateLimited

    limited = HandoffService(session_factory(db), cipher, directory, clock=clock,
                             limits=HandoffLimits(max_per_window=3, window_minutes=60))
    for n in range(3):
        create(limited, message=f"worry number {n}")
    with pytest.raises(HandoffRateLimited):
        create(limited, message="worry number 4")
    other_sender = limited.create("child_safeguarding", "web", "resident", "someone-else",
                                  message="a real disclosure from another caller")
    assert other_sender.reference
    clock.now += timedelta(minutes=61)
    assert create(limited, message="worry number 5").reference

"""A small, hand-checked contact log shared by the report, CLI and API tests.

Twelve contacts fall inside 2026-10-01 … 2026-11-30 (council-local); two fall
just outside. British Summer Time ends on Sunday 2026-10-25, so October rows
before then are UTC+1 and the rest are UTC+0. The *local* columns below were
worked out by hand (and ``_check_local`` re-derives them with zoneinfo so a
typo cannot slip through).

 #  UTC start         local (London)   day  channel   audience  outcome         team        rated
 1  2026-09-30 23:30  10-01 00:30 BST  Thu  web       resident  answered        -           yes
 2  2026-10-05 08:15  10-05 09:15 BST  Mon  web       resident  answered        -           yes
 3  2026-10-05 09:40  10-05 10:40 BST  Mon  web       staff     declined        -           no
 4  2026-10-06 13:05  10-06 14:05 BST  Tue  facebook  resident  handed_off      bs-admin    -
 5  2026-10-20 08:30  10-20 09:30 BST  Tue  web       staff     not_understood  -           -
 6  2026-10-26 09:00  10-26 09:00 GMT  Mon  facebook  resident  emergency       (none)      -
 7  2026-11-02 09:10  11-02 09:10 GMT  Mon  web       resident  answered        -           yes
 8  2026-11-02 14:20  11-02 14:20 GMT  Mon  facebook  staff     handed_off      bs-admin    yes
 9  2026-11-07 11:00  11-07 11:00 GMT  Sat  facebook  resident  abandoned       -           -
10  2026-11-15 20:45  11-15 20:45 GMT  Sun  web       staff     handed_off      bs-minutes  no
11  2026-11-30 23:30  11-30 23:30 GMT  Mon  web       resident  (open: NULL)    -           -
12  2026-11-03 09:50  11-03 09:50 GMT  Tue  facebook  resident  not_understood  -           -
-- outside the period --
13  2026-09-30 22:59  09-30 23:59 BST  Wed  web       resident  answered        -           -
14  2026-12-01 00:10  12-01 00:10 GMT  Tue  web       resident  answered        -           -

Local dates are 2026; rated: yes = helpful, no = not_helpful.
Row 1 is the BST edge: its UTC date is 30 September but it is a 1 October
contact for the council; row 13 is 30 September both ways. Row 11 is the GMT
edge (last minutes of the period).

Topics (contact: entries): 1: minute-taking, room-booking · 2: minute-taking ·
3: payroll · 4: minute-taking · 7: room-booking, minute-taking ·
8: minute-taking · 10: payroll · 13 and 14: payroll. (The contact log stores an
entry at most once per contact, as ContactRecorder does.)

Unrecognised (contact: text ×times): 5: "can you do my [REDACTED] thing" ×1 and
"what about the [PHONE]" ×1 · 12: "can you do my [REDACTED] thing" ×2 ·
9: "hello??" ×1 · 13: "can you do my [REDACTED] thing" ×1 (out of period).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import MetaData
from sqlalchemy.engine import Connection

LONDON = ZoneInfo("Europe/London")
PERIOD = (date(2026, 10, 1), date(2026, 11, 30))

# (n, utc start, local date, local hour, weekday, channel, audience, outcome, team, rating)
CONTACTS = [
    (1, "2026-09-30 23:30", "2026-10-01", 0, 3, "web", "resident", "answered", None, "helpful"),
    (2, "2026-10-05 08:15", "2026-10-05", 9, 0, "web", "resident", "answered", None, "helpful"),
    (3, "2026-10-05 09:40", "2026-10-05", 10, 0, "web", "staff", "declined", None, "not_helpful"),
    (4, "2026-10-06 13:05", "2026-10-06", 14, 1, "facebook", "resident", "handed_off",
     "bs-admin", None),
    (5, "2026-10-20 08:30", "2026-10-20", 9, 1, "web", "staff", "not_understood", None, None),
    (6, "2026-10-26 09:00", "2026-10-26", 9, 0, "facebook", "resident", "emergency", None, None),
    (7, "2026-11-02 09:10", "2026-11-02", 9, 0, "web", "resident", "answered", None, "helpful"),
    (8, "2026-11-02 14:20", "2026-11-02", 14, 0, "facebook", "staff", "handed_off",
     "bs-admin", "helpful"),
    (9, "2026-11-07 11:00", "2026-11-07", 11, 5, "facebook", "resident", "abandoned", None, None),
    (10, "2026-11-15 20:45", "2026-11-15", 20, 6, "web", "staff", "handed_off",
     "bs-minutes", "not_helpful"),
    (11, "2026-11-30 23:30", "2026-11-30", 23, 0, "web", "resident", None, None, None),
    (12, "2026-11-03 09:50", "2026-11-03", 9, 1, "facebook", "resident", "not_understood",
     None, None),
    (13, "2026-09-30 22:59", "2026-09-30", 23, 2, "web", "resident", "answered", None, None),
    (14, "2026-12-01 00:10", "2026-12-01", 0, 1, "web", "resident", "answered", None, None),
]

TOPICS = [
    (1, "menu.minute-taking", 1), (1, "menu.room-booking", 2),
    (2, "menu.minute-taking", 1),
    (3, "menu.payroll", 1),
    (4, "menu.minute-taking", 1),
    (7, "menu.room-booking", 1), (7, "menu.minute-taking", 2),
    (8, "menu.minute-taking", 1),
    (10, "menu.payroll", 1),
    (13, "menu.payroll", 1),
    (14, "menu.payroll", 1),
]

CAN_YOU = "can you do my [REDACTED] thing"
UNRECOGNISED = [
    (5, CAN_YOU), (5, "what about the [PHONE]"),
    (12, CAN_YOU), (12, CAN_YOU),
    (9, "hello??"),
    (13, CAN_YOU),
]


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text)  # naive UTC, as the contact log stores it


def _check_local(n: int, utc: datetime, local_date: str, hour: int, weekday: int) -> None:
    local = utc.replace(tzinfo=timezone.utc).astimezone(LONDON)
    derived = (local.date().isoformat(), local.hour, local.weekday())
    if derived != (local_date, hour, weekday):
        raise AssertionError(f"fixture row {n}: hand-written local {local_date, hour, weekday}"
                             f" but zoneinfo says {derived}")


def contact_rows() -> list[dict]:
    """The contacts as full rows of the ``contacts`` table (ids = the numbers above)."""
    rows = []
    for n, start, local_date, hour, weekday, channel, audience, outcome, team, rating in CONTACTS:
        started = _utc(start)
        _check_local(n, started, local_date, hour, weekday)
        rows.append({
            "id": n,
            "contact_uuid": str(uuid.UUID(int=n)),
            "conversation_key": f"{n:064x}",
            "session_no": 1,
            "channel": channel,
            "audience": audience,
            "language": "en",
            "started_at": started,
            "last_event_at": started + timedelta(minutes=3),
            "ended_at": None if outcome is None else started + timedelta(minutes=33),
            "local_date": date.fromisoformat(local_date),
            "local_month": local_date[:7],
            "local_hour": hour,
            "local_weekday": weekday,
            "user_turns": 2,
            "outcome": outcome,
            "safety_category": "danger" if outcome == "emergency" else None,
            "handoff_team": team,
            "handoff_reference": f"BS-{n:04d}" if team else None,
            "rating": rating,
            "rating_comment": None,
        })
    return rows


def insert_fixture(conn: Connection) -> None:
    """Insert the contacts, topics and unrecognised messages into migrated tables."""
    meta = MetaData()
    meta.reflect(bind=conn, only=["contacts", "contact_topics", "unrecognised_messages"])
    contacts = meta.tables["contacts"]
    rows = contact_rows()
    conn.execute(contacts.insert(), rows)
    # the child tables carry their contact's scope (migration 0003_report_indexes)
    scope = {r["id"]: {k: r[k] for k in ("local_date", "channel", "audience")} for r in rows}
    conn.execute(
        meta.tables["contact_topics"].insert(),
        [{"contact_id": c, "entry_id": e, "position": p, **scope[c]} for c, e, p in TOPICS],
    )
    starts = {r["id"]: r["started_at"] for r in rows}
    conn.execute(
        meta.tables["unrecognised_messages"].insert(),
        [
            {
                "contact_id": c,
                "at": starts[c] + timedelta(minutes=i),
                "text_redacted": text,
                **scope[c],
            }
            for i, (c, text) in enumerate(UNRECOGNISED)
        ],
    )
    if conn.dialect.name == "postgresql":  # explicit ids: move the sequence past them
        conn.exec_driver_sql(
            "SELECT setval(pg_get_serial_sequence('contacts', 'id'), "
            "(SELECT max(id) FROM contacts))"
        )


def load_fixture(url: str) -> None:
    """Migrate the database at ``url`` and insert the fixture."""
    from firstpoint.records.db import make_engine
    from firstpoint.records.migrate import upgrade

    upgrade(url)
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            insert_fixture(conn)
    finally:
        engine.dispose()

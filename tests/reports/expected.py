"""Hand-computed figures for tests/reports/fixtures.py over 2026-10-01 … 2026-11-30.

Every number here was counted by hand from the table in the fixtures docstring;
the arithmetic is written next to it.
"""

from __future__ import annotations

# Whole period, no filters — 12 contacts (rows 1-12; 13 and 14 are outside).
#   answered: 1, 2, 7 = 3          declined: 3 = 1
#   handed_off: 4, 8, 10 = 3       emergency: 6 = 1
#   not_understood: 5, 12 = 2      abandoned: 9 = 1      open: 11 = 1
#   decided = 12 - 1 open = 11;  contained = 3 + 1 = 4;  escalated = 3 + 1 = 4
#   containment 4/11 = 0.3636, escalation 4/11 = 0.3636,
#   not understood 2/11 = 0.1818, abandonment 1/11 = 0.0909
#   helpful: 1, 2, 7, 8 = 4;  not_helpful: 3, 10 = 2;  helpful rate 4/6 = 0.6667
SUMMARY = {
    "contacts": 12,
    "outcomes": {
        "answered": 3, "declined": 1, "handed_off": 3, "emergency": 1,
        "not_understood": 2, "abandoned": 1, "open": 1,
    },
    "decided": 11, "contained": 4, "escalated": 4, "helpful": 4, "not_helpful": 2,
    "containment_rate": 0.3636, "escalation_rate": 0.3636,
    "not_understood_rate": 0.1818, "abandonment_rate": 0.0909, "helpful_rate": 0.6667,
}

# By channel.
#   facebook: 4, 6, 8, 9, 12 = 5 -> handed_off 4, 8 = 2; emergency 6; abandoned 9; nu 12
#     decided 5, contained 0 -> 0/5 = 0.0; escalated 3/5 = 0.6; nu 1/5 = 0.2; ab 1/5 = 0.2
#     helpful 8 = 1, not_helpful 0 -> 1/1 = 1.0
#   web: 1, 2, 3, 5, 7, 10, 11 = 7 -> answered 1, 2, 7 = 3; declined 3; handed_off 10;
#     nu 5; open 11.  decided 6, contained 4/6 = 0.6667, escalated 1/6 = 0.1667,
#     nu 1/6 = 0.1667, ab 0/6 = 0.0;  helpful 1, 2, 7 = 3, not_helpful 3, 10 = 2 -> 3/5 = 0.6
BY_CHANNEL = {
    "facebook": {
        "contacts": 5,
        "outcomes": {"answered": 0, "declined": 0, "handed_off": 2, "emergency": 1,
                     "not_understood": 1, "abandoned": 1, "open": 0},
        "decided": 5, "contained": 0, "escalated": 3, "helpful": 1, "not_helpful": 0,
        "containment_rate": 0.0, "escalation_rate": 0.6, "not_understood_rate": 0.2,
        "abandonment_rate": 0.2, "helpful_rate": 1.0,
    },
    "web": {
        "contacts": 7,
        "outcomes": {"answered": 3, "declined": 1, "handed_off": 1, "emergency": 0,
                     "not_understood": 1, "abandoned": 0, "open": 1},
        "decided": 6, "contained": 4, "escalated": 1, "helpful": 3, "not_helpful": 2,
        "containment_rate": 0.6667, "escalation_rate": 0.1667, "not_understood_rate": 0.1667,
        "abandonment_rate": 0.0, "helpful_rate": 0.6,
    },
}

# By audience.
#   resident: 1, 2, 4, 6, 7, 9, 11, 12 = 8 -> answered 1, 2, 7 = 3; handed_off 4; emergency 6;
#     abandoned 9; open 11; nu 12.  decided 7: contained 3/7 = 0.4286, escalated 2/7 = 0.2857,
#     nu 1/7 = 0.1429, ab 1/7 = 0.1429;  helpful 1, 2, 7 = 3, not_helpful 0 -> 1.0
#   staff: 3, 5, 8, 10 = 4 -> declined 3; nu 5; handed_off 8, 10 = 2.  decided 4:
#     contained 1/4 = 0.25, escalated 2/4 = 0.5, nu 1/4 = 0.25, ab 0.0;
#     helpful 8 = 1, not_helpful 3, 10 = 2 -> 1/3 = 0.3333
BY_AUDIENCE = {
    "resident": {"contacts": 8, "decided": 7, "contained": 3, "escalated": 2,
                 "containment_rate": 0.4286, "escalation_rate": 0.2857,
                 "not_understood_rate": 0.1429, "abandonment_rate": 0.1429,
                 "helpful": 3, "not_helpful": 0, "helpful_rate": 1.0},
    "staff": {"contacts": 4, "decided": 4, "contained": 1, "escalated": 2,
              "containment_rate": 0.25, "escalation_rate": 0.5,
              "not_understood_rate": 0.25, "abandonment_rate": 0.0,
              "helpful": 1, "not_helpful": 2, "helpful_rate": 0.3333},
}

# By month (local_month).
#   2026-10: rows 1-6 -> answered 1, 2; declined 3; handed_off 4; nu 5; emergency 6
#     decided 6, contained 3/6 = 0.5, escalated 2/6 = 0.3333
#   2026-11: rows 7-12 -> answered 7; handed_off 8, 10; abandoned 9; open 11; nu 12
#     decided 5, contained 1/5 = 0.2, escalated 2/5 = 0.4
BY_MONTH = {
    "2026-10": {"contacts": 6, "decided": 6, "contained": 3, "containment_rate": 0.5,
                "escalation_rate": 0.3333},
    "2026-11": {"contacts": 6, "decided": 5, "contained": 1, "containment_rate": 0.2,
                "escalation_rate": 0.4},
}

# By week (key = the Monday that starts the council-local week).
#   2026-09-28: row 1 (Thu 1 Oct)               -> 1
#   2026-10-05: rows 2, 3 (Mon), 4 (Tue)        -> 3, contained 2 (answered 2 + declined 3)
#   2026-10-19: row 5 (Tue 20 Oct)              -> 1
#   2026-10-26: row 6 (Mon 26 Oct, first GMT)   -> 1
#   2026-11-02: rows 7, 8 (Mon), 12 (Tue), 9 (Sat) -> 4, contained 1 (row 7)
#   2026-11-09: row 10 (Sun 15 Nov)             -> 1
#   2026-11-30: row 11 (Mon 30 Nov 23:30)       -> 1
BY_WEEK = {
    "2026-09-28": 1, "2026-10-05": 3, "2026-10-19": 1, "2026-10-26": 1,
    "2026-11-02": 4, "2026-11-09": 1, "2026-11-30": 1,
}
BY_WEEK_CONTAINED = {"2026-10-05": 2, "2026-11-02": 1}

# By day: 10 distinct local dates.
BY_DAY = {
    "2026-10-01": 1, "2026-10-05": 2, "2026-10-06": 1, "2026-10-20": 1, "2026-10-26": 1,
    "2026-11-02": 2, "2026-11-03": 1, "2026-11-07": 1, "2026-11-15": 1, "2026-11-30": 1,
}

# Escalation by team (handed_off + emergency), largest first, then team name:
#   bs-admin: handed_off 4, 8 = 2  -> total 2
#   (none):   emergency 6 = 1      -> total 1   ("(" sorts before "b")
#   bs-minutes: handed_off 10 = 1  -> total 1
ESCALATION = [
    {"team": "bs-admin", "handed_off": 2, "emergency": 0, "total": 2},
    {"team": "(none)", "handed_off": 0, "emergency": 1, "total": 1},
    {"team": "bs-minutes", "handed_off": 1, "emergency": 0, "total": 1},
]

# Demand grid cells (weekday 0=Mon, hour) -> contacts; every other cell is 0.
#   (Thu=3, 00): 1 | (Mon, 09): 2, 6, 7 = 3 | (Mon, 10): 3 | (Tue, 14): 4 | (Tue, 09): 5, 12 = 2
#   (Mon, 14): 8 | (Sat=5, 11): 9 | (Sun=6, 20): 10 | (Mon, 23): 11        total 12
DEMAND_CELLS = {
    (3, 0): 1, (0, 9): 3, (0, 10): 1, (1, 14): 1, (1, 9): 2,
    (0, 14): 1, (5, 11): 1, (6, 20): 1, (0, 23): 1,
}
DEMAND_BY_MONTH = [("2026-10", 6), ("2026-11", 6)]

# Top topics, contacts per entry (rows 13 and 14 are out of period):
#   minute-taking: 1, 2, 4, 7, 8 = 5;  payroll: 3, 10 = 2;  room-booking: 1, 7 = 2
#   (ties by entry id: payroll before room-booking)
TOP_TOPICS = [("menu.minute-taking", 5), ("menu.payroll", 2), ("menu.room-booking", 2)]

# Top not-understood: "can you…" rows 5 (x1) + 12 (x2) = 3 messages from 2 contacts
#   (row 13 out of period); "hello??" (9) 1/1; "what about the [PHONE]" (5) 1/1.
TOP_NOT_UNDERSTOOD = [
    ("can you do my [REDACTED] thing", 3, 2),
    ("hello??", 1, 1),
    ("what about the [PHONE]", 1, 1),
]

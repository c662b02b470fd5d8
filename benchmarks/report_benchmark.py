"""Benchmark the channel-shift report on SQLite and PostgreSQL (see benchmarks/README.md).

Generates N synthetic contacts for 2026 (default 1,000,000) with realistic
distributions, ~1.5 topics each and some unrecognised messages; loads them
fast (one SQLite transaction with executemany; PostgreSQL COPY) into a
database migrated with firstpoint.records.migrate.upgrade (so the tables,
indexes and constraints are exactly the migrations', 0003_report_indexes
included); then times build_report over a month, a quarter and the
year — median of --runs runs — next to a trivial ``SELECT count(*) FROM
contacts`` measured in the same run.

    .venv/bin/python benchmarks/report_benchmark.py                 # 1M, both databases
    .venv/bin/python benchmarks/report_benchmark.py --contacts 100000 --skip-postgres
"""

from __future__ import annotations

import argparse
import bisect
import csv
import io
import itertools
import random
import statistics
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Generic, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import event, text
from sqlalchemy.engine import Engine

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from firstpoint.records.db import make_engine  # noqa: E402
from firstpoint.records.migrate import upgrade  # noqa: E402
from firstpoint.reports import queries  # noqa: E402
from firstpoint.reports.model import Scope  # noqa: E402
from firstpoint.reports.queries import build_report  # noqa: E402

LONDON = ZoneInfo("Europe/London")
T = TypeVar("T")
YEAR = 2026
GOAL_SECONDS = 2.0
CHUNK = 50_000

PERIODS: dict[str, tuple[date, date]] = {
    "month": (date(YEAR, 6, 1), date(YEAR, 6, 30)),
    "quarter": (date(YEAR, 4, 1), date(YEAR, 6, 30)),
    "year": (date(YEAR, 1, 1), date(YEAR, 12, 31)),
}

CONTACT_COLUMNS = (
    "id", "contact_uuid", "conversation_key", "session_no", "channel", "audience", "language",
    "started_at", "last_event_at", "ended_at", "local_date", "local_month", "local_hour",
    "local_weekday", "user_turns", "outcome", "safety_category", "handoff_team",
    "handoff_reference", "rating", "rating_comment",
)
# The child tables carry their contact's local_date, channel and audience
# (migration 0003_report_indexes).
TOPIC_COLUMNS = ("contact_id", "entry_id", "position", "local_date", "channel", "audience")
UNRECOGNISED_COLUMNS = ("contact_id", "at", "text_redacted", "channel", "audience",
                        "local_date")
TABLES = ("contacts", "contact_topics", "unrecognised_messages")


# --------------------------------------------------------------------------- synthetic data


class Picker(Generic[T]):
    """Fast weighted choice via a cumulative table and bisect."""

    def __init__(self, weighted: Sequence[tuple[T, float]], rng: random.Random) -> None:
        self.values = [v for v, _ in weighted]
        self.cum = list(itertools.accumulate(w for _, w in weighted))
        self.total = self.cum[-1]
        self.rng = rng

    def __call__(self) -> T:
        return self.values[bisect.bisect_right(self.cum, self.rng.random() * self.total)]


@dataclass
class Generator:
    """Draws contacts, topics and unrecognised messages with plausible distributions."""

    rng: random.Random

    def __post_init__(self) -> None:
        r = self.rng
        month_factor = {1: 0.75, 2: 0.8, 3: 0.9, 4: 0.85, 5: 0.95, 6: 1.0,
                        7: 1.0, 8: 0.7, 9: 1.1, 10: 1.15, 11: 1.2, 12: 0.8}
        weekday_factor = (1.25, 1.15, 1.1, 1.05, 0.9, 0.3, 0.25)
        days = [date(YEAR, 1, 1) + timedelta(days=i) for i in range(365)]
        self.day = Picker([(d, month_factor[d.month] * weekday_factor[d.weekday()])
                           for d in days], r)
        hour_weights = (1, 0.5, 0.3, 0.2, 0.2, 0.4, 1, 3, 8, 14, 15, 13, 10, 11, 13, 12,
                        10, 7, 5, 4, 3.5, 3, 2, 1.5)
        self.hour = Picker(list(enumerate(hour_weights)), r)
        self.channel = Picker([("web", 55), ("facebook", 25), ("teams", 15), ("rest", 5)], r)
        self.staff_share = {"web": 0.15, "facebook": 0.05, "teams": 0.9, "rest": 0.2}
        self.outcome = Picker([("answered", 52), ("declined", 6), ("handed_off", 17),
                               ("emergency", 1), ("not_understood", 9), ("abandoned", 13),
                               (None, 2)], r)
        self.team = Picker([(f"bs-{t}", w) for t, w in (
            ("admin", 30), ("minutes", 15), ("payroll", 12), ("rooms", 10), ("finance", 9),
            ("hr", 8), ("it", 8), ("post", 8))], r)
        self.n_topics = Picker([(0, 10), (1, 30), (2, 35), (3, 25)], r)  # mean 1.75
        self.entry = Picker([(f"menu.entry-{i:02d}", 1 / (i + 1)) for i in range(60)], r)
        self.message = Picker([(f"unrecognised request [REDACTED] #{i}", 1 / (i + 1) ** 1.1)
                               for i in range(300)], r)

    def contacts(self, n: int) -> Iterator[tuple[tuple, list[tuple], list[tuple]]]:
        """Yield (contact row, topic rows, unrecognised rows) for ids 1..n."""
        r = self.rng
        utc = timezone.utc
        for cid in range(1, n + 1):
            day = self.day()
            local = datetime(day.year, day.month, day.day, self.hour(),
                             r.randrange(60), r.randrange(60), tzinfo=LONDON)
            started = local.astimezone(utc)
            local = started.astimezone(LONDON)  # consistent even across the DST gaps
            started = started.replace(tzinfo=None)
            channel = self.channel()
            audience = "staff" if r.random() < self.staff_share[channel] else "resident"
            outcome = self.outcome()
            turns = 1 + int(r.expovariate(0.5))
            last = started + timedelta(seconds=30 * turns + r.randrange(120))
            team = self.team() if outcome == "handed_off" else None
            rated = outcome not in (None, "abandoned") and r.random() < 0.3
            row = (
                cid, str(uuid.UUID(int=r.getrandbits(128), version=4)),
                f"{r.getrandbits(256):064x}", 1, channel, audience,
                "cy" if r.random() < 0.03 else "en", started, last,
                None if outcome is None else last + timedelta(minutes=30),
                local.date(), f"{local.year:04d}-{local.month:02d}", local.hour, local.weekday(),
                turns, outcome, "danger" if outcome == "emergency" else None, team,
                f"BS-{cid:07d}" if team else None,
                ("helpful" if r.random() < 0.75 else "not_helpful") if rated else None, None,
            )
            topics = []
            if outcome in ("answered", "declined", "handed_off") or r.random() < 0.5:
                # an entry at most once per contact, as ContactRecorder stores them
                entries = dict.fromkeys(self.entry() for _ in range(self.n_topics()))
                topics = [(cid, entry, pos, local.date(), channel, audience)
                          for pos, entry in enumerate(entries)]
            unrecognised = []
            if outcome == "not_understood":
                unrecognised = [(cid, started + timedelta(seconds=20 * i), self.message(),
                                 channel, audience, local.date())
                                for i in range(1 + (r.random() < 0.4))]
            elif r.random() < 0.05:
                unrecognised = [(cid, started, self.message(), channel, audience, local.date())]
            yield row, topics, unrecognised


def chunks(gen: Generator, n: int) -> Iterator[tuple[list[tuple], list[tuple], list[tuple]]]:
    """The generated rows in chunks of CHUNK contacts."""
    contacts: list[tuple] = []
    topics: list[tuple] = []
    unrecognised: list[tuple] = []
    for row, t, u in gen.contacts(n):
        contacts.append(row)
        topics.extend(t)
        unrecognised.extend(u)
        if len(contacts) >= CHUNK:
            yield contacts, topics, unrecognised
            contacts, topics, unrecognised = [], [], []
    if contacts:
        yield contacts, topics, unrecognised


# --------------------------------------------------------------------------- loading


def _insert_sql(table: str, columns: Sequence[str]) -> str:
    marks = ", ".join("?" * len(columns))
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"


def _sqlite_value(value: object) -> object:
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    return value


def _secondary_indexes(engine: Engine) -> dict[str, str]:
    """name -> CREATE statement of the migrations' ``ix_*`` indexes on the three tables.

    The unique constraint on contact_topics stays in place while loading."""
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            rows = conn.execute(text(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
                "AND tbl_name IN ('contacts', 'contact_topics', 'unrecognised_messages')"
            ))
        else:
            rows = conn.execute(text(
                "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() "
                "AND tablename IN ('contacts', 'contact_topics', 'unrecognised_messages')"
            ))
        return {name: ddl for name, ddl in rows if name.startswith("ix_")}


def without_indexes(engine: Engine, load: Callable[[], dict[str, int]]) -> dict[str, int]:
    """Drop the secondary ``ix_*`` indexes, load, and recreate exactly the same indexes."""
    indexes = _secondary_indexes(engine)
    with engine.begin() as conn:
        for name in indexes:
            conn.execute(text(f"DROP INDEX {name}"))
    counts = load()
    t0 = time.perf_counter()
    with engine.begin() as conn:
        for ddl in indexes.values():
            conn.execute(text(ddl))
    print(f"   recreated the migrations' {len(indexes)} indexes in "
          f"{time.perf_counter() - t0:.1f} s")
    return counts


def load_sqlite(engine: Engine, gen: Generator, n: int) -> dict[str, int]:
    """executemany inside ONE transaction on the raw sqlite3 connection."""
    counts = {"contacts": 0, "contact_topics": 0, "unrecognised_messages": 0}
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        cur.execute("PRAGMA synchronous=OFF")
        cur.execute("PRAGMA foreign_keys=OFF")  # generated rows are consistent by construction
        cur.execute("BEGIN")
        for contacts, topics, unrecognised in chunks(gen, n):
            cur.executemany(_insert_sql("contacts", CONTACT_COLUMNS),
                            [tuple(map(_sqlite_value, r)) for r in contacts])
            cur.executemany(_insert_sql("contact_topics", TOPIC_COLUMNS),
                            [tuple(map(_sqlite_value, r)) for r in topics])
            cur.executemany(_insert_sql("unrecognised_messages", UNRECOGNISED_COLUMNS),
                            [tuple(map(_sqlite_value, r)) for r in unrecognised])
            counts["contacts"] += len(contacts)
            counts["contact_topics"] += len(topics)
            counts["unrecognised_messages"] += len(unrecognised)
        cur.execute("COMMIT")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
    finally:
        raw.close()
    return counts


def _copy(cur: Any, table: str, columns: Sequence[str], rows: list[tuple]) -> None:
    buf = io.StringIO()
    writer = csv.writer(buf)
    for row in rows:
        writer.writerow(["\\N" if v is None else v for v in row])
    buf.seek(0)
    cur.copy_expert(
        f"COPY {table} ({', '.join(columns)}) FROM STDIN WITH (FORMAT csv, NULL '\\N')", buf
    )


def load_postgres(engine: Engine, gen: Generator, n: int) -> dict[str, int]:
    """COPY FROM STDIN per chunk, one transaction, then fix the sequences and ANALYZE."""
    counts = {"contacts": 0, "contact_topics": 0, "unrecognised_messages": 0}
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        # skip the FK triggers while loading: generated rows are consistent by construction
        cur.execute("SET session_replication_role = replica")
        for contacts, topics, unrecognised in chunks(gen, n):
            _copy(cur, "contacts", CONTACT_COLUMNS, contacts)
            _copy(cur, "contact_topics", TOPIC_COLUMNS, topics)
            _copy(cur, "unrecognised_messages", UNRECOGNISED_COLUMNS, unrecognised)
            counts["contacts"] += len(contacts)
            counts["contact_topics"] += len(topics)
            counts["unrecognised_messages"] += len(unrecognised)
        cur.execute("SELECT setval(pg_get_serial_sequence('contacts', 'id'), %s)", (n,))
        cur.execute("SET session_replication_role = DEFAULT")
        raw.commit()
    finally:
        raw.close()
    return counts


# --------------------------------------------------------------------------- timing


def median_time(fn: Callable[[], object], runs: int) -> tuple[float, float, float]:
    """(median, min, max) wall seconds of ``runs`` calls."""
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), min(times), max(times)


def count_all(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM contacts")).scalar_one())


SECTIONS: dict[str, Callable[[Engine, Scope], object]] = {
    "figures (1 statement)": queries.contact_figures,
    "demand grid": queries.demand_grid,
    "top_topics": queries.top_topics,
    "top_not_understood": queries.top_not_understood,
}


@dataclass
class Result:
    database: str
    period: str
    contacts: int
    median: float
    fastest: float
    slowest: float
    baseline: float


def measure(name: str, engine: Engine, runs: int, sections: bool) -> list[Result]:
    """Time count(*) and build_report for each period on ``engine``."""
    baseline, _, _ = median_time(lambda: count_all(engine), runs)
    results = []
    for period, (start, end) in PERIODS.items():
        build_report(engine, start, end)  # warm the cache once, as a live server would be
        def report(s: date = start, e: date = end) -> object:
            return build_report(engine, s, e)

        med, lo, hi = median_time(report, runs)
        n = queries.contact_figures(engine, Scope(start, end)).summary.contacts
        results.append(Result(name, period, n, med, lo, hi, baseline))
        if sections and period == "year":
            print(f"  {name} year, per section (median of {runs}):")
            scope = Scope(start, end)
            for label, fn in SECTIONS.items():
                def section(
                    f: Callable[[Engine, Scope], object] = fn, sc: Scope = scope
                ) -> object:
                    return f(engine, sc)

                s_med, _, _ = median_time(section, runs)
                print(f"    {label:<20} {s_med:8.3f} s")
    return results


def print_results(results: list[Result], runs: int) -> None:
    header = ("database", "period", "contacts", f"median({runs}) s", "min s", "max s",
              "count(*) s", "ratio", f"<= {GOAL_SECONDS:g} s")
    rows = [(r.database, r.period, f"{r.contacts:,}", f"{r.median:.3f}", f"{r.fastest:.3f}",
             f"{r.slowest:.3f}", f"{r.baseline:.4f}", f"{r.median / r.baseline:,.1f}x",
             "yes" if r.median <= GOAL_SECONDS else "NO") for r in results]
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=True)]
    for i, row in enumerate([header, *rows]):
        print("  ".join(str(c).ljust(w) if j < 2 else str(c).rjust(w)
                        for j, (c, w) in enumerate(zip(row, widths, strict=True))))
        if i == 0:
            print("  ".join("-" * w for w in widths))


# --------------------------------------------------------------------------- databases


def run_database(name: str, url: str, args: argparse.Namespace) -> list[Result]:
    """Migrate, load, measure."""
    print(f"\n== {name}: migrating {url.split('@')[-1]}")
    upgrade(url)
    engine = make_engine(url)
    try:
        if count_all(engine) == 0:
            gen = Generator(random.Random(args.seed))
            t0 = time.perf_counter()
            loader = load_sqlite if name == "sqlite" else load_postgres
            counts = without_indexes(engine, lambda: loader(engine, gen, args.contacts))
            analyse(engine)
            print(f"   loaded {counts['contacts']:,} contacts, {counts['contact_topics']:,} "
                  f"topics, {counts['unrecognised_messages']:,} unrecognised messages "
                  f"in {time.perf_counter() - t0:.1f} s (indexes and statistics included)")
        else:
            print(f"   reusing {count_all(engine):,} contacts already there")
        if name == "sqlite" and args.sqlite_pragma:
            pragmas = [f"PRAGMA {p}" for p in args.sqlite_pragma]

            def set_pragmas(dbapi: Any, _record: Any) -> None:
                for pragma in pragmas:
                    dbapi.execute(pragma)

            event.listen(engine, "connect", set_pragmas)
            engine.dispose()  # new connections get the pragmas
            print(f"   SQLite connections also run: {'; '.join(pragmas)}")
        return measure(name, engine, args.runs, args.sections)
    finally:
        engine.dispose()


def analyse(engine: Engine) -> None:
    """Planner statistics (ANALYZE; VACUUM ANALYZE on PostgreSQL for index-only scans)."""
    if engine.dialect.name == "sqlite":
        with engine.begin() as conn:
            conn.execute(text("ANALYZE"))
        return
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for table in TABLES:
            conn.execute(text(f"VACUUM ANALYZE {table}"))


def postgres_database(admin_url: str) -> tuple[str, Callable[[], None]] | None:
    """Create a throwaway database; returns (url, drop) or None when PostgreSQL is absent."""
    name = f"fp_bench_{uuid.uuid4().hex[:10]}"
    try:
        admin = make_engine(admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # noqa: BLE001 - any failure means "no PostgreSQL here"
        print(f"\n== postgresql: skipped ({type(exc).__name__}: {str(exc).splitlines()[0]})")
        return None

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()

    return f"{admin_url.rpartition('/')[0]}/{name}", drop


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    from firstpoint.settings import get_settings

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--contacts", type=int, default=1_000_000, help="contacts to generate")
    p.add_argument("--sqlite-path", type=Path, default=ROOT / "benchmarks" / "out" / "bench.db",
                   help="SQLite file (recreated; default benchmarks/out/bench.db)")
    p.add_argument("--postgres-url", default=get_settings().postgres_test_url,
                   help="server/database used to create a throwaway benchmark database")
    p.add_argument("--skip-postgres", action="store_true")
    p.add_argument("--skip-sqlite", action="store_true")
    p.add_argument("--runs", type=int, default=5, help="runs per figure (median reported)")
    p.add_argument("--seed", type=int, default=2026)
    p.add_argument("--sections", action="store_true", help="time each query of the year report")
    p.add_argument("--sqlite-pragma", action="append", default=[], metavar="NAME=VALUE",
                   help="extra PRAGMA for every SQLite connection, run after make_engine's "
                   "(firstpoint.records.db.SQLITE_READ_PRAGMAS), e.g. mmap_size=0 to measure "
                   "without memory mapping (repeatable)")
    p.add_argument("--keep", action="store_true",
                   help="keep the SQLite file (reused next time) and the PostgreSQL database")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and print the table; exit 1 if any report misses the goal."""
    args = parse_args(argv)
    print(f"report benchmark: {args.contacts:,} contacts in {YEAR}, median of {args.runs} runs")
    results: list[Result] = []
    if not args.skip_sqlite:
        path: Path = args.sqlite_path
        path.parent.mkdir(parents=True, exist_ok=True)
        if not args.keep:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
        results += run_database("sqlite", f"sqlite:///{path}", args)
    if not args.skip_postgres:
        made = postgres_database(args.postgres_url)
        if made is not None:
            url, drop = made
            try:
                results += run_database("postgresql", url, args)
            finally:
                if args.keep:
                    print(f"   kept {url}")
                else:
                    drop()
    print()
    print_results(results, args.runs)
    return 0 if all(r.median <= GOAL_SECONDS for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())

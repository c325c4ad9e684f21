"""Building one weekly digest over a big history, on SQLite and on PostgreSQL.

    python -m bench.digest [--quick]

Seeds 1,000,000 pulse answers (plus who-answered rows for one question per run), 200,000 feedback items and
1,000,000 reactions (plus a claim and a closed loop on every tenth item), spread over 8 weeks, 50 teams and 10
product areas (`--quick`: a tenth), with bulk inserts — executemany in one transaction on SQLite, COPY on
PostgreSQL (a throwaway cluster, as the tests start one). Then builds the digest of the last week, charts
included, on each backend. Figures: `responses` (pulse answers seeded), `seconds` (the slower backend's build),
per-backend seconds, and `peak_mb` — the peak resident set size of this process (ru_maxrss), seeding included.
Targets: < 3 s and < 300 MB.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import resource
import sqlite3
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bench.common import emit

WEEK = "2026-W47"
WEEKS = 8
TEAMS = 50
AREAS = ["checkout", "billing", "reports", "mobile", "onboarding", "pricing", "support", "integrations",
         "notifications", "search"]
SOURCES = ["nps-survey", "appstore", "helpdesk"]
TEXTS = ["ระบบชำระเงินช้ามาก รอนานเกือบ 5 นาที", "Checkout failed twice, please fix", "Приложение вылетает при оплате",
         "پشتیبانی خیلی سریع بود", "Love the new reports!", "アプリの通知が多すぎます", "refund request still pending",
         "Експорт у CSV ламає кирилицю", "search results are slow", "pricing page is confusing"]
COMMENTS = ["too many meetings", "great team spirit", "need more time for focus work", "ระบบช้า", "仕事量が多い"]
CHUNK = 50_000
USERS = 2_000


class World:
    """Deterministic rows, generated chunk by chunk so memory stays flat whatever the size."""

    def __init__(self, scale: float) -> None:
        self.feedback = int(200_000 * scale)
        self.responses = int(1_000_000 * scale)
        self.reactions = int(1_000_000 * scale)
        from bot.digests.weeks import Week

        self.week = Week.parse(WEEK, ZoneInfo("UTC"))
        self.first = self.week.shifted(1 - WEEKS).start
        self.span = (self.week.end - self.first).total_seconds()
        self.runs = [(team * WEEKS + w + 1, team, self.week.shifted(w + 1 - WEEKS).start + timedelta(hours=9))
                     for team in range(TEAMS) for w in range(WEEKS)]

    def received(self, item: int) -> datetime:
        return self.first + timedelta(seconds=self.span * item / self.feedback)

    def area_of(self, item: int) -> int:
        return item * 7 % len(AREAS)

    def stations(self) -> list[tuple[Any, ...]]:
        return [("bench", f"C{team}", json.dumps({"areas": [AREAS[team % len(AREAS)]]}), False, "bench:hr",
                 self.first - timedelta(days=1)) for team in range(TEAMS)]

    def feedback_rows(self) -> Iterator[list[tuple[Any, ...]]]:
        rng = random.Random(1)
        for start in range(0, self.feedback, CHUNK):
            rows = []
            for item in range(start, min(start + CHUNK, self.feedback)):
                kind = "nps" if item % 3 else "csat"
                score = rng.randint(0, 10) if kind == "nps" else rng.randint(1, 5)
                rows.append((item + 1, SOURCES[item % 3], f"b{item}", f"{TEXTS[item % len(TEXTS)]} #{item % 97}",
                             float(score), kind, "[]", AREAS[self.area_of(item)], self.received(item),
                             self.received(item)))
            yield rows

    def pulses(self) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], list[tuple[Any, ...]]]:
        pulses = [(team + 1, "bench", f"C{team}", "boss", "Weekly pulse", True, True, "{}", "UTC", "active",
                   self.first) for team in range(TEAMS)]
        questions = []
        for team in range(TEAMS):
            for position, (kind, prompt, options) in enumerate((
                    ("scale", "How manageable is your workload?", '["1","2","3","4","5"]'),
                    ("enps", "Would you recommend working here?", "[]"), ("text", "Anything else?", "[]"))):
                questions.append((team * 3 + position + 1, team + 1, position, kind, prompt, options, False))
        runs = [(run_id, team + 1, opened, "closed", opened, opened + timedelta(days=3)) for run_id, team, opened
                in self.runs]
        return pulses, questions, runs

    def response_rows(self) -> Iterator[tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]]:
        """(answers, who answered) chunks: each run gets the same share; a twentieth of answers carry a comment."""
        rng = random.Random(2)
        per_run = self.responses // len(self.runs)
        answers: list[tuple[Any, ...]] = []
        people: list[tuple[Any, ...]] = []
        n = 0
        for run_id, team, opened in self.runs:
            for i in range(per_run):
                scale = i % 2 == 0
                question = team * 3 + (1 if scale else 2)
                value = str(rng.randint(1, 5) if scale else rng.randint(0, 10))
                comment = COMMENTS[i % len(COMMENTS)] if i % 20 == 0 else None
                answers.append((f"{n:032x}", run_id, question, None, value, comment,
                                (opened + timedelta(days=i % 3)).date()))
                if scale:
                    people.append((run_id, question, "bench", f"U{i // 2}"))
                n += 1
                if len(answers) >= CHUNK:
                    yield answers, people
                    answers, people = [], []
        if answers:
            yield answers, people

    def engagement_rows(self) -> Iterator[list[tuple[Any, ...]]]:
        """Reactions (and claims, closed loops) item by item, so rows arrive roughly in time order as they
        would in production: within two days of the item, by people of the teams hearing its area."""
        rng = random.Random(3)
        per_item = self.reactions / self.feedback
        rows: list[tuple[Any, ...]] = []
        n = made = 0
        for item in range(self.feedback):
            received = self.received(item)
            count = int(per_item * (item + 1)) - made
            made += count
            kinds = ["reaction"] * count + (["claim", "done"] if item % 10 == 0 else [])
            for kind in kinds:
                team = self.area_of(item) + len(AREAS) * rng.randrange(TEAMS // len(AREAS))
                when = min(received + timedelta(minutes=rng.randint(1, 2880)), self.week.end - timedelta(seconds=1))
                rows.append((f"r{n}", item + 1, "bench", f"C{team}", f"U{rng.randrange(USERS)}", kind, "insight",
                             when))
                n += 1
            if len(rows) >= CHUNK:
                yield rows
                rows = []
        if rows:
            yield rows


# -- SQLite: the stdlib driver, one transaction ---------------------------------------------------------------
def _sqlite_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    return value


def _rows(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    return [tuple(_sqlite_value(v) for v in row) for row in rows]


def seed_sqlite(path: Path, world: World) -> None:
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA synchronous=OFF")
    with connection:
        connection.executemany("INSERT INTO station (platform, channel_id, filters, paused, created_by, created_at) "
                               "VALUES (?,?,?,?,?,?)", _rows(world.stations()))
        for chunk in world.feedback_rows():
            connection.executemany(
                "INSERT INTO feedback (id, source, external_id, text, score, score_type, tags, product_area, "
                "created_at, received_at) VALUES (?,?,?,?,?,?,?,?,?,?)", _rows(chunk))
        pulses, questions, runs = world.pulses()
        connection.executemany("INSERT INTO pulse (id, platform, channel_id, author_id, title, anonymous, "
                               "results_live, audience, timezone, status, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                               _rows(pulses))
        connection.executemany("INSERT INTO question (id, pulse_id, position, kind, prompt, options, allow_comment) "
                               "VALUES (?,?,?,?,?,?,?)", questions)
        connection.executemany("INSERT INTO pulse_run (id, pulse_id, scheduled_for, status, opened_at, closed_at) "
                               "VALUES (?,?,?,?,?,?)", _rows(runs))
        for answers, people in world.response_rows():
            connection.executemany("INSERT INTO response (id, run_id, question_id, respondent_id, value, comment, "
                                   "answered_on) VALUES (?,?,?,?,?,?,?)", _rows(answers))
            connection.executemany("INSERT OR IGNORE INTO participation (run_id, question_id, platform, user_id) "
                                   "VALUES (?,?,?,?)", people)
        for chunk in world.engagement_rows():
            connection.executemany("INSERT INTO engagement (event_key, feedback_id, platform, channel_id, user_id, "
                                   "kind, value, created_at) VALUES (?,?,?,?,?,?,?,?)", _rows(chunk))
    connection.execute("ANALYZE")
    connection.close()


# -- PostgreSQL: COPY through asyncpg ----------------------------------------------------------------------------
async def seed_postgres(dsn: str, world: World) -> None:
    import asyncpg

    connection = await asyncpg.connect(dsn)
    try:
        async def copy(table: str, columns: list[str], rows: list[tuple[Any, ...]]) -> None:
            await connection.copy_records_to_table(table, records=rows, columns=columns)

        await copy("station", ["platform", "channel_id", "filters", "paused", "created_by", "created_at"],
                   world.stations())
        for chunk in world.feedback_rows():
            await copy("feedback", ["id", "source", "external_id", "text", "score", "score_type", "tags",
                                    "product_area", "created_at", "received_at"], chunk)
        pulses, questions, runs = world.pulses()
        await copy("pulse", ["id", "platform", "channel_id", "author_id", "title", "anonymous", "results_live",
                             "audience", "timezone", "status", "created_at"], pulses)
        await copy("question", ["id", "pulse_id", "position", "kind", "prompt", "options", "allow_comment"],
                   questions)
        await copy("pulse_run", ["id", "pulse_id", "scheduled_for", "status", "opened_at", "closed_at"], runs)
        for answers, people in world.response_rows():
            await copy("response", ["id", "run_id", "question_id", "respondent_id", "value", "comment",
                                    "answered_on"], answers)
            await copy("participation", ["run_id", "question_id", "platform", "user_id"], list(dict.fromkeys(people)))
        for chunk in world.engagement_rows():
            await copy("engagement", ["event_key", "feedback_id", "platform", "channel_id", "user_id", "kind",
                                      "value", "created_at"], chunk)
        for table in ("feedback", "station", "pulse", "question", "pulse_run"):
            await connection.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                     f"(SELECT COALESCE(MAX(id), 1) FROM {table}))")
        await connection.execute("ANALYZE")
    finally:
        await connection.close()


# -- the measured part -----------------------------------------------------------------------------------------
async def build_once(url: str, world: World) -> tuple[float, int]:
    """Seconds to build the digest and draw its charts; and how many teams it has (a sanity check)."""
    from bot.digests import plots
    from bot.digests.build import Privacy, build_digest
    from bot.feedback.redact import Redactor
    from storage.engine import Database

    db = Database(url)
    try:
        start = time.perf_counter()
        digest = await build_digest(db, world.week, Privacy(5, 10), Redactor())
        plots.charts(digest)
        seconds = time.perf_counter() - start
    finally:
        await db.dispose()
    if digest.overall.customers.volume.hidden or digest.overall.employees.score.hidden:
        raise RuntimeError("the digest came out empty: the seeding and the digest disagree")
    return seconds, len(digest.teams)


def run_sqlite(world: World, folder: Path) -> float:
    from storage.migrate import upgrade

    path = folder / "digest.db"
    url = f"sqlite+aiosqlite:///{path}"
    upgrade(url)
    started = time.perf_counter()
    seed_sqlite(path, world)
    print(f"sqlite: seeded in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    asyncio.run(build_once(url, world))  # warm: imports, matplotlib fonts, the page cache
    seconds, teams = asyncio.run(build_once(url, world))
    print(f"sqlite: digest of {teams} teams in {seconds:.2f} s", file=sys.stderr)
    return seconds


def run_postgres(world: World) -> float:
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    from storage.migrate import upgrade
    from tests.support.postgres import TempPostgres

    server = TempPostgres()
    base = server.start()
    try:
        async def create() -> None:
            engine = create_async_engine(f"{base}/postgres", isolation_level="AUTOCOMMIT")
            async with engine.connect() as connection:
                await connection.execute(text('CREATE DATABASE "digest"'))
            await engine.dispose()

        asyncio.run(create())
        url = f"{base}/digest"
        upgrade(url)
        started = time.perf_counter()
        asyncio.run(seed_postgres(url.replace("postgresql+asyncpg://", "postgresql://"), world))
        print(f"postgres: seeded in {time.perf_counter() - started:.1f} s", file=sys.stderr)
        asyncio.run(build_once(url, world))
        seconds, teams = asyncio.run(build_once(url, world))
        print(f"postgres: digest of {teams} teams in {seconds:.2f} s", file=sys.stderr)
        return seconds
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a tenth of the data")
    args = parser.parse_args()
    world = World(0.1 if args.quick else 1.0)
    with tempfile.TemporaryDirectory(prefix="earshot-digest-") as folder:
        sqlite_seconds = run_sqlite(world, Path(folder))
    postgres_seconds = run_postgres(world)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    emit({"responses": world.responses, "feedback": world.feedback, "reactions": world.reactions,
          "seconds": round(max(sqlite_seconds, postgres_seconds), 3), "sqlite_seconds": round(sqlite_seconds, 3),
          "postgres_seconds": round(postgres_seconds, 3), "peak_mb": round(peak_mb, 1),
          "peak_mb_is": "peak RSS of the process (ru_maxrss), seeding included"})


if __name__ == "__main__":
    main()

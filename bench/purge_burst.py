"""The daily retention purge of a year of data, running while a burst of votes arrives.

    python -m bench.purge_burst [--quick] [--target-ms MS] [--pause-ms MS] [--batch N]

Plants two years of data in a SQLite database (feedback items with text and contacts, weekly closed pulse runs
with answers, comments and who answered, sent cards and their edits, daily exports and charts, sandbox
messages), so that under the default policy (docs/governance.md) about a year of each expires. Then runs
`earshot serve` (web and worker in one process, the sandbox as the platform), whose leader runs its first
retention purge a few seconds after it starts (the daily job, brought forward), and as soon as the server logs
that the purge started, sends the vote burst of bench.vote_burst (same people, pulse and HTTP path). Figures:
`purge_s` and the purge's counts (from the server's log), `votes_during_purge` and their `p50_ms` / `p99_ms`
(target p99 ≤ 100 ms), `p99_all_ms` over every vote, and `planted` (rows planted per kind).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.common import ROOT, _wait_healthy, emit, free_port, percentile, server_log, stop
from bench.vote_burst import launch, seed

DAYS = 730
PURGE_AFTER_SECONDS = 12
"""When the server's first purge runs: enough for the bench to launch its pulse first."""
WORDS = ("slow", "checkout", "great", "support", "refund", "app", "crash", "love", "price", "delivery", "login")


def plant(database_url: str, scale: float) -> dict[str, int]:
    """Two years of data at `scale` (1.0: about 100 feedback items a day)."""
    from sqlalchemy import insert

    from storage.engine import Database
    from storage.tables import (
        Chart,
        Delivery,
        Feedback,
        Participation,
        Pulse,
        PulseRun,
        Question,
        Response,
        SandboxMessage,
        StoredFile,
    )

    rng = random.Random(7)
    now = datetime.now(UTC)

    def text(words: int) -> str:
        return " ".join(rng.choice(WORDS) for _ in range(words))

    async def run() -> dict[str, int]:
        db = Database(database_url)
        planted: dict[str, int] = {}

        async def put(table: Any, rows: list[dict[str, Any]]) -> None:
            planted[table.__tablename__] = planted.get(table.__tablename__, 0) + len(rows)
            for start in range(0, len(rows), 5000):
                async with db.session() as session:
                    await (await session.connection()).execute(insert(table), rows[start:start + 5000])
                    await session.commit()

        per_day = max(1, int(100 * scale))
        feedback = []
        for day in range(DAYS):
            for n in range(per_day):
                at = now - timedelta(days=day, minutes=n)
                feedback.append({"source": "plant", "external_id": f"{day}-{n}", "text": text(40), "score": n % 11,
                                 "score_type": "nps", "tags": ["plant"], "created_at": at, "received_at": at,
                                 "customer": {"name": f"Customer {day}-{n}", "email": f"c{day}-{n}@example.com"}})
        await put(Feedback, feedback)
        deliveries = []
        for index, item in enumerate(feedback, start=1):
            deliveries.append({"dedupe_key": f"plant:{index}", "platform": "sandbox", "kind": "send",
                               "target": {"platform": "sandbox", "channel_id": "C-old"}, "pace_key": "sandbox:C-old",
                               "card": {"fallback": item["text"], "blocks": [{"type": "text", "text": item["text"]}]},
                               "status": "sent", "created_at": item["received_at"], "sent_at": item["received_at"],
                               "message_channel": "C-old", "message_id": f"m{index}", "attempts": 1,
                               "next_attempt_at": item["received_at"]})
        await put(Delivery, deliveries)
        async with db.session() as session:  # the sends' ids, for their edits
            sends = [row[0] for row in (await (await session.connection()).exec_driver_sql(
                "SELECT id, created_at FROM delivery WHERE dedupe_key LIKE 'plant:%' ORDER BY id")).all()]
        await put(Delivery, [{"dedupe_key": f"plant-edit:{parent}", "platform": "sandbox", "kind": "update",
                              "pace_key": "sandbox:C-old#edit", "card": {"fallback": "edited " + text(30)},
                              "parent_id": parent, "status": "sent", "created_at": deliveries[i]["created_at"],
                              "next_attempt_at": deliveries[i]["created_at"], "attempts": 1}
                             for i, parent in enumerate(sends) if i % 3 == 0])
        await pulses(db, put, now, rng, max(20, int(150 * scale)))
        await put(StoredFile, [{"id": f"{day:032x}", "name": f"export-{day}.csv", "mime": "text/csv",
                                "data": text(int(3000 * scale) + 100).encode(), "created_at": now - timedelta(days=day)}
                               for day in range(DAYS)])
        await put(Chart, [{"id": f"{day + 10_000:032x}", "png": rng.randbytes(int(20_000 * scale) + 1000),
                           "created_at": now - timedelta(days=day)} for day in range(DAYS)])
        await put(SandboxMessage, [{"channel_id": "C-old", "author_id": "earshot", "card": {"fallback": text(30)},
                                    "reactions": {}, "edited": False,
                                    "created_at": now - timedelta(days=day, minutes=n)}
                                   for day in range(DAYS) for n in range(max(1, int(40 * scale)))])
        await db.dispose()
        return planted

    async def pulses(db: Database, put: Any, now: datetime, rng: random.Random, answers: int) -> None:
        async with db.session() as session:
            pulse = Pulse(platform="sandbox", channel_id="C-old", author_id="boss", title="Weekly mood")
            session.add(pulse)
            await session.flush()
            question = Question(pulse_id=pulse.id, position=0, kind="scale", prompt="How was the week?",
                                options=[], allow_comment=True)
            session.add(question)
            await session.flush()
            runs = []
            for week in range(1, DAYS // 7):
                opened = now - timedelta(weeks=week)
                run = PulseRun(pulse_id=pulse.id, scheduled_for=opened, status="closed", opened_at=opened,
                               closes_at=opened + timedelta(days=2), closed_at=opened + timedelta(days=2),
                               audience_size=answers, minimum=5)
                session.add(run)
                runs.append(run)
            await session.commit()
            question_id = question.id
        await put(Response, [{"id": f"{run.id:08x}{n:024x}", "run_id": run.id, "question_id": question_id,
                              "respondent_id": f"sandbox:p{n}", "value": str(1 + rng.randrange(5)),
                              "comment": text(15) if n % 3 == 0 else None, "answered_on": run.opened_at.date()}
                             for run in runs for n in range(answers)])
        await put(Participation, [{"run_id": run.id, "question_id": question_id, "platform": "sandbox",
                                   "user_id": f"p{n}", "sealed": None} for run in runs for n in range(answers)])

    return asyncio.run(run())


def start_server(database_url: str, tuning: dict[str, float]) -> tuple[subprocess.Popen[bytes], str]:
    """`earshot serve all` with its first purge brought forward to PURGE_AFTER_SECONDS after it starts, and the
    purge's batch sizing and pauses (bot.governance.retention) set to `tuning` when given."""
    port = free_port()
    env = {**os.environ, "DATABASE_URL": database_url, "EARSHOT_SANDBOX": "1", "PORT": str(port),
           "HOST": "127.0.0.1", "EARSHOT_LOG_FORMAT": "text"}
    code = ("import datetime, sys, adapters.runtime as runtime, adapters.cli as cli, bot.governance.retention as r; "
            f"runtime.PURGE_FIRST = datetime.timedelta(seconds={PURGE_AFTER_SECONDS}); "
            + "".join(f"r.{name} = {value!r}; " for name, value in tuning.items())
            + "sys.exit(cli.main(['serve', 'all']))")
    log = tempfile.NamedTemporaryFile(prefix="earshot-bench-", suffix=".log", delete=False)  # noqa: SIM115
    process = subprocess.Popen([sys.executable, "-c", code], env=env, cwd=ROOT, stdout=log, stderr=log)
    process.log_path = log.name  # type: ignore[attr-defined]
    url = f"http://127.0.0.1:{port}"
    asyncio.run(_wait_healthy(url, process))
    return process, url


async def wait_for(process: subprocess.Popen[bytes], pattern: str, within: float) -> re.Match[str]:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if found := re.search(pattern, server_log(process, tail=1_000_000)):
            return found
        if process.poll() is not None:
            raise RuntimeError(f"server exited: {server_log(process)}")
        await asyncio.sleep(0.05)
    raise RuntimeError(f"the server never logged {pattern!r}: {server_log(process)}")


async def burst_during_purge(process: subprocess.Popen[bytes], url: str, message_id: str, action: str,
                             voters: int, seconds: float) -> tuple[list[tuple[float, float]], float, dict[str, int]]:
    """Votes sent as soon as the purge starts; returns (due time, latency ms) per vote, when the purge ended (as
    seen here) and its duration and counts as the server logged them."""
    import aiohttp

    from bench.common import open_loop, sandbox_session

    await wait_for(process, r"retention purge started", PURGE_AFTER_SECONDS + 60)
    started = time.perf_counter()
    ended: list[float] = []
    done = {"seconds": 0.0, "counts": {}}

    async def watch() -> None:
        found = await wait_for(process, r"retention purge done in ([\d.]+) s: (\{.*\})", 3600)
        ended.append(time.perf_counter())
        done["seconds"], done["counts"] = float(found.group(1)), json.loads(found.group(2))

    watcher = asyncio.create_task(watch())
    connector = aiohttp.TCPConnector(limit=400)
    dues: list[float] = [0.0] * voters
    async with await sandbox_session(process, connector=connector) as session:
        async def send(index: int) -> None:
            dues[index] = time.perf_counter()
            body = {"as": f"p{index}", "message_id": message_id, "action_id": action,
                    "value": str(1 + index % 5), "client_id": f"vote-{index}"}
            async with session.post(f"{url}/sandbox/api/action", data=json.dumps(body),
                                    headers={"Content-Type": "application/json"}) as response:
                if response.status != 200:
                    raise RuntimeError(f"HTTP {response.status}: {await response.text()}")
                await response.read()

        latencies = await open_loop(voters / seconds, voters, send)
    await watcher
    return ([(due - started, ms) for due, ms in zip(dues, latencies, strict=True)], ended[0] - started,
            {"seconds": done["seconds"], **done["counts"]})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a fifth of the data; 1,000 voters over four seconds")
    parser.add_argument("--target-ms", type=float, help="each batch's write transaction aims at this long")
    parser.add_argument("--pause-ms", type=float, help="the least pause between two batches")
    parser.add_argument("--batch", type=int, help="the most rows per batch")
    args = parser.parse_args()
    tuning = {name: value for name, value in (("TARGET_SECONDS", args.target_ms and args.target_ms / 1000),
                                               ("PAUSE_SECONDS", args.pause_ms and args.pause_ms / 1000),
                                               ("BATCH", args.batch)) if value}
    scale, voters, seconds = (0.2, 1000, 4.0) if args.quick else (1.0, 5000, 10.0)
    with tempfile.TemporaryDirectory() as folder:
        database = f"sqlite+aiosqlite:///{Path(folder) / 'purge.db'}"
        seed(database, voters)
        began = time.monotonic()
        planted = plant(database, scale)
        plant_s = time.monotonic() - began
        size = (Path(folder) / "purge.db").stat().st_size
        process, url = start_server(database, tuning)
        try:
            message_id, action = asyncio.run(launch(process, url))
            votes, purge_end, purge = asyncio.run(burst_during_purge(process, url, message_id, action, voters,
                                                                     seconds))
        except RuntimeError:
            print(server_log(process), file=sys.stderr)
            raise
        finally:
            stop(process)
    during = [ms for due, ms in votes if due <= purge_end]
    figures = {"tuning": tuning, "planted": planted, "plant_s": round(plant_s, 1), "db_mb": round(size / 1e6, 1),
               "purge_s": purge.pop("seconds"), "purged": purge, "votes": len(votes),
               "votes_during_purge": len(during), "p50_ms": round(percentile(during, 50), 1),
               "p99_ms": round(percentile(during, 99), 1),
               "p99_all_ms": round(percentile([ms for _, ms in votes], 99), 1)}
    emit(figures)


if __name__ == "__main__":
    main()

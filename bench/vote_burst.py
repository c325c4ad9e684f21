"""A burst of votes on one anonymous pulse through the HTTP path, with platform-style retries.

    python -m bench.vote_burst [--quick]

`earshot serve` (web and worker in one process, SQLite, the sandbox as the platform) with 5,000 people in one
channel. A manager launches an anonymous pulse there; every person then votes once through
`POST /sandbox/api/action`, open loop over about ten seconds, and 10% of the requests are sent a second time
with the same event id, as a platform retries an event. The client opens the sandbox link the server printed
and keeps its cookie, as a browser does. Anonymous answers wait sealed and are published in batches (bot/pulses/
publishing.py), the rest when the manager closes the pulse, which the run does at the end. Figures: `voters`,
`published_live` (answers published in batches while the pulse was open), `stored` (answers in the database
after the close; must equal `voters`), `double_counted` (must be 0), `p50_ms` / `p99_ms` (target p99 ≤ 100 ms)
and `card_updates` (edits of the channel card actually sent: coalesced, far fewer than the votes).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp

from bench.common import emit, open_loop, percentile, sandbox_session, server_log, start_earshot, stop

CHANNEL = "C-bench"
JSON = {"Content-Type": "application/json"}


def seed(database_url: str, voters: int) -> None:
    from bot.roles import grant
    from storage.columns import utcnow
    from storage.engine import Database
    from storage.migrate import upgrade
    from storage.tables import Person, SandboxChannel, SandboxMember
    from storage.upsert import insert_many_ignore

    upgrade(database_url)

    async def run() -> None:
        db = Database(database_url)
        people = ["boss", *(f"p{n}" for n in range(voters))]
        async with db.session() as session:
            await insert_many_ignore(session, Person, [
                {"platform": "sandbox", "user_id": user, "display_name": user, "timezone": "UTC",
                 "unreachable": False, "unreachable_reason": None, "updated_at": utcnow()} for user in people])
            session.add(SandboxChannel(id=CHANNEL, name="bench", kind="channel"))
            await session.flush()
            await insert_many_ignore(session, SandboxMember, [{"channel_id": CHANNEL, "user_id": u} for u in people])
            await grant(session, "sandbox", "boss", "manager")
            await session.commit()
        await db.dispose()

    asyncio.run(run())


async def command_until(process: subprocess.Popen[bytes], url: str, text: str,
                        found: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    """Send a slash command as the manager, then the first message `found` accepts (waiting up to 30 s)."""
    async with await sandbox_session(process) as session:
        body = {"as": "boss", "channel_id": CHANNEL, "text": text}
        async with session.post(f"{url}/sandbox/api/send", data=json.dumps(body), headers=JSON) as response:
            assert response.status == 200, await response.text()
        for _ in range(300):
            async with session.get(f"{url}/sandbox/api/state?as=boss") as response:
                messages = (await response.json())["messages"]
            message = next((m for m in messages if found(m.get("card") or {})), None)
            if message:
                return message
            await asyncio.sleep(0.1)
    raise RuntimeError(f"nothing came of {text}")


def fallback(prefix: str) -> Callable[[dict[str, Any]], bool]:
    return lambda card: str(card.get("fallback", "")).startswith(prefix)


async def launch(process: subprocess.Popen[bytes], url: str) -> tuple[str, str]:
    card = await command_until(process, url, '/pulse "Bench: how is it going?" scale anonymous', fallback("Pulse:"))
    action = next(b["buttons"][0]["action_id"] for b in card["card"]["blocks"] if b["type"] == "buttons")
    return card["id"], action


async def burst(process: subprocess.Popen[bytes], url: str, message_id: str, action: str, voters: int,
                seconds: float) -> list[float]:
    rng = random.Random(11)
    requests = [(f"p{n}", f"vote-{n}") for n in range(voters)]
    resends = rng.sample(range(voters), voters // 10)
    for index in sorted(resends, reverse=True):  # a retry arrives a little after the original
        requests.insert(min(len(requests), index + rng.randint(5, 50)), requests[index])
    connector = aiohttp.TCPConnector(limit=400)
    async with await sandbox_session(process, connector=connector) as session:
        async def send(index: int) -> None:
            user, event = requests[index]
            body = {"as": user, "message_id": message_id, "action_id": action, "value": str(1 + hash(user) % 5),
                    "client_id": event}
            async with session.post(f"{url}/sandbox/api/action", data=json.dumps(body), headers=JSON) as response:
                if response.status != 200:
                    raise RuntimeError(f"HTTP {response.status}: {await response.text()}")
                await response.read()

        return await open_loop(len(requests) / seconds, len(requests), send)


def published(database_url: str) -> int:
    from sqlalchemy import func
    from sqlmodel import select

    from storage.engine import Database
    from storage.tables import Response

    async def run() -> int:
        db = Database(database_url)
        async with db.session() as session:
            found = (await session.exec(select(func.count()).select_from(Response))).one()
        await db.dispose()
        return int(found)

    return asyncio.run(run())


def count(database_url: str, message_id: str) -> dict[str, int]:
    from sqlalchemy import func
    from sqlmodel import select

    from storage.engine import Database
    from storage.tables import Delivery, Participation, Response

    async def run() -> dict[str, int]:
        db = Database(database_url)
        async with db.session() as session:
            stored = (await session.exec(select(func.count()).select_from(Response))).one()
            answered = (await session.exec(select(func.count()).select_from(Participation))).one()
            card = (await session.exec(select(Delivery).where(Delivery.dedupe_key.like("pulse:%:channel")))).one()
            updates = (await session.exec(select(func.count()).where(
                Delivery.parent_id == card.id, Delivery.status == "sent"))).one()
        await db.dispose()
        return {"stored": stored, "answered": answered, "card_updates": updates}

    return asyncio.run(run())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="1,000 voters over about four seconds")
    args = parser.parse_args()
    voters, seconds = (1000, 4.0) if args.quick else (5000, 10.0)
    with tempfile.TemporaryDirectory() as folder:
        database = f"sqlite+aiosqlite:///{Path(folder) / 'votes.db'}"
        seed(database, voters)
        process, url = start_earshot({"DATABASE_URL": database, "EARSHOT_SANDBOX": "1"}, role="all")
        try:
            message_id, action = asyncio.run(launch(process, url))
            latencies = asyncio.run(burst(process, url, message_id, action, voters, seconds))
            asyncio.run(asyncio.sleep(6))  # the last coalesced edit goes out a few seconds after the last vote
            live = published(database)
            asyncio.run(command_until(process, url, "/pulse close 1 now", fallback("Results:")))  # the rest published
        except RuntimeError:
            print(server_log(process), file=sys.stderr)
            raise
        finally:
            stop(process)
        counts = count(database, message_id)
    figures = {"voters": voters, "requests": len(latencies), "published_live": live, "stored": counts["stored"],
               "double_counted": counts["stored"] - min(counts["stored"], counts["answered"]) + max(
                   0, counts["stored"] - voters),
               "p50_ms": round(percentile(latencies, 50), 1), "p99_ms": round(percentile(latencies, 99), 1),
               "card_updates": counts["card_updates"]}
    emit(figures)


if __name__ == "__main__":
    main()

"""Ingest throughput and latency through the real HTTP endpoint, on SQLite.

    python -m bench.ingest [--quick]

An `earshot serve web` child process on a fresh SQLite database with 50 stations (varied filters, about five
matching each item). Items carry no `language`, so each one's is detected (bot.feedback.languages), as for a
source that doesn't say it. Figures: `batch_items_per_s` — arrays of 100 items, validated, stored, routed and
their cards queued in the outbox, one commit per request; `single_p99_ms` — one item per request, open loop at
200 requests per second. Targets on the 2-core machine: ≥ 2,000 items/s and p99 ≤ 50 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

from bench.common import emit, open_loop, percentile, server_log, start_earshot, stop

TOKEN = "bench-ingest-token"
AREAS = ["checkout", "billing", "reports", "mobile", "onboarding", "pricing", "support", "integrations",
         "notifications", "search"]
TEXTS = ["ระบบชำระเงินช้ามาก รอนานเกือบ 5 นาที", "Checkout failed twice, please fix", "Приложение вылетает",
         "پشتیبانی خیلی سریع بود", "Love the new reports! 🎉", "アプリの通知が多すぎます",
         "Експорт у CSV ламає кирилицю"]


def seed_stations(database_url: str, count: int = 50) -> None:
    from storage.engine import Database
    from storage.migrate import upgrade
    from storage.tables import Station

    upgrade(database_url)

    async def seed() -> None:
        db = Database(database_url)
        async with db.session() as session:
            for n in range(count):
                filters = {"areas": [AREAS[n % len(AREAS)]]}
                if n % 5 == 1:
                    filters["nps"] = ["detractor"]
                session.add(Station(platform="sandbox", channel_id=f"C-bench-{n}", filters=filters,
                                    created_by="sandbox:bench"))
            await session.commit()
        await db.dispose()

    asyncio.run(seed())


def item(rng: random.Random, key: str) -> dict[str, object]:
    return {"id": key, "source": rng.choice(["nps-survey", "appstore", "helpdesk"]), "text": rng.choice(TEXTS),
            "score": rng.randint(0, 10), "score_type": "nps", "product_area": rng.choice(AREAS),
            "tags": ["bench"], "customer": {"segment": rng.choice(["smb", "enterprise"])}}


async def batches(url: str, count: int, rng: random.Random, concurrency: int = 4) -> float:
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    bodies = [json.dumps([item(rng, f"b{n}-{i}") for i in range(100)]) for n in range(count)]
    queue = list(bodies)
    accepted = 0

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal accepted
        while queue:
            body = queue.pop()
            async with session.post(f"{url}/api/feedback", data=body, headers=headers) as response:
                answer = await response.json()
                if response.status != 202:
                    raise RuntimeError(f"HTTP {response.status}: {answer}")  # the server log is printed below
                accepted += answer["accepted"]

    started = time.perf_counter()
    async with aiohttp.ClientSession() as session:
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    if accepted != count * 100:
        raise RuntimeError(f"only {accepted} of {count * 100} items were accepted")
    return accepted / elapsed


async def singles(url: str, rate: float, count: int, rng: random.Random) -> list[float]:
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    bodies = [json.dumps(item(rng, f"s{n}")) for n in range(count)]
    connector = aiohttp.TCPConnector(limit=200)
    async with aiohttp.ClientSession(connector=connector) as session:
        async def send(index: int) -> None:
            async with session.post(f"{url}/api/feedback", data=bodies[index], headers=headers) as response:
                if response.status != 202:
                    raise RuntimeError(f"HTTP {response.status}: {await response.text()}")
                await response.read()

        await singles_warmup(session, url, headers)
        return await open_loop(rate, count, send)


async def singles_warmup(session: aiohttp.ClientSession, url: str, headers: dict[str, str]) -> None:
    for n in range(20):
        body = json.dumps({"id": f"warm-{n}", "source": "warmup", "text": "warm up"})
        async with session.post(f"{url}/api/feedback", data=body, headers=headers) as response:
            await response.read()


def signed_webhook(url: str, database: str, seconds: int) -> dict[str, object]:
    """Typeform's published example payload, one response per request (its token made unique), to a registered
    `typeform` source at 200 requests per second, each signed as Typeform signs: the route checks the HMAC, then
    translates and stores it as `/api/feedback` does. Same bound as single items: p99 ≤ 50 ms."""
    import base64
    import hashlib
    import hmac

    from adapters.sources.kinds import KINDS
    from adapters.sources.registry import add_source, secret_box
    from bench.common import ROOT
    from storage.engine import Database
    from storage.secrets import resolve_keys

    secret = "bench-typeform-secret"
    example = json.loads((ROOT / "tests/fixtures/sources/typeform/example_payload.json").read_bytes())

    async def run() -> list[float]:
        db = Database(database)
        await add_source(db, secret_box(resolve_keys(database, ())), KINDS["typeform"], "bench-typeform",
                         {"secret": secret}, {"score_ref": "readable_ref_opinion_scale",
                                              "comment_ref": "readable_ref_short_text"})
        await db.dispose()
        bodies = []
        for n in range(200 * seconds + 20):
            example["form_response"]["token"] = f"bench-{n}"
            body = json.dumps(example).encode()
            digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
            bodies.append((body, {"Typeform-Signature": "sha256=" + base64.b64encode(digest).decode(),
                                  "Content-Type": "application/json"}))
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=200)) as session:
            async def send(index: int) -> None:
                body, headers = bodies[index + 20]
                async with session.post(f"{url}/api/sources/bench-typeform", data=body, headers=headers) as answer:
                    if answer.status != 202:
                        raise RuntimeError(f"HTTP {answer.status}: {await answer.text()}")
                    await answer.read()

            for body, headers in bodies[:20]:  # warm up (and load the source)
                async with session.post(f"{url}/api/sources/bench-typeform", data=body, headers=headers) as answer:
                    await answer.read()
            return await open_loop(200, 200 * seconds, send)

    latencies = asyncio.run(run())
    figures = {"signed_webhook_p50_ms": round(percentile(latencies, 50), 1),
               "signed_webhook_p99_ms": round(percentile(latencies, 99), 1), "signed_webhook_requests": len(latencies)}
    print(f"signed Typeform webhooks at 200/s: p50 {figures['signed_webhook_p50_ms']} ms, "
          f"p99 {figures['signed_webhook_p99_ms']} ms", file=sys.stderr)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a smaller run that finishes within a minute")
    args = parser.parse_args()
    batch_count, seconds = (30, 8) if args.quick else (200, 30)
    rng = random.Random(7)
    with tempfile.TemporaryDirectory() as folder:
        database = f"sqlite+aiosqlite:///{Path(folder) / 'bench.db'}"
        seed_stations(database)
        process, url = start_earshot({"DATABASE_URL": database, "EARSHOT_INGEST_TOKEN": TOKEN,
                                      "EARSHOT_SANDBOX": "0"})
        try:
            per_second = asyncio.run(batches(url, batch_count, rng))
            print(f"batches: {batch_count} × 100 items → {per_second:,.0f} items/s", file=sys.stderr)
            latencies = asyncio.run(singles(url, 200, 200 * seconds, rng))
            signed = signed_webhook(url, database, seconds)
        except RuntimeError:
            print(server_log(process), file=sys.stderr)
            raise
        finally:
            stop(process)
    figures = {
        "batch_items_per_s": round(per_second),
        "single_p50_ms": round(percentile(latencies, 50), 1),
        "single_p99_ms": round(percentile(latencies, 99), 1),
        "single_requests": len(latencies),
        "stations": 50,
        **signed,
    }
    print(f"single items at 200/s: p50 {figures['single_p50_ms']} ms, p99 {figures['single_p99_ms']} ms",
          file=sys.stderr)
    emit(figures)


if __name__ == "__main__":
    main()

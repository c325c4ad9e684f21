"""Scale-out on PostgreSQL: ingest throughput through HTTP with 2 web + 2 worker processes against 1 + 1.

    python -m bench.scale [--quick]

A throwaway PostgreSQL cluster (tests/support/postgres.py), 50 stations (about five match each item, so every
item also queues cards that the workers deliver to the sandbox). For each shape, `earshot serve web` and
`earshot serve worker` child processes share one database; this process posts arrays of 100 items, 8 requests
in flight, spread over the web processes, for a fixed time. Figures: items per second for each shape, their
ratio (`scale_ratio`), and the CPU count — on a 2-core machine the load generator, PostgreSQL and the servers
share the same two cores, so the ratio says more about contention than about the design. The last line
printed is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import random
import sys
import time
from typing import Any

import aiohttp
from cryptography.fernet import Fernet

from bench.common import emit, server_log, start_earshot, stop
from bench.ingest import TOKEN, item, seed_stations
from tests.conftest import _create_database
from tests.support.postgres import TempPostgres
from tests.support.processes import children


async def load(urls: list[str], seconds: float, rng: random.Random, tag: str) -> float:
    """Items accepted per second over `seconds`, posting to the web processes in turn."""
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    counter = itertools.count()
    accepted = 0
    deadline = time.perf_counter() + seconds

    async def client(session: aiohttp.ClientSession, url: str) -> None:
        nonlocal accepted
        while time.perf_counter() < deadline:
            n = next(counter)
            body = json.dumps([item(rng, f"{tag}-{n}-{i}") for i in range(100)])
            async with session.post(f"{url}/api/feedback", data=body, headers=headers) as response:
                answer = await response.json()
                if response.status != 202:
                    raise RuntimeError(f"HTTP {response.status}: {answer}")
                accepted += answer["accepted"]

    started = time.perf_counter()
    async with aiohttp.ClientSession() as session:
        await asyncio.gather(*(client(session, urls[i % len(urls)]) for i in range(8)))
    return accepted / (time.perf_counter() - started)


def shape(database: str, web: int, workers: int, seconds: float, tag: str) -> float:
    env = {"DATABASE_URL": database, "EARSHOT_INGEST_TOKEN": TOKEN, "EARSHOT_SANDBOX": "1",
           "EARSHOT_SECRET_KEY": Fernet.generate_key().decode()}  # PostgreSQL deployments need one
    servers = [start_earshot(env, "web") for _ in range(web)]
    with children(**{**env, "EARSHOT_LOG_FORMAT": "text"}) as group:
        for _ in range(workers):
            group.spawn("worker")
        try:
            return asyncio.run(load([url for _, url in servers], seconds, random.Random(3), tag))
        except RuntimeError:
            print(server_log(servers[0][0]), file=sys.stderr)
            raise
        finally:
            for process, _ in servers:
                stop(process)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="8 s per shape instead of 30 s")
    args = parser.parse_args()
    seconds = 8.0 if args.quick else 30.0
    cluster = TempPostgres(synchronous_commit="on")
    base = cluster.start()
    try:
        asyncio.run(_create_database(base, "scale"))
        database = f"{base}/scale"
        seed_stations(database)
        single = shape(database, 1, 1, seconds, "one")
        double = shape(database, 2, 2, seconds, "two")
    finally:
        cluster.stop()
    figures: dict[str, Any] = {"items_per_s_1web_1worker": round(single), "items_per_s_2web_2worker": round(double),
                               "scale_ratio": round(double / single, 2), "cpus": os.cpu_count()}
    emit(figures)


if __name__ == "__main__":
    main()

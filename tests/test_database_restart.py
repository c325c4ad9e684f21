"""The database crashes and comes back while requests flow: short 503s with Retry-After (never a 500), nothing
acknowledged is lost, and the same server recovers by itself. A PostgreSQL cluster of its own, crashed with an
immediate shutdown and durable commits (as production runs), so the rest of the suite is not disturbed."""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections import Counter
from collections.abc import Iterator

import aiohttp
import pytest
from sqlmodel import select

from storage.engine import Database
from storage.migrate import upgrade
from storage.tables import Feedback
from tests.conftest import _create_database
from tests.support.postgres import PostgresUnavailable, TempPostgres
from tests.support.server import running_app

TOKEN = "restart-token"


@pytest.fixture
def cluster() -> Iterator[tuple[TempPostgres, str]]:
    try:
        server = TempPostgres(synchronous_commit="on")
        base = server.start()
    except PostgresUnavailable as error:
        if os.environ.get("EARSHOT_TEST_POSTGRES") == "required":
            raise
        pytest.skip(f"PostgreSQL unavailable: {error}")
    try:
        asyncio.run(_create_database(base, "earshot"))
        upgrade(f"{base}/earshot")
        yield server, f"{base}/earshot"
    finally:
        server.stop()


async def test_a_database_restart_under_load(cluster: tuple[TempPostgres, str]) -> None:
    server, url = cluster
    acknowledged: list[str] = []
    answers: Counter[int] = Counter()
    during_outage: list[tuple[int, str | None, dict[str, object]]] = []
    down = asyncio.Event()

    async with running_app(url, demo=True, EARSHOT_INGEST_TOKEN=TOKEN) as running, aiohttp.ClientSession() as http:
        async def post(n: int) -> None:
            body = json.dumps({"id": f"r{n}", "source": "restart", "text": f"item {n}"})
            async with http.post(f"{running.url}/api/feedback", data=body,
                                 headers={"Authorization": f"Bearer {TOKEN}"}) as response:
                answers[response.status] += 1
                if response.status == 202:
                    acknowledged.append(f"r{n}")

        async def load(seconds: float) -> None:
            deadline, n = time.monotonic() + seconds, 0
            while time.monotonic() < deadline:
                await asyncio.gather(*(post(n + i) for i in range(5)))
                n += 5
                if down.is_set():  # another endpoint, through the middleware
                    async with http.get(f"{running.url}/sandbox/api/state") as response:
                        during_outage.append((response.status, response.headers.get("Retry-After"),
                                              await response.json()))
                await asyncio.sleep(0.02)

        async def outage() -> None:
            await asyncio.sleep(1.5)
            await asyncio.to_thread(server.halt)
            down.set()
            await asyncio.sleep(2)
            down.clear()
            await asyncio.to_thread(server.resume)

        async with asyncio.timeout(60):
            await asyncio.gather(load(8), outage())
            async with http.get(f"{running.url}/healthz") as response:
                assert response.status == 200  # recovered without a restart

    assert answers[503] > 0 and answers[202] > 0
    assert set(answers) <= {202, 503}, answers  # never a 500
    assert during_outage and all(status == 503 and retry == "5" and "error" in body
                                 for status, retry, body in during_outage if status != 200)
    assert any(status == 503 for status, _, _ in during_outage)
    db = Database(url)
    try:
        async with db.session() as session:
            stored = set((await session.exec(select(Feedback.external_id))).all())
    finally:
        await db.dispose()
    assert set(acknowledged) <= stored  # every 202 survived the crash

"""Two processes storing the same items in opposite orders on PostgreSQL: each transaction takes the items' locks
(new rows' unique keys, stored rows' FOR UPDATE) in key order, so neither waits on the other in a cycle and
PostgreSQL never has to abort one as a deadlock."""

from __future__ import annotations

import asyncio

from sqlmodel import func, select

from storage.engine import Database
from storage.tables import Feedback
from tests.support.core import make_harness

KEYS = [f"r-{n:03d}" for n in range(300)]
MIDDLE = KEYS[150]


def items(keys: list[str], text: str) -> list[dict[str, object]]:
    return [{"id": key, "source": "tool", "text": text, "score": 7, "score_type": "nps"} for key in keys]


async def test_two_processes_in_opposite_orders_never_deadlock(postgres_url: str) -> None:
    """A third transaction holds the middle key, so both batches are inside their transactions, holding half the
    keys each, when it lets go: taken in arrival order, each would then wait for the other's half."""
    first, second, third = Database(postgres_url), Database(postgres_url), Database(postgres_url)
    try:
        one, two = make_harness(first), make_harness(second)
        for round_ in range(2):  # new rows (unique keys), then stored rows (FOR UPDATE)
            text = f"round {round_}"
            async with third.session() as blocker:
                if round_ == 0:
                    blocker.add(Feedback(source="tool", external_id=MIDDLE, text="held"))
                    await blocker.flush()
                else:
                    await blocker.exec(select(Feedback).where(Feedback.external_id == MIDDLE).with_for_update())
                batches = [asyncio.create_task(one.features.stations.ingest.ingest(items(KEYS, text))),
                           asyncio.create_task(two.features.stations.ingest.ingest(items(KEYS[::-1], text)))]
                await asyncio.sleep(1.5)
                assert not any(batch.done() for batch in batches)  # both wait for the middle key
                await blocker.rollback()
            results = await asyncio.gather(*batches)
            assert all(not result.rejected for result in results)
            assert sum(r.accepted + r.updated + r.duplicates for r in results) == 2 * len(KEYS)
        async with first.session() as session:
            assert (await session.exec(select(func.count()).select_from(Feedback))).one() == len(KEYS)
    finally:
        for database in (first, second, third):
            await database.dispose()

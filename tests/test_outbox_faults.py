"""The outbox under platform faults: the real DeliveryWorker and SlackAdapter against the fake Slack Web API
answering 429 with Retry-After, 500s, an HTML 502, timeouts and reset connections — every message ends up
posted exactly once."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator

import pytest
from sqlmodel import select

from adapters.slack.adapter import SLACK_PACING, SlackAdapter
from adapters.slack.platform import web_client
from bot.cards import text_card
from bot.delivery import DeliveryWorker
from bot.events import Target
from bot.metrics import Metrics
from bot.outbox import Message, Outbox
from bot.pacing import Pacer
from storage.engine import Database
from storage.tables import Delivery
from tests.slack.fake_api import FakeSlack, fake_slack
from tests.support.waiting import eventually


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    async with fake_slack() as api:
        yield api


def posted(fake: FakeSlack) -> Counter[str]:
    """Messages the fake actually posted (answered ok), by channel."""
    return Counter(str(c.args["channel"]) for c in fake.of("chat.postMessage") if c.answer is not None)


async def enqueue(db: Database, channels: list[str]) -> None:
    async with db.session() as session:
        await Outbox().send_many(session, [Message(Target.channel("slack", c), text_card(f"to {c}").to_json(),
                                                   f"fault:{c}") for c in channels])
        await session.commit()


async def statuses(db: Database) -> Counter[str]:
    async with db.session() as session:
        return Counter((await session.exec(select(Delivery.status))).all())


async def drain(worker: DeliveryWorker, db: Database, expected: int, seconds: float) -> None:
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(stop, poll_seconds=0.1))
    try:
        async def done() -> bool:
            return (await statuses(db))["sent"] >= expected

        await eventually(done, seconds, every=0.2)
    finally:
        stop.set()
        await running


async def test_every_fault_ends_in_exactly_one_post(db: Database, fake: FakeSlack) -> None:
    client = web_client("xoxb-test", fake.api_url)
    client.timeout = 1.0  # a timeout costs a second here, not the production ten; the delayed posts answer at 1.5 s
    # (at 0.5 s a loaded machine also timed out the history lookups that follow an unknown outcome: extra retries)
    metrics = Metrics()
    worker = DeliveryWorker(db, {"slack": SlackAdapter(client, db)}, Pacer({"slack": SLACK_PACING}), metrics)
    fake.fail("chat.postMessage", status=429, error="ratelimited", retry_after=1, times=3)
    fake.fail("chat.postMessage", status=500, times=3)
    fake.fail("chat.postMessage", status=502, body="<html>Bad Gateway</html>", times=2)
    fake.fail("chat.postMessage", delay=1.5, times=2)  # answers after the client has given up
    fake.fail("chat.postMessage", reset=True, times=3)
    channels = [f"C{n:03d}" for n in range(30)]
    await enqueue(db, channels)
    await drain(worker, db, len(channels), 45)
    assert posted(fake) == Counter(channels)  # each exactly once
    assert len(fake.of("chat.postMessage")) == len(channels) + 13  # the 13 faults were all met, and retried
    assert await statuses(db) == Counter({"sent": len(channels)})
    outcomes = {s.labels["outcome"]: s.value for m in metrics.deliveries.collect() for s in m.samples
                if s.name.endswith("_total")}
    assert outcomes == {"sent": len(channels), "retried": 13}

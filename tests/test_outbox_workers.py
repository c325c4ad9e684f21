"""Several delivery workers on one PostgreSQL, and a worker killed with SIGKILL in the middle of a fan-out:
every delivery reaches the (fake) Slack Web API exactly once, none is lost."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator

import aiohttp
import pytest
from sqlmodel import select

from adapters.slack.adapter import SlackAdapter
from adapters.slack.platform import web_client
from bot.cards import text_card
from bot.delivery import DeliveryWorker
from bot.events import Target
from bot.metrics import Metrics
from bot.outbox import Message, Outbox
from bot.pacing import Pacer, Pacing
from storage.engine import Database
from storage.tables import Delivery
from tests.slack.fake_api import FakeSlack, fake_slack
from tests.slack.signing import SECRET
from tests.support.postgres import free_port
from tests.support.processes import children
from tests.support.waiting import eventually

FAST = Pacing(per_target_rate=50, per_target_burst=5, global_rate=400, global_burst=50)


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    async with fake_slack() as api:
        yield api


def posted(fake: FakeSlack) -> Counter[str]:
    """DMs the fake posted (answered ok), by channel."""
    return Counter(str(c.args["channel"]) for c in fake.of("chat.postMessage") if c.answer is not None)


async def fan_out(url: str, people: list[str]) -> None:
    db = Database(url)
    try:
        async with db.session() as session:
            await Outbox().send_many(session, [Message(Target.user("slack", u), text_card(f"hi {u}").to_json(),
                                                       f"fan:{u}") for u in people])
            await session.commit()
    finally:
        await db.dispose()


async def deliveries(url: str) -> dict[str, Delivery]:
    """Each delivery, by the DM channel it is for."""
    db = Database(url)
    try:
        async with db.session() as session:
            rows = (await session.exec(select(Delivery))).all()
    finally:
        await db.dispose()
    return {"D" + str(row.target["user_id"]).lstrip("U"): row for row in rows if row.target}


async def statuses(url: str) -> dict[str, str]:
    return {channel: row.status for channel, row in (await deliveries(url)).items()}


async def all_sent(url: str) -> bool:
    return set((await statuses(url)).values()) == {"sent"}


async def test_three_workers_drain_one_fan_out_once(postgres_url: str, fake: FakeSlack) -> None:
    people = [f"U{n:04d}" for n in range(300)]
    await fan_out(postgres_url, people)
    databases = [Database(postgres_url) for _ in range(3)]  # a pool each, as separate processes would have
    stop = asyncio.Event()
    workers = [DeliveryWorker(db, {"slack": SlackAdapter(web_client("xoxb-test", fake.api_url), db)},
                              Pacer({"slack": FAST}), Metrics(), batch_size=20) for db in databases]
    running = [asyncio.create_task(w.run(stop, poll_seconds=0.05)) for w in workers]
    try:
        await eventually(lambda: all_sent(postgres_url), 60)
    finally:
        stop.set()
        await asyncio.gather(*running)
        for db in databases:
            await db.dispose()
    assert posted(fake) == Counter("D" + u.lstrip("U") for u in people)
    assert len(fake.of("chat.postMessage")) == len(people)
    shares = [sum(s.value for m in w._metrics.deliveries.collect() for s in m.samples if s.name.endswith("_total"))
              for w in workers]
    assert sum(shares) == len(people) and sum(1 for s in shares if s > 0) >= 2  # the work really was shared


async def test_a_worker_killed_mid_fan_out_loses_nothing_and_doubles_nothing(postgres_url: str,
                                                                             fake: FakeSlack) -> None:
    """`earshot serve worker` with Slack pointed at the fake; SIGKILL after a third of a fan-out, then a new
    worker. A message the platform accepted in the instant before the kill, whose success was never recorded,
    is found again by its metadata in the DM's history and recorded as sent, not posted again."""
    people = [f"U{n:04d}" for n in range(90)]
    env = {"DATABASE_URL": postgres_url, "SLACK_BOT_TOKEN": "xoxb-test", "SLACK_SIGNING_SECRET": SECRET,
           "SLACK_API_URL": fake.api_url, "EARSHOT_DELIVERY_LEASE_SECONDS": "3"}
    with children(**env) as group:
        first = group.spawn("worker")
        await first.wait_logged("earshot started", 60)
        await fan_out(postgres_url, people)
        await fake.wait_for("chat.postMessage", 30, seconds=30)
        first.kill()
        killed_at = time.monotonic()
        answered = {str(c.args["channel"]) for c in fake.of("chat.postMessage")
                    if c.answer is not None and c.at < killed_at}
        at_kill = await statuses(postgres_url)
        in_window = {channel for channel in answered if at_kill[channel] != "sent"}
        assert 30 <= len(answered) < len(people) and len(in_window) <= 2
        assert "sending" in at_kill.values()  # claims died with the worker: the next one must wait out the lease
        probes = free_port()
        second = group.spawn("worker", EARSHOT_METRICS_PORT=str(probes))
        await second.wait_logged("earshot started", 60)
        await eventually(lambda: all_sent(postgres_url), 60, every=0.2)
        async with aiohttp.ClientSession() as session:  # the worker's own probes, scraped like Prometheus would
            async with session.get(f"http://127.0.0.1:{probes}/healthz") as response:
                assert response.status == 200 and (await response.json())["scheduler_leader"] is True
            async with session.get(f"http://127.0.0.1:{probes}/metrics") as response:
                scraped = await response.text()
        left = len(people) - len(answered) + len(in_window)  # what the first worker had not recorded as sent
        assert f'earshot_deliveries_total{{kind="send",outcome="sent",platform="slack"}} {left}.0' in scraped
        assert "earshot_outbox_depth 0.0" in scraped
    assert posted(fake) == Counter({"D" + u.lstrip("U"): 1 for u in people})  # none lost, none doubled
    assert in_window <= {str(c.args["channel"]) for c in fake.of("conversations.history")}  # looked for, found
    recorded = {channel: row.message_id for channel, row in (await deliveries(postgres_url)).items()}
    assert recorded == {channel: messages[0]["ts"] for channel, messages in fake.messages.items()}

"""Slack failures through the outbox: the real DeliveryWorker, the real SlackAdapter, the fake Web API."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import update
from sqlmodel import col, select

from adapters.slack.adapter import SLACK_PACING, SlackAdapter
from adapters.slack.platform import web_client
from bot.cards import text_card
from bot.config import load_settings
from bot.core import Earshot, Services
from bot.delivery import DeliveryWorker
from bot.events import Target
from bot.metrics import Metrics
from bot.outbox import Outbox
from bot.pacing import Pacer
from storage.columns import utcnow
from storage.engine import Database
from storage.tables import Delivery
from tests.slack.fake_api import FakeSlack


@dataclass
class Pipeline:
    core: Earshot
    worker: DeliveryWorker
    adapter: SlackAdapter
    pacer: Pacer
    db: Database
    skipped: list[float]
    """Seconds added to the pacer's monotonic clock: advance it to let a Retry-After pause run out."""

    async def enqueue(self, key: str, channel: str = "C1", created_by: str | None = None) -> None:
        async with self.db.session() as session:
            await self.core.services.outbox.send(session, Target.channel("slack", channel), text_card(key),
                                                 dedupe_key=key, created_by=created_by)
            await session.commit()

    async def rows(self) -> list[Delivery]:
        async with self.db.session() as session:
            return list(await session.exec(select(Delivery).order_by(col(Delivery.id))))

    async def make_due(self) -> None:
        """Retries are due now: pending ones, and those left 'sending' (by a dead worker or an unclear error)."""
        past = utcnow() - timedelta(seconds=1)
        async with self.db.session() as session:
            await session.exec(update(Delivery).where(col(Delivery.status) == "pending")  # type: ignore[call-overload]
                               .values(next_attempt_at=past))
            await session.exec(update(Delivery).where(col(Delivery.status) == "sending")  # type: ignore[call-overload]
                               .values(lease_until=past))
            await session.commit()


@pytest.fixture
async def pipeline(db: Database, fake: FakeSlack) -> AsyncIterator[Pipeline]:
    metrics = Metrics()
    core = Earshot(Services(load_settings(DATABASE_URL=db.url), db, Outbox(update_interval=0), metrics,
                            keys=(Fernet.generate_key().decode(),)))
    adapter = SlackAdapter(web_client("xoxb-test", fake.api_url), db)
    skipped = [0.0]
    pacer = Pacer({"slack": SLACK_PACING}, clock=lambda: time.monotonic() + skipped[0])
    worker = DeliveryWorker(db, {"slack": adapter}, pacer, metrics, on_failed=core.report_failure)
    yield Pipeline(core, worker, adapter, pacer, db, skipped)


async def test_a_429_waits_for_retry_after_then_delivers_once(pipeline: Pipeline, fake: FakeSlack) -> None:
    fake.fail("chat.postMessage", status=429, error="ratelimited", retry_after=30)
    await pipeline.enqueue("quote-1")
    await pipeline.worker.run_once()
    (row,) = await pipeline.rows()
    assert row.status == "pending" and row.last_error is not None and row.last_error.startswith("ratelimited")
    wait = (row.next_attempt_at - utcnow()).total_seconds()
    assert 28 < wait <= 30
    assert 28 < pipeline.pacer.delay("slack", "slack:C1") <= 30  # the channel is paused, not just this message
    assert await pipeline.worker.run_once() == 0  # not due yet: nothing is sent early
    await pipeline.make_due()
    pipeline.skipped[0] += 30  # the Retry-After has passed
    await pipeline.worker.run_once()
    (row,) = await pipeline.rows()
    assert row.status == "sent" and row.attempts == 2
    assert len(fake.of("chat.postMessage")) == 2  # one refused, one delivered: never doubled


@pytest.mark.parametrize("failure", [{"status": 500}, {"status": 502, "body": "<html>Bad Gateway</html>"},
                                     {"error": "service_unavailable"}])
async def test_server_errors_back_off_and_retry(pipeline: Pipeline, fake: FakeSlack, failure: dict) -> None:
    fake.fail("chat.postMessage", **failure)
    await pipeline.enqueue("quote-1")
    await pipeline.worker.run_once()
    (row,) = await pipeline.rows()
    assert row.status == "sending" and row.attempts == 1  # Slack may have posted it all the same
    assert 0 < (row.lease_until - utcnow()).total_seconds() <= 1.0  # first backoff: about a second
    assert await pipeline.worker.run_once() == 0
    await pipeline.make_due()
    await pipeline.worker.run_once()
    (row,) = await pipeline.rows()
    assert row.status == "sent" and row.message_channel == "C1"
    assert len(fake.of("conversations.history")) == 1 and len(fake.of("chat.postMessage")) == 2  # looked first


async def test_a_post_that_reached_slack_unrecorded_is_found_not_sent_again(pipeline: Pipeline,
                                                                            fake: FakeSlack) -> None:
    """The worker died between Slack's answer and recording it: the row is left 'sending' with its lease. The
    next claim finds the post by its metadata and records it as sent."""
    await pipeline.enqueue("quote-1")
    ref = await pipeline.adapter.send(Target.channel("slack", "C1"), text_card("quote-1"), key="quote-1")
    async with pipeline.db.session() as session:
        await session.exec(update(Delivery).values(  # type: ignore[call-overload]
            status="sending", attempts=1, lease_until=utcnow() + timedelta(seconds=60)))
        await session.commit()
    assert await pipeline.worker.run_once() == 0  # the lease still runs: nobody races the (dead) owner
    await pipeline.make_due()
    assert await pipeline.worker.run_once() == 1
    (row,) = await pipeline.rows()
    assert (row.status, row.message_channel, row.message_id, row.attempts) == ("sent", "C1", ref.message_id, 2)
    assert len(fake.of("chat.postMessage")) == 1  # not posted again
    (history,) = fake.of("conversations.history")
    assert history.args["channel"] == "C1" and history.args["include_all_metadata"] == "1"


async def test_an_unsure_claim_that_never_reached_slack_is_posted_once(pipeline: Pipeline, fake: FakeSlack) -> None:
    await pipeline.enqueue("quote-1")
    async with pipeline.db.session() as session:
        await session.exec(update(Delivery).values(  # type: ignore[call-overload]
            status="sending", attempts=1, lease_until=utcnow() - timedelta(seconds=1)))
        await session.commit()
    await pipeline.worker.run_once()
    (row,) = await pipeline.rows()
    assert row.status == "sent" and len(fake.of("conversations.history")) == 1
    (post,) = fake.of("chat.postMessage")
    assert row.message_id == post.answer["ts"]


async def test_an_error_after_slack_posted_does_not_double_the_message(pipeline: Pipeline, fake: FakeSlack) -> None:
    fake.fail("chat.postMessage", status=500, error="internal_error", applied=True)
    await pipeline.enqueue("quote-1")
    await pipeline.worker.run_once()
    (row,) = await pipeline.rows()
    assert row.status == "sending" and row.last_error == "internal_error (HTTP 500)"
    await pipeline.make_due()
    await pipeline.worker.run_once()
    (row,) = await pipeline.rows()
    (posted,) = fake.messages["C1"]
    assert (row.status, row.message_id) == ("sent", posted["ts"]) and len(fake.of("chat.postMessage")) == 1


async def test_a_failed_look_up_is_retried_before_anything_is_posted(pipeline: Pipeline, fake: FakeSlack) -> None:
    fake.fail("chat.postMessage", reset=True)
    fake.fail("conversations.history", status=429, error="ratelimited", retry_after=1)
    await pipeline.enqueue("quote-1")
    await pipeline.worker.run_once()  # the connection drops: did Slack get it?
    await pipeline.make_due()
    await pipeline.worker.run_once()  # the look-up is refused: still unsure
    (row,) = await pipeline.rows()
    assert (row.status, row.attempts) == ("sending", 2) and len(fake.of("chat.postMessage")) == 1
    await pipeline.make_due()
    pipeline.skipped[0] += 1
    await pipeline.worker.run_once()
    (row,) = await pipeline.rows()
    assert row.status == "sent" and len(fake.of("conversations.history")) == 2
    assert len(fake.of("chat.postMessage")) == 2  # the reset one never arrived, so one post in all


@pytest.mark.parametrize("code", ["channel_not_found", "not_in_channel", "is_archived", "account_inactive",
                                  "invalid_auth"])
async def test_permanent_errors_fail_once_and_tell_whoever_set_it_up(pipeline: Pipeline, fake: FakeSlack,
                                                                     code: str) -> None:
    fake.fail("chat.postMessage", error=code)
    await pipeline.enqueue("quote-1", created_by="slack:U0MARIA01")
    await pipeline.worker.run_once()
    first, notice = await pipeline.rows()
    assert (first.status, first.last_error, first.attempts) == ("failed", code, 1)
    assert notice.target == {"platform": "slack", "channel_id": None, "thread_id": None, "user_id": "U0MARIA01"}
    await pipeline.worker.run_once()
    assert [c.args["channel"] for c in fake.of("chat.postMessage")] == ["C1", "D0MARIA01"]
    assert code in fake.of("chat.postMessage")[1].args["text"]
    await pipeline.make_due()
    await pipeline.worker.run_once()
    assert len(fake.of("chat.postMessage")) == 2  # the failed one is never retried


async def test_about_one_message_a_second_per_channel(pipeline: Pipeline, fake: FakeSlack) -> None:
    for n in range(5):
        await pipeline.enqueue(f"m{n}", channel="C1")
    await pipeline.enqueue("other", channel="C2")
    started = time.monotonic()
    await pipeline.worker.run_once()
    c1 = [c.at - started for c in fake.of("chat.postMessage") if c.args["channel"] == "C1"]
    (c2,) = [c.at - started for c in fake.of("chat.postMessage") if c.args["channel"] == "C2"]
    assert [c.args["text"] for c in fake.of("chat.postMessage") if c.args["channel"] == "C1"] == [
        "m0", "m1", "m2", "m3", "m4"]
    assert c1[2] < 0.5  # a burst of three
    assert c1[3] - c1[2] >= 0.8 and c1[4] - c1[3] >= 0.8  # then one a second
    assert c2 < 0.5  # another channel does not wait behind C1

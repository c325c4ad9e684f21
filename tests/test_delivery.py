"""The outbox and the delivery worker against a recording adapter, on both databases."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from sqlalchemy import update
from sqlmodel import col, select

from bot.adapter import DeliveryError
from bot.cards import text_card
from bot.delivery import MAX_ATTEMPTS, backoff_seconds
from bot.events import Target
from storage.columns import utcnow
from storage.engine import Database
from storage.tables import Delivery
from tests.support.core import CoreHarness, make_harness


@pytest.fixture
def harness(db: Database) -> CoreHarness:
    return make_harness(db)


async def enqueue(h: CoreHarness, key: str, target: Target | None = None, created_by: str | None = None) -> None:
    async with h.db.session() as session:
        await h.core.services.outbox.send(session, target or Target.channel("test", "C1"), text_card(key),
                                          dedupe_key=key, created_by=created_by)
        await session.commit()


async def rows(h: CoreHarness) -> list[Delivery]:
    async with h.db.session() as session:
        return list(await session.exec(select(Delivery).order_by(col(Delivery.id))))


async def make_due(h: CoreHarness) -> None:
    async with h.db.session() as session:
        await session.exec(update(Delivery).where(col(Delivery.status) == "pending")  # type: ignore[call-overload]
                           .values(next_attempt_at=utcnow() - timedelta(seconds=1)))
        await session.commit()


async def test_a_delivery_is_committed_then_sent_once(harness: CoreHarness) -> None:
    await enqueue(harness, "k1")
    await enqueue(harness, "k1")  # same dedupe key: still one delivery
    assert [d.status for d in await rows(harness)] == ["pending"]
    await harness.deliver()
    await harness.deliver()
    assert [s.card.fallback for s in harness.adapter.sent] == ["k1"]
    (row,) = await rows(harness)
    assert row.status == "sent" and row.message_id == "m1" and row.message_channel == "C1"


async def test_messages_to_one_channel_keep_their_order(harness: CoreHarness) -> None:
    for n in range(5):
        await enqueue(harness, f"n{n}")
    await enqueue(harness, "dm", Target.user("test", "U9"))
    await harness.deliver()
    in_channel = [s.card.fallback for s in harness.adapter.sent if s.target.channel_id == "C1"]
    assert in_channel == [f"n{n}" for n in range(5)]
    assert any(s.ref.channel_id == "D-U9" for s in harness.adapter.sent)


async def test_retryable_errors_back_off_then_succeed(harness: CoreHarness) -> None:
    harness.adapter.failures = [DeliveryError("ratelimited", retryable=True, retry_after=30)]
    await enqueue(harness, "k")
    await harness.deliver()
    (row,) = await rows(harness)
    assert row.status == "pending" and row.last_error == "ratelimited"
    assert row.next_attempt_at > utcnow() + timedelta(seconds=25)  # Retry-After honoured
    await harness.deliver()
    assert harness.adapter.sent == []  # not due yet
    await make_due(harness)
    await harness.deliver()
    assert harness.adapter.sent == []  # due, but the conversation is still paused: the claim is handed back
    (row,) = await rows(harness)
    assert row.status == "pending" and row.attempts == 1
    harness.clock[0] += 31
    await make_due(harness)
    await harness.deliver()
    assert [s.card.fallback for s in harness.adapter.sent] == ["k"]


async def test_permanent_errors_fail_and_tell_whoever_set_it_up(harness: CoreHarness) -> None:
    harness.adapter.failures = [DeliveryError("channel_not_found", retryable=False)]
    await enqueue(harness, "k", created_by="test:U1")
    await harness.deliver()
    first, notice = await rows(harness)
    assert first.status == "failed" and first.last_error == "channel_not_found"
    assert notice.status == "sent" and notice.target == Target.user("test", "U1").to_json()
    assert "channel_not_found" in harness.adapter.sent[0].card.fallback


async def test_a_place_that_keeps_failing_is_reported_once_a_day(harness: CoreHarness) -> None:
    harness.adapter.failures = [DeliveryError("is_archived", retryable=False) for _ in range(3)]
    for key in ("a", "b", "c"):  # a station in an archived channel: every new item fails the same way
        await enqueue(harness, key, created_by="test:U1")
    await harness.deliver()
    failed = [r for r in await rows(harness) if r.status == "failed"]
    notices = [s for s in harness.adapter.sent if s.target == Target.user("test", "U1")]
    assert len(failed) == 3 and len(notices) == 1 and "is_archived" in notices[0].card.fallback


async def test_retries_stop_after_the_last_attempt(harness: CoreHarness) -> None:
    harness.adapter.failures = [DeliveryError("500", retryable=True) for _ in range(MAX_ATTEMPTS)]
    await enqueue(harness, "k")
    for _ in range(MAX_ATTEMPTS):
        await make_due(harness)
        await harness.deliver()
    (row,) = await rows(harness)
    assert row.status == "failed" and row.last_error.startswith(f"gave up after {MAX_ATTEMPTS} attempts")


async def test_an_expired_lease_is_taken_over(harness: CoreHarness) -> None:
    """A worker that died mid-send leaves a 'sending' row; once its lease expires another worker sends it."""
    await enqueue(harness, "k")
    async with harness.db.session() as session:
        await session.exec(update(Delivery).values(  # type: ignore[call-overload]
            status="sending", lease_until=utcnow() + timedelta(seconds=60)))
        await session.commit()
    await harness.deliver()
    assert harness.adapter.sent == []
    async with harness.db.session() as session:
        await session.exec(update(Delivery).values(lease_until=utcnow() - timedelta(seconds=1)))  # type: ignore
        await session.commit()
    await harness.deliver()
    assert len(harness.adapter.sent) == 1


async def test_card_updates_are_coalesced(harness: CoreHarness) -> None:
    await enqueue(harness, "k")
    await harness.deliver()
    (parent,) = await rows(harness)
    async with harness.db.session() as session:
        for n in range(10):
            await harness.core.services.outbox.update(session, parent, text_card(f"v{n}"))
            await session.commit()
    await harness.deliver()
    assert [(ref.message_id, card.fallback) for ref, card in harness.adapter.updates] == [("m1", "v9")]


async def test_an_update_before_posting_replaces_the_card_to_post(harness: CoreHarness) -> None:
    harness.adapter.failures = [DeliveryError("timeout", retryable=True, retry_after=60)]
    await enqueue(harness, "k")
    await harness.deliver()  # the first attempt fails: the message is still pending
    async with harness.db.session() as session:
        (parent,) = list(await session.exec(select(Delivery)))
        await harness.core.services.outbox.update(session, parent, text_card("v2"))
        await session.commit()
    harness.clock[0] += 61
    await make_due(harness)
    await harness.deliver()
    assert [s.card.fallback for s in harness.adapter.sent] == ["v2"] and harness.adapter.updates == []


async def test_an_update_waits_while_its_message_is_being_posted(harness: CoreHarness) -> None:
    await enqueue(harness, "k")
    async with harness.db.session() as session:
        (parent,) = list(await session.exec(select(Delivery)))
        parent.status = "sending"  # another worker holds it
        parent.lease_until = utcnow() + timedelta(seconds=60)
        session.add(parent)
        await session.commit()
        await harness.core.services.outbox.update(session, parent, text_card("v2"))
        await session.commit()
    await harness.deliver()
    assert harness.adapter.updates == []
    statuses = {d.kind: d.status for d in await rows(harness)}
    assert statuses == {"send": "sending", "update": "pending"}


def test_backoff_grows_and_is_capped() -> None:
    rng = random.Random(7)
    waits = [backoff_seconds(n, rng) for n in range(1, 15)]
    assert waits[0] <= 1 and waits[4] >= 8 and max(waits) <= 300

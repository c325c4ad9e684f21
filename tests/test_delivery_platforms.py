"""Workers with different adapters on one database each deliver only their own platform's deliveries (F2: each
took the other's and failed them with KeyError, leaving them stuck in `sending`)."""

from __future__ import annotations

from sqlmodel import col, select

from bot.cards import text_card
from bot.delivery import DeliveryWorker
from bot.events import Target
from bot.metrics import Metrics
from bot.outbox import Outbox
from bot.pacing import Pacer
from storage.engine import Database
from storage.tables import Delivery
from tests.support.recording import RecordingAdapter


def worker(db: Database, adapter: RecordingAdapter) -> DeliveryWorker:
    return DeliveryWorker(db, {adapter.platform: adapter}, Pacer({adapter.platform: adapter.pacing}), Metrics())


async def enqueue(db: Database, platform: str, key: str) -> None:
    async with db.session() as session:
        await Outbox().send(session, Target.channel(platform, "C1"), text_card(key), dedupe_key=key)
        await session.commit()


async def test_two_workers_each_deliver_only_their_own_platform(db: Database) -> None:
    slack, sandbox = RecordingAdapter(platform="slack"), RecordingAdapter(platform="sandbox")
    for n in range(4):
        await enqueue(db, "slack", f"slack-{n}")
        await enqueue(db, "sandbox", f"sandbox-{n}")
    sandbox_worker, slack_worker = worker(db, sandbox), worker(db, slack)
    assert await sandbox_worker.run_once() == 4  # claims the sandbox's four, not Slack's
    assert await slack_worker.run_once() == 4
    assert await sandbox_worker.run_once() == 0 and await slack_worker.run_once() == 0
    assert [s.card.fallback for s in slack.sent] == [f"slack-{n}" for n in range(4)]
    assert [s.card.fallback for s in sandbox.sent] == [f"sandbox-{n}" for n in range(4)]
    async with db.session() as session:
        rows = list(await session.exec(select(Delivery).order_by(col(Delivery.id))))
    assert {(d.status, d.attempts, d.last_error) for d in rows} == {("sent", 1, None)}


async def test_a_worker_leaves_a_platform_it_has_no_adapter_for_pending(db: Database) -> None:
    await enqueue(db, "teams", "teams-1")
    assert await worker(db, RecordingAdapter(platform="slack")).run_once() == 0
    async with db.session() as session:
        (row,) = await session.exec(select(Delivery))
    assert (row.status, row.attempts) == ("pending", 0)


async def test_a_delivery_without_an_adapter_fails_cleanly_rather_than_raise(db: Database) -> None:
    """Defensive: should one ever be claimed (the claim filters on the adapters), it is failed with a reason,
    never a KeyError from the pacer."""
    await enqueue(db, "teams", "teams-1")
    async with db.session() as session:
        (row,) = await session.exec(select(Delivery))
    await worker(db, RecordingAdapter(platform="slack"))._drain([row])
    async with db.session() as session:
        (row,) = await session.exec(select(Delivery))
    assert (row.status, row.last_error) == ("failed", "platform teams is not configured")

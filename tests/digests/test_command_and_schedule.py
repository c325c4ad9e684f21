"""/digest through the core: permissions, subscribe/unsubscribe/preview, and the scheduler's one claim per
(subscription, week) even when it fires twice or two workers run it."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, time

from sqlalchemy import event
from sqlmodel import select

from bot.cards import Heading, Image
from bot.charts import load_chart
from bot.events import CommandEvent, Person
from storage.engine import Database
from storage.tables import DigestRun, DigestSubscription
from tests.digests.seed import SETTINGS
from tests.support.core import CoreHarness, make_harness
from tests.support.recording import RecordingResponder


async def digest(h: CoreHarness, text: str, user: str = "hr1", channel: str | None = "C-hr") -> RecordingResponder:
    responder = RecordingResponder()
    event = CommandEvent(platform="test", event_id=uuid.uuid4().hex, actor=Person("test", user, user.upper()),
                         channel_id=channel, command="digest", text=text)
    await h.core.handle(event, responder)
    return responder


def at(h: CoreHarness, moment: datetime) -> None:
    h.core.services.clock = lambda: moment


async def subscriptions(db: Database) -> list[DigestSubscription]:
    async with db.session() as session:
        return list(await session.exec(select(DigestSubscription)))


async def test_help_is_for_everyone(harness: CoreHarness) -> None:
    reply = await digest(harness, "help", user="emp")
    assert "post the digest here weekly" in reply.last_text and "this week's digest so far" in reply.last_text


async def test_people_without_the_hr_role_are_refused_privately_with_the_reason(harness: CoreHarness,
                                                                               db: Database) -> None:
    await harness.grant("boss", "manager")
    for user in ("emp", "boss"):
        for words in ("subscribe", "unsubscribe", "preview"):
            reply = await digest(harness, words, user=user)
            assert "only people with the HR or admin role" in str(reply.private_cards[-1].blocks[0])
            assert "across every team" in str(reply.private_cards[-1].blocks[0])
    assert await subscriptions(db) == []
    await harness.deliver()
    assert harness.adapter.sent == []  # nothing was said in the channel


async def test_subscribe_then_change_then_unsubscribe(harness: CoreHarness, db: Database) -> None:
    await harness.grant("hr1", "hr")
    await digest(harness, "subscribe friday 16:30 Europe/Berlin")
    [row] = await subscriptions(db)
    assert (row.platform, row.channel_id, row.weekday, row.at, row.timezone) == (
        "test", "C-hr", 4, time(16, 30), "Europe/Berlin")
    await harness.deliver()
    assert "every Friday at 16:30 (Europe/Berlin)" in harness.adapter.sent[-1].card.fallback
    await digest(harness, "subscribe tue 8:05")
    [row] = await subscriptions(db)
    assert (row.weekday, row.at, row.timezone) == (1, time(8, 5), "UTC")
    reply = await digest(harness, "subscribe funday")
    assert "I don't understand “funday”" in reply.last_text
    reply = await digest(harness, "unsubscribe")
    assert "no longer gets the weekly digest" in reply.last_text
    assert await subscriptions(db) == []


async def test_admin_preview_is_private_with_charts(harness: CoreHarness, db: Database) -> None:
    await harness.grant("root", "admin")
    at(harness, datetime(2026, 11, 20, 12, tzinfo=UTC))  # a Friday in 2026-W47
    reply = await digest(harness, "preview", user="root")
    card = reply.private_cards[-1]
    assert isinstance(card.blocks[0], Heading) and "2026-W47" in card.blocks[0].text
    images = [b for b in card.blocks if isinstance(b, Image)]
    assert len(images) == 2  # trend and distributions (no team's shares show in this world)
    for image in images:
        png = await load_chart(db, image.url)
        assert png is not None and png.startswith(b"\x89PNG")
    await harness.deliver()
    assert harness.adapter.sent == []


async def subscribe_monday_nine(h: CoreHarness) -> None:
    await h.grant("hr1", "hr")
    at(h, datetime(2026, 11, 1, tzinfo=UTC))
    await digest(h, "subscribe monday 09:00 UTC")
    await h.deliver()
    h.adapter.sent.clear()


async def test_the_scheduler_sends_once_per_subscription_and_week(harness: CoreHarness, db: Database) -> None:
    await subscribe_monday_nine(harness)
    digests = harness.features.digests
    at(harness, datetime(2026, 11, 23, 8, 59, tzinfo=UTC))  # Monday of 2026-W48, a minute early
    assert await digests.send_due() == 0
    at(harness, datetime(2026, 11, 23, 9, 0, tzinfo=UTC))
    assert await digests.send_due() == 1
    at(harness, datetime(2026, 11, 25, 9, 0, tzinfo=UTC))
    assert await digests.send_due() == 0  # later the same week: already claimed
    await harness.deliver()
    [sent] = harness.adapter.sent
    assert sent.ref.channel_id == "C-hr"
    assert "2026-W47" in sent.card.blocks[0].text  # sent on a Monday: the week that just ended
    assert sum(isinstance(b, Image) for b in sent.card.blocks) == 2
    at(harness, datetime(2026, 11, 30, 9, 1, tzinfo=UTC))
    assert await digests.send_due() == 1  # next week, next claim
    async with db.session() as session:
        assert sorted(r.week for r in await session.exec(select(DigestRun))) == ["2026-W47", "2026-W48"]


async def test_the_scheduler_reads_only_the_claims_that_are_due(harness: CoreHarness, db: Database) -> None:
    await subscribe_monday_nine(harness)
    [subscription] = await subscriptions(db)
    async with db.write() as session:  # claims of other weeks, which a due check has no reason to read
        session.add_all(DigestRun(subscription_id=subscription.id, week=f"2026-W{n}") for n in (40, 41))
        await session.commit()
    statements: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        statements.append(statement)

    event.listen(db.engine.sync_engine, "before_cursor_execute", record)
    try:
        at(harness, datetime(2026, 11, 23, 8, 59, tzinfo=UTC))
        assert await harness.features.digests.send_due() == 0
        assert not [s for s in statements if "digest_run" in s]  # nothing due: no claim read at all
        at(harness, datetime(2026, 11, 23, 9, 0, tzinfo=UTC))
        assert await harness.features.digests.send_due() == 1
        reads = [s for s in statements if s.lstrip().upper().startswith("SELECT") and "FROM digest_run" in s]
        assert reads and all("WHERE" in s for s in reads)
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", record)


async def test_a_double_fire_and_a_second_worker_send_nothing_twice(harness: CoreHarness, db: Database) -> None:
    await subscribe_monday_nine(harness)
    other_worker = make_harness(db, **SETTINGS)
    moment = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    at(harness, moment)
    at(other_worker, moment)
    results = await asyncio.gather(harness.features.digests.send_due(), harness.features.digests.send_due(),
                                   other_worker.features.digests.send_due())
    assert sorted(results) == [0, 0, 1]
    await harness.deliver()
    assert len(harness.adapter.sent) == 1


async def test_a_subscription_made_after_this_weeks_time_waits_for_next_week(harness: CoreHarness) -> None:
    await harness.grant("hr1", "hr")
    at(harness, datetime(2026, 11, 23, 10, 0, tzinfo=UTC))  # Monday 10:00, after the 09:00 slot
    await digest(harness, "subscribe monday 09:00")
    assert await harness.features.digests.send_due() == 0
    at(harness, datetime(2026, 11, 30, 9, 0, tzinfo=UTC))
    assert await harness.features.digests.send_due() == 1


async def test_the_time_is_wall_clock_in_the_subscriptions_zone(harness: CoreHarness) -> None:
    await harness.grant("hr1", "hr")
    at(harness, datetime(2026, 11, 1, tzinfo=UTC))
    await digest(harness, "subscribe friday 16:00 Asia/Bangkok")  # UTC+7: 09:00 UTC
    at(harness, datetime(2026, 11, 20, 8, 59, tzinfo=UTC))
    assert await harness.features.digests.send_due() == 0
    at(harness, datetime(2026, 11, 20, 9, 0, tzinfo=UTC))
    assert await harness.features.digests.send_due() == 1
    await harness.deliver()
    assert "2026-W47" in harness.adapter.sent[-1].card.blocks[0].text  # a Friday digest: this week so far

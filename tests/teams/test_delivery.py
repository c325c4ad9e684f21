"""The Teams adapter under the real delivery worker, against the fake Bot Connector: what is retried, what is
final, who is marked unreachable, and paged member lists."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import update
from sqlmodel import col, select

from adapters.platform import PlatformContext
from adapters.teams.platform import TeamsPlatform
from adapters.teams.references import References
from adapters.teams.translate import conversation_reference
from bot.cards import text_card
from bot.delivery import DeliveryWorker
from bot.events import MessageRef, Target
from bot.metrics import Metrics
from bot.pacing import Pacer
from storage.columns import utcnow
from storage.engine import Database
from storage.tables import Delivery, Person
from tests.support.core import make_harness
from tests.teams.activities import as_received, recorded
from tests.teams.fake_connector import FakeConnector, Refusal, running_connector

CHANNEL = "19:9f1e6b2c7d8a4e3f5a0b1c2d3e4f5a6b@thread.tacv2"
ANA = "29:1GcS4EyB_oSI8A88XmWBN7NJFyMqe3QGnJdgLfFGkJnVelzRGos0bPbpsfJjcbAD22bmKc4GMbrY2g4JDrWoDJA"


class Rig:
    def __init__(self, db: Database, connector: FakeConnector) -> None:
        harness = make_harness(db, EARSHOT_SANDBOX=False)
        self.db = db
        self.connector = connector
        self.core = harness.core
        self.platform = TeamsPlatform(PlatformContext(harness.settings, harness.core, db, Metrics()))
        self.clock = [0.0]
        pacer = Pacer({"teams": self.platform.adapter.pacing}, clock=lambda: self.clock[0])
        self.worker = DeliveryWorker(db, {"teams": self.platform.adapter}, pacer, Metrics())

    async def known(self, *fixtures: str) -> None:
        references = References(self.db)
        for name in fixtures:
            stored = conversation_reference(as_received(recorded(name, serviceUrl=self.connector.url)))
            assert stored is not None
            await references.remember(stored)

    async def enqueue(self, target: Target, key: str = "k") -> None:
        async with self.db.session() as session:
            await self.core.services.outbox.send(session, target, text_card(f"hello {key}"), dedupe_key=key)
            await session.commit()

    async def rows(self) -> list[Delivery]:
        async with self.db.session() as session:
            return list(await session.exec(select(Delivery).order_by(col(Delivery.id))))

    async def make_due(self) -> None:
        async with self.db.session() as session:
            await session.exec(update(Delivery).where(col(Delivery.status) == "pending")  # type: ignore
                               .values(next_attempt_at=utcnow() - timedelta(seconds=1)))
            await session.commit()


@pytest.fixture
async def rig(db: Database) -> AsyncIterator[Rig]:
    async with running_connector() as connector:
        yield Rig(db, connector)


async def test_a_429_is_retried_after_retry_after_with_a_single_request_each_time(rig: Rig) -> None:
    await rig.known("message_channel_command")
    rig.connector.refusals = [Refusal(429, retry_after="7")]
    await rig.enqueue(Target.channel("teams", CHANNEL))
    await rig.worker.run_once()
    (row,) = await rig.rows()
    assert row.status == "pending" and "429" in (row.last_error or "")
    assert row.next_attempt_at >= utcnow() + timedelta(seconds=6)
    assert len(rig.connector.writes()) == 1  # botbuilder's own client did not retry behind the outbox's back
    rig.clock[0] += 8
    await rig.make_due()
    await rig.worker.run_once()
    (row,) = await rig.rows()
    assert row.status == "sent" and row.message_channel == CHANNEL and len(rig.connector.writes()) == 2


@pytest.mark.parametrize("status", [412, 502, 504])
async def test_throttling_and_gateway_errors_are_retried_with_backoff(rig: Rig, status: int) -> None:
    await rig.known("message_channel_command")
    rig.connector.refusals = [Refusal(status)]
    await rig.enqueue(Target.channel("teams", CHANNEL))
    await rig.worker.run_once()
    (row,) = await rig.rows()
    assert row.status == "pending" and str(status) in (row.last_error or "")
    assert len(rig.connector.writes()) == 1


async def test_a_person_who_blocked_the_bot_is_marked_unreachable_and_not_retried(rig: Rig) -> None:
    await rig.known("installation_update_personal")
    rig.connector.refusals = [Refusal(403, code="ConversationBlockedByUser")]
    await rig.enqueue(Target.user("teams", ANA))
    await rig.worker.run_once()
    (row,) = await rig.rows()
    assert row.status == "failed" and "403 ConversationBlockedByUser" in (row.last_error or "")
    async with rig.db.session() as session:
        person = (await session.exec(select(Person).where(Person.user_id == ANA))).one()
    assert person.unreachable and "403" in (person.unreachable_reason or "")
    await rig.make_due()
    await rig.worker.run_once()
    assert len(rig.connector.writes()) == 1


async def test_a_conversation_that_is_gone_fails_for_good(rig: Rig) -> None:
    await rig.known("message_channel_command")
    rig.connector.refusals = [Refusal(404, code="ConversationNotFound")]
    await rig.enqueue(Target.channel("teams", CHANNEL))
    await rig.worker.run_once()
    (row,) = await rig.rows()
    assert row.status == "failed" and "no longer exists" in (row.last_error or "")


async def test_an_unknown_channel_fails_with_advice(rig: Rig) -> None:
    await rig.enqueue(Target.channel("teams", "19:never-seen@thread.tacv2"))
    await rig.worker.run_once()
    (row,) = await rig.rows()
    assert row.status == "failed" and "mention Earshot there" in (row.last_error or "")


async def test_an_unreachable_connector_is_retried(rig: Rig) -> None:
    await rig.known("message_channel_command")
    rig.connector.url = "http://127.0.0.1:9/"  # nothing listens there
    await rig.known("message_channel_command")
    await rig.enqueue(Target.channel("teams", CHANNEL))
    await rig.worker.run_once()
    (row,) = await rig.rows()
    assert row.status == "pending" and "could not be reached" in (row.last_error or "")


async def test_updates_replace_the_card_in_place(rig: Rig) -> None:
    await rig.known("message_channel_command")
    await rig.platform.adapter.update(MessageRef("teams", CHANNEL, "1709540000001"), text_card("v2"))
    (put,) = rig.connector.writes("PUT")
    assert put.segments == ["conversations", CHANNEL, "activities", "1709540000001"]
    assert put.body["id"] == "1709540000001" and put.body["type"] == "message"


async def test_members_are_listed_across_pages(rig: Rig) -> None:
    await rig.known("message_channel_command")
    rig.connector.members = [{"id": f"29:user{n}", "name": f"User {n}"} for n in range(5)]
    people = await rig.platform.adapter.list_members(CHANNEL)
    assert [p.user_id for p in people] == [f"29:user{n}" for n in range(5)]
    pages = [c for c in rig.connector.calls if c.method == "GET"]
    assert len(pages) == 3 and pages[1].query["continuationToken"] == "2"


async def test_post_ephemeral_goes_to_the_one_to_one_chat(rig: Rig) -> None:
    await rig.known("installation_update_personal")
    await rig.platform.adapter.post_ephemeral(CHANNEL, ANA, text_card("only you"))
    (sent,) = rig.connector.writes()
    assert sent.conversation_id.startswith("a:1xqGZc9y")

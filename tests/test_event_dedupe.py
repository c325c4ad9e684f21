"""Inbound-event dedupe as a copy of the database shows it: a keyed digest per event, no person, no conversation,
the minute only, gone after the platforms' retry window; and rows written as people act keep the hour only."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from apscheduler.schedulers.base import STATE_RUNNING
from cryptography.fernet import Fernet
from slack_sdk.oauth.installation_store.sqlalchemy import AsyncSQLAlchemyInstallationStore
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import event, text
from sqlmodel import select

from adapters.slack.clients import Installations, Team
from bot.adapter import Responder
from bot.cards import Card, Form
from bot.core import FORGET_BATCH, RETRY_WINDOW, Earshot, Services
from bot.events import ActionEvent, Person
from storage.engine import Database
from storage.secrets import keyed_digest
from storage.tables import ConversationRef, ProcessedEvent
from storage.tables import Person as PersonRow
from storage.tables.slack import SlackConversationTeam
from storage.upsert import insert_many_ignore
from tests.support.core import CoreHarness, make_harness
from tests.support.server import running_app
from tests.support.waiting import eventually
from tests.teams.activities import recorded
from tests.teams.test_turn import Turns

ANA = "29:1GcS4EyB_oSI8A88XmWBN7NJFyMqe3QGnJdgLfFGkJnVelzRGos0bPbpsfJjcbAD22bmKc4GMbrY2g4JDrWoDJA"
ANA_DM = "a:1xqGZc9yS7nTJbhbA2M9zZ4a6Xc4l3Yq7cPzq2D5vG3kZbWq8Jx0Ho1Nd6Rf5Tg4Yh3Uj2Ik1Ol0Pm9Qn8"
ACTIVITY = "f:4c7b3e2a-1d9f-4e8a-b6c5-0f1e2d3c4b5a"
NOW = datetime(2026, 3, 4, 9, 17, 42, 512_000, tzinfo=UTC)
JOINABLE = {"conversation_ref": ("conversation_id", "user_id", "reference", "kind"),
            "person": ("user_id", "display_name")}
"""Each table that names a Teams person, with its text columns: none may join a processed event."""


@pytest.fixture
def harness(db: Database) -> CoreHarness:
    return make_harness(db)


def vote(event_id: str, user_id: str = ANA) -> ActionEvent:
    return ActionEvent("teams", event_id, Person("teams", user_id), ANA_DM, action_id="vote:12", value="4")


class Nobody:
    """A responder that replies to nobody: what the core answers doesn't matter here, only how often it handled."""

    async def private(self, card: Card) -> None:
        return None

    async def open_form(self, form: Form) -> None:
        return None


def counting_votes(core: Earshot) -> list[ActionEvent]:
    seen: list[ActionEvent] = []

    async def on_vote(event: ActionEvent, _responder: Responder) -> None:
        seen.append(event)

    core.handlers.actions["vote"] = on_vote
    return seen


async def stored_events(db: Database) -> list[ProcessedEvent]:
    async with db.session() as session:
        return list(await session.exec(select(ProcessedEvent)))


async def test_a_resend_is_a_no_op_and_only_the_digest_is_stored(harness: CoreHarness) -> None:
    """Also through another process's core with the same key (a resend reaching another web process)."""
    seen = counting_votes(harness.core)
    twin = Earshot(Services(harness.settings, harness.db, harness.core.services.outbox, harness.core.services.metrics,
                            keys=harness.core.services.keys))
    twin.handlers.actions["vote"] = harness.core.handlers.actions["vote"]
    event_id = f"{ANA_DM}|{ACTIVITY}"
    for core in (harness.core, harness.core, twin):
        await core.handle(vote(event_id), Nobody())
    assert len(seen) == 1
    (row,) = await stored_events(harness.db)
    assert row.key == keyed_digest(harness.core.services.keys, "event keys", f"teams:ActionEvent:{event_id}")


def dm_vote() -> dict[str, Any]:
    """A card button pressed in Ana's 1:1 chat with the bot, where the conversation id stands for her."""
    return recorded("invoke_vote", conversation={"conversationType": "personal", "id": ANA_DM,
                                                 "tenantId": "72f988bf-86f1-41af-91ab-2d7cd011db47"})


def fragments(*ids: str) -> set[str]:
    """The ids and each of their parts long enough to mean something (`29:…`, a uuid's pieces)."""
    parts = {part for value in ids for part in value.replace("|", ":").replace("-", ":").split(":")}
    return {*ids, *(part for part in parts if len(part) >= 6)}


async def test_a_teams_dm_vote_leaves_nothing_in_processed_event_that_joins_its_voter(harness: CoreHarness) -> None:
    seen = counting_votes(harness.core)
    harness.core.services.clock = lambda: NOW  # not this hour: a minute :00 would equal the hour by chance
    turns = Turns(harness)
    (response,) = await turns.run(dm_vote())
    assert response.value.status == 200 and len(seen) == 1
    assert seen[0].event_id == f"{ANA_DM}|{ACTIVITY}"  # the platform's id, as the issue found it stored

    (row,) = await stored_events(harness.db)
    stored = f"{row.key} {row.seen_at.isoformat()}"
    assert not {part for part in fragments(ANA, ANA_DM, ACTIVITY, "teams", "ActionEvent") if part in stored}
    async with harness.db.session() as session:
        (reference,) = list(await session.exec(select(ConversationRef)))
        assert reference.user_id == ANA  # the 1:1 chat is kept, and names Ana: nothing may join it
        for table, columns in JOINABLE.items():
            on = " OR ".join(
                [f"e.key = CAST(t.{c} AS TEXT) OR e.key LIKE '%' || t.{c} || '%' OR t.{c} LIKE '%' || e.key || '%'"
                 for c in columns] + ["e.key = CAST(t.id AS TEXT)", "e.seen_at = t.updated_at"])
            joined = await session.exec(text(f"SELECT count(*) FROM processed_event e JOIN {table} t ON {on}"))
            assert joined.scalar_one() == 0, table


async def test_a_teams_turn_writes_its_person_and_conversation_with_the_hour_only(harness: CoreHarness) -> None:
    await Turns(harness).run(dm_vote())
    async with harness.db.session() as session:
        (reference,) = list(await session.exec(select(ConversationRef)))
        (person,) = list(await session.exec(select(PersonRow)))
    for written in (reference.updated_at, person.updated_at):
        assert written == written.replace(minute=0, second=0, microsecond=0)
        assert datetime.now(UTC) - written < timedelta(hours=1, minutes=1)


async def test_a_slack_request_writes_its_channel_and_person_with_the_hour_only(db: Database) -> None:
    installations = Installations(AsyncWebClient(), AsyncSQLAlchemyInstallationStore("client", db.engine), db)
    await installations.remember(["D0ANA", "U0ANA"], Team(None, "T0ACME"))
    async with db.session() as session:
        rows = list(await session.exec(select(SlackConversationTeam)))
    assert {row.conversation_id for row in rows} == {"D0ANA", "U0ANA"}
    for row in rows:
        assert row.updated_at == row.updated_at.replace(minute=0, second=0, microsecond=0)


async def test_seen_at_has_no_seconds(harness: CoreHarness) -> None:
    harness.core.services.clock = lambda: NOW
    await harness.core.handle(vote(f"{ANA_DM}|1709549999000"), Nobody())
    (row,) = await stored_events(harness.db)
    assert row.seen_at == datetime(2026, 3, 4, 9, 17, tzinfo=UTC)


@contextmanager
def deletions(db: Database) -> Iterator[list[int]]:
    """The rows each DELETE statement removed, as the driver reports them."""
    counts: list[int] = []

    def after(_conn: Any, cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith("DELETE"):
            counts.append(cursor.rowcount)

    event.listen(db.engine.sync_engine, "after_cursor_execute", after)
    try:
        yield counts
    finally:
        event.remove(db.engine.sync_engine, "after_cursor_execute", after)


async def test_expiry_forgets_events_older_than_the_retry_window_in_small_batches(harness: CoreHarness) -> None:
    core = harness.core
    counting_votes(core)
    ages = {"two hours": timedelta(hours=2), "61 min": timedelta(minutes=61), "59 min": timedelta(minutes=59),
            "now": timedelta(0)}
    for name, age in ages.items():
        core.services.clock = lambda age=age: NOW - age
        assert await core.first_time(f"teams:ActionEvent:{name}")
    old = NOW - RETRY_WINDOW - timedelta(minutes=5)
    async with harness.db.session() as session:  # a busy day's worth, older than the window
        await insert_many_ignore(session, ProcessedEvent, [{"key": f"{n:040x}", "seen_at": old} for n in range(1234)])
        await session.commit()

    core.services.clock = lambda: NOW
    with deletions(harness.db) as counts:
        assert await core.forget_events() == 1234 + 2
    assert sum(counts) == 1234 + 2 and max(counts) <= FORGET_BATCH and len(counts) >= 3
    assert len(await stored_events(harness.db)) == 2
    assert await core.first_time("teams:ActionEvent:two hours")  # a resend this late is handled again
    assert await core.first_time("teams:ActionEvent:61 min")
    assert not await core.first_time("teams:ActionEvent:59 min")  # within the window, still a no-op
    assert not await core.first_time("teams:ActionEvent:now")
    assert await core.forget_events() == 0


async def test_different_events_and_different_keys_give_different_digests(harness: CoreHarness) -> None:
    """Another key (another deployment, or a rotated one) digests the same event differently."""
    other = Earshot(Services(harness.settings, harness.db, harness.core.services.outbox, harness.core.services.metrics,
                             keys=(Fernet.generate_key().decode(),)))
    first, second = f"{ANA_DM}|1709549999000", f"{ANA_DM}|1709549999001"
    for core, event_id in ((harness.core, first), (harness.core, second), (other, first)):
        seen = counting_votes(core)
        await core.handle(vote(event_id), Nobody())
        assert len(seen) == 1
    keys = {row.key for row in await stored_events(harness.db)}
    assert len(keys) == 3
    assert all(len(key) == 40 and "1709549999" not in key for key in keys)


async def test_the_schedulers_leader_expires_old_events(db_url: str) -> None:
    now = datetime.now(UTC)
    async with running_app(db_url) as running:
        runtime = running.runtime
        async with runtime.db.session() as session:
            await insert_many_ignore(session, ProcessedEvent, [
                {"key": "old".ljust(40, "0"), "seen_at": now - RETRY_WINDOW - timedelta(minutes=1)},
                {"key": "new".ljust(40, "0"), "seen_at": now}])
            await session.commit()

        async def leading() -> bool:
            return runtime.scheduler.state == STATE_RUNNING

        await eventually(leading, 15)
        job = runtime.scheduler.get_job("event-expiry")
        assert job is not None and job.trigger.interval == timedelta(minutes=10)
        job.modify(next_run_time=datetime.now(UTC))

        async def expired() -> bool:
            return {row.key[:3] for row in await stored_events(runtime.db)} == {"new"}

        await eventually(expired, 15)

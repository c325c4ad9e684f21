"""`/earshot audit` through the core: for HR and admins only, private, bounded, filtered, recorded."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update
from sqlmodel import col, select

from bot.cards import Context, Heading, Text
from bot.events import CommandEvent, Person
from bot.governance.audit import record
from storage.engine import Database
from storage.tables.audit import AuditEntry
from tests.support.core import CoreHarness, make_harness
from tests.support.recording import RecordingResponder

NOW = datetime.now(UTC)


@pytest.fixture
def harness(db: Database) -> CoreHarness:
    return make_harness(db)


async def earshot(h: CoreHarness, text: str, user: str = "hr1") -> RecordingResponder:
    responder = RecordingResponder()
    event = CommandEvent(platform="test", event_id=uuid.uuid4().hex, actor=Person("test", user, user.upper()),
                         channel_id="C-hr", command="earshot", text=text)
    await h.core.handle(event, responder)
    return responder


async def seed(h: CoreHarness, count: int = 25) -> None:
    async with h.db.session() as session:
        for index in range(count):
            await record(session, h.core.services.keys, actor=f"test:U{index % 3}", action="pulse.results_viewed",
                         subject=f"pulse:{index}", details={"index": index}, at=NOW - timedelta(days=count - index))
        await record(session, h.core.services.keys, actor="other:X1", action="role.granted", subject="other:X2",
                     details={"role": "hr"})
        await record(session, h.core.services.keys, actor="cli", action="role.granted", subject="test:U7",
                     details={"role": "manager"})
        await session.commit()


async def entries(db: Database) -> list[AuditEntry]:
    async with db.session() as session:
        return list(await session.exec(select(AuditEntry).order_by(col(AuditEntry.id))))


def lines(reply: RecordingResponder) -> list[str]:
    return [block.text for block in reply.private_cards[-1].blocks if isinstance(block, Text)]


async def test_people_without_the_hr_role_are_refused_privately_with_the_reason(harness: CoreHarness,
                                                                               db: Database) -> None:
    await seed(harness)
    await harness.grant("boss", "manager")
    before = await entries(db)
    for user in ("emp", "boss"):
        reply = await earshot(harness, "audit", user=user)
        assert len(reply.private_cards) == 1
        assert "only people with the HR or admin role can read the audit log" in str(reply.private_cards[0].blocks)
        assert "pulse:" not in str(reply.private_cards[0].blocks)
    assert await entries(db) == before  # nothing read, nothing recorded
    await harness.deliver()
    assert harness.adapter.sent == []


@pytest.mark.parametrize("role", ["hr", "admin"])
async def test_hr_and_admins_see_the_latest_entries_newest_first(harness: CoreHarness, db: Database,
                                                                 role: str) -> None:
    await seed(harness)
    await harness.grant("hr1", role)
    reply = await earshot(harness, "audit")
    card = reply.private_cards[-1]
    assert isinstance(card.blocks[0], Heading) and "latest 20 entries" in card.blocks[0].text
    shown = lines(reply)
    assert len(shown) == 20
    assert shown[0].startswith("#27 ") and "cli · role.granted · test:U7 · role=manager" in shown[0]
    assert shown[1].startswith("#25 ")  # the other platform's entry (#26) is not shown here
    assert "pulse:24" in shown[1] and "index=24" in shown[1]
    hints = next(block for block in card.blocks if isinstance(block, Context)).items
    assert "/earshot audit before:7" in hints[0] and "earshot audit --format csv" in hints[1]
    last = (await entries(db))[-1]
    assert (last.actor, last.action, last.details["format"]) == ("test:hr1", "audit.read", "card")
    await harness.deliver()
    assert harness.adapter.sent == []  # answered privately only


async def test_filters_and_paging(harness: CoreHarness) -> None:
    await seed(harness)
    await harness.grant("hr1", "hr")
    shown = lines(await earshot(harness, "audit before:7"))
    assert [line.split()[0] for line in shown] == ["#6", "#5", "#4", "#3", "#2", "#1"]
    shown = lines(await earshot(harness, "audit 4d test:U1"))
    assert [line.split()[0] for line in shown] == ["#23"]
    shown = lines(await earshot(harness, "audit <@U2|bea> 6d"))
    assert [line.split()[0] for line in shown] == ["#24", "#21"]
    shown = lines(await earshot(harness, "audit action:role."))
    assert [line.split()[0] for line in shown] == ["#27"]
    reply = await earshot(harness, "audit other:X1")
    assert reply.last_text == "No audit log entries match."


async def test_a_filter_it_cannot_read_gets_a_usage_message(harness: CoreHarness) -> None:
    await harness.grant("hr1", "hr")
    reply = await earshot(harness, "audit yesterday")
    assert "is not a date (YYYY-MM-DD) or a span like 7d" in reply.last_text
    reply = await earshot(harness, "audit before:x")
    assert "is not before: and an entry number" in reply.last_text


async def test_help_lists_the_audit_subcommand(harness: CoreHarness) -> None:
    reply = await earshot(harness, "help", user="emp")
    assert "/earshot audit" in reply.last_text


async def in_workspace(h: CoreHarness, text: str, user: str, workspace: str | None) -> RecordingResponder:
    responder = RecordingResponder()
    event = CommandEvent(platform="test", event_id=uuid.uuid4().hex, actor=Person("test", user, user.upper()),
                         channel_id="C-hr", command="earshot", text=text, workspace=workspace)
    await h.core.handle(event, responder)
    return responder


async def test_hr_of_one_workspace_reads_only_that_workspaces_entries(harness: CoreHarness, db: Database) -> None:
    """One platform connection serving several workspaces (Slack over OAuth): HR of T1 sees what was recorded in
    T1, never T2's, nor entries recorded without a workspace (the command line's, the jobs')."""
    keys = harness.core.services.keys
    async with db.session() as session:
        await record(session, keys, actor="test:BOSS1", action="pulse.exported", subject="pulse:1", workspace="T1")
        await record(session, keys, actor="test:BOSS2", action="pulse.exported", subject="pulse:2", workspace="T2")
        await record(session, keys, actor="cli", action="role.granted", subject="test:U7", details={"role": "hr"})
        await session.commit()
    await harness.grant("hr1", "hr")
    shown = lines(await in_workspace(harness, "audit", "hr1", "T1"))
    assert len(shown) == 1 and "test:BOSS1" in shown[0]
    last = (await entries(db))[-1]
    assert (last.action, last.workspace) == ("audit.read", "T1")
    shown = lines(await in_workspace(harness, "audit", "hr1", "T2"))
    assert [line.split()[0] for line in shown] == ["#2"]  # T1's reading (#4) isn't T2's either
    shown = lines(await in_workspace(harness, "audit", "hr1", None))  # a platform serving one workspace
    assert [line.split()[0] for line in shown] == ["#3"]


async def test_an_entry_whose_details_were_altered_is_shown_as_such(harness: CoreHarness, db: Database) -> None:
    await seed(harness, count=2)
    async with db.session() as session:
        await session.exec(update(AuditEntry).where(col(AuditEntry.id) == 2).values(  # type: ignore[call-overload]
            details=["not", "facts"]))
        await session.commit()
    await harness.grant("hr1", "hr")
    (line,) = [line for line in lines(await earshot(harness, "audit")) if line.startswith("#2 ")]
    assert "details altered" in line


async def test_chat_actions_are_recorded_with_their_workspace(harness: CoreHarness, db: Database) -> None:
    """What HR does in workspace T1's chat lands in T1's audit view (and in no other workspace's)."""
    await harness.grant("hr1", "hr")
    for text in ("subscribe", "unsubscribe", "preview"):
        responder = RecordingResponder()
        await harness.core.handle(CommandEvent(platform="test", event_id=uuid.uuid4().hex, actor=Person("test", "hr1"),
                                               channel_id="C-hr", command="digest", text=text, workspace="T1"),
                                  responder)
    recorded = [(entry.action, entry.workspace) for entry in await entries(db)]
    assert recorded == [("digest.subscribed", "T1"), ("digest.unsubscribed", "T1"), ("digest.previewed", "T1")]
    shown = lines(await in_workspace(harness, "audit", "hr1", "T1"))
    assert [line.split(" · ")[3] for line in shown] == ["digest.previewed", "digest.unsubscribed", "digest.subscribed"]
    assert not any("digest." in line for line in lines(await in_workspace(harness, "audit", "hr1", "T2")))

"""Retention on SQLite and PostgreSQL: each kind goes at its policy's age and not before, what is kept survives,
a dry run changes nothing, the purge is counted in the audit log."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func
from sqlmodel import select

from bot.config import load_settings
from bot.core import RETRY_WINDOW
from bot.governance.audit import record, verify
from bot.governance.policy import Policy
from bot.governance.retention import Counts, purge
from storage.engine import Database, flush_deleted
from storage.tables import (
    Chart,
    Delivery,
    Feedback,
    Participation,
    ProcessedEvent,
    Pulse,
    PulseRun,
    Question,
    Response,
    SandboxMessage,
    StoredFile,
)
from storage.tables.audit import AuditEntry
from storage.tables.summaries import RunSummary

KEYS = ("baT9qNjJthQvtKZuwkrTUnVsuJORx8w7jXie59g-VZw=",)
NOW = datetime(2026, 12, 7, 3, 0, tzinfo=UTC)
POLICY = Policy(customer_contact=10, feedback_text=20, pulse_answers=30, files=5, charts=6, event_keys=2,
                deliveries=7, sandbox_messages=8, audit=40)
"""Each kind a different age, so a kind purged by another's period shows."""
SETTINGS = load_settings()


def days(n: float, now: datetime = NOW) -> datetime:
    return now - timedelta(days=n)


async def plant(db: Database, marker: str = "", now: datetime = NOW) -> None:
    """Two rows of each kind, one just past its age and one just short of it (`old`/`new` in their text)."""

    def days(n: float) -> datetime:
        return now - timedelta(days=n)

    async with db.session() as session:
        for name, age in (("contact-old", 11), ("text-old", 21), ("new", 9)):
            session.add(Feedback(source="survey", external_id=name, text=f"{marker}{name} says the app is slow",
                                 score=3, score_type="nps", tags=["speed"], received_at=days(age),
                                 created_at=days(age), customer={"name": "Ada", "email": f"{marker}{name}@ex.com"}))
        pulse = Pulse(platform="slack", channel_id="C1", author_id="U0", title="Mood", anonymous=False)
        session.add(pulse)
        await session.flush()
        question = Question(pulse_id=pulse.id, position=0, kind="scale", prompt="How?", options=[],
                            allow_comment=True)
        session.add(question)
        await session.flush()
        for age, status in ((31, "closed"), (29, "closed"), (400, "open")):
            run = PulseRun(pulse_id=pulse.id, scheduled_for=days(age + 1), status=status, opened_at=days(age + 1),
                           closed_at=days(age) if status == "closed" else None, audience_size=6, minimum=5)
            session.add(run)
            await session.flush()
            for person in range(6):
                session.add(Response(run_id=run.id, question_id=question.id, respondent_id=f"slack:U{person}",
                                     value=str(1 + person % 5), comment=f"{marker}comment {age} {person}",
                                     answered_on=days(age + 1).date()))
                session.add(Participation(run_id=run.id, question_id=question.id, platform="slack",
                                          user_id=f"U{person}"))
        for age, tag in ((6, "old"), (4, "new")):
            session.add(StoredFile(name=f"{tag}.csv", mime="text/csv", data=f"{marker}file {tag}".encode(),
                                   created_at=days(age)))
        for age, tag in ((7, "old"), (5, "new")):
            session.add(Chart(png=f"{marker}chart {tag}".encode(), created_at=days(age)))
        for hours, tag in ((3, "old"), (1, "new")):
            session.add(ProcessedEvent(key=f"{tag}".ljust(40, "0"), seen_at=now - timedelta(hours=hours)))
        for age, tag in ((9, "old"), (7, "new")):
            session.add(SandboxMessage(channel_id="C1", author_id="bot", card={"fallback": f"{marker}sandbox {tag}"},
                                       created_at=days(age)))
        for tag, kind, status, age in (("send-old", "send", "sent", 8), ("send-new", "send", "sent", 6),
                                       ("send-failed", "send", "failed", 8), ("send-pending", "send", "pending", 8),
                                       ("edit-old", "update", "sent", 8), ("edit-pending", "update", "pending", 8)):
            session.add(Delivery(dedupe_key=tag, platform="slack", kind=kind, pace_key="slack:C1",
                                 card={"fallback": f"{marker}card {tag}"}, status=status, created_at=days(age),
                                 target={"platform": "slack", "channel_id": "C1"},
                                 message_channel="C1" if status == "sent" else None,
                                 message_id=f"m-{tag}" if status == "sent" else None))
        await session.commit()
    async with db.session() as session:  # the audit log, oldest first (it is a chain in time order)
        for age in (41, 39):
            await record(session, KEYS, actor="system", action="test.planted", subject=f"age:{age}", at=days(age))
        await session.commit()


async def rows(db: Database, table: type) -> list:  # type: ignore[type-arg]
    async with db.session() as session:
        return list((await session.exec(select(table))).all())


async def test_each_kind_goes_at_its_age_and_not_before(db: Database) -> None:
    await plant(db)
    counts = await purge(db, KEYS, POLICY, NOW, batch=2, settings=SETTINGS)
    assert counts == Counts(customer_contact=2, feedback_text=1, pulse_runs=1, pulse_answers=6, pulse_participation=6,
                            files=1, charts=1, event_keys=1, delivery_cards=3, sandbox_messages=1,
                            audit_entries=1)
    feedback = {item.external_id: item for item in await rows(db, Feedback)}
    assert feedback["new"].customer == {"name": "Ada", "email": "new@ex.com"}
    assert feedback["new"].text == "new says the app is slow"
    assert feedback["contact-old"].customer is None
    assert feedback["contact-old"].text == "contact-old says the app is slow"
    assert feedback["text-old"].customer is None and feedback["text-old"].text == ""
    for item in feedback.values():  # what the digest counts stays
        assert (item.score, item.score_type, item.tags) == (3, "nps", ["speed"])
    assert feedback["text-old"].received_at == days(21)

    runs = {run.closed_at: run.id for run in await rows(db, PulseRun)}
    answered = {row.run_id for row in await rows(db, Response)}
    participated = {row.run_id for row in await rows(db, Participation)}
    assert answered == participated == {runs[days(29)], runs[None]}  # the open run keeps its answers however old
    assert [summary.run_id for summary in await rows(db, RunSummary)] == [runs[days(31)]]  # kept before they went

    assert [f.name for f in await rows(db, StoredFile)] == ["new.csv"]
    assert [c.png for c in await rows(db, Chart)] == [b"chart new"]
    assert [e.key[:3] for e in await rows(db, ProcessedEvent)] == ["new"]
    assert [m.card["fallback"] for m in await rows(db, SandboxMessage)] == ["sandbox new"]
    deliveries = {d.dedupe_key: d for d in await rows(db, Delivery)}
    assert len(deliveries) == 6  # rows stay: message ids and dedupe keys are still needed
    assert deliveries["send-old"].card == deliveries["send-failed"].card == deliveries["edit-old"].card == {}
    assert deliveries["send-old"].message_id == "m-send-old"  # reactions and erasure still find the card
    for key in ("send-new", "send-pending", "edit-pending"):
        assert deliveries[key].card == {"fallback": f"card {key}"}

    entries = await rows(db, AuditEntry)
    assert [e.subject for e in entries if e.action == "test.planted"] == ["age:39"]
    purged = [e for e in entries if e.action == "retention.purged" and e.actor == "system" and e.subject == ""]
    assert purged[-1].details["feedback_text"] == 1 and purged[-1].details["pulse_answers"] == 6
    async with db.session() as session:
        assert (await verify(session, KEYS)).ok


async def test_nothing_goes_a_moment_early_and_a_second_purge_finds_nothing(db: Database) -> None:
    await plant(db)
    early = await purge(db, KEYS, POLICY, NOW - timedelta(days=2), settings=SETTINGS)  # everything 2 days younger
    assert (early.feedback_text, early.pulse_runs, early.files, early.charts, early.delivery_cards,
            early.sandbox_messages) == (0, 0, 0, 0, 0, 0)
    assert len(await rows(db, Response)) == 18
    await purge(db, KEYS, POLICY, NOW, settings=SETTINGS)
    again = await purge(db, KEYS, POLICY, NOW, settings=SETTINGS)
    assert again.total == 0


async def test_never_keeps_a_kind(db: Database) -> None:
    await plant(db)
    forever = Policy(**{**POLICY.__dict__, "feedback_text": None, "customer_contact": None, "deliveries": None})
    counts = await purge(db, KEYS, forever, NOW, settings=SETTINGS)
    assert (counts.feedback_text, counts.customer_contact, counts.delivery_cards) == (0, 0, 0)
    assert all(item.text and item.customer for item in await rows(db, Feedback))
    # the sandbox's copies of customer text go with their own period when the text is kept forever
    assert counts.sandbox_messages == 1


async def test_a_copy_goes_no_later_than_what_it_copies(db: Database) -> None:
    """A posted card quotes customer text: with the text kept 3 days, its card goes at 3 days, not 7."""
    await plant(db)
    counts = await purge(db, KEYS, Policy(**{**POLICY.__dict__, "feedback_text": 3}), NOW, settings=SETTINGS)
    assert counts.delivery_cards == 4  # send-new (6 days) too
    assert counts.sandbox_messages == 2


async def test_a_dry_run_counts_and_changes_nothing(db: Database) -> None:
    await plant(db)
    before = {table: sorted(map(repr, await rows(db, table))) for table in (
        Feedback, Response, Participation, StoredFile, Chart, ProcessedEvent, SandboxMessage, Delivery, AuditEntry)}
    planned = await purge(db, KEYS, POLICY, NOW, dry_run=True, settings=SETTINGS)
    after = {table: sorted(map(repr, await rows(db, table))) for table in before}
    assert after == before
    assert await rows(db, RunSummary) == []
    done = await purge(db, KEYS, POLICY, NOW, settings=SETTINGS)
    assert planned == done


async def test_progress_is_reported(db: Database) -> None:
    await plant(db)
    seen: list[int] = []
    counts = await purge(db, KEYS, POLICY, NOW, batch=2, progress=seen.append, settings=SETTINGS)
    assert sum(seen) >= counts.total - counts.pulse_runs and len(seen) > 5


async def test_event_keys_follow_the_policy_but_never_the_retry_window(db: Database) -> None:
    await plant(db)
    counts = await purge(db, KEYS, Policy(**{**POLICY.__dict__, "event_keys": 4}), NOW, settings=SETTINGS)
    assert counts.event_keys == 0
    assert Policy(event_keys=1).period("event_keys") == RETRY_WINDOW


async def test_flush_deleted_empties_the_wal(db: Database) -> None:
    await plant(db)
    wal = Path(f"{db.engine.url.database}-wal")
    assert not db.is_sqlite or _size(wal) > 0
    assert await flush_deleted(db)
    assert not db.is_sqlite or _size(wal) == 0
    async with db.session() as session:
        assert (await session.exec(select(func.count()).select_from(Feedback))).one() == 3


@pytest.mark.parametrize("batch", [1, 500])
async def test_batches_of_any_size_reach_every_row(db: Database, batch: int) -> None:
    await plant(db)
    counts = await purge(db, KEYS, POLICY, NOW, batch=batch, settings=SETTINGS)
    assert (counts.pulse_answers, counts.pulse_participation, counts.delivery_cards) == (6, 6, 3)
    assert sorted(item.text for item in await rows(db, Feedback)) == [
        "", "contact-old says the app is slow", "new says the app is slow"]


def _size(path: Path) -> int:
    return path.stat().st_size


async def test_the_audit_logs_old_entries_go_a_batch_per_transaction(db: Database) -> None:
    """A write waiting while the purge removes old audit entries gets in between two batches, not after the last:
    the purge lets go of the write lock after each."""
    async with db.session() as session:
        for n in range(30):
            await record(session, KEYS, actor="system", action="test.planted", subject=f"n:{n}", at=days(50 - n / 100))
        await session.commit()
    seen: list[int] = []

    async def write_meanwhile() -> None:
        while True:
            async with db.write() as session:
                purged = (await session.exec(select(func.count()).select_from(AuditEntry).where(
                    AuditEntry.action == "retention.purged", AuditEntry.subject == "audit_log"))).one()
                await record(session, KEYS, actor="system", action="test.meanwhile", at=NOW)
                await session.commit()
            seen.append(purged)
            if purged >= 3:
                return
            await asyncio.sleep(0.01)

    writer = asyncio.create_task(write_meanwhile())
    await purge(db, KEYS, Policy(audit=40), NOW, batch=10, pause=0.2, settings=SETTINGS)
    await writer
    assert {1, 2} & set(seen)  # a write committed between the first batch and the last
    async with db.session() as session:
        assert (await verify(session, KEYS)).ok

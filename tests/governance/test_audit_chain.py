"""The audit log's hash chain on SQLite and PostgreSQL: appends, verify, tampering, concurrency, retention."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import json
import logging
import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, inspect, update
from sqlmodel import col, select

from bot.governance import audit
from bot.governance.audit import GENESIS, PURGED, forget_before, record, verify
from storage.engine import Database
from storage.tables.audit import AuditEntry

KEYS = ("baT9qNjJthQvtKZuwkrTUnVsuJORx8w7jXie59g-VZw=",)
OTHER_KEY = "Zl3kq0m1yJ2cC7o8q5x4vR6tU9wE0aS1dF2gH3jK4lM="


async def _append(db: Database, count: int, *, start: datetime | None = None) -> None:
    async with db.session() as session:
        for index in range(count):
            await record(session, KEYS, actor="slack:U1", action="pulse.results_viewed", subject=f"pulse:{index}",
                         details={"format": "csv", "rows": index},
                         at=(start + timedelta(days=index)) if start else None)
        await session.commit()


async def _all(db: Database) -> list[AuditEntry]:
    async with db.session() as session:
        return list((await session.exec(select(AuditEntry).order_by(col(AuditEntry.id)))).all())


async def test_appended_entries_chain_and_verify(db: Database) -> None:
    await _append(db, 5)
    rows = await _all(db)
    assert [row.id for row in rows] == [1, 2, 3, 4, 5]
    assert rows[0].prev_hash == GENESIS
    assert all(later.prev_hash == earlier.hash for earlier, later in itertools.pairwise(rows))
    async with db.session() as session:
        verdict = await verify(session, KEYS)
    assert verdict.ok and verdict.checked == 5 and verdict.head == (5, rows[-1].hash)


async def test_the_entry_is_part_of_the_callers_transaction(db: Database) -> None:
    async with db.session() as session:
        await record(session, KEYS, actor="cli", action="role.granted", subject="slack:U2")
        await session.rollback()
    assert await _all(db) == []


async def test_an_edited_entry_is_found(db: Database) -> None:
    await _append(db, 5)
    async with db.session() as session:
        await session.exec(update(AuditEntry).where(AuditEntry.id == 3).values(details={"format": "json",
                                                                                             "rows": 2}))
        await session.commit()
        verdict = await verify(session, KEYS)
    assert not verdict.ok
    assert [problem.entry_id for problem in verdict.problems] == [3]
    assert "altered" in verdict.problems[0].message


async def test_a_deleted_middle_entry_is_found(db: Database) -> None:
    await _append(db, 5)
    async with db.session() as session:
        await session.exec(delete(AuditEntry).where(AuditEntry.id == 3))
        await session.commit()
        verdict = await verify(session, KEYS)
    assert [problem.entry_id for problem in verdict.problems] == [4]
    assert "entries 3 are missing" in verdict.problems[0].message


async def test_deleted_oldest_entries_are_found(db: Database) -> None:
    await _append(db, 5)
    async with db.session() as session:
        await session.exec(delete(AuditEntry).where(AuditEntry.id <= 2))
        await session.commit()
        verdict = await verify(session, KEYS)
    assert [problem.entry_id for problem in verdict.problems] == [3]


def _plain_sha256(entry: AuditEntry, prev_hash: str, entry_id: int) -> str:
    message = json.dumps([entry_id, entry.at.isoformat(), entry.actor, entry.action, entry.subject, entry.details,
                          prev_hash], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(message.encode()).hexdigest()


async def test_a_chain_rewritten_without_the_key_is_found(db: Database) -> None:
    """Someone with a copy of the database removes entry 3 and re-links 4 and 5 with plain SHA-256."""
    await _append(db, 5)
    rows = await _all(db)
    async with db.session() as session:
        await session.exec(delete(AuditEntry).where(AuditEntry.id >= 3))
        previous = rows[1].hash
        for new_id, entry in ((3, rows[3]), (4, rows[4])):
            forged = _plain_sha256(entry, previous, new_id)
            session.add(AuditEntry(id=new_id, at=entry.at, actor=entry.actor, action=entry.action,
                                   subject=entry.subject, details=entry.details, prev_hash=previous, hash=forged))
            previous = forged
        await session.commit()
        verdict = await verify(session, KEYS)
    assert [problem.entry_id for problem in verdict.problems] == [3, 4]


async def test_a_rotated_key_still_verifies_older_entries(db: Database) -> None:
    await _append(db, 2)
    async with db.session() as session:
        await record(session, (OTHER_KEY, *KEYS), actor="cli", action="audit.read")
        await session.commit()
        assert (await verify(session, (OTHER_KEY, *KEYS))).ok
        assert [problem.entry_id for problem in (await verify(session, KEYS)).problems] == [3]


async def test_concurrent_appends_keep_one_chain(db: Database) -> None:
    async def writer(number: int) -> None:
        for index in range(8):
            async with db.session() as session:
                await record(session, KEYS, actor=f"slack:U{number}", action="digest.previewed",
                             subject=f"n:{index}")
                await asyncio.sleep(0)
                await session.commit()

    await asyncio.gather(*(writer(number) for number in range(6)))
    rows = await _all(db)
    assert [row.id for row in rows] == list(range(1, 49))
    assert len({row.prev_hash for row in rows}) == 48
    async with db.session() as session:
        assert (await verify(session, KEYS)).ok


async def test_the_head_noted_earlier_finds_deleted_newest_entries(db: Database) -> None:
    await _append(db, 5)
    async with db.session() as session:
        head = (await verify(session, KEYS)).head
        assert head is not None
        assert (await verify(session, KEYS, expect_head=head)).ok
        await session.exec(delete(AuditEntry).where(AuditEntry.id >= 4))
        await session.commit()
        assert (await verify(session, KEYS)).ok  # cutting the tail leaves a clean chain…
        verdict = await verify(session, KEYS, expect_head=head)
    assert not verdict.ok and "newest entries were deleted" in verdict.problems[0].message  # …the head shows it


async def test_a_replaced_head_is_found(db: Database) -> None:
    await _append(db, 5)
    async with db.session() as session:
        head = (await verify(session, KEYS)).head
        assert head is not None
        await session.exec(delete(AuditEntry).where(AuditEntry.id == 5))
        await record(session, KEYS, actor="cli", action="audit.read")
        await session.commit()
        verdict = await verify(session, KEYS, expect_head=head)
    assert [problem.entry_id for problem in verdict.problems] == [5]


async def test_forgetting_old_entries_leaves_a_chain_that_verifies(db: Database) -> None:
    start = datetime(2025, 1, 1, tzinfo=UTC)
    await _append(db, 12, start=start)
    rows = await _all(db)
    async with db.session() as session:
        removed = await forget_before(session, KEYS, start + timedelta(days=7), batch=3)
        verdict = await verify(session, KEYS)
    assert removed == 7
    assert verdict.ok, verdict.problems
    remaining = await _all(db)
    assert remaining[0].id == 8 and remaining[0].prev_hash == rows[6].hash
    purges = [row for row in remaining if row.action == PURGED]
    assert [row.details["removed"] for row in purges] == [3, 3, 1]
    assert purges[-1].details["last_removed_id"] == 7 and purges[-1].details["last_removed_hash"] == rows[6].hash


async def test_forgetting_everything_keeps_the_newest_entry(db: Database) -> None:
    await _append(db, 3)
    async with db.session() as session:
        removed = await forget_before(session, KEYS, datetime.now(UTC) + timedelta(days=1))
        assert (await verify(session, KEYS)).ok
    assert removed == 2
    assert [row.id for row in await _all(db)] == [3, 4]


async def test_retention_does_not_erase_the_evidence_of_tampering(db: Database) -> None:
    start = datetime(2025, 1, 1, tzinfo=UTC)
    await _append(db, 8, start=start)
    async with db.session() as session:
        await session.exec(delete(AuditEntry).where(AuditEntry.id == 4))
        await session.commit()
        assert await forget_before(session, KEYS, start + timedelta(days=7)) == 3
        verdict = await verify(session, KEYS)
    assert [problem.entry_id for problem in verdict.problems] == [5]


async def test_details_that_are_not_small_facts_are_refused(db: Database) -> None:
    async with db.session() as session:
        with pytest.raises(ValueError, match="small facts"):
            await record(session, KEYS, actor="cli", action="pulse.exported", details={"comment": "x" * 500})
        with pytest.raises(ValueError, match="scalar"):
            await record(session, KEYS, actor="cli", action="pulse.exported",
                         details={"answers": ["a"]})  # type: ignore[dict-item]
        with pytest.raises(ValueError, match="dotted"):
            await record(session, KEYS, actor="cli", action="Pulse Exported")
        with pytest.raises(ValueError, match="naive"):
            await record(session, KEYS, actor="cli", action="pulse.exported", at=datetime(2026, 1, 1))


async def test_the_table_has_no_place_for_answers_or_comments(db: Database) -> None:
    def columns(connection: object) -> set[str]:
        return {column["name"] for column in inspect(connection).get_columns("audit_entry")}

    async with db.engine.connect() as connection:
        names = await connection.run_sync(columns)
    assert names == {"id", "at", "workspace", "actor", "action", "subject", "details", "prev_hash", "hash"}


async def test_verify_reads_the_log_in_batches_and_checks_across_them(db: Database,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(audit, "BATCH", 3)
    await _append(db, 10)
    seen: list[int] = []
    async with db.session() as session:
        assert (await verify(session, KEYS, progress=seen.append)).ok
        assert seen == [3, 3, 3, 1]
        await session.exec(delete(AuditEntry).where(AuditEntry.id == 4))  # the first of a batch
        await session.commit()
        verdict = await verify(session, KEYS)
    assert [problem.entry_id for problem in verdict.problems] == [5]


async def test_reordered_entries_are_found(db: Database) -> None:
    await _append(db, 5)
    async with db.session() as session:
        for old, new in ((2, 99), (3, 2), (99, 3)):
            await session.exec(update(AuditEntry).where(AuditEntry.id == old).values(id=new))
        await session.commit()
        verdict = await verify(session, KEYS)
    assert [problem.entry_id for problem in verdict.problems][:2] == [2, 2]
    assert not verdict.ok


async def test_verify_reads_one_snapshot_while_a_purge_runs(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    """A purge (another process, as the leader's daily job is) removes entries between two of verify's batches:
    verify still sees the chain as it was when it started, not a gap it would report as deleted entries."""
    monkeypatch.setattr(audit, "BATCH", 50)
    start = datetime(2020, 1, 1, tzinfo=UTC)
    await _append(db, 120, start=start)
    await _append(db, 10)

    async def purge() -> int:
        other = Database(db.url)
        try:
            async with other.write() as session:
                return await forget_before(session, KEYS, start + timedelta(days=365), batch=40)
        finally:
            await other.dispose()

    purged: list[int] = []

    def between_batches(_done: int) -> None:  # blocks verify's loop while another thread's purge runs to its end
        if not purged:
            worker = threading.Thread(target=lambda: purged.append(asyncio.run(purge())))
            worker.start()
            worker.join()

    async with db.session() as session:
        verdict = await verify(session, KEYS, progress=between_batches)
    assert purged == [120]
    assert verdict.ok, verdict.problems
    assert (verdict.start, verdict.checked) == (1, 130)
    async with db.session() as session:
        after = await verify(session, KEYS)
    assert after.ok and after.start == 121 and after.checked == 13  # and the purge's three entries


async def test_two_purges_at_once_take_turns_and_leave_a_chain_that_verifies(db: Database,
                                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """The leader's daily purge and `earshot db purge` run together: the one that chose its entries first goes
    first; the other waits for the chain instead of removing them again and anchoring on what is gone."""
    start = datetime(2020, 1, 1, tzinfo=UTC)
    await _append(db, 100, start=start)
    await _append(db, 5)
    chosen, other_done = asyncio.Event(), asyncio.Event()
    original = audit._intact_prefix

    async def slow_first_batch(*args: object) -> object:
        intact = await original(*args)  # type: ignore[arg-type]
        if not chosen.is_set():
            chosen.set()
            with contextlib.suppress(TimeoutError):  # the other purge goes now, if the chain lets it
                await asyncio.wait_for(other_done.wait(), 1)
        return intact

    monkeypatch.setattr(audit, "_intact_prefix", slow_first_batch)

    async def purge() -> int:
        async with db.session() as session:
            return await forget_before(session, KEYS, start + timedelta(days=365), batch=40)

    first = asyncio.create_task(purge())
    await chosen.wait()
    second = await purge()
    other_done.set()
    assert await first + second == 100
    async with db.session() as session:
        verdict = await verify(session, KEYS)
    assert verdict.ok, verdict.problems
    assert verdict.start == 101


async def test_a_purge_never_anchors_over_entries_deleted_behind_its_back(db: Database,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """Someone deletes the oldest entry without the chain lock while a purge checks its batch: the purge's delete
    removes one row fewer than it checked, so it rolls back and looks again, and the deletion stays visible."""
    if db.is_sqlite:
        pytest.skip("on SQLite the purge holds the database's write lock: nobody can delete meanwhile")
    start = datetime(2020, 1, 1, tzinfo=UTC)
    await _append(db, 10, start=start)
    await _append(db, 2)
    original = audit._intact_prefix
    deleted: list[int] = []

    async def delete_behind_its_back(*args: object) -> object:
        intact = await original(*args)  # type: ignore[arg-type]
        if not deleted:
            async with db.engine.begin() as connection:
                deleted.append((await connection.execute(delete(AuditEntry).where(AuditEntry.id == 1))).rowcount)
        return intact

    monkeypatch.setattr(audit, "_intact_prefix", delete_behind_its_back)
    async with db.session() as session:
        assert await forget_before(session, KEYS, start + timedelta(days=365)) == 0
        verdict = await verify(session, KEYS)
    assert deleted == [1]
    assert [problem.entry_id for problem in verdict.problems] == [2]
    assert "no retention purge recorded removing" in verdict.problems[0].message


async def test_the_chain_may_start_after_any_intact_purge_entry_not_only_the_latest(db: Database) -> None:
    """A later `retention.purged` entry of the log that doesn't describe the start (as a purge that lost a race
    used to write) doesn't make a purged log look tampered with."""
    start = datetime(2020, 1, 1, tzinfo=UTC)
    await _append(db, 6, start=start)
    await _append(db, 2)
    async with db.session() as session:
        assert await forget_before(session, KEYS, start + timedelta(days=365)) == 6
        await record(session, KEYS, actor="system", action=PURGED, subject=audit.LOG_SUBJECT, details={
            "removed": 3, "last_removed_id": 3, "last_removed_hash": "0" * 64})
        await session.commit()
        verdict = await verify(session, KEYS)
    assert verdict.ok, verdict.problems
    assert verdict.start == 7


async def test_an_anchor_that_does_not_verify_is_not_accepted(db: Database) -> None:
    start = datetime(2020, 1, 1, tzinfo=UTC)
    await _append(db, 6, start=start)
    await _append(db, 2)
    async with db.session() as session:
        assert await forget_before(session, KEYS, start + timedelta(days=365)) == 6
        await session.exec(update(AuditEntry).where(AuditEntry.action == PURGED).values(  # type: ignore[call-overload]
            hash="f" * 64))
        await session.commit()
        verdict = await verify(session, KEYS)
    assert [problem.entry_id for problem in verdict.problems] == [7, 9]  # the start is no longer accounted for


@pytest.mark.parametrize("change", [{"hash": "é" * 64}, {"prev_hash": "é" * 64}, {"details": ["a", "list"]},
                                    {"details": "text"}, {"workspace": "T2"}])
async def test_malformed_or_moved_entries_are_reported_as_altered(db: Database, change: dict[str, object]) -> None:
    """What someone with the database may write instead of hex or small facts is reported, never a crash; and the
    workspace an entry was recorded in is covered by its hash."""
    await _append(db, 3)
    async with db.session() as session:
        await session.exec(update(AuditEntry).where(AuditEntry.id == 2).values(**change))  # type: ignore[call-overload]
        await session.commit()
        verdict = await verify(session, KEYS)
    assert not verdict.ok
    assert verdict.problems[0].entry_id == 2
    assert any(f"entry 2 {what}" in problem.message for problem in verdict.problems
               for what in ("was altered", "doesn't follow"))


async def test_a_malformed_purge_entry_is_reported_not_a_crash(db: Database) -> None:
    start = datetime(2020, 1, 1, tzinfo=UTC)
    await _append(db, 4, start=start)
    await _append(db, 1)
    async with db.session() as session:
        assert await forget_before(session, KEYS, start + timedelta(days=365)) == 4
        await session.exec(update(AuditEntry).where(AuditEntry.action == PURGED).values(  # type: ignore[call-overload]
            details=["last_removed_id", 4]))
        await session.commit()
        verdict = await verify(session, KEYS)
    assert [problem.entry_id for problem in verdict.problems] == [5, 6]
    assert "was altered" in verdict.problems[1].message


async def test_the_workspace_is_kept_and_checked(db: Database) -> None:
    async with db.session() as session:
        await record(session, KEYS, actor="slack:U1", action="pulse.results_viewed", subject="pulse:1",
                     workspace="T1")
        await record(session, KEYS, actor="cli", action="role.granted", subject="slack:U2")
        await session.commit()
        with pytest.raises(ValueError, match="workspace"):
            await record(session, KEYS, actor="slack:U1", action="pulse.exported", workspace="T" * 65)
        assert (await verify(session, KEYS)).ok
    assert [row.workspace for row in await _all(db)] == ["T1", None]


async def test_verify_logs_the_head_so_it_lands_outside_the_database(db: Database,
                                                                      caplog: pytest.LogCaptureFixture) -> None:
    await _append(db, 3)
    rows = await _all(db)
    with caplog.at_level(logging.INFO, logger="bot.governance.audit"):
        async with db.session() as session:
            await verify(session, KEYS)
    assert f"head 3:{rows[-1].hash}" in caplog.text and "intact, 3 entries checked" in caplog.text

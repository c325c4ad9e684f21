"""The retention purge: removes what the policy (bot.governance.policy) no longer keeps.

It runs daily on the scheduler's leader and on demand (`earshot db purge`), in small batches: each batch's rows
are found in a read (which never blocks a writer), then changed in one short write transaction queued with the
votes (Database.write), with a pause between batches, so SQLite's write lock is never held for long. Rows are
walked in key order (keyset), so a batch never rereads rows an earlier one kept. What it removed is counted into
the audit log; on SQLite, secure delete zeroes the freed bytes and a final checkpoint empties the WAL."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Result, Select, Text, cast, delete, exists, func, null, or_, select, tuple_, update
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.expression import Delete, Update
from sqlmodel import col

from bot.config import Settings
from bot.governance.audit import forget_before, record
from bot.governance.policy import Policy
from bot.pulses.summaries import keep_summary
from storage.engine import Database, flush_deleted
from storage.tables import (
    AuditEntry,
    Chart,
    Delivery,
    Feedback,
    Participation,
    ProcessedEvent,
    PulseRun,
    Response,
    SandboxMessage,
    StoredFile,
)

log = logging.getLogger(__name__)

BATCH = 500
"""The most rows one transaction changes."""
FIRST_BATCH = 50
MIN_BATCH = 10
TARGET_SECONDS = 0.005
"""How long one batch's write transaction should take: short enough that a vote waiting behind it hardly
notices. Batches grow or shrink towards it."""
PAUSE_SECONDS = 0.03
"""Between two batches, at the least: lets the votes queued on the write lock go first."""
ENDED = ("sent", "failed")


@dataclass
class Counts:
    """What a purge removed (or, in a dry run, would remove), by kind."""

    customer_contact: int = 0
    feedback_text: int = 0
    pulse_runs: int = 0
    pulse_answers: int = 0
    pulse_participation: int = 0
    files: int = 0
    charts: int = 0
    event_keys: int = 0
    delivery_cards: int = 0
    sandbox_messages: int = 0
    audit_entries: int = 0

    @property
    def total(self) -> int:
        return sum(asdict(self).values())

    def details(self) -> dict[str, int]:
        return asdict(self)


Progress = Callable[[int], None]


@dataclass(frozen=True)
class Sweep:
    """One kind's rows: `due` says which go; `change` is the delete or update applied to them."""

    kind: str
    key: tuple[Any, ...]
    due: ColumnElement[bool]
    change: Delete | Update


async def purge(db: Database, keys: Sequence[str], policy: Policy, now: datetime, *, batch: int | None = None,
                pause: float | None = None, dry_run: bool = False, actor: str = "system",
                progress: Progress | None = None, settings: Settings | None = None) -> Counts:
    """Remove everything the policy no longer keeps at `now`; a dry run only counts it. Returns the counts, which
    (unless a dry run) are also recorded in the audit log as `retention.purged` by `actor` (`system` for the
    daily job, `cli` for `earshot db purge`). `settings` give the minimums a run's kept summary applies. `batch`
    (default BATCH) is the most rows per transaction, `pause` (default PAUSE_SECONDS) the least wait after one."""
    batch, pause = batch or BATCH, PAUSE_SECONDS if pause is None else pause
    counts = Counts()
    advance = progress or (lambda _n: None)
    runs = await _due_runs(db, policy.cutoff("pulse_answers", now))
    if runs and not dry_run:
        for run_id in runs:  # the tallies stay (C2's summaries) before the answers go
            async with db.write() as session:
                started = time.perf_counter()
                await keep_summary(session, run_id, settings)
                await session.commit()
                took = time.perf_counter() - started
            await asyncio.sleep(max(pause, took))
    counts.pulse_runs = len(runs)
    for sweep in _sweeps(policy, now, runs):
        if dry_run:
            found = int((await _read(db, select(func.count()).where(sweep.due))).scalar_one())
            advance(found)
        else:
            found = await _sweep(db, sweep, batch, pause, advance)
        setattr(counts, sweep.kind, getattr(counts, sweep.kind) + found)
    audit_cutoff = policy.cutoff("audit", now)
    if audit_cutoff is not None:
        counts.audit_entries = await _forget_audit(db, keys, audit_cutoff, batch, pause, dry_run)
        advance(counts.audit_entries)
    if dry_run:
        return counts
    async with db.write() as session:
        await record(session, keys, actor=actor, action="retention.purged", details=counts.details())
        await session.commit()
    if not await flush_deleted(db):
        log.warning("retention purge: the SQLite write-ahead log could not be emptied (readers kept it busy); earlier "
                    "versions of purged rows may stay in it until the next checkpoint")
    return counts


def _older(cutoff: datetime, *columns: Any) -> ColumnElement[bool]:
    """Any of the times is before the cutoff (an item counts from the earlier of when it was given and received)."""
    return or_(*(column < cutoff for column in columns))


def _sweeps(policy: Policy, now: datetime, runs: list[int]) -> list[Sweep]:
    sweeps: list[Sweep] = []
    if (cutoff := policy.cutoff("customer_contact", now)) is not None:
        due = col(Feedback.customer).is_not(None) & _older(cutoff, Feedback.created_at, Feedback.received_at)
        sweeps.append(Sweep("customer_contact", (Feedback.id,), due, update(Feedback).values(customer=null())))
    if (cutoff := policy.cutoff("feedback_text", now)) is not None:
        due = (col(Feedback.text) != "") & _older(cutoff, Feedback.created_at, Feedback.received_at)
        sweeps.append(Sweep("feedback_text", (Feedback.id,), due, update(Feedback).values(text="")))
    if runs:
        sweeps.append(Sweep("pulse_answers", (Response.id,), col(Response.run_id).in_(runs), delete(Response)))
        sweeps.append(Sweep("pulse_participation", (Participation.run_id, Participation.question_id,
                                                    Participation.platform, Participation.user_id),
                            col(Participation.run_id).in_(runs), delete(Participation)))
    for kind, table in (("files", StoredFile), ("charts", Chart), ("sandbox_messages", SandboxMessage)):
        if (cutoff := policy.cutoff(kind, now)) is not None:
            sweeps.append(Sweep(kind, (table.id,), table.created_at < cutoff, delete(table)))
    if (cutoff := policy.cutoff("event_keys", now)) is not None:
        sweeps.append(Sweep("event_keys", (ProcessedEvent.key,), ProcessedEvent.seen_at < cutoff,
                            delete(ProcessedEvent)))
    if (cutoff := policy.cutoff("deliveries", now)) is not None:
        # Sent (or given up) messages and edits keep their rows, emptied: reactions, claims and erasure find a
        # posted card through its message id, its dedupe key keeps it sent once, and deleting an edit would make
        # the database look for rows pointing at it (delivery.parent_id has no index) at every row.
        ended = col(Delivery.status).in_(ENDED) & (Delivery.created_at < cutoff)
        sweeps.append(Sweep("delivery_cards", (Delivery.id,), ended & (cast(Delivery.card, Text) != "{}"),
                            update(Delivery).values(card={})))
    return sweeps


async def _due_runs(db: Database, cutoff: datetime | None) -> list[int]:
    """Closed runs, closed before the cutoff, that still hold answers or who answered."""
    if cutoff is None:
        return []
    held = or_(exists().where(Response.run_id == PulseRun.id), exists().where(Participation.run_id == PulseRun.id))
    found = await _read(db, select(PulseRun.id).where(
        PulseRun.status == "closed", col(PulseRun.closed_at) < cutoff, held).order_by(PulseRun.id))
    return [int(run_id) for run_id in found.scalars()]


async def _sweep(db: Database, sweep: Sweep, batch: int, pause: float, advance: Progress) -> int:
    """Apply the sweep's change to its due rows, a batch per short transaction; returns how many rows changed.
    Batches are sized to take about TARGET_SECONDS each (at most `batch` rows), and after each the purge waits at
    least as long as the batch took, so it never holds more than half the write lock's time."""
    key = sweep.key[0] if len(sweep.key) == 1 else tuple_(*sweep.key)
    changed, after, size = 0, None, min(batch, FIRST_BATCH)
    while True:
        query = select(*sweep.key).where(sweep.due).order_by(*sweep.key).limit(size)
        if after is not None:
            query = query.where(key > after)
        rows = [tuple(row) for row in await _read(db, query)]
        if not rows:
            return changed
        wanted = [row[0] for row in rows] if len(sweep.key) == 1 else rows
        async with db.write() as session:
            started = time.perf_counter()
            result = await (await session.connection()).execute(sweep.change.where(key.in_(wanted), sweep.due))
            await session.commit()
            took = time.perf_counter() - started
        changed += result.rowcount  # type: ignore[attr-defined]
        advance(len(rows))
        if len(rows) < size:
            return changed
        after = rows[-1][0] if len(sweep.key) == 1 else tuple_(*rows[-1])
        size = max(MIN_BATCH, min(batch, int(size * TARGET_SECONDS / max(took, 1e-4))))
        await asyncio.sleep(max(pause, took))


async def _forget_audit(db: Database, keys: Sequence[str], cutoff: datetime, batch: int, pause: float,
                        dry_run: bool) -> int:
    """The audit log's old entries, a batch per write transaction with a pause after each, like the sweeps."""
    if dry_run:
        return int((await _read(db, select(func.count()).where(AuditEntry.at < cutoff))).scalar_one())
    removed = 0
    while True:
        async with db.write() as session:
            started = time.perf_counter()
            gone = await forget_before(session, keys, cutoff, batch=batch, once=True)
            took = time.perf_counter() - started
        removed += gone
        if gone < batch:
            return removed
        await asyncio.sleep(max(pause, took))


async def _read(db: Database, query: Select[Any]) -> Result[Any]:
    """A read on a connection of its own, outside any write transaction (in WAL mode it never blocks a writer)."""
    async with db.engine.connect() as connection:
        return (await connection.execute(query)).freeze()()

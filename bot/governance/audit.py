"""The audit log: an append-only, tamper-evident record of who read, exported or changed people data.

Each entry's `hash` is an HMAC-SHA256 over a canonical serialisation of the entry (id, time, workspace, actor,
action, subject, details) and `prev_hash`, the hash of the entry before it. The HMAC key is derived from
EARSHOT_SECRET_KEY for this one purpose, so whoever holds only a copy of the database can't rewrite an entry, or
remove one and re-link the rest, without `verify` noticing. Ids are consecutive: a missing id is a deleted entry.

What it does not prove: that the newest entries (or all of them) were not cut off (the chain still ends cleanly,
and an empty log looks new; keep the head `earshot audit verify` prints and logs somewhere else and check it with
`--expect-head`), nor anything against someone who holds EARSHOT_SECRET_KEY (or SQLite's key file) as well as write
access to the database.

Appends are serialised, so two transactions never chain off the same predecessor: PostgreSQL takes a
transaction-level advisory lock before reading the last entry; SQLite inserts first (which takes its one write
lock, and gives the row the next id) and only then reads the predecessor and fills in the hashes. A purge of old
entries holds the same lock from before it chooses what to remove. `verify` reads the whole chain in one snapshot
of its own, so a purge or appends running meanwhile never look like tampering."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import math
import re
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Row, delete, func, insert, or_, text, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.columns import utcnow
from storage.secrets import SecretKeyError, subkey
from storage.tables.audit import AuditEntry

log = logging.getLogger(__name__)

PURPOSE = "audit chain"
GENESIS = "0" * 64
"""The `prev_hash` of the very first entry."""
CHAIN_LOCK_KEY = 0x45415253484F57  # PostgreSQL advisory lock; not the leadership or migration key
BATCH = 2000

ACTION = re.compile(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+")
MAX_ACTOR, MAX_ACTION, MAX_SUBJECT, MAX_WORKSPACE = 160, 64, 200, 64
MAX_DETAILS, MAX_DETAIL_KEY, MAX_DETAIL_TEXT = 16, 40, 200
PURGED = "retention.purged"
LOG_SUBJECT = "audit_log"
"""The subject of the `retention.purged` entry `forget_before` writes: it anchors the chain's new start."""

Scalar = str | int | float | bool | None
Details = Mapping[str, Scalar]


async def record(session: AsyncSession, keys: Sequence[str], *, actor: str, action: str, subject: str = "",
                 details: Details | None = None, at: datetime | None = None, workspace: str | None = None) -> None:
    """Append one entry in the caller's transaction (the caller commits; the entry lands with the action or
    not at all). `actor`: `platform:user_id` (bot.events.Person.key), `cli` for the command line, `system`
    for jobs. `action`: dotted, e.g. `pulse.results_viewed`, `role.granted`, `erase.person`. `subject`: what it
    was about (`pulse:12`, `slack:U123`). `details`: small facts (format, counts, week) — NEVER an answer, a
    comment, customer text, an e-mail or a secret; values are scalars, text at most 200 characters. `workspace`:
    bot.events.Event.workspace of the chat event behind the action, where there is one (a chat shows its HR only
    its own workspace's entries)."""
    if not keys:
        raise SecretKeyError("EARSHOT_SECRET_KEY is not set: the audit log's chain is keyed with it")
    facts = _checked(actor, action, subject, details)
    if workspace is not None and not 0 < len(workspace) <= MAX_WORKSPACE:
        raise ValueError(f"audit workspace must be 1–{MAX_WORKSPACE} characters")
    if at is not None and at.tzinfo is None:
        raise ValueError("naive datetime given as an audit entry's time")
    moment = (at or utcnow()).astimezone(UTC)
    row = {"at": moment, "workspace": workspace, "actor": actor, "action": action, "subject": subject,
           "details": facts}
    if _dialect(session) == "postgresql":
        await _lock_chain(session)
        last = (await session.exec(select(AuditEntry.id, AuditEntry.hash)
                                   .order_by(col(AuditEntry.id).desc()).limit(1))).first()
        entry_id, prev_hash = (last[0] + 1, last[1]) if last else (1, GENESIS)
        await session.exec(insert(AuditEntry).values(  # type: ignore[call-overload]
            id=entry_id, prev_hash=prev_hash, hash=entry_hash(keys[0], entry_id, prev_hash=prev_hash, **row), **row))
        return
    # SQLite: the INSERT takes the database's write lock, so the predecessor read next can't change under us.
    placeholder = insert(AuditEntry).values(prev_hash="", hash="", **row)
    entry_id = (await session.exec(placeholder)).inserted_primary_key[0]  # type: ignore[call-overload]
    last = (await session.exec(select(AuditEntry.hash).where(col(AuditEntry.id) < entry_id)
                               .order_by(col(AuditEntry.id).desc()).limit(1))).first()
    prev_hash = last or GENESIS
    chained = update(AuditEntry).where(col(AuditEntry.id) == entry_id).values(
        prev_hash=prev_hash, hash=entry_hash(keys[0], entry_id, prev_hash=prev_hash, **row))
    await session.exec(chained)  # type: ignore[call-overload]


async def _lock_chain(session: AsyncSession) -> None:
    """Hold the chain until the transaction ends: PostgreSQL's advisory lock; on SQLite the database's write lock,
    which a write statement takes even when it changes no row (so it must come before the transaction's reads)."""
    if _dialect(session) == "postgresql":
        await session.exec(text("SELECT pg_advisory_xact_lock(:key)").bindparams(  # type: ignore[call-overload]
            key=CHAIN_LOCK_KEY))
    else:
        await session.exec(update(AuditEntry).where(  # type: ignore[call-overload]
            col(AuditEntry.id) < 0).values(hash=AuditEntry.hash))


def entry_hash(key: str, entry_id: int, *, at: datetime, actor: str, action: str, subject: str,
               details: Any, prev_hash: str, workspace: str | None = None) -> str:
    """HMAC-SHA256 (64 hex digits) over the entry's canonical JSON, under `key`'s audit-chain subkey."""
    message = json.dumps([entry_id, at.astimezone(UTC).isoformat(), workspace, actor, action, subject, details,
                          prev_hash], sort_keys=True, separators=(",", ":"))
    return hmac.new(subkey(key, PURPOSE), message.encode(), hashlib.sha256).hexdigest()


def _checked(actor: str, action: str, subject: str, details: Details | None) -> dict[str, Scalar]:
    """The details as stored, after refusing what doesn't belong in an audit entry (a programming error)."""
    if not actor or len(actor) > MAX_ACTOR:
        raise ValueError(f"audit actor must be 1–{MAX_ACTOR} characters")
    if len(action) > MAX_ACTION or not ACTION.fullmatch(action):
        raise ValueError(f"audit action {action[:MAX_ACTION]!r} is not dotted lowercase words")
    if len(subject) > MAX_SUBJECT:
        raise ValueError(f"audit subject is longer than {MAX_SUBJECT} characters")
    facts = dict(details or {})
    if len(facts) > MAX_DETAILS:
        raise ValueError(f"audit details hold at most {MAX_DETAILS} facts")
    for name, value in facts.items():
        if not isinstance(name, str) or not name or len(name) > MAX_DETAIL_KEY:
            raise ValueError(f"audit detail names are 1–{MAX_DETAIL_KEY} characters")
        if value is not None and not isinstance(value, str | int | float | bool):
            raise ValueError(f"audit detail {name!r} is not a scalar")
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"audit detail {name!r} is not a finite number")
        if isinstance(value, str) and len(value) > MAX_DETAIL_TEXT:
            raise ValueError(f"audit detail {name!r} is longer than {MAX_DETAIL_TEXT} characters: "
                             "details are small facts, never text someone wrote")
    return facts


def _dialect(session: AsyncSession) -> str:
    return session.sync_session.get_bind().dialect.name


# Reading


@dataclass(frozen=True)
class Query:
    """Which entries to read: since when, by whom (an actor, exactly), actions starting with a prefix, older than
    an id (paging back), and a chat's view: with `platform`, only entries by or about people of that platform
    recorded in `workspace` (bot.events.Event.workspace; None matches only entries recorded without one, as on a
    platform serving a single workspace), so HR of one Slack workspace never reads another's."""

    since: datetime | None = None
    who: str | None = None
    action: str | None = None
    before: int | None = None
    platform: str | None = None
    workspace: str | None = None


async def entries(session: AsyncSession, query: Query, *, newest_first: bool = False,
                  limit: int | None = None) -> AsyncIterator[AuditEntry]:
    """The matching entries, read in batches by id (never the whole log at once)."""
    bound: int | None = None
    remaining = limit
    while remaining is None or remaining > 0:
        statement = select(AuditEntry)
        if query.since is not None:
            statement = statement.where(AuditEntry.at >= query.since)
        if query.who:
            statement = statement.where(AuditEntry.actor == query.who)
        if query.action:
            statement = statement.where(col(AuditEntry.action).startswith(query.action, autoescape=True))
        if query.before is not None:
            statement = statement.where(col(AuditEntry.id) < query.before)
        if query.platform:
            statement = statement.where(or_(col(AuditEntry.actor).startswith(f"{query.platform}:", autoescape=True),
                                            col(AuditEntry.subject).startswith(f"{query.platform}:", autoescape=True)),
                                        col(AuditEntry.workspace).is_not_distinct_from(query.workspace))
        if bound is not None:
            statement = statement.where(col(AuditEntry.id) < bound if newest_first else col(AuditEntry.id) > bound)
        size = BATCH if remaining is None else min(BATCH, remaining)
        order = col(AuditEntry.id).desc() if newest_first else col(AuditEntry.id)
        batch = list((await session.exec(statement.order_by(order).limit(size))).all())
        for entry in batch:
            yield entry
        if len(batch) < size:
            return
        bound = batch[-1].id
        if remaining is not None:
            remaining -= len(batch)


# Verifying


@dataclass(frozen=True)
class Problem:
    entry_id: int
    message: str


@dataclass
class Verdict:
    """What `verify` found. `head`: the last entry's (id, hash), to note somewhere else and check later."""

    checked: int = 0
    head: tuple[int, str] | None = None
    start: int | None = None
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


MAX_PROBLEMS = 20
FIELDS = (AuditEntry.id, AuditEntry.at, AuditEntry.workspace, AuditEntry.actor, AuditEntry.action,
          AuditEntry.subject, AuditEntry.details, AuditEntry.prev_hash, AuditEntry.hash)
"""What the chain is checked on, read as plain rows (no ORM objects: a million entries)."""


async def count(session: AsyncSession) -> int:
    return (await session.exec(select(func.count()).select_from(AuditEntry))).one()


async def verify(session: AsyncSession, keys: Sequence[str], *, expect_head: tuple[int, str] | None = None,
                 progress: Callable[[int], None] | None = None) -> Verdict:
    """Walk the chain in id order, in batches: every hash must match its entry under one of the keys, ids must
    be consecutive, and each `prev_hash` must be the hash before it. The first entry either starts the log
    (`prev_hash` is GENESIS) or follows what retention removed, as a `retention.purged` entry for the audit log
    says. `expect_head`: an (id, hash) noted earlier, which must still be in the chain unchanged. The whole walk
    reads one snapshot, on a connection of its own (`session` only lends its engine), so a purge or appends running
    meanwhile never look like deleted entries. Reports up to 20 problems, each with the id of the entry where it
    shows, and logs the head (INFO) so it lands outside the database too."""
    if not keys:
        raise SecretKeyError("EARSHOT_SECRET_KEY is not set: the audit log's chain is keyed with it")
    verdict = Verdict()
    previous: tuple[int, str] | None = None
    async with _snapshot(session) as connection:
        async for batch in _batches(connection):
            for entry in batch:
                if previous is None:
                    verdict.start = entry.id
                    await _check_start(connection, keys, entry, verdict)
                else:
                    _check_link(previous, entry, verdict)
                if not _keyed(keys, entry):
                    verdict.problems.append(Problem(entry.id, f"entry {entry.id} was altered: its hash doesn't match "
                                                              "what it says (or its key is no longer configured)"))
                if expect_head and entry.id == expect_head[0] and not _same(entry.hash, expect_head[1]):
                    verdict.problems.append(Problem(entry.id, f"entry {entry.id} is not the one noted as the head: "
                                                              "its hash differs"))
                previous = (entry.id, str(entry.hash))
                verdict.checked += 1
            if progress:
                progress(len(batch))
            if len(verdict.problems) >= MAX_PROBLEMS:
                verdict.notes.append(f"stopped after {MAX_PROBLEMS} problems")
                break
        else:
            verdict.head = previous
            _check_expected_head(expect_head, verdict)
    del verdict.problems[MAX_PROBLEMS:]
    head = f"{verdict.head[0]}:{verdict.head[1]}" if verdict.head else "none (the log is empty)"
    log.info("audit log verified: %s, %d entries checked, head %s", "intact" if verdict.ok else
             f"{len(verdict.problems)} problem(s)", verdict.checked, head)
    return verdict


@asynccontextmanager
async def _snapshot(session: AsyncSession) -> AsyncIterator[AsyncConnection]:
    """A connection from the session's engine that reads one snapshot of the database until it closes: a REPEATABLE
    READ, read-only transaction on PostgreSQL; one read transaction on SQLite, which keeps its snapshot in WAL mode.
    Neither blocks a writer. While it lasts, though, SQLite can't truncate its WAL (storage.engine.flush_deleted
    retries for a few seconds, then reports the WAL not flushed) and PostgreSQL's vacuum keeps rows it may see."""
    engine = session.bind
    if not isinstance(engine, AsyncEngine):
        raise TypeError("verify needs a session made from an engine (storage.engine.Database.session)")
    async with engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            await connection.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
        else:  # the driver begins no transaction for reads: without this, each read would see the latest state
            await connection.exec_driver_sql("BEGIN")
        yield connection


async def _batches(connection: AsyncConnection) -> AsyncIterator[list[Row[Any]]]:
    """The whole log in id order, BATCH rows at a time."""
    after = 0
    while True:
        batch = list((await connection.execute(select(*FIELDS).where(col(AuditEntry.id) > after)
                                               .order_by(col(AuditEntry.id)).limit(BATCH))).all())
        if not batch:
            return
        yield batch
        after = batch[-1].id


def _same(stored: object, expected: str) -> bool:
    """Constant-time equality that also takes what a tampered row may hold instead of hex (other text, bytes)."""
    return hmac.compare_digest(str(stored).encode(), expected.encode())


def _keyed(keys: Sequence[str], entry: Row[Any]) -> bool:
    """Whether the entry's hash matches what it says under one of the keys."""
    return any(_same(entry.hash, entry_hash(key, entry.id, at=entry.at, workspace=entry.workspace, actor=entry.actor,
                                            action=entry.action, subject=entry.subject, details=entry.details,
                                            prev_hash=entry.prev_hash)) for key in keys)


async def _check_start(connection: AsyncConnection, keys: Sequence[str], first: Row[Any], verdict: Verdict) -> None:
    if first.id == 1 and _same(first.prev_hash, GENESIS):
        return
    if await _anchored(connection, keys, first):
        verdict.notes.append(f"entries up to {first.id - 1} were removed by retention, as recorded")
        return
    verdict.problems.append(Problem(first.id, f"the log starts at entry {first.id}, but no retention purge "
                                              f"recorded removing the entries before it: they were deleted"))


async def _anchored(connection: AsyncConnection, keys: Sequence[str], first: Row[Any]) -> bool:
    """Whether an intact `retention.purged` entry of the audit log records removing exactly the entries before
    `first`: any of them, newest first (usually the newest), not only the latest."""
    before: int | None = None
    while True:
        query = select(*FIELDS).where(AuditEntry.action == PURGED, AuditEntry.subject == LOG_SUBJECT)
        if before is not None:
            query = query.where(col(AuditEntry.id) < before)
        anchors = list((await connection.execute(query.order_by(col(AuditEntry.id).desc()).limit(BATCH))).all())
        for anchor in anchors:
            facts = anchor.details
            if isinstance(facts, dict) and facts.get("last_removed_id") == first.id - 1 \
                    and _same(first.prev_hash, str(facts.get("last_removed_hash"))) and _keyed(keys, anchor):
                return True
        if len(anchors) < BATCH:
            return False
        before = anchors[-1].id


def _check_link(previous: tuple[int, str], entry: Row[Any], verdict: Verdict) -> None:
    if entry.id != previous[0] + 1:
        missing = f"{previous[0] + 1}" if entry.id == previous[0] + 2 else f"{previous[0] + 1}–{entry.id - 1}"
        verdict.problems.append(Problem(entry.id, f"entries {missing} are missing: deleted between entry "
                                                  f"{previous[0]} and entry {entry.id}"))
    elif not _same(entry.prev_hash, previous[1]):
        verdict.problems.append(Problem(entry.id, f"entry {entry.id} doesn't follow entry {previous[0]}: its "
                                                  "prev_hash differs (an entry was replaced or reordered)"))


def _check_expected_head(expect_head: tuple[int, str] | None, verdict: Verdict) -> None:
    if expect_head is None:
        return
    if verdict.head is None or expect_head[0] > verdict.head[0]:
        last = verdict.head[0] if verdict.head else 0
        verdict.problems.append(Problem(last, f"the log ends at entry {last}, but entry {expect_head[0]} was "
                                              "noted as the head: the newest entries were deleted"))
    elif verdict.start is not None and expect_head[0] < verdict.start:
        verdict.notes.append(f"the noted head {expect_head[0]} was removed by retention: note the new head")


# Retention of the log itself


async def forget_before(session: AsyncSession, keys: Sequence[str], cutoff: datetime, *, batch: int = 500,
                        once: bool = False) -> int:
    """Delete entries older than `cutoff`, oldest first, `batch` at a time. Each batch is one transaction that
    takes the chain lock before it chooses what goes (so two purges at once, the leader's daily one and `earshot db
    purge`, take turns) and appends `retention.purged` (subject `audit_log`) with how many went and the last
    removed id and hash, so `verify` accepts the chain starting right after it at every moment, even if the purge
    stops halfway. Only intact entries go: the purge stops at the first one `verify` would report, and a batch
    whose delete doesn't remove exactly the entries checked (some deleted behind the lock's back) is rolled back
    and looked at again, so retention never launders a deletion. The newest entry is never removed. Returns how
    many went. `once`: return after the first batch (fewer than `batch` gone: nothing more to remove), so a caller
    can let others write between batches."""
    removed = 0
    while True:
        await _lock_chain(session)
        connection = await session.connection()
        head = (await connection.execute(select(func.max(AuditEntry.id)))).scalar_one() or 0
        rows = list((await connection.execute(select(*FIELDS).where(AuditEntry.at < cutoff, col(AuditEntry.id) < head)
                                              .order_by(col(AuditEntry.id)).limit(batch))).all())
        intact = await _intact_prefix(connection, keys, rows)
        if not intact:
            await session.rollback()  # lets go of the lock
            return removed
        last = intact[-1]
        gone = (await connection.execute(delete(AuditEntry).where(
            col(AuditEntry.id) >= intact[0].id, col(AuditEntry.id) <= last.id))).rowcount
        if gone != len(intact):
            await session.rollback()
            continue
        await record(session, keys, actor="system", action=PURGED, subject=LOG_SUBJECT, details={
            "removed": len(intact), "before": cutoff.astimezone(UTC).isoformat(), "last_removed_id": last.id,
            "last_removed_hash": last.hash})
        await session.commit()
        removed += len(intact)
        if once or len(intact) < len(rows) or len(rows) < batch:
            return removed


async def _intact_prefix(connection: AsyncConnection, keys: Sequence[str], rows: list[Row[Any]]) -> list[Row[Any]]:
    """The oldest entries of `rows` up to the first one verify would report (the first must start the chain)."""
    verdict = Verdict()
    for index, entry in enumerate(rows):
        if index == 0:
            await _check_start(connection, keys, entry, verdict)
        else:
            _check_link((rows[index - 1].id, rows[index - 1].hash), entry, verdict)
        if verdict.problems or not _keyed(keys, entry):
            return rows[:index]
    return rows


SINCE = re.compile(r"(\d{1,5})([hdw])")
UNITS = {"h": "hours", "d": "days", "w": "weeks"}


def parse_since(value: str, now: datetime | None = None) -> datetime:
    """`YYYY-MM-DD` (from that day's start, UTC) or a span back from now: `12h`, `7d`, `4w`."""
    value = value.strip().lower()
    span = SINCE.fullmatch(value)
    if span:
        return (now or utcnow()) - timedelta(**{UNITS[span.group(2)]: int(span.group(1))})
    try:
        day = datetime.strptime(value, "%Y-%m-%d")
    except ValueError:
        raise ValueError(f"“{value[:40]}” is not a date (YYYY-MM-DD) or a span like 7d, 12h or 4w") from None
    return day.replace(tzinfo=UTC)


WHO = re.compile(r"cli|system|[a-z]{2,16}:[^\s:][^\s]{0,150}")
ACTION_PREFIX = re.compile(r"[a-z0-9_.]{1,64}")


def check_who(value: str) -> str:
    if not WHO.fullmatch(value):
        raise ValueError(f"“{value[:40]}” is not a person as platform:user_id (slack:U0123ABC), cli or system")
    return value


def check_action_prefix(value: str) -> str:
    if not ACTION_PREFIX.fullmatch(value):
        raise ValueError(f"“{value[:40]}” is not an action or its start (role., pulse.exported)")
    return value

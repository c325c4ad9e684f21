"""Publishing anonymous answers: from their sealed participation rows into `response`, in whole batches.

An anonymous vote stores only who answered, with the answer sealed (bot/pulses/sealing.py). Answers reach
`response`, which every tally, result, trend, export and digest reads, only here. A batch, for one question:

- opens at least the run's minimum of waiting answers from distinct people, chosen at random, and inserts them
  in shuffled order with fresh random ids and the day of publication (not of answering), with no person;
- deletes the batch's participation rows and inserts them again, shuffled and without the sealed answer, so
  neither their place in the pages nor (on PostgreSQL) their transaction id follows the order of votes any more;
- is one transaction: whatever copy of the storage anyone takes, an answer appears in it together with at least
  `minimum` others, and its people are the batch's.

While a run is open, a question publishes only when 2 × `minimum` answers wait, and keeps `minimum` of them
back (publish_due, after votes and periodically); at close it publishes everything that waits (publish_final).
So every batch, the last one included, holds at least `minimum` people's answers, and whoever compares any two
copies of the storage (or two versions of the live card) sees answers appear only in groups of at least
`minimum` people. A question that closes with fewer than `minimum` answers, none of them published, could never
be shown by any figure: its answers are dropped unopened. The minimum is the run's own (pulse_run.minimum, the
setting when it opened), so a changed setting never breaks what its card promised.

What this does not hide, and needn't: who answered (participation, for reminders and one answer per person) and
roughly when (the votes' commits), and which people make up each batch. When everyone in a batch gave the same
answer, each of them gave it: a minimum protects against being singled out, not against a unanimous group."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, NamedTuple

from sqlalchemy import Row, bindparam, delete, func, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.pulses.ballots import answer_id
from bot.pulses.sealing import Sealer
from storage.engine import Database
from storage.secrets import SecretKeyError
from storage.tables import Participation, PulseRun, Response
from storage.upsert import insert_many_ignore

log = logging.getLogger(__name__)
PIECE = 250
"""The most answers published in one transaction while a run is open: one piece of a large batch holds SQLite's
write lock for a few milliseconds, and each piece is itself a batch of at least the minimum."""
ONE_ROW = (col(Participation.run_id) == bindparam("key_run"),
           col(Participation.question_id) == bindparam("key_question"),
           col(Participation.platform) == bindparam("key_platform"),
           col(Participation.user_id) == bindparam("key_user"))
"""One participation row by its key, for statements executed once per key (one cached statement, many keys; the
names differ from the columns', which an UPDATE reserves for its SET clause)."""
FORGET_ROW = delete(Participation).where(*ONE_ROW)
GIVE_UP_ROW = update(Participation).where(*ONE_ROW).values(sealed=None)
shuffle = random.SystemRandom().shuffle
sample = random.SystemRandom().sample


class Waiting(NamedTuple):
    question_id: int
    platform: str
    user_id: str
    sealed: str


@dataclass(frozen=True)
class Published:
    answers: int = 0
    """Answers opened and inserted into `response`."""
    dropped: int = 0
    """Answers of questions that closed below the minimum, dropped unopened."""


async def publish_due(db: Database, sealer: Sealer, run_id: int, minimum: int, today: date) -> int:
    """While run `run_id` is open: publish the batches due (2 × `minimum` waiting on a question, all but
    `minimum` of them, chosen at random), in pieces of at most PIECE answers (each still at least `minimum`), a
    write transaction each, so votes queue behind none of them for long. The answers are read and opened (CPU
    work, in a thread) before each transaction, which only checks they still wait and writes. Returns how many
    answers were published (none of a piece a close or another process took meanwhile)."""
    async with db.session() as session:
        waiting = await _waiting(session, run_id)
    published = 0
    for rows in waiting.values():
        if len(rows) < 2 * minimum:
            continue
        chosen = sample(rows, len(rows) - minimum)
        count = max(1, min(-(-len(chosen) // PIECE), len(chosen) // minimum))
        for piece in (chosen[start::count] for start in range(count)):
            answers = await asyncio.to_thread(_open, sealer, run_id, piece, today)
            async with db.write() as session:
                if not await _still_waiting(session, run_id, piece):
                    return published  # closed, or published elsewhere: the next round looks again
                await _write(session, run_id, answers, piece)
                await session.commit()
            published += len(answers)
    return published


async def _still_waiting(session: AsyncSession, run_id: int, piece: list[Waiting]) -> bool:
    """Whether the run is open and every row of `piece` (one question's) still waits, locked on PostgreSQL."""
    status = (await session.exec(select(PulseRun.status).where(PulseRun.id == run_id))).first()
    found = await session.exec(select(func.count()).select_from(
        select(Participation.user_id).where(
            Participation.run_id == run_id, Participation.question_id == piece[0].question_id,
            Participation.platform == piece[0].platform, col(Participation.sealed).is_not(None),
            col(Participation.user_id).in_([row.user_id for row in piece])).with_for_update().subquery()))
    return status == "open" and found.one() == len(piece)


async def publish_final(session: AsyncSession, sealer: Sealer, run_id: int, minimum: int, today: date) -> Published:
    """At close, in its write transaction (the caller commits): every waiting answer of a question joins the
    results if at least `minimum` wait (always so once a batch was published); fewer, on a question with none
    published, are dropped unopened. Raises storage.secrets.SecretKeyError, changing nothing, when a waiting
    answer can't be opened with the configured keys."""
    waiting = await _waiting(session, run_id)
    batch: list[Waiting] = []
    dropped: list[Waiting] = []
    for question_id, rows in waiting.items():
        if len(rows) >= minimum:
            batch.extend(rows)
        elif not await _published(session, run_id, question_id):
            dropped.extend(rows)
        else:  # fewer left after a batch: some were given up (earshot db forget-sealed), or a run older than
            # pulse_run.minimum saw the setting raised. Showing them would single their people out.
            log.warning("run %s: %d answers kept sealed at close, fewer than the minimum %d", run_id, len(rows),
                        minimum)
    answers = _open(sealer, run_id, batch, today)
    await _write(session, run_id, answers, batch + dropped)
    if dropped:
        log.info("run %s closed: %d answers to questions answered by fewer than %d people dropped unopened",
                 run_id, len(dropped), minimum)
    return Published(len(answers), len(dropped))


async def _waiting(session: AsyncSession, run_id: int) -> dict[int, list[Waiting]]:
    """The run's waiting answers by question. FOR UPDATE on PostgreSQL (SQLite has one writer anyway): a refresh
    and a close publishing at once, the second waits for the first and then finds the rows it took gone."""
    query = select(Participation.question_id, Participation.platform, Participation.user_id,
                   Participation.sealed).where(Participation.run_id == run_id, col(Participation.sealed).is_not(None)
                                               ).with_for_update()
    waiting: dict[int, list[Waiting]] = {}
    for question_id, platform, user_id, sealed in await session.exec(query):
        waiting.setdefault(question_id, []).append(Waiting(question_id, platform, user_id, sealed or ""))
    return waiting


def _open(sealer: Sealer, run_id: int, batch: list[Waiting], today: date) -> list[dict[str, Any]]:
    """The batch's answers as `response` rows, in random order, with fresh ids and the day they are published."""
    answers = []
    for row in batch:
        value, comment = sealer.open(row.sealed)
        answers.append({"id": answer_id(run_id), "run_id": run_id, "question_id": row.question_id,
                        "respondent_id": None, "value": value, "comment": comment, "answered_on": today})
    shuffle(answers)
    return answers


async def _published(session: AsyncSession, run_id: int, question_id: int) -> bool:
    found = await session.exec(select(func.count()).select_from(Response).where(
        Response.run_id == run_id, Response.question_id == question_id))
    return bool(found.one())


async def _write(session: AsyncSession, run_id: int, answers: list[dict[str, Any]], rows: list[Waiting]) -> None:
    """Insert the answers; delete the rows and insert them again in random order, without their sealed answers."""
    await insert_many_ignore(session, Response, answers)
    if not rows:
        return
    keys = [{"key_run": run_id, "key_question": r.question_id, "key_platform": r.platform, "key_user": r.user_id}
            for r in rows]
    connection = await session.connection()  # one cached statement for every key, as insert_many_ignore does
    await connection.execute(FORGET_ROW, keys)
    again = [{"run_id": run_id, "question_id": r.question_id, "platform": r.platform, "user_id": r.user_id,
              "sealed": None} for r in rows]
    shuffle(again)
    await insert_many_ignore(session, Participation, again)


async def unopenable(session: AsyncSession, sealer: Sealer, forget: bool) -> int:
    """How many waiting answers no configured key opens (a lost key); with `forget`, they are given up: `sealed`
    set to NULL, so the runs can start, publish and close without them (who answered stays recorded)."""
    rows = (await session.exec(select(Participation.run_id, Participation.question_id, Participation.platform,
                                      Participation.user_id, Participation.sealed).where(
        col(Participation.sealed).is_not(None)))).all()
    lost = await asyncio.to_thread(_unopenable, sealer, rows)  # CPU work: start-up must not stall the event loop
    if forget and lost:
        await (await session.connection()).execute(GIVE_UP_ROW, lost)
    return len(lost)


def _unopenable(sealer: Sealer, rows: Sequence[Row[Any]]) -> list[dict[str, Any]]:
    """The keys (as ONE_ROW's parameters) of the rows whose sealed answer no configured key opens."""
    lost = []
    for run_id, question_id, platform, user_id, sealed in rows:
        try:
            sealer.open(sealed or "")
        except SecretKeyError:
            lost.append({"key_run": run_id, "key_question": question_id, "key_platform": platform, "key_user": user_id})
    return lost


async def waiting_runs(session: AsyncSession, default_minimum: int) -> list[int]:
    """Runs with a question whose waiting answers make a batch (2 × the run's minimum; `default_minimum` for runs
    that kept none), for the periodic check that publishes what no refresh did (a crash after the last vote)."""
    rows = await session.exec(
        select(Participation.run_id, PulseRun.minimum, func.count()).join(
            PulseRun, col(PulseRun.id) == Participation.run_id).where(col(Participation.sealed).is_not(None))
        .group_by(col(Participation.run_id), col(PulseRun.minimum), col(Participation.question_id)))
    return sorted({run_id for run_id, minimum, waiting in rows if waiting >= 2 * (minimum or default_minimum)})

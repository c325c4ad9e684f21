"""The ballot box: answers that arrive together are stored in one transaction (see storage.batching). A named
answer goes straight into `response`; an anonymous one only into its person's participation row, sealed, until
it is published with others' (bot/pulses/publishing.py)."""

from __future__ import annotations

import random
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlmodel import col, select

from bot.memo import Memo
from bot.pulses.questions import valid_answer
from storage.batching import GroupWriter
from storage.engine import Database
from storage.tables import Participation, Pulse, PulseRun, Question, Response
from storage.upsert import insert_many_ignore, upsert_many

shuffle = random.SystemRandom().shuffle
FINAL = "You've already answered this one. Anonymous answers are final."
CLOSED = "This pulse has closed, so answers are no longer taken. Thank you all the same!"


def answer_id(run_id: int) -> str:
    """A new answer's id: its run, then 92 random bits (32 characters). Nothing in it follows the order of
    answering; the run in front keeps a run's answers together in the primary key (the table itself on SQLite,
    WITHOUT ROWID), so publishing a run's answers (bot.pulses.publishing) touches a run's few pages, not pages all
    over a table of every answer ever given. The `r` keeps it from ever being all digits."""
    return f"{run_id:08x}r{secrets.token_hex(12)[:23]}"


@dataclass(frozen=True)
class Ballot:
    run_id: int
    question_id: int
    platform: str
    user_id: str
    value: str
    comment: str | None
    sealed: str | None
    """The answer sealed (bot.pulses.sealing) when the pulse is anonymous: then only this is stored."""


@dataclass(frozen=True)
class Meta:
    """What never changes about a question once its pulse exists (cached: every vote needs it)."""

    pulse_id: int
    platform: str
    anonymous: bool
    question: Question
    audience: dict[str, Any]


class BallotBox:
    def __init__(self, db: Database, today: Callable[[], date]) -> None:
        self._db = db
        self._today = today
        # only what exists is kept: ids come from clients, and a miss must not grow the memo
        self._meta: Memo[tuple[int, int], Meta | None] = Memo(self._load_meta, keep=lambda meta: meta is not None)
        self._writer: GroupWriter[Ballot, str | None] = GroupWriter(self._store)

    async def meta(self, run_id: int, question_id: int) -> Meta | None:
        return await self._meta.get((run_id, question_id))

    async def _load_meta(self, key: tuple[int, int]) -> Meta | None:
        run_id, question_id = key
        async with self._db.session() as session:
            run = await session.get(PulseRun, run_id)
            question = await session.get(Question, question_id)
            pulse = await session.get(Pulse, run.pulse_id) if run else None
        if run is None or question is None or pulse is None or question.pulse_id != run.pulse_id:
            return None
        return Meta(pulse.id or 0, pulse.platform, pulse.anonymous, question, dict(pulse.audience))

    @staticmethod
    def check(meta: Meta, platform: str, value: str | None, comment: str | None = None) -> str | None:
        """Why an answer (`value`, `comment`; None: before it is given) can't be taken, or None. A client may send
        any form fields, whatever the question offers."""
        if meta.platform != platform:
            return "This pulse lives on another platform."
        if value is not None and not valid_answer(meta.question.kind, meta.question.options, value):
            return "That isn't one of the answers to this question."
        if comment is not None and not (meta.question.allow_comment or meta.question.kind == "text"):
            return "This question takes no comment."
        return None

    async def cast(self, ballot: Ballot) -> str | None:
        """Store a ballot with whatever else is waiting. Returns a refusal, or None when it is stored."""
        return await self._writer.submit(ballot)

    async def _store(self, ballots: list[Ballot]) -> list[str | None]:
        outcomes: list[str | None] = [None] * len(ballots)
        today = self._today()
        async with self._db.write() as session:
            runs = {b.run_id for b in ballots}
            # FOR SHARE on PostgreSQL (SQLite has one writer anyway): closing a run waits for the batches that
            # saw it open, so its final publication and figures include them, and later batches see it closed.
            open_runs = set(await session.exec(select(PulseRun.id).where(
                col(PulseRun.id).in_(runs), PulseRun.status == "open").with_for_update(read=True)))
            keys: dict[tuple[int, int, str, str], int] = {}
            for index, ballot in enumerate(ballots):
                if ballot.run_id not in open_runs:
                    outcomes[index] = CLOSED
                else:
                    keys.setdefault((ballot.run_id, ballot.question_id, ballot.platform, ballot.user_id), index)
            rows = [{"run_id": r, "question_id": q, "platform": p, "user_id": u, "sealed": ballots[index].sealed}
                    for (r, q, p, u), index in keys.items()]
            shuffle(rows)  # the pages' order must not follow the order of arrival, even within a batch
            first = set(await insert_many_ignore(session, Participation, rows, returning=(
                Participation.run_id, Participation.question_id, Participation.platform, Participation.user_id)))
            named = {}
            for index, ballot in enumerate(ballots):
                if outcomes[index] is not None:
                    continue
                key = (ballot.run_id, ballot.question_id, ballot.platform, ballot.user_id)
                if ballot.sealed is not None:  # anonymous: stored sealed with the participation, or refused
                    if key not in first or keys[key] != index:
                        outcomes[index] = FINAL
                else:  # named answers may change until close: the last one wins
                    named[(ballot.run_id, ballot.question_id, f"{ballot.platform}:{ballot.user_id}")] = {
                        "id": answer_id(ballot.run_id), "run_id": ballot.run_id, "question_id": ballot.question_id,
                        "respondent_id": f"{ballot.platform}:{ballot.user_id}", "value": ballot.value,
                        "comment": ballot.comment, "answered_on": today}
            await upsert_many(session, Response, list(named.values()),
                              keys=["run_id", "question_id", "respondent_id"],
                              update=["value", "comment", "answered_on"])
            await session.commit()
        return outcomes

"""A pull runner on a real database, with a clock the test moves, and what it stored."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import aiohttp
from sqlalchemy import func
from sqlmodel import col, select

from adapters.sources.kinds import KINDS
from adapters.sources.pulling import Ingest, PullRunner
from adapters.sources.registry import add_source, secret_box
from bot.feedback.ingest import IngestResult
from storage.engine import Database
from storage.tables import Feedback, FeedbackSource, SourceTally
from tests.support.core import CoreHarness, make_harness


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass
class Pulls:
    db: Database
    harness: CoreHarness
    clock: Clock
    http: aiohttp.ClientSession

    @classmethod
    def make(cls, db: Database, http: aiohttp.ClientSession) -> Pulls:
        return cls(db, make_harness(db), Clock(), http)

    @property
    def ingest(self) -> Ingest:
        return self.harness.features.stations.ingest.ingest

    def runner(self, ingest: Ingest | None = None, draw: float = 0.0) -> PullRunner:
        """A runner as the leader has it (a new one is what a restart or a new leader starts with)."""
        return PullRunner(self.db, self.harness.core.services.keys, ingest or self.ingest, http=lambda: self.http,
                          kinds=KINDS, clock=self.clock, draw=lambda: draw)

    async def add(self, kind: str, name: str, secrets: Mapping[str, str], options: Mapping[str, str]) -> None:
        await add_source(self.db, secret_box(self.harness.core.services.keys), KINDS[kind], name, secrets, options)

    async def source(self, name: str) -> FeedbackSource:
        async with self.db.session() as session:
            row = (await session.exec(select(FeedbackSource).where(FeedbackSource.name == name))).one()
        return row

    async def items(self, source: str) -> dict[str, Feedback]:
        async with self.db.session() as session:
            rows = await session.exec(select(Feedback).where(Feedback.source == source))
            return {row.external_id: row for row in rows}

    async def tally(self, name: str) -> dict[str, int]:
        row = await self.source(name)
        names = ("accepted", "updated", "duplicates", "rejected")
        async with self.db.session() as session:
            sums = (await session.exec(select(*(func.coalesce(func.sum(getattr(SourceTally, n)), 0) for n in names))
                                       .where(col(SourceTally.source_id) == row.id))).one()
        return dict(zip(names, (int(s) for s in sums), strict=True))


def crashing_after(ingest: Ingest, calls: int) -> Ingest:
    """The ingest, but the process "dies" right after its `calls`-th batch is committed (before the cursor)."""
    done = [0]

    async def run(items: list[dict[str, object]]) -> IngestResult:
        result = await ingest(items)
        done[0] += 1
        if done[0] == calls:
            raise RuntimeError("killed after the commit")
        return result

    return run

"""Group commit on SQLite and PostgreSQL: a batch the database refuses for one caller's data is written again
caller by caller, so the others' writes are stored; an outage still fails the batch at once. And which
database errors count as an outage (503, retry) and which as refused data (400, never retry)."""

from __future__ import annotations

import asyncio

import pytest
from sqlmodel import select

from storage.batching import GroupWriter
from storage.columns import utcnow
from storage.engine import Database
from storage.failures import refused_data, unavailable
from storage.tables import Feedback
from storage.upsert import insert_many_ignore
from tests.support.postgres import free_port

UNSTORABLE = "lone \ud800 surrogate"  # neither database can encode it (PostgreSQL refuses NUL as well)


def _row(external_id: str, source: str = "group") -> dict[str, object]:
    now = utcnow()
    return {"source": source, "external_id": external_id, "text": "t", "score": None, "score_type": None,
            "customer": None, "segment": None, "tags": [], "product_area": None, "language": None, "url": None,
            "created_at": now, "received_at": now}


def _writer(db: Database, batches: list[list[str]]) -> GroupWriter[dict[str, object], str]:
    async def write(rows: list[dict[str, object]]) -> list[str]:
        batches.append([str(r["external_id"]) for r in rows])
        async with db.write() as session:
            await insert_many_ignore(session, Feedback, rows)
            await session.commit()
        return [str(r["external_id"]) for r in rows]

    return GroupWriter(write)


async def test_one_callers_bad_data_fails_that_caller_alone(db: Database) -> None:
    batches: list[list[str]] = []
    writer = _writer(db, batches)
    results = await asyncio.gather(writer.submit(_row("good-1")), writer.submit(_row("bad", UNSTORABLE)),
                                   writer.submit(_row("good-2")), return_exceptions=True)
    assert results[0] == "good-1" and results[2] == "good-2"
    assert isinstance(results[1], Exception) and not unavailable(results[1])
    assert batches[0] == ["good-1", "bad", "good-2"]  # they did share a transaction, which failed
    async with db.session() as session:
        assert sorted(f.external_id for f in await session.exec(select(Feedback))) == ["good-1", "good-2"]


async def test_an_outage_fails_the_batch_without_writing_item_by_item() -> None:
    db = Database(f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/nothing")  # nobody listens there
    try:
        batches: list[list[str]] = []
        writer = _writer(db, batches)
        results = await asyncio.gather(*(writer.submit(_row(f"r{n}")) for n in range(3)), return_exceptions=True)
    finally:
        await db.dispose()
    assert all(isinstance(r, Exception) and unavailable(r) for r in results)
    assert batches == [["r0", "r1", "r2"]]  # a retry per item would only wait for the same outage three times


@pytest.mark.parametrize("field, value", [("source", "nul\x00"), ("external_id", "x" * 201)])
async def test_data_postgresql_refuses_is_refused_data_not_an_outage(postgres_url: str, field: str,
                                                                      value: str) -> None:
    db = Database(postgres_url)  # SQLite stores NUL and does not check VARCHAR lengths
    try:
        with pytest.raises(Exception) as caught:
            async with db.write() as session:
                await insert_many_ignore(session, Feedback, [{**_row("r"), field: value}])
    finally:
        await db.dispose()
    assert refused_data(caught.value) and not unavailable(caught.value)

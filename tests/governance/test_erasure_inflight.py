"""An erasure and the outbox worker racing for a card not sent yet (PostgreSQL, where both write at once): the
erasure locks the sends it reads, so the worker can't claim one between the read and the delete and post the
customer's words where no edit will ever reach them; a card the worker already claimed is edited, not dropped."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.dml import Delete
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.cards import Card, Quote
from bot.config import load_settings
from bot.events import Target
from bot.governance.erasure import REMOVED, Customer, Eraser
from bot.outbox import Outbox
from storage.engine import Database
from storage.tables import Delivery, Feedback

WORDS = "Quokkazebra991 my card was charged twice"
KEYS = ("k" * 32,)


async def plant(db: Database, status: str = "pending") -> int:
    async with db.session() as session:
        item = Feedback(source="s", external_id="x1", text=WORDS, customer={"email": "q@example.com"})
        session.add(item)
        await session.flush()
        await Outbox().send(session, Target.channel("slack", "C1"), Card(fallback=WORDS, blocks=(Quote(WORDS),)),
                            dedupe_key=f"fb:{item.id}:slack:C1", subject=("feedback", item.id or 0))
        await session.commit()
        send = (await session.exec(select(Delivery))).one()
        send.status = status
        session.add(send)
        await session.commit()
        assert send.id is not None
        return send.id


async def erase(db: Database) -> None:
    eraser = Eraser(db, Outbox(), KEYS, load_settings(DATABASE_URL=db.url))
    await eraser.erase_customer(Customer(email="q@example.com"), actor="cli")


async def test_the_worker_cannot_claim_a_card_the_erasure_is_dropping(db: Database,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    if db.is_sqlite:
        pytest.skip("SQLite: one writer at a time, the worker waits for the erasure's transaction")
    send_id = await plant(db)
    original = AsyncSession.exec
    worker: dict[str, int] = {}

    async def worker_claims_meanwhile(self: AsyncSession, statement: Any, *args: Any, **kwargs: Any) -> Any:
        """As the erasure deletes, the outbox worker tries to claim the card (pending → sending)."""
        if isinstance(statement, Delete) and statement.table.name == "delivery" and not worker:
            worker["claimed"] = 0
            async with db.session() as other:
                await original(other, text("SET LOCAL lock_timeout = '300ms'"))
                try:
                    claimed = await original(other, update(Delivery).where(
                        col(Delivery.id) == send_id, Delivery.status == "pending").values(status="sending"))
                    worker["claimed"] = claimed.rowcount
                    await other.commit()
                except DBAPIError:  # the erasure holds the row
                    await other.rollback()
        return await original(self, statement, *args, **kwargs)

    monkeypatch.setattr(AsyncSession, "exec", worker_claims_meanwhile)
    await erase(db)
    monkeypatch.undo()
    async with db.session() as session:
        left = list(await session.exec(select(Delivery)))
    assert "claimed" in worker
    if worker["claimed"]:  # had it won, the card would be going out: it must be kept and edited
        assert any(REMOVED in str(d.card) for d in left)
    else:
        assert left == []


async def test_a_card_being_posted_is_edited_once_posted(db: Database) -> None:
    send_id = await plant(db, status="sending")
    await erase(db)
    async with db.session() as session:
        send = await session.get(Delivery, send_id)
        edits = list(await session.exec(select(Delivery).where(Delivery.parent_id == send_id)))
    assert send is not None and send.subject_kind == "erased" and WORDS not in str(send.card)
    assert [REMOVED in str(edit.card) for edit in edits] == [True]

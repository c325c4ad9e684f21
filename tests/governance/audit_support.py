"""Reading the audit log back in tests: its entries, and the whole table as text to search for what must not be
in it."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import text
from sqlmodel import col, select

from bot.events import CommandEvent, Person
from bot.governance.audit import verify
from storage.engine import Database
from storage.tables.audit import AuditEntry
from tests.support.core import CoreHarness
from tests.support.recording import RecordingResponder


async def entries(db: Database, action: str | None = None) -> list[AuditEntry]:
    async with db.session() as session:
        query = select(AuditEntry).order_by(col(AuditEntry.id))
        if action is not None:
            query = query.where(AuditEntry.action == action)
        return list(await session.exec(query))


async def table_text(db: Database) -> str:
    """Every column of every row of `audit_entry`, as the database returns them."""
    async with db.session() as session:
        rows = (await session.exec(text("SELECT * FROM audit_entry"))).all()  # type: ignore[call-overload]
    return "\n".join(repr(tuple(row)) for row in rows)


async def assert_nowhere(db: Database, *planted: str) -> None:
    """None of the planted words (a comment, customer text, an e-mail, a secret) is anywhere in the audit table."""
    dumped = (await table_text(db)).casefold()
    for words in planted:
        assert words.casefold() not in dumped, words


async def assert_chain_ok(db: Database, keys: Sequence[str]) -> None:
    async with db.session() as session:
        verdict = await verify(session, keys)
    assert verdict.ok, verdict.problems


def facts(entry: AuditEntry) -> tuple[str, str, str, dict[str, object]]:
    return entry.actor, entry.action, entry.subject, dict(entry.details)


async def say(h: CoreHarness, command: str, text_: str, user: str, channel: str | None = "C1") -> RecordingResponder:
    """`/command text` typed by `user` in `channel` on the recording platform."""
    responder = RecordingResponder()
    await h.core.handle(CommandEvent(platform="test", event_id=uuid.uuid4().hex, actor=Person("test", user),
                                     channel_id=channel, command=command, text=text_), responder)
    return responder

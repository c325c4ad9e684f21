"""Stored conversation references (how to reach a channel, group chat or person later) and reachability."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import func, or_, update
from sqlmodel import col, select

from adapters.teams.ids import PLATFORM
from adapters.teams.translate import StoredReference
from bot.events import Person as BotPerson
from storage.columns import utcnow
from storage.engine import Database
from storage.tables import ConversationRef, Person
from storage.upsert import insert_ignore


class References:
    """The conversation_ref table for Teams. Every turn offers its reference; it is written only when it differs
    from what this process last wrote, so the common turn costs no database write."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._written: dict[str, str] = {}
        self._names: dict[str, str] = {}

    async def remember(self, stored: StoredReference) -> None:
        raw = json.dumps(stored.reference, sort_keys=True, ensure_ascii=False)
        if self._written.get(stored.conversation_id) == raw:
            return
        values = {"kind": stored.kind, "user_id": stored.user_id, "reference": raw, "updated_at": utcnow()}
        async with self._db.session() as session:
            new = await insert_ignore(session, ConversationRef, {
                "platform": PLATFORM, "conversation_id": stored.conversation_id, **values})
            if not new:
                await session.exec(update(ConversationRef).where(  # type: ignore[call-overload]
                    col(ConversationRef.platform) == PLATFORM,
                    col(ConversationRef.conversation_id) == stored.conversation_id).values(**values))
            if stored.user_id:  # someone who writes to the bot in a 1:1 chat can be reached again
                await _upsert_person(session, stored.user_id, {"unreachable": False, "unreachable_reason": None})
            await session.commit()
        self._written[stored.conversation_id] = raw

    async def remember_name(self, user_id: str, name: str | None) -> None:
        """The name Teams gave a person's last turn, for exports of named pulses; written once per change."""
        if not user_id or not name or self._names.get(user_id) == name:
            return
        async with self._db.session() as session:
            await _upsert_person(session, user_id, {"display_name": name[:200]})
            await session.commit()
        self._names[user_id] = name

    async def get(self, conversation_id: str) -> dict[str, Any] | None:
        async with self._db.session() as session:
            row = (await session.exec(select(ConversationRef).where(
                ConversationRef.platform == PLATFORM, ConversationRef.conversation_id == conversation_id))).first()
        return json.loads(row.reference) if row else None

    async def personal(self, user_id: str) -> dict[str, Any] | None:
        """The 1:1 chat with a person, if the bot has one."""
        async with self._db.session() as session:
            row = (await session.exec(select(ConversationRef).where(
                ConversationRef.platform == PLATFORM, ConversationRef.kind == "personal",
                ConversationRef.user_id == user_id).order_by(col(ConversationRef.updated_at).desc()))).first()
        return json.loads(row.reference) if row else None

    async def latest(self) -> dict[str, Any] | None:
        """Any recent reference: its service URL, tenant and bot account let the bot open a 1:1 chat."""
        async with self._db.session() as session:
            row = (await session.exec(select(ConversationRef).where(ConversationRef.platform == PLATFORM)
                                      .order_by(col(ConversationRef.updated_at).desc()))).first()
        return json.loads(row.reference) if row else None

    async def user_of(self, conversation_id: str) -> str | None:
        async with self._db.session() as session:
            row = (await session.exec(select(ConversationRef.user_id).where(
                ConversationRef.platform == PLATFORM, ConversationRef.conversation_id == conversation_id))).first()
        return row

    async def remember_names(self, people: list[BotPerson]) -> None:
        """Names from a member list, for the people typeahead; only those not written before."""
        new = [p for p in people if p.user_id and p.name and self._names.get(p.user_id) != p.name]
        if not new:
            return
        async with self._db.session() as session:
            for person in new:
                await _upsert_person(session, person.user_id, {"display_name": (person.name or "")[:200]})
            await session.commit()
        self._names.update((p.user_id, p.name or "") for p in new)

    async def find_people(self, text: str, skip: int, top: int) -> list[BotPerson]:
        """People seen on Teams whose name holds `text` (any case), by name."""
        name = col(Person.display_name)
        query = select(Person.user_id, Person.display_name).where(Person.platform == PLATFORM, name.is_not(None))
        if text:
            query = query.where(or_(func.lower(name).contains(text.lower(), autoescape=True),
                                    name.contains(text, autoescape=True)))
        async with self._db.session() as session:
            rows = await session.exec(query.order_by(name, col(Person.user_id)).offset(skip).limit(top))
            return [BotPerson(PLATFORM, user_id, display_name) for user_id, display_name in rows]

    async def mark_unreachable(self, user_id: str, reason: str) -> None:
        async with self._db.session() as session:
            await _upsert_person(session, user_id, {"unreachable": True, "unreachable_reason": reason[:200]})
            await session.commit()


async def _upsert_person(session: Any, user_id: str, values: dict[str, Any]) -> None:
    values = {**values, "updated_at": utcnow()}
    if not await insert_ignore(session, Person, {"platform": PLATFORM, "user_id": user_id, **values}):
        await session.exec(update(Person).where(  # type: ignore[call-overload]
            col(Person.platform) == PLATFORM, col(Person.user_id) == user_id).values(**values))

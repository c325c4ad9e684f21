"""Stored conversation references (how to reach a channel, group chat or person later) and reachability."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import update
from sqlmodel import col, select

from adapters.teams.ids import PLATFORM
from adapters.teams.lru import LRU
from adapters.teams.translate import StoredReference, json_dict
from bot.events import Person as BotPerson
from bot.text import casefold
from storage.columns import this_hour
from storage.engine import Database
from storage.tables import ConversationRef, Person
from storage.upsert import insert_ignore, insert_many_ignore

NAMES_PER_INSERT = 1_000
DIRECTORY_TTL_S = 60.0
REFERENCES_KEPT = 2_000
"""Conversations whose last written reference is remembered (to skip rewriting it); older ones are rewritten once."""
NAMES_KEPT = 10_000


class References:
    """The conversation_ref table for Teams. Every turn offers its reference; it is written only when it differs
    from what this process last wrote, so the common turn costs no database write."""

    def __init__(self, db: Database, clock: Callable[[], float] = time.monotonic) -> None:
        self._db = db
        self._clock = clock
        self._written: LRU[str, str] = LRU(REFERENCES_KEPT)
        self._names: LRU[str, str] = LRU(NAMES_KEPT)
        self._directory: tuple[float, list[tuple[str, str, str]]] | None = None
        """(read at, [(case-folded name, name, user id)]) for the typeahead."""

    async def remember(self, stored: StoredReference) -> None:
        raw = json.dumps(stored.reference, sort_keys=True, ensure_ascii=False)
        if self._written.get(stored.conversation_id) == raw:
            return
        values = {"kind": stored.kind, "user_id": stored.user_id, "reference": raw, "updated_at": this_hour()}
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
        self._written.put(stored.conversation_id, raw)

    async def remember_name(self, user_id: str, name: str | None) -> None:
        """The name Teams gave a person's last turn, for exports of named pulses; written once per change."""
        if not user_id or not name or self._names.get(user_id) == name:
            return
        async with self._db.session() as session:
            await _upsert_person(session, user_id, {"display_name": name[:200]})
            await session.commit()
        self._names.put(user_id, name)
        self._directory = None

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
                ConversationRef.user_id == user_id).order_by(col(ConversationRef.updated_at).desc(),
                                                             col(ConversationRef.id).desc()))).first()
        return json.loads(row.reference) if row else None

    async def latest(self) -> dict[str, Any] | None:
        """Any recent reference: its service URL, tenant and bot account let the bot open a 1:1 chat."""
        async with self._db.session() as session:
            row = (await session.exec(select(ConversationRef).where(ConversationRef.platform == PLATFORM).order_by(
                col(ConversationRef.updated_at).desc(), col(ConversationRef.id).desc()))).first()
        return json.loads(row.reference) if row else None

    async def user_of(self, conversation_id: str) -> str | None:
        async with self._db.session() as session:
            row = (await session.exec(select(ConversationRef.user_id).where(
                ConversationRef.platform == PLATFORM, ConversationRef.conversation_id == conversation_id))).first()
        return row

    async def channel_name(self, conversation_id: str) -> str | None:
        """The conversation's name as stored with its reference (Teams sends one for named channels and group
        chats), None when it came without one."""
        reference = await self.get(conversation_id)
        name = json_dict(json_dict(reference).get("conversation")).get("name")
        return name if isinstance(name, str) and name.strip() else None

    async def person_name(self, user_id: str) -> str | None:
        """The name Teams last gave the person (their own turns, member lists)."""
        async with self._db.session() as session:
            return (await session.exec(select(Person.display_name).where(
                Person.platform == PLATFORM, Person.user_id == user_id))).first() or None

    async def remember_names(self, people: list[BotPerson]) -> None:
        """Names from a member list, for the people typeahead: people not known yet are added, a few statements
        for a whole team (a name someone already has is kept; their own turns keep it current)."""
        new = [p for p in people if p.user_id and p.name and p.user_id not in self._names]
        for start in range(0, len(new), NAMES_PER_INSERT):
            async with self._db.session() as session:
                await insert_many_ignore(session, Person, [
                    {"platform": PLATFORM, "user_id": p.user_id, "display_name": (p.name or "")[:200],
                     "unreachable": False, "updated_at": this_hour()} for p in new[start:start + NAMES_PER_INSERT]])
                await session.commit()
        for person in new:
            self._names.put(person.user_id, person.name or "")
        if new:
            self._directory = None

    async def find_people(self, text: str, skip: int, top: int) -> list[BotPerson]:
        """Reachable people seen on Teams whose name holds `text`, in any case and script, by name. The names
        are read at most once a minute: the typeahead asks on every keystroke."""
        if self._directory is None or self._clock() - self._directory[0] > DIRECTORY_TTL_S:
            async with self._db.session() as session:
                rows = await session.exec(select(Person.user_id, Person.display_name).where(
                    Person.platform == PLATFORM, col(Person.display_name).is_not(None),
                    col(Person.unreachable).is_(False)))
                named = sorted((casefold(name or ""), name or "", user_id) for user_id, name in rows)
            self._directory = (self._clock(), named)
        wanted = casefold(text)
        found = [BotPerson(PLATFORM, user_id, name) for folded, name, user_id in self._directory[1] if wanted in folded]
        return found[skip:skip + top]

    async def mark_unreachable(self, user_id: str, reason: str) -> None:
        async with self._db.session() as session:
            await _upsert_person(session, user_id, {"unreachable": True, "unreachable_reason": reason[:200]})
            await session.commit()


async def _upsert_person(session: Any, user_id: str, values: dict[str, Any]) -> None:
    values = {**values, "updated_at": this_hour()}
    if not await insert_ignore(session, Person, {"platform": PLATFORM, "user_id": user_id, **values}):
        await session.exec(update(Person).where(  # type: ignore[call-overload]
            col(Person.platform) == PLATFORM, col(Person.user_id) == user_id).values(**values))

"""The sandbox's platform side: channels, members and messages in storage, pushed live to browsers."""

from __future__ import annotations

import asyncio
import json
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Protocol

from sqlalchemy import Text, cast
from sqlmodel import col, select

from bot.cards import Card, Form
from bot.charts import chart_id
from bot.core import Marks
from bot.events import MessageRef
from bot.memo import Memo
from storage.columns import utcnow
from storage.engine import Database
from storage.tables import Person, RoleGrant, SandboxChannel, SandboxMember, SandboxMessage
from storage.upsert import insert_ignore

log = logging.getLogger(__name__)

PLATFORM = "sandbox"
BOT_ID = "earshot"
BOT_NAME = "Earshot"
EPHEMERAL_KEPT = 50
MARKED_KEPT = 10_000
"""Cards with marks remembered (the newest): beyond, a click on an old card looks nothing up until a page loads it."""
FORMS_KEPT = 1_000
"""Open forms remembered (where each was opened); the oldest is forgotten first, and its answer then goes to
the person's DM with the bot."""
CHART_URL = "/sandbox/charts/{}.png"

MarksLookup = Callable[[list[MessageRef]], Awaitable[dict[str, Marks]]]
"""Each person's own state on posted cards (bot.core.Earshot.marks, for this platform)."""


class Socket(Protocol):
    async def send_str(self, data: str) -> None: ...

    async def close(self, *, code: int, message: bytes) -> bool: ...


class UnknownMessage(LookupError):
    pass


def dm_channel_id(user_id: str) -> str:
    return f"D-{user_id}"


class Workspace:
    def __init__(self, db: Database, marks: MarksLookup | None = None) -> None:
        self._db = db
        self._marks = marks
        self._marked: dict[str, None] = {}
        """Messages a feature has marks on (seen when posted or loaded): only their clicks need a lookup after. The
        oldest are forgotten past MARKED_KEPT; a page that loads one again finds it again."""
        self._sockets: dict[str, set[Socket]] = defaultdict(set)
        self._form_channels: dict[tuple[str, str], str] = {}
        self._ephemeral: dict[str, tuple[tuple[str, str], ...]] = {}  # user → (channel id, message JSON)
        self._ephemeral_count = 0
        self._known_people: set[str] = set()
        self._known_members: dict[str, set[str]] = {}
        self._message_channels: Memo[int, str | None] = Memo(self._load_channel, keep=lambda found: found is not None)

    # -- live updates -------------------------------------------------------------------------------
    def connect(self, user_id: str, socket: Socket) -> None:
        self._sockets[user_id].add(socket)

    def disconnect(self, user_id: str, socket: Socket) -> None:
        self._sockets[user_id].discard(socket)

    async def close_sockets(self, code: int, reason: str) -> None:
        """Close every page's live connection, e.g. with 1001 (going away) when the server stops."""
        sockets = [s for group in self._sockets.values() for s in list(group)]
        results = await asyncio.gather(*(s.close(code=code, message=reason.encode()) for s in sockets),
                                       return_exceptions=True)
        for result in results:
            if isinstance(result, Exception):
                log.debug("a sandbox socket did not close cleanly: %s", result)

    async def push(self, user_ids: Iterable[str], payload: dict[str, Any]) -> None:
        sockets = [s for user in set(user_ids) for s in list(self._sockets.get(user, ()))]
        if not sockets:
            return
        data = json_text(payload)
        results = await asyncio.gather(*(s.send_str(data) for s in sockets), return_exceptions=True)
        for result in results:
            if isinstance(result, Exception):
                log.debug("dropping a sandbox socket: %s", result)

    # -- people and channels -----------------------------------------------------------------------
    async def people(self) -> list[Person]:
        async with self._db.session() as session:
            rows = await session.exec(select(Person).where(Person.platform == PLATFORM).order_by(col(Person.id)))
            return list(rows)

    async def name_of(self, user_id: str) -> str:
        async with self._db.session() as session:
            name = (await session.exec(select(Person.display_name).where(
                Person.platform == PLATFORM, Person.user_id == user_id))).first()
        return name or user_id

    async def is_person(self, user_id: str) -> bool:
        """Checked on every request: answered from memory, reloaded when someone unknown shows up (the
        sandbox only ever adds people and members)."""
        if user_id not in self._known_people:
            self._known_people = {p.user_id for p in await self.people()}
        return user_id in self._known_people

    async def is_member(self, channel_id: str, user_id: str) -> bool:
        """Answered from memory for channels that exist (every channel has members); a channel id nobody has
        is not remembered, so the ids a client makes up can't fill the process."""
        known = self._known_members.get(channel_id, ())
        if user_id not in known:
            known = set(await self.members(channel_id))
            if known:
                self._known_members[channel_id] = known
        return user_id in known

    async def channel_of(self, message_id: int) -> str | None:
        """The channel a message is in (it never moves), remembered."""
        return await self._message_channels.get(message_id)

    async def _load_channel(self, message_id: int) -> str | None:
        message = await self.message(message_id)
        return message.channel_id if message is not None else None

    async def members(self, channel_id: str) -> list[str]:
        async with self._db.session() as session:
            rows = await session.exec(select(SandboxMember.user_id).where(SandboxMember.channel_id == channel_id))
            return sorted(rows)

    async def channel(self, channel_id: str) -> SandboxChannel | None:
        async with self._db.session() as session:
            return await session.get(SandboxChannel, channel_id)

    async def ensure_channel(self, channel_id: str, name: str, kind: str, members: Iterable[str]) -> None:
        async with self._db.write() as session:
            await insert_ignore(session, SandboxChannel, {"id": channel_id, "name": name, "kind": kind})
            for user in members:
                await insert_ignore(session, SandboxMember, {"channel_id": channel_id, "user_id": user})
            await session.commit()

    async def open_dm(self, user_id: str) -> str:
        channel_id = dm_channel_id(user_id)
        if await self.channel(channel_id) is None:
            await self.ensure_channel(channel_id, BOT_NAME, "dm", [user_id])
            await self.push([user_id], {"type": "channels"})
        return channel_id

    # -- messages ----------------------------------------------------------------------------------
    async def post(self, channel_id: str, author_id: str, card: Card, *,
                   thread_id: int | None = None) -> dict[str, Any]:
        if await self.channel(channel_id) is None:
            raise UnknownMessage(f"channel_not_found: {channel_id}")
        async with self._db.write() as session:
            message = SandboxMessage(channel_id=channel_id, author_id=author_id, card=card.to_json(),
                                     thread_id=thread_id)
            session.add(message)
            await session.commit()
        return await self._announce(message)

    async def post_ephemeral(self, channel_id: str, user_id: str, card: Card, *,
                             anchor: str | None = None) -> dict[str, Any]:
        """A message only `user_id` sees, under card `anchor` when it answers a button pressed there (the page
        shows it at that card, like Slack's "Only visible to you" note). Like Slack's, it is not stored: it lives
        in this process only,
        for the person's open pages and their next reloads, and is gone after a restart. Kept as JSON text
        in tuples, which the garbage collector stops tracking: a vote burst leaves one confirmation per voter,
        and as dicts and lists they made every full collection walk tens of thousands more objects."""
        self._ephemeral_count += 1
        data = {"id": f"e{self._ephemeral_count}", "channel_id": channel_id, "thread_id": None,
                "author": {"id": BOT_ID, "name": BOT_NAME, "bot": True}, "created_at": utcnow().isoformat(),
                "edited": False, "ephemeral_to": user_id, "card": _served_charts(card.to_json()), "reactions": {},
                "anchor": anchor}
        kept = self._ephemeral.get(user_id, ())[-(EPHEMERAL_KEPT - 1):]
        self._ephemeral[user_id] = (*kept, (channel_id, json.dumps(data, ensure_ascii=False)))
        await self.push([user_id], {"type": "message", "message": data})
        return data

    def private_card_channel(self, user_id: str, card_id: str) -> str | None:
        """The channel of private card `card_id` if it was shown to `user_id` and is still kept, else None."""
        for channel_id, text in self._ephemeral.get(user_id, ()):
            if json.loads(text)["id"] == card_id:
                return channel_id
        return None

    async def edit(self, message_id: int, card: Card) -> dict[str, Any]:
        async with self._db.write() as session:
            message = await session.get(SandboxMessage, message_id)
            if message is None:
                raise UnknownMessage(f"message_not_found: {message_id}")
            message.card = card.to_json()
            message.edited = True
            session.add(message)
            await session.commit()
        return await self._announce(message)

    async def react(self, message_id: int, user_id: str, emoji: str, added: bool) -> SandboxMessage:
        async with self._db.write() as session:
            message = await session.get(SandboxMessage, message_id, with_for_update=not self._db.is_sqlite)
            if message is None:
                raise UnknownMessage(f"message_not_found: {message_id}")
            who = set(message.reactions.get(emoji, []))
            who = who | {user_id} if added else who - {user_id}
            reactions = {k: v for k, v in message.reactions.items() if k != emoji}
            if who:
                reactions[emoji] = sorted(who)
            message.reactions = reactions
            session.add(message)
            await session.commit()
        await self._announce(message)
        return message

    async def carries(self, file_url: str, user_id: str) -> bool:
        """Whether a message in one of the person's conversations carries this file: files are made for
        someone (a pulse export goes to its asker's DM), so that is who may download it."""
        async with self._db.session() as session:
            cards = await session.exec(
                select(SandboxMessage.card)
                .join(SandboxMember, col(SandboxMember.channel_id) == SandboxMessage.channel_id)
                .where(SandboxMember.user_id == user_id,
                       cast(SandboxMessage.card, Text).contains(file_url, autoescape=True)))
            return any(block.get("type") == "file" and block.get("url") == file_url
                       for card in cards for block in card.get("blocks") or ())

    async def message(self, message_id: int) -> SandboxMessage | None:
        async with self._db.session() as session:
            return await session.get(SandboxMessage, message_id)

    async def _announce(self, message: SandboxMessage) -> dict[str, Any]:
        """Push a new or changed message to its channel's members, each with their own state on it (Marks)."""
        names = {message.author_id: await self.name_of(message.author_id)}
        marks = (await self._lookup_marks([message])).get(str(message.id))
        data = message_json(message, names)
        audience = await self.members(message.channel_id)
        if marks is None:
            await self.push(audience, {"type": "message", "message": data})
        else:
            await asyncio.gather(*(self.push([user], {"type": "message", "message": with_marks(data, marks, user)})
                                   for user in audience))
        return data

    async def own(self, channel_id: str, message_id: str, user_id: str) -> list[str]:
        """The buttons on a message that are `user_id`'s own (Marks.own), as stored now."""
        if message_id not in self._marked or not self._marks:  # a pulse's vote, say: nothing of its own to show
            return []
        marks = await self._marks([MessageRef(PLATFORM, channel_id, message_id)])
        return sorted(marks[message_id].own.get(user_id, ())) if message_id in marks else []

    async def _lookup_marks(self, messages: list[SandboxMessage]) -> dict[str, Marks]:
        """Marks of the bot's cards among `messages` (only the bot posts cards with buttons)."""
        refs = [MessageRef(PLATFORM, m.channel_id, str(m.id)) for m in messages if m.author_id == BOT_ID]
        found = await self._marks(refs) if self._marks and refs else {}
        self._marked.update(dict.fromkeys(found))
        for _ in range(len(self._marked) - MARKED_KEPT):
            del self._marked[next(iter(self._marked))]
        return found

    async def open_form(self, user_id: str, form: Form, channel_id: str) -> None:
        key = (user_id, form.form_id)
        self._form_channels.pop(key, None)
        self._form_channels[key] = channel_id
        if len(self._form_channels) > FORMS_KEPT:
            del self._form_channels[next(iter(self._form_channels))]
        await self.push([user_id], {"type": "form", "form": form.to_json()})

    async def form_channel(self, user_id: str, form_id: str) -> str:
        """Where a form was opened (its answers and errors go there), else the person's DM with the bot."""
        return self._form_channels.get((user_id, form_id)) or await self.open_dm(user_id)

    # -- what one person sees ----------------------------------------------------------------------
    async def state(self, user_id: str, limit: int = 300) -> dict[str, Any]:
        people = await self.people()
        names = {p.user_id: p.display_name or p.user_id for p in people}
        async with self._db.session() as session:
            channels = list(await session.exec(
                select(SandboxChannel)
                .join(SandboxMember, col(SandboxMember.channel_id) == SandboxChannel.id)
                .where(SandboxMember.user_id == user_id)
                .order_by(col(SandboxChannel.kind), col(SandboxChannel.name))))
            ids = [c.id for c in channels]
            members: dict[str, list[str]] = defaultdict(list)
            for member in await session.exec(select(SandboxMember).where(col(SandboxMember.channel_id).in_(ids))):
                members[member.channel_id].append(member.user_id)
            newest = await session.exec(
                select(SandboxMessage).where(col(SandboxMessage.channel_id).in_(ids))
                .order_by(col(SandboxMessage.id).desc()).limit(limit))
            messages = sorted(newest, key=lambda m: m.id or 0)
            roles: dict[str, set[str]] = defaultdict(set)
            for grant in await session.exec(select(RoleGrant).where(RoleGrant.platform == PLATFORM)):
                roles[grant.user_id].add(grant.role)
        marks = await self._lookup_marks(messages)
        return {
            "me": user_id,
            "people": [{"id": p.user_id, "name": names[p.user_id], "role": role_label(roles[p.user_id])}
                       for p in people],
            "channels": [{"id": c.id, "name": c.name, "kind": c.kind, "members": sorted(members[c.id])}
                         for c in channels],
            "messages": sorted([with_marks(message_json(m, names), marks.get(str(m.id)), user_id)
                                for m in messages] + [
                json.loads(text) for channel_id, text in self._ephemeral.get(user_id, ()) if channel_id in ids],
                key=lambda m: m["created_at"]),
        }


def json_text(data: Any) -> str:
    """JSON for the page, as UTF-8 can carry it: text stored before lone surrogates were refused at the door
    goes out \\u-escaped instead of failing every later answer that includes it."""
    text = json.dumps(data, ensure_ascii=False)
    try:
        text.encode()
    except UnicodeEncodeError:
        return json.dumps(data)
    return text


def _served_charts(card: dict[str, Any]) -> dict[str, Any]:
    """`chart:<id>` image URLs pointed at the chart route, so the page can load them."""
    blocks = card.get("blocks") or []
    if not any(b.get("type") == "image" and chart_id(b.get("url", "")) for b in blocks):
        return card
    return {**card, "blocks": [
        {**b, "url": CHART_URL.format(chart_id(b["url"]))}
        if b.get("type") == "image" and chart_id(b.get("url", "")) else b for b in blocks]}


def role_label(roles: set[str]) -> str:
    """The one word shown beside a name in the person picker."""
    return next((role for role in ("admin", "hr", "manager") if role in roles), "employee")


def with_marks(data: dict[str, Any], marks: Marks | None, user_id: str) -> dict[str, Any]:
    """A message as `user_id` sees it: which of its buttons are on/off buttons (`toggles`), and which are
    theirs (`mine`). Only their own: nobody's page learns what someone else pressed."""
    if marks is None:
        return data
    return {**data, "toggles": sorted(marks.toggles), "mine": sorted(marks.own.get(user_id, ()))}


def message_json(message: SandboxMessage, names: dict[str, str]) -> dict[str, Any]:
    return {
        "id": str(message.id),
        "channel_id": message.channel_id,
        "thread_id": str(message.thread_id) if message.thread_id is not None else None,
        "author": {"id": message.author_id, "name": names.get(message.author_id, message.author_id)
                   if message.author_id != BOT_ID else BOT_NAME, "bot": message.author_id == BOT_ID},
        "created_at": message.created_at.isoformat(),
        "edited": message.edited,
        "ephemeral_to": None,
        "card": _served_charts(message.card),
        "reactions": message.reactions,
    }

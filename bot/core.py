"""The core: receives neutral events from any adapter, handles each once, answers through the outbox."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlmodel import col, select

from bot.adapter import Adapter, Responder
from bot.cards import Block, Card, Context, FormErrors, Heading, Text
from bot.commands import CommandRouter, error_card
from bot.config import Settings
from bot.events import (
    ActionEvent,
    AnyEvent,
    CommandEvent,
    FormSubmitted,
    MembersAdded,
    MessageEvent,
    MessageRef,
    Person,
    ReactionEvent,
    Target,
)
from bot.metrics import Metrics
from bot.outbox import Outbox
from storage.batching import GroupWriter
from storage.columns import floored, utcnow
from storage.engine import Database
from storage.secrets import keyed_digest
from storage.tables import Delivery, ProcessedEvent
from storage.upsert import insert_many_ignore

log = logging.getLogger(__name__)

ActionHandler = Callable[[ActionEvent, Responder], Awaitable[None]]
FormHandler = Callable[[FormSubmitted, Responder], Awaitable[FormErrors | None]]
ReactionHandler = Callable[[ReactionEvent], Awaitable[None]]
MessageHandler = Callable[[MessageEvent], Awaitable[None]]
HomeSection = Callable[[Person, str | None], Awaitable[tuple[Block, ...]]]
"""A feature's part of a person's home card, in one workspace (bot.events.Event.workspace): its own alone."""


@dataclass(frozen=True)
class Marks:
    """What is each person's own on one posted card, for a platform that shows every person their own state on
    a shared card (the sandbox; Slack and Teams show everyone the same card). `toggles`: the card's on/off
    buttons, by action id; `own`: by user id, the buttons that are theirs: toggles they turned on, and a next
    step only they take."""

    toggles: frozenset[str] = frozenset()
    own: dict[str, frozenset[str]] = field(default_factory=dict)


MarksLookup = Callable[[str, list[MessageRef]], Awaitable[dict[str, Marks]]]
"""A feature's marks on the given messages of one platform, by message id (cards it did not post are left out)."""

EVENT_KEYS = "event keys"
"""The purpose `processed_event` keys are digested for (storage.secrets.keyed_digest)."""
RETRY_WINDOW = timedelta(hours=1)
"""How long a handled event is remembered: longer than any platform resends one. Slack retries an event it thinks
failed three times: at once, after about 1 minute and after about 5 minutes. Bot Framework (Teams) waits 15 s for
the bot's answer to an activity and documents no later resend. An older resend is handled again."""
SEEN_STEP = timedelta(minutes=1)
"""`processed_event.seen_at` is floored to this: enough to expire rows by, and no finer a time of someone's act."""
FORGET_BATCH = 500
"""Rows deleted per statement when expiring events, so each transaction holds SQLite's write lock briefly."""


@dataclass
class Services:
    """What every feature needs, passed in rather than fetched from globals."""

    settings: Settings
    db: Database
    outbox: Outbox
    metrics: Metrics
    keys: tuple[str, ...] = field(repr=False)
    """`EARSHOT_SECRET_KEY`'s keys, or the SQLite key file's (storage.secrets.resolve_keys, done by the runtime):
    anonymous answers are sealed with them until published, and event dedupe keys are keyed with them."""
    clock: Callable[[], datetime] = utcnow
    adapters: dict[str, Adapter] = field(default_factory=dict)
    """The configured platforms, for what only they know (channel members); filled in by the runtime."""


@dataclass
class Handlers:
    actions: dict[str, ActionHandler] = field(default_factory=dict)  # by action_id prefix before ":"
    forms: dict[str, FormHandler] = field(default_factory=dict)
    reactions: list[ReactionHandler] = field(default_factory=list)
    messages: list[MessageHandler] = field(default_factory=list)
    home: list[HomeSection] = field(default_factory=list)
    marks: list[MarksLookup] = field(default_factory=list)


class Earshot:
    def __init__(self, services: Services) -> None:
        self.services = services
        self.commands = CommandRouter()
        self.handlers = Handlers()
        self._seen: GroupWriter[str, bool] = GroupWriter(self._record_events)

    async def handle(self, event: AnyEvent, responder: Responder) -> FormErrors | None:
        """Handle one inbound event, at most once per (platform, event_id)."""
        kind = type(event).__name__
        metrics = self.services.metrics
        if not await self._first_time(event):
            metrics.events.labels(event.platform, kind, "duplicate").inc()
            return None
        try:
            result = await self._dispatch(event, responder)
        except Exception:
            metrics.events.labels(event.platform, kind, "error").inc()
            log.exception("handling a %s %s failed", event.platform, kind)  # no event id: a DM's names its person
            await responder.private(error_card("Something went wrong on my side; it has been logged. "
                                               "Please try again in a moment."))
            return None
        metrics.events.labels(event.platform, kind, "ok").inc()
        return result

    async def home_card(self, person: Person, workspace: str | None) -> Card:
        """A person's overview (Slack's Home tab, the Teams personal tab) as opened in `workspace`: each feature
        adds a section, from what was made in that workspace alone."""
        blocks: list[Block] = [Heading("Earshot"), Text("Customers' voices for you, and your voice for your team.")]
        for section in self.handlers.home:
            blocks.extend(await section(person, workspace))
        return Card(fallback="Earshot home", blocks=tuple(blocks))

    async def marks(self, platform: str, refs: list[MessageRef]) -> dict[str, Marks]:
        """Each person's own state on these posted cards (Marks), by message id."""
        found: dict[str, Marks] = {}
        for lookup in self.handlers.marks:
            found.update(await lookup(platform, refs))
        return found

    async def first_time(self, key: str) -> bool:
        """True once per key within the retry window: for work an adapter does itself that a resent platform
        request must not redo. Only a keyed digest of `key` is stored: event ids name the conversation (a Teams
        one is `conversation|activity`, a 1:1 chat's id stands for its person), and a stored id joined to the
        conversations would tell who did what when."""
        return await self._seen.submit(keyed_digest(self.services.keys, EVENT_KEYS, key))

    async def _first_time(self, event: AnyEvent) -> bool:
        return await self.first_time(f"{event.platform}:{type(event).__name__}:{event.event_id}")

    async def _record_events(self, keys: list[str]) -> list[bool]:
        """Record a batch of event digests at once; True for each seen here for the first time. The time is kept to
        the minute (SEEN_STEP)."""
        now = floored(self.services.clock(), SEEN_STEP)
        async with self.services.db.write() as session:
            new = set(await insert_many_ignore(session, ProcessedEvent, [
                {"key": key, "seen_at": now} for key in dict.fromkeys(keys)], returning=(ProcessedEvent.key,)))
            await session.commit()
        outcomes = []
        for key in keys:
            outcomes.append((key,) in new)
            new.discard((key,))
        return outcomes

    async def forget_events(self, window: timedelta = RETRY_WINDOW) -> int:
        """Delete the events seen longer than `window` ago (a periodic job of the scheduler's leader; the window is
        the retention policy's for event keys, never under the retry window), a batch per transaction; returns how
        many were deleted."""
        cutoff = self.services.clock() - max(window, RETRY_WINDOW)
        expired = select(ProcessedEvent.key).where(col(ProcessedEvent.seen_at) < cutoff).limit(FORGET_BATCH)
        forgotten = 0
        while True:
            async with self.services.db.write() as session:
                result = await session.exec(delete(ProcessedEvent).where(  # type: ignore[call-overload]
                    col(ProcessedEvent.key).in_(expired.scalar_subquery())))
                await session.commit()
            forgotten += result.rowcount
            if result.rowcount < FORGET_BATCH:
                return forgotten

    async def _dispatch(self, event: AnyEvent, responder: Responder) -> FormErrors | None:
        match event:
            case CommandEvent():
                await self.commands.dispatch(event, responder)
            case ActionEvent():
                handler = self.handlers.actions.get(event.action_id.split(":", 1)[0])
                if handler is None:
                    await responder.private(error_card("That button no longer does anything."))
                else:
                    await handler(event, responder)
            case FormSubmitted():
                form_handler = self.handlers.forms.get(event.form_id.split(":", 1)[0])
                if form_handler is None:
                    return {"_": "This form has expired; please open it again."}
                return await form_handler(event, responder)
            case ReactionEvent():
                for on_reaction in self.handlers.reactions:
                    await on_reaction(event)
            case MessageEvent():
                for on_message in self.handlers.messages:
                    await on_message(event)
            case MembersAdded():
                await self._welcome(event)
        return None

    async def _welcome(self, event: MembersAdded) -> None:
        if not event.bot_installed or event.channel_id is None:
            return
        names = ", ".join(f"/{name}" for name in self.commands.commands)
        card = Card(
            fallback="Hi, I'm Earshot.",
            blocks=(Heading("Hi, I'm Earshot 👋"),
                    Text("I bring customers' words to this channel and your team's voice to its leaders."),
                    Context((f"Commands: {names}. Add “help” to any of them to see what it does.",))),
        )
        async with self.services.db.session() as session:
            await self.services.outbox.send(session, Target.channel(event.platform, event.channel_id), card,
                                            dedupe_key=f"welcome:{event.platform}:{event.channel_id}")
            await session.commit()

    async def report_failure(self, delivery: Delivery) -> None:
        """A delivery failed for good: tell whoever set it up, by DM, once a day per place and reason (a
        station in an archived channel fails on every new item; one notice says it all)."""
        if not delivery.created_by or ":" not in delivery.created_by:
            return
        platform, user_id = delivery.created_by.split(":", 1)
        channel = (delivery.target or {}).get("channel_id")
        card = error_card(f"I couldn't deliver a message to {channel or 'a direct message'}: {delivery.last_error}.",
                          hint="Invite me to the channel or check its settings. I won't retry, and I'll tell you "
                               "about this place again tomorrow at the earliest.")
        day = self.services.clock().date().isoformat()
        key = f"failure:{delivery.created_by}:{channel or delivery.id}:{delivery.last_error}:{day}"[:300]
        async with self.services.db.session() as session:
            await self.services.outbox.send(session, Target.user(platform, user_id), card, dedupe_key=key)
            await session.commit()

"""Registered feedback sources as people read them (`earshot sources list`, `/station sources`): each source's
address, its last delivery, what it delivered over the last 24 hours and its last error. Read-only; registering,
the route and the tools' own code live in adapters/sources/."""

from __future__ import annotations

import json
from collections.abc import Set
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.adapter import Responder
from bot.cards import Card, Context, Heading, Text
from bot.commands import Command
from bot.core import Services
from bot.events import CommandEvent
from bot.roles import has_any_role
from storage.secrets import SecretBox, SecretKeyError
from storage.tables import FeedbackSource, SourceTally

PURPOSE = "feedback sources"
"""The purpose a source's secrets are sealed for (storage.secrets.SecretBox)."""
URL_TOKEN = "url_token"
"""The key of a secret-URL source's token among its sealed secrets."""
PATH = "/api/sources/"
WINDOW = timedelta(hours=24)
COUNTS = ("accepted", "updated", "duplicates", "rejected", "refused")


@dataclass(frozen=True)
class Counts:
    accepted: int = 0
    updated: int = 0
    duplicates: int = 0
    rejected: int = 0
    refused: int = 0
    """Requests whose signature or secret URL was wrong: answered 401, never stored."""

    def describe(self) -> str:
        return " · ".join(f"{getattr(self, name)} {name}" for name in COUNTS)


@dataclass(frozen=True)
class SourceView:
    name: str
    kind: str
    last_received_at: datetime | None
    last_error: str | None
    last_error_at: datetime | None
    next_pull_at: datetime | None
    counts: Counts
    token: str | None = field(default=None, repr=False)
    """A secret-URL source's token: part of its address, shown only where the operator asked for it."""
    sealed: bool = False
    """Its secrets don't open with the configured EARSHOT_SECRET_KEY (a lost or rotated-out key)."""

    def url(self, base: str, reveal: bool) -> str:
        """The address to paste into the tool; a secret URL's token masked unless `reveal`."""
        address = f"{base.rstrip('/')}{PATH}{self.name}"
        if self.token is not None:
            address += f"/{self.token}" if reveal else "/…"
        return address


async def source_views(session: AsyncSession, box: SecretBox, now: datetime) -> list[SourceView]:
    """Every registered source by name, with its counts over the 24 hours before `now`."""
    rows = list(await session.exec(select(FeedbackSource).order_by(col(FeedbackSource.name))))
    sums = {row[0]: Counts(*(int(v or 0) for v in row[1:])) for row in await session.exec(
        select(SourceTally.source_id, *(func.sum(getattr(SourceTally, name)) for name in COUNTS))
        .where(SourceTally.hour > now - WINDOW).group_by(col(SourceTally.source_id)))}
    views = []
    for row in rows:
        token, sealed = _token(row, box)
        views.append(SourceView(name=row.name, kind=row.kind, last_received_at=row.last_received_at,
                                last_error=row.last_error, last_error_at=row.last_error_at,
                                next_pull_at=row.next_pull_at, counts=sums.get(row.id, Counts()), token=token,
                                sealed=sealed))
    return views


def _token(row: FeedbackSource, box: SecretBox) -> tuple[str | None, bool]:
    try:
        token = json.loads(box.open(row.secrets)).get(URL_TOKEN)
    except (SecretKeyError, ValueError):
        return None, True
    return (str(token) if token else None), False


def describe(view: SourceView, base: str, now: datetime, reveal: bool, has_url: bool = True) -> list[str]:
    """A source's lines, the same in the terminal and in chat (there without the token)."""
    lines = [f"{view.name} ({view.kind})"]
    if has_url:
        lines.append(f"  URL: {view.url(base, reveal)}")
    if view.next_pull_at is not None:
        lines.append(f"  next pull: {_when(view.next_pull_at, now)}")
    lines.append(f"  last delivery: {_when(view.last_received_at, now) if view.last_received_at else 'none yet'}")
    lines.append(f"  last 24 h: {view.counts.describe()}")
    if view.last_error:
        at = f" ({_when(view.last_error_at, now)})" if view.last_error_at else ""
        lines.append(f"  last error{at}: {view.last_error}")
    if view.sealed:
        lines.append("  its secrets don't open with the configured EARSHOT_SECRET_KEY: add it again")
    return lines


def _when(moment: datetime, now: datetime) -> str:
    seconds = (now - moment).total_seconds()
    stamp = moment.strftime("%Y-%m-%d %H:%M UTC")
    if seconds < 0:
        return f"{stamp} (in {_span(-seconds)})"
    return f"{stamp} ({_span(seconds)} ago)"


def _span(seconds: float) -> str:
    if seconds < 60:
        return f"{int(seconds)} s"
    if seconds < 3600:
        return f"{int(seconds // 60)} min"
    if seconds < 86400:
        return f"{int(seconds // 3600)} h"
    return f"{int(seconds // 86400)} d"


def add_sources_command(command: Command, services: Services, webhook_kinds: Set[str]) -> None:
    """`/station sources`: the same listing as `earshot sources list`, for admins, with secret URLs masked (a chat
    message is copied and kept where an operator's terminal isn't). `webhook_kinds` are the kinds that take a URL."""

    @command.add("sources", "", "the feedback tools registered as sources, their URLs and last 24 hours (admins)")
    async def sources(event: CommandEvent, words: list[str], responder: Responder) -> None:
        async with services.db.session() as session:
            if not await has_any_role(session, event.actor):
                await responder.private(Card(
                    fallback="Only admins can see the feedback sources.",
                    blocks=(Text("🙏 Only admins can see the feedback sources."),
                            Context(("An admin registers them with `earshot sources add` on the server.",)))))
                return
            now = services.clock()
            views = await source_views(session, SecretBox(services.keys, purpose=PURPOSE), now)
        if not views:
            await responder.private(Card(fallback="No feedback source is registered yet.", blocks=(
                Text("No feedback source is registered yet."),
                Context(("`earshot sources add KIND NAME` on the server registers one (docs/sources.md).",)))))
            return
        base = services.settings.public_base_url
        text = "\n".join(line for view in views for line in describe(
            view, base, now, reveal=False, has_url=not webhook_kinds or view.kind in webhook_kinds))
        await responder.private(Card(fallback=text, blocks=(
            Heading("Feedback sources"), Text(text),
            Context(("Secret URLs are masked here: `earshot sources list` on the server shows them whole.",)))))

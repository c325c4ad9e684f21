"""Wires the weekly digest into a core: the /digest command, and `send_due` for the worker's scheduler."""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy import tuple_
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.cards import Card
from bot.charts import save_chart
from bot.core import Earshot
from bot.digests.build import Privacy, build_digest
from bot.digests.card import digest_card
from bot.digests.command import digest_command
from bot.digests.model import Digest
from bot.digests.schedule import due_week
from bot.digests.viewer import Viewer
from bot.digests.weeks import Week
from bot.events import Target
from bot.feedback.redact import Redactor
from storage.tables import DigestRun, DigestSubscription
from storage.upsert import insert_ignore

log = logging.getLogger(__name__)


class Digests:
    def __init__(self, core: Earshot) -> None:
        self._services = core.services
        self.redact = Redactor(core.services.settings.redact_patterns)
        core.commands.register(digest_command(core.services, self))

    @property
    def privacy(self) -> Privacy:
        settings = self._services.settings
        return Privacy(settings.anon_min, settings.comment_min)

    async def build(self, week: Week, viewer: Viewer) -> Digest:
        """The digest shown in chat: the `viewer`'s platform and workspace's alone (bot.digests.viewer)."""
        return await build_digest(self._services.db, week, self.privacy, self.redact, viewer=viewer,
                                  lookups=self._services.adapters)

    async def card(self, digest: Digest, title: str = "Weekly digest") -> Card:
        """The card with its charts stored (committed, so any adapter can load them)."""
        charts = await asyncio.to_thread(draw_charts, digest)
        async with self._services.db.session() as session:
            urls = [(alt, await save_chart(session, png)) for alt, png in charts]
            await session.commit()
        return digest_card(digest, urls, title)

    async def send_due(self) -> int:
        """Send every digest whose time has come this week. Each (subscription, week) is claimed once through
        DigestRun's unique key in the same transaction that queues the message: a second worker or a double
        fire finds the claim taken and sends nothing."""
        now = self._services.clock()
        async with self._services.db.session() as session:
            subscriptions = list(await session.exec(select(DigestSubscription)))
            due = [(s, week) for s in subscriptions if (week := due_week(s, now)) is not None]
            claimed = await _claimed(session, {(s.id, week.label) for s, week in due})
        built: dict[tuple[str, str, Viewer], tuple[Digest, list[tuple[str, bytes]]]] = {}
        sent = 0
        for subscription, week in due:
            if (subscription.id, week.label) in claimed:
                continue
            viewer = Viewer(subscription.platform, subscription.workspace)
            key = (week.label, week.zone.key, viewer)
            if key not in built:
                digest = await self.build(week, viewer)
                built[key] = (digest, await asyncio.to_thread(draw_charts, digest))
            digest, charts = built[key]
            if await self._claim_and_send(subscription, digest, charts):
                sent += 1
        return sent

    async def _claim_and_send(self, subscription: DigestSubscription, digest: Digest,
                              charts: list[tuple[str, bytes]]) -> bool:
        week = digest.week.label
        async with self._services.db.write() as session:
            if not await insert_ignore(session, DigestRun, {"subscription_id": subscription.id, "week": week,
                                                            "sent_at": self._services.clock()}):
                await session.rollback()
                return False
            urls = [(alt, await save_chart(session, png)) for alt, png in charts]
            await self._services.outbox.send(
                session, Target.channel(subscription.platform, subscription.channel_id), digest_card(digest, urls),
                dedupe_key=f"digest:{subscription.id}:{week}", created_by=subscription.created_by)
            await session.commit()
        log.info("digest %s queued for %s:%s", week, subscription.platform, subscription.channel_id)
        return True


async def _claimed(session: AsyncSession, due: set[tuple[int | None, str]]) -> set[tuple[int, str]]:
    """Which of the due (subscription, week) pairs are claimed already: those rows only, never the whole table."""
    if not due:
        return set()
    pair = tuple_(DigestRun.subscription_id, DigestRun.week)
    rows = await session.exec(select(DigestRun.subscription_id, DigestRun.week).where(pair.in_(sorted(due))))
    return {(subscription_id, week) for subscription_id, week in rows}


def draw_charts(digest: Digest) -> list[tuple[str, bytes]]:
    """matplotlib loads on the first chart, not at start-up: it is a third of an idle process's memory."""
    from bot.digests import plots

    return plots.charts(digest)

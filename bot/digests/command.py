"""`/digest`: subscribe this channel, unsubscribe it, preview this week so far (privately)."""

from __future__ import annotations

from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import col, delete, select

from bot.adapter import Responder
from bot.cards import Card, Context, Text
from bot.commands import Command, UsageError
from bot.core import Services
from bot.digests.names import person_name
from bot.digests.schedule import parse_when
from bot.digests.viewer import Viewer
from bot.digests.weeks import Week
from bot.events import CommandEvent, Target
from bot.governance.audit import record
from bot.roles import has_any_role
from storage.tables import DigestRun, DigestSubscription

if TYPE_CHECKING:
    from bot.digests.feature import Digests

READERS = ("hr",)  # admins hold every role


def digest_command(services: Services, digests: Digests) -> Command:
    command = Command("digest", "the weekly view of customer and employee signals", notes=(
        "Subscribing, unsubscribing and previews are for HR and admins: the digest shows figures across teams. "
        "Groups smaller than the anonymity minimum always show as hidden.",))

    async def readers_only(event: CommandEvent, responder: Responder, doing: str) -> bool:
        async with services.db.session() as session:
            allowed = await has_any_role(session, event.actor, *READERS)
        if not allowed:
            await responder.private(Card(
                fallback=f"Only HR and admins can {doing}.",
                blocks=(Text(f"🙏 Sorry — only people with the HR or admin role can {doing}: the digest shows "
                             "figures across every team, so it is kept to them."),
                        Context(("An admin can grant the role with `earshot roles grant <platform:user_id> hr`.",)))))
        return allowed

    @command.add("subscribe", "[day] [HH:MM] [timezone]", "post the digest here weekly (default Monday 09:00)")
    async def subscribe(event: CommandEvent, words: list[str], responder: Responder) -> None:
        channel = _channel(event)
        when = parse_when(words, services.settings.timezone)
        if not await readers_only(event, responder, "subscribe a channel to the weekly digest"):
            return
        by = await person_name(services.adapters, event.actor)
        async with services.db.session() as session:
            subscription = (await session.exec(select(DigestSubscription).where(*_here(event, channel)))).first()
            if subscription is None:
                subscription = DigestSubscription(platform=event.platform, channel_id=channel,
                                                  workspace=event.workspace, weekday=0,
                                                  at=when.at, timezone=when.timezone, created_by=event.actor.key,
                                                  created_at=services.clock())
            subscription.weekday, subscription.at, subscription.timezone = when.weekday, when.at, when.timezone
            session.add(subscription)
            await session.flush()
            text = f"📊 This channel gets the weekly digest {when.describe()}."
            await services.outbox.send(
                session, Target.channel(event.platform, channel),
                Card(fallback=text, blocks=(Text(text), Context((
                    f"Set up by {by} · /digest unsubscribe stops it · "
                    "/digest preview shows this week so far, privately",)))),
                dedupe_key=f"digest-subscribed:{subscription.id}:{event.event_id}", created_by=event.actor.key)
            await record(session, services.keys, actor=event.actor.key, action="digest.subscribed",
                         subject=_subject(event, channel), details={"weekday": when.weekday, "at": f"{when.at:%H:%M}",
                                                                   "timezone": when.timezone},
                         workspace=event.workspace)
            await session.commit()

    @command.add("unsubscribe", "", "stop posting the digest here")
    async def unsubscribe(event: CommandEvent, words: list[str], responder: Responder) -> None:
        channel = _channel(event)
        if not await readers_only(event, responder, "unsubscribe a channel from the weekly digest"):
            return
        async with services.db.session() as session:
            ids = list(await session.exec(select(DigestSubscription.id).where(*_here(event, channel))))
            if ids:
                await session.exec(delete(DigestRun).where(col(DigestRun.subscription_id).in_(ids)))  # type: ignore[call-overload]
                await session.exec(delete(DigestSubscription).where(col(DigestSubscription.id).in_(ids)))  # type: ignore[call-overload]
                await record(session, services.keys, actor=event.actor.key, action="digest.unsubscribed",
                             subject=_subject(event, channel), workspace=event.workspace)
                await session.commit()
        text = ("This channel no longer gets the weekly digest." if ids
                else "This channel wasn't subscribed to the weekly digest.")
        await responder.private(Card(fallback=text, blocks=(Text(text),)))

    @command.add("preview", "", "this week's digest so far, only for you")
    async def preview(event: CommandEvent, words: list[str], responder: Responder) -> None:
        if not await readers_only(event, responder, "preview the weekly digest"):
            return
        zone = _zone(event.actor.timezone) or services.settings.zone
        week = Week.containing(services.clock().astimezone(zone).date(), zone)
        digest = await digests.build(week, Viewer(event.platform, event.workspace))
        async with services.db.write() as session:  # recorded before it is shown: no preview goes unrecorded
            await record(session, services.keys, actor=event.actor.key, action="digest.previewed",
                         subject=f"digest:{week.label}", details={"format": "card"}, workspace=event.workspace)
            await session.commit()
        await responder.private(await digests.card(digest, "Digest preview (so far)"))

    return command


def _zone(name: str | None) -> ZoneInfo | None:
    try:
        return ZoneInfo(name) if name else None
    except (ZoneInfoNotFoundError, ValueError):
        return None


def _here(event: CommandEvent, channel: str) -> list[ColumnElement[bool]]:
    """This channel's subscription made in this workspace: another workspace sharing the channel (Slack Connect)
    keeps its own."""
    return [DigestSubscription.platform == event.platform, DigestSubscription.channel_id == channel,
            col(DigestSubscription.workspace).is_not_distinct_from(event.workspace)]


def _subject(event: CommandEvent, channel: str) -> str:
    """A subscription's audit subject: the channel, on its platform."""
    return f"channel:{event.platform}:{channel}"


def _channel(event: CommandEvent) -> str:
    if not event.channel_id:
        raise UsageError("run this in the channel that should get the digest")
    return event.channel_id

"""`/station`: subscribe a channel to feedback, list, pause, resume, remove, and preview (a dry run)."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.adapter import Responder
from bot.cards import Card, Context, Heading, Quote, Text
from bot.commands import Command, UsageError, channel_of
from bot.core import Services
from bot.events import CommandEvent, Target
from bot.feedback.card import score_cue
from bot.feedback.directory import StationDirectory
from bot.feedback.filters import FILTER_HELP, Matcher, describe, feed_key, parse_words
from bot.feedback.ingest import match_input
from bot.feedback.languages import language_tag
from bot.feedback.redact import Redactor
from bot.governance.audit import record
from bot.roles import has_any_role
from bot.text import cut
from storage.tables import Feedback, Station

PREVIEW_DAYS = 7
PREVIEW_SCAN = 5_000
CHANGES = {"pause": "station.paused", "resume": "station.resumed", "remove": "station.removed"}
"""The audit log's action for each change of a station."""


def station_command(services: Services, redact: Redactor, directory: StationDirectory) -> Command:
    command = Command("station", "customer feedback, live in this channel", notes=(FILTER_HELP,))

    async def managers_only(event: CommandEvent, responder: Responder) -> bool:
        async with services.db.session() as session:
            allowed = await has_any_role(session, event.actor, "manager")
        if not allowed:
            await responder.private(Card(
                fallback="Only managers and admins can change stations.",
                blocks=(Text("🙏 Only managers and admins can change this channel's stations."),
                        Context(("Anyone can use /station list and /station preview. An admin can grant the "
                                 "manager role with `earshot roles grant`.",)))))
        return allowed

    @command.add("add", "filters | all", "send matching customer feedback to this channel (all: everything)")
    async def add(event: CommandEvent, words: list[str], responder: Responder) -> None:
        channel = _channel(event)
        subscription = parse_words(words, services.settings.timezone)
        if not await managers_only(event, responder):
            return
        async with services.db.session() as session:
            wanted = feed_key(subscription.filters)
            for existing in await _stations(event, session):
                if feed_key(existing.filters) == wanted:
                    raise UsageError(_duplicate(existing))
            station = Station(platform=event.platform, channel_id=channel, workspace=event.workspace,
                              filters=subscription.filters,
                              cap_per_hour=subscription.cap_per_hour, quiet_hours=subscription.quiet_hours,
                              created_by=event.actor.key)
            session.add(station)
            await session.flush()
            announcement = Card(
                fallback=f"This channel now hears from customers: {describe(station.filters)}",
                blocks=(Text(f"📡 This channel now hears from customers: {describe(station.filters)}."),
                        Context((f"Station #{station.id}{_limits(station)} · set up by "
                                 f"{event.actor.name or event.actor.user_id} · /station help",))))
            await services.outbox.send(session, Target.channel(event.platform, channel), announcement,
                                       dedupe_key=f"station-added:{station.id}", created_by=event.actor.key)
            await record(session, services.keys, actor=event.actor.key, action="station.added",
                         subject=f"station:{station.id}", details={"channel": f"{event.platform}:{channel}"},
                         workspace=event.workspace)
            await session.commit()
        directory.changed()

    @command.add("list", "", "the stations of this channel")
    async def list_(event: CommandEvent, words: list[str], responder: Responder) -> None:
        async with services.db.session() as session:
            stations = await _stations(event, session)
        if not stations:
            await responder.private(Card(fallback="This channel has no station yet.", blocks=(
                Text("This channel has no station yet."), Context(("/station add subscribes it.",)))))
            return
        lines = [f"#{s.id} · {describe(s.filters)}{_limits(s)}{' · ⏸ paused' if s.paused else ''}"
                 for s in stations]
        await responder.private(Card(fallback="\n".join(lines),
                                     blocks=(Heading("Stations in this channel"), Text("\n".join(lines)))))

    async def change(event: CommandEvent, words: list[str], responder: Responder, verb: str) -> None:
        """Pause, resume or remove a station, and tell the channel (as /station add does) that its feed changed."""
        if not await managers_only(event, responder):
            return
        async with services.db.session() as session:
            station = await _one(event, words, session)
            if verb == "pause" and station.paused:
                raise UsageError(f"station #{station.id} ({describe(station.filters)}) is already paused; "
                                 f"/station resume {station.id} turns it back on")
            if verb == "resume" and not station.paused:
                raise UsageError(f"station #{station.id} ({describe(station.filters)}) is already live: "
                                 f"nothing to resume")
            if verb == "remove":
                station.removed_at = services.clock()
            else:
                station.paused = verb == "pause"
            session.add(station)
            who = event.actor.name or event.actor.user_id
            text, note = {
                "pause": (f"⏸ Station #{station.id} ({describe(station.filters)}) is paused: feedback that arrives "
                          f"meanwhile is not sent here.", f"Paused by {who} · /station resume {station.id} turns "
                                                          f"it back on"),
                "resume": (f"▶️ Station #{station.id} ({describe(station.filters)}) is live again.",
                           f"Resumed by {who} · /station pause {station.id} stops it for now"),
                "remove": (f"📴 This channel no longer hears from customers through station #{station.id} "
                           f"({describe(station.filters)}).", f"Removed by {who} · /station add subscribes again"),
            }[verb]
            await services.outbox.send(session, Target.channel(event.platform, station.channel_id),
                                       Card(fallback=text, blocks=(Text(text), Context((note,)))),
                                       dedupe_key=f"station-{verb}:{station.id}:{event.event_id}",
                                       created_by=event.actor.key)
            await record(session, services.keys, actor=event.actor.key, action=CHANGES[verb],
                         subject=f"station:{station.id}", details={"channel": f"{event.platform}:{station.channel_id}"},
                         workspace=event.workspace)
            await session.commit()
        directory.changed()

    @command.add("pause", "[id]", "stop sending for now")
    async def pause(event: CommandEvent, words: list[str], responder: Responder) -> None:
        await change(event, words, responder, "pause")

    @command.add("resume", "[id]", "start sending again")
    async def resume(event: CommandEvent, words: list[str], responder: Responder) -> None:
        await change(event, words, responder, "resume")

    @command.add("remove", "[id]", "unsubscribe this channel from a station")
    async def remove(event: CommandEvent, words: list[str], responder: Responder) -> None:
        await change(event, words, responder, "remove")

    @command.add("preview", "[filters | all]",
                 f"what the last {PREVIEW_DAYS} days would have sent here: by this channel's stations, or by the "
                 f"filters given (dry run)")
    async def preview(event: CommandEvent, words: list[str], responder: Responder) -> None:
        if words:
            subscription = parse_words(words, services.settings.timezone)
            title, matchers, note = describe(subscription.filters), [Matcher(subscription.filters)], None
        else:
            if not event.channel_id:
                raise UsageError("/station preview on its own previews a channel's stations: run it in that "
                                 "channel, or give filters (like /station preview nps:detractor, or all)")
            async with services.db.session() as session:
                stations = await _stations(event, session)
            if not stations:
                await responder.private(Card(fallback="This channel has no station to preview.", blocks=(
                    Text("This channel has no station to preview."),
                    Context(("/station preview nps:detractor (or any filters, or all) shows what a station would "
                             "send; /station add subscribes the channel.",)))))
                return
            live = [s for s in stations if not s.paused]
            title = "this channel's stations"
            matchers = [Matcher(s.filters) for s in live]
            paused = [f"#{s.id}" for s in stations if s.paused]
            note = ("Stations: " + ", ".join(f"#{s.id} {describe(s.filters)}" for s in live)
                    + (f" (paused, not counted: {', '.join(paused)})" if paused else ""))
        since = services.clock() - timedelta(days=PREVIEW_DAYS)
        async with services.db.session() as session:
            recent = list(await session.exec(
                select(Feedback).where(Feedback.received_at >= since)
                .order_by(col(Feedback.received_at).desc()).limit(PREVIEW_SCAN)))
        hits = [item for item, probe in ((f, match_input(f)) for f in recent) if any(m(probe) for m in matchers)]
        blocks: list = [Heading(f"Preview: {title}"),
                        Text(f"In the last {PREVIEW_DAYS} days this would have sent {len(hits)} "
                             f"card{'s' if len(hits) != 1 else ''} here (of {len(recent)} items received).")]
        if note:
            blocks.append(Context((note,)))
        for item in hits[:5]:
            words = cut(redact(item.text), 280)[0]
            if words:  # a score given without a comment: no empty quote, the score cue says it
                blocks.append(Quote(words, lang=language_tag(item.language)))
            blocks.append(Context(tuple(x for x in (score_cue(item), None if words else "no comment", item.source,
                                                    item.product_area) if x)))
        blocks.append(Context(("Nothing was sent: this is a dry run."
                               + (" /station add with the same filters subscribes the channel." if words else ""),)))
        await responder.private(Card(fallback=f"Preview: {len(hits)} matching items", blocks=tuple(blocks)))

    return command


def _channel(event: CommandEvent) -> str:
    return channel_of(event, "run this in the channel you want to subscribe")


def _limits(station: Station) -> str:
    parts = []
    if station.cap_per_hour:
        parts.append(f"at most {station.cap_per_hour}/hour")
    if station.quiet_hours:
        q = station.quiet_hours
        parts.append(f"quiet {q['start']}–{q['end']} {q['tz']}")
    return "".join(f" · {p}" for p in parts)


async def _stations(event: CommandEvent, session: AsyncSession) -> list[Station]:
    rows = await session.exec(select(Station).where(
        Station.platform == event.platform, Station.channel_id == _channel(event),
        col(Station.workspace).is_not_distinct_from(event.workspace),
        col(Station.removed_at).is_(None)).order_by(col(Station.id)))
    return list(rows)


def _duplicate(existing: Station) -> str:
    state = f" (paused: /station resume {existing.id} turns it back on)" if existing.paused else ""
    return (f"station #{existing.id} already sends this channel {describe(existing.filters)}"
            f"{_limits(existing)}{state}. To change its limits, /station remove {existing.id} and add it again.")


async def _one(event: CommandEvent, words: list[str], session: AsyncSession) -> Station:
    stations = await _stations(event, session)
    if not stations:
        raise UsageError("this channel has no station")
    if not words:
        if len(stations) > 1:
            ids = ", ".join(f"#{s.id}" for s in stations)
            raise UsageError(f"this channel has several stations ({ids}); say which, e.g. /station pause "
                             f"{stations[0].id}")
        return stations[0]
    wanted = words[0].lstrip("#")
    for station in stations:
        if str(station.id) == wanted:
            return station
    raise UsageError(f"no station #{wanted} in this channel (see /station list)")

"""`/station`: subscribe a channel to feedback, list, pause, resume, remove, and preview (a dry run)."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import col, select

from bot.adapter import Responder
from bot.cards import Card, Context, Heading, Quote, Text
from bot.commands import Command, UsageError, channel_of
from bot.core import Services
from bot.events import CommandEvent, Target
from bot.feedback.card import score_cue
from bot.feedback.directory import StationDirectory
from bot.feedback.filters import FILTER_HELP, Matcher, describe, parse_words
from bot.feedback.ingest import match_input
from bot.feedback.redact import Redactor
from bot.roles import has_any_role
from bot.text import cut
from storage.tables import Feedback, Station

PREVIEW_DAYS = 7
PREVIEW_SCAN = 5_000


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

    @command.add("add", "[filters]", "send matching customer feedback to this channel (no filter = everything)")
    async def add(event: CommandEvent, words: list[str], responder: Responder) -> None:
        channel = _channel(event)
        subscription = parse_words(words, services.settings.timezone)
        if not await managers_only(event, responder):
            return
        async with services.db.session() as session:
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
            await session.commit()
        directory.changed()

    @command.add("list", "", "the stations of this channel")
    async def list_(event: CommandEvent, words: list[str], responder: Responder) -> None:
        stations = await _stations(services, event)
        if not stations:
            await responder.private(Card(fallback="This channel has no station yet.", blocks=(
                Text("This channel has no station yet."), Context(("/station add subscribes it.",)))))
            return
        lines = [f"#{s.id} · {describe(s.filters)}{_limits(s)}{' · ⏸ paused' if s.paused else ''}"
                 for s in stations]
        await responder.private(Card(fallback="\n".join(lines),
                                     blocks=(Heading("Stations in this channel"), Text("\n".join(lines)))))

    async def set_paused(event: CommandEvent, words: list[str], responder: Responder, paused: bool) -> None:
        if not await managers_only(event, responder):
            return
        station = await _one(services, event, words)
        async with services.db.session() as session:
            station.paused = paused
            session.add(station)
            await session.commit()
        directory.changed()
        state = ("paused ⏸ (feedback that arrives meanwhile is not sent here; /station resume turns it back on)"
                 if paused else "live again ▶️")
        text = f"Station #{station.id} ({describe(station.filters)}) is {state}."
        await responder.private(Card(fallback=text, blocks=(Text(text),)))

    @command.add("pause", "[id]", "stop sending for now")
    async def pause(event: CommandEvent, words: list[str], responder: Responder) -> None:
        await set_paused(event, words, responder, True)

    @command.add("resume", "[id]", "start sending again")
    async def resume(event: CommandEvent, words: list[str], responder: Responder) -> None:
        await set_paused(event, words, responder, False)

    @command.add("remove", "[id]", "unsubscribe this channel from a station")
    async def remove(event: CommandEvent, words: list[str], responder: Responder) -> None:
        if not await managers_only(event, responder):
            return
        station = await _one(services, event, words)
        async with services.db.session() as session:
            station.removed_at = services.clock()
            session.add(station)
            await session.commit()
        directory.changed()
        await responder.private(Card(fallback=f"Station #{station.id} removed.", blocks=(
            Text(f"Station #{station.id} ({describe(station.filters)}) is removed from this channel."),)))

    @command.add("preview", "[filters]", f"what the last {PREVIEW_DAYS} days would have sent here (dry run)")
    async def preview(event: CommandEvent, words: list[str], responder: Responder) -> None:
        subscription = parse_words(words, services.settings.timezone)
        matches = Matcher(subscription.filters)
        since = services.clock() - timedelta(days=PREVIEW_DAYS)
        async with services.db.session() as session:
            recent = list(await session.exec(
                select(Feedback).where(Feedback.received_at >= since)
                .order_by(col(Feedback.received_at).desc()).limit(PREVIEW_SCAN)))
        hits = [f for f in recent if matches(match_input(f))]
        blocks: list = [Heading(f"Preview: {describe(subscription.filters)}"),
                        Text(f"In the last {PREVIEW_DAYS} days this would have sent {len(hits)} "
                             f"card{'s' if len(hits) != 1 else ''} here (of {len(recent)} items received).")]
        for item in hits[:5]:
            cue = score_cue(item)
            blocks.append(Quote(cut(redact(item.text), 280)[0]))
            blocks.append(Context(tuple(x for x in (cue, item.source, item.product_area) if x)))
        blocks.append(Context(("Nothing was sent: this is a dry run. /station add with the same filters "
                               "subscribes the channel.",)))
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


async def _stations(services: Services, event: CommandEvent) -> list[Station]:
    async with services.db.session() as session:
        rows = await session.exec(select(Station).where(
            Station.platform == event.platform, Station.channel_id == _channel(event),
            col(Station.workspace).is_not_distinct_from(event.workspace),
            col(Station.removed_at).is_(None)).order_by(col(Station.id)))
        return list(rows)


async def _one(services: Services, event: CommandEvent, words: list[str]) -> Station:
    stations = await _stations(services, event)
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

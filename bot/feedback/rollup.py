"""Roll-ups: what a station held back (over its hourly cap, or in quiet hours) goes out later as one
message, never dropped silently."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

from sqlalchemy import update
from sqlmodel import col, select

from bot.cards import Block, Card, Context, Heading, Quote
from bot.core import Services
from bot.events import Target
from bot.feedback.card import score_cue
from bot.feedback.ingest import recent_sends
from bot.feedback.languages import language_tag
from bot.feedback.quiet import in_quiet_hours
from bot.feedback.redact import Redactor
from bot.text import cut
from storage.tables import Feedback, Station, StationItem

SHOWN = 8
MAX_WAIT = timedelta(hours=1)  # steady traffic over the cap would otherwise use every freed slot, forever


async def release_held(services: Services, redact: Redactor) -> int:
    """Send one roll-up per station whose held items may go now: out of quiet hours, and with room under the
    hourly cap or once the oldest has waited an hour. Returns how many roll-ups were queued."""
    now = services.clock()
    queued = 0
    async with services.db.session() as session:
        held = list(await session.exec(
            select(StationItem, Feedback).join(Feedback, col(Feedback.id) == StationItem.feedback_id)
            .where(col(StationItem.held).is_(True), col(StationItem.released_at).is_(None))
            .order_by(col(StationItem.id))))
        if not held:
            return 0
        by_station: dict[int, list[tuple[StationItem, Feedback]]] = defaultdict(list)
        for item, feedback in held:
            by_station[item.station_id].append((item, feedback))
        stations = {s.id: s for s in await session.exec(select(Station).where(col(Station.id).in_(list(by_station))))}
        sent = await recent_sends(session, [s.id for s in stations.values() if s.cap_per_hour], now)
        for station_id, items in by_station.items():
            station = stations.get(station_id)
            if station is None or station.paused or in_quiet_hours(station.quiet_hours, now):
                continue  # a paused station keeps what it held until it is resumed
            oldest = min(item.routed_at for item, _ in items)
            if station.cap_per_hour and sent[station_id] >= station.cap_per_hour and now - oldest < MAX_WAIT:
                continue
            last = max(item.id or 0 for item, _ in items)
            if station.removed_at is None:
                await services.outbox.send(session, Target.channel(station.platform, station.channel_id),
                                           rollup_card(station, [f for _, f in items], redact),
                                           dedupe_key=f"rollup:{station_id}:{last}", created_by=station.created_by)
                queued += 1
            await session.exec(update(StationItem).where(  # type: ignore[call-overload]
                col(StationItem.id).in_([item.id for item, _ in items])).values(released_at=now))
        await session.commit()
    return queued


def rollup_card(station: Station, items: list[Feedback], redact: Redactor) -> Card:
    why = "while this channel was quiet" if station.quiet_hours else "beyond this channel's hourly limit"
    blocks: list[Block] = [Heading(f"📦 {len(items)} more from customers, {why}")]
    for item in items[:SHOWN]:
        words = cut(redact(item.text), 280)[0]
        if words:  # a score given without a comment: no empty quote, the score cue says it
            blocks.append(Quote(words, lang=language_tag(item.language)))
        blocks.append(Context(tuple(x for x in (score_cue(item), None if words else "no comment", item.source,
                                                item.product_area) if x)))
    if len(items) > SHOWN:
        blocks.append(Context((f"…and {len(items) - SHOWN} more. The weekly digest counts them all.",)))
    return Card(fallback=f"{len(items)} more pieces of customer feedback", blocks=tuple(blocks))

"""Ingest: validate, deduplicate on (source, id), store, route to stations and queue quote cards — one
transaction, so a 202 means everything is committed."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, fields
from datetime import timedelta
from typing import Any

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.core import Services
from bot.feedback.card import FeedbackView, feedback_card
from bot.feedback.directory import StationDirectory
from bot.feedback.filters import Probe, probe
from bot.feedback.items import FeedbackItem, validate
from bot.feedback.mappings import Mapping
from bot.feedback.quiet import in_quiet_hours
from bot.feedback.redact import Redactor
from bot.outbox import Message
from storage.batching import GroupWriter
from storage.columns import Encoded
from storage.tables import Feedback, StationItem
from storage.upsert import insert_many_ignore


@dataclass
class IngestResult:
    accepted: int = 0
    duplicates: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"accepted": self.accepted, "duplicates": self.duplicates, "rejected": self.rejected}


def match_input(item: Feedback | Incoming) -> Probe:
    return probe(item.source, item.text, item.score, item.score_type, item.tags, item.product_area, item.segment,
                 item.language)


@dataclass(slots=True)
class Incoming:
    """An item just stored, as routing and the card need it (lighter than a Feedback row)."""

    id: int | None
    external_id: str
    source: str
    text: str
    score: float | None
    score_type: str | None
    customer: dict[str, Any] | None
    segment: str | None
    tags: list[str]
    product_area: str | None
    language: str | None
    url: str | None


CARRIED = tuple(f.name for f in fields(Incoming) if f.name != "id")


class FeedbackIngest:
    """Concurrent requests share transactions (group commit, storage.batching)."""

    def __init__(self, services: Services, redact: Redactor, directory: StationDirectory) -> None:
        self._services = services
        self._redact = redact
        self._directory = directory
        self._writer: GroupWriter[list[FeedbackItem], set[tuple[str, str]]] = GroupWriter(self._write_group)

    async def ingest(self, raw_items: list[Any], mapping: Mapping | None = None) -> IngestResult:
        result = IngestResult()
        if mapping is not None:
            raw_items = [mapping.apply(r) for payload in raw_items for r in mapping.explode(payload)]
        valid: dict[tuple[str, str], FeedbackItem] = {}
        for index, raw in enumerate(raw_items):
            try:
                item = validate(raw)
            except ValueError as error:
                result.rejected.append({"index": index, "error": str(error)})
                continue
            if (item.source, item.id) in valid:
                result.duplicates += 1
            else:
                valid[(item.source, item.id)] = item
        if valid:
            stored = await self._writer.submit(list(valid.values()))
            result.accepted = len(stored)
            result.duplicates += len(valid) - len(stored)
        metrics = self._services.metrics.ingested
        metrics.labels("accepted").inc(result.accepted)
        metrics.labels("duplicate").inc(result.duplicates)
        metrics.labels("rejected").inc(len(result.rejected))
        return result

    async def _write_group(self, group: list[list[FeedbackItem]]) -> list[set[tuple[str, str]]]:
        """One transaction for every request waiting; each gets back the keys it newly stored (the first
        request naming an item gets it; a later one in the same group sees a duplicate)."""
        unique: dict[tuple[str, str], FeedbackItem] = {}
        for items in group:
            for item in items:
                unique.setdefault((item.source, item.id), item)
        async with self._services.db.write() as session:
            stored = await self._store(session, list(unique.values()))
            await self._route(session, stored)
            await session.commit()
        new = {(item.source, item.external_id) for item in stored}
        outcomes = []
        for items in group:
            mine = {key for item in items if (key := (item.source, item.id)) in new}
            new -= mine
            outcomes.append(mine)
        return outcomes

    async def _store(self, session: AsyncSession, items: list[FeedbackItem]) -> list[Incoming]:
        now = self._services.clock()
        rows = [{
            "source": i.source, "external_id": i.id, "text": i.text, "score": i.score, "score_type": i.score_type,
            "customer": i.customer.model_dump(exclude_none=True) if i.customer else None,
            "segment": i.customer.segment if i.customer else None, "tags": i.tags,
            "product_area": i.product_area, "language": i.language, "url": i.url,
            "created_at": i.created_at or now, "received_at": now,
        } for i in items]
        inserted = await insert_many_ignore(session, Feedback, rows,
                                            returning=(Feedback.id, Feedback.source, Feedback.external_id))
        ids = {(source, external): fid for fid, source, external in inserted}
        return [Incoming(id=ids[key], **{name: row[name] for name in CARRIED})
                for row in rows if (key := (row["source"], row["external_id"])) in ids]

    async def _route(self, session: AsyncSession, items: list[Incoming]) -> None:
        routing = await self._directory.routing(session)
        if not routing.stations or not items:
            return
        now = self._services.clock()
        quiet = {s.id: in_quiet_hours(s.quiet_hours, now) for s in routing.stations}
        sent = await recent_sends(session, [s.id for s in routing.stations if s.cap_per_hour], now)
        routed: list[dict[str, Any]] = []
        messages: list[Message] = []
        for item in items:
            card: Encoded | None = None
            for station in routing.matching(match_input(item)):
                held = quiet[station.id] or (station.cap_per_hour is not None
                                             and sent[station.id] >= station.cap_per_hour)
                if station.limited:  # the log that caps count and roll-ups release; unlimited stations need none
                    routed.append({"station_id": station.id, "feedback_id": item.id, "routed_at": now,
                                   "held": held, "released_at": None})
                if held:
                    continue
                sent[station.id] += 1
                card = card or Encoded.of(feedback_card(FeedbackView(item), self._redact).to_json())
                target = station.target
                messages.append(Message(target, card, f"fb:{item.id}:{target.platform}:{target.channel_id}",
                                        subject=("feedback", item.id or 0), created_by=station.created_by))
        await insert_many_ignore(session, StationItem, routed)
        await self._services.outbox.send_many(session, messages)


async def recent_sends(session: AsyncSession, station_ids: list[int | None], now: Any) -> Counter[int | None]:
    """Cards each station sent (not held) in the last hour, for its cap."""
    counts: Counter[int | None] = Counter()
    if station_ids:
        rows = await session.exec(
            select(StationItem.station_id, func.count()).where(
                col(StationItem.station_id).in_(station_ids), col(StationItem.held).is_(False),
                StationItem.routed_at >= now - timedelta(hours=1))
            .group_by(col(StationItem.station_id)))
        counts.update(dict(rows.all()))
    return counts

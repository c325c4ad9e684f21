"""Ingest: validate, detect languages, store on (source, id), route to stations and queue quote cards — one
transaction, so a 202 means everything is committed.

An item whose (source, id) is stored already updates it when it would change something (an edited comment, a
score sent apart from its comment): the fields it gives replace the stored ones, the fields it leaves out (or
gives as null, or text "") keep theirs, and every posted copy of its card is edited through the outbox,
coalesced. Its station routing is not done again. An exact resend is a duplicate, and so is an item whose tool's
own `updated_at` is older than the stored one (a replayed delivery, a late retry): it never rolls back a newer edit.
A score given without its scale keeps the stored item's scale."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, fields
from datetime import timedelta
from typing import Any

from pydantic import BaseModel
from sqlalchemy import bindparam, func, tuple_, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.core import Services
from bot.feedback.card import FeedbackView, feedback_card
from bot.feedback.directory import StationDirectory
from bot.feedback.filters import Probe, probe
from bot.feedback.items import FeedbackItem, check_score, validate
from bot.feedback.languages import detect_languages
from bot.feedback.mappings import Mapping
from bot.feedback.quiet import in_quiet_hours
from bot.feedback.redact import Redactor
from bot.feedback.views import refresh_cards
from bot.governance.tombstones import ERASED, buried, email_digest, item_digest
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
    updated: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"accepted": self.accepted, "updated": self.updated, "duplicates": self.duplicates,
                "rejected": self.rejected}


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
CONTENT = ("text", "score", "score_type", "customer", "tags", "product_area", "language", "url")
"""What a later item with the same (source, id) may change; `segment` follows `customer`."""
UPDATED = (*CONTENT, "segment", "updated_at")
KEYS_PER_SELECT = 500
OUTCOMES = ("accepted", "updated", "duplicate")
"""What the writer says of an item; anything else is the reason it is refused (a score outside the stored scale,
an erased customer's item)."""


def stale(row: dict[str, Any], item: FeedbackItem) -> bool:
    """The tool says the stored item changed after this one: an older delivery, replayed or retried late."""
    return row["updated_at"] is not None and item.updated_at is not None and item.updated_at < row["updated_at"]


def newer(row: dict[str, Any], item: FeedbackItem) -> dict[str, Any]:
    """The item's update time, when it moves the stored one forward."""
    if item.updated_at is not None and (row["updated_at"] is None or item.updated_at > row["updated_at"]):
        return {"updated_at": item.updated_at}
    return {}


def changes(row: dict[str, Any], item: FeedbackItem) -> dict[str, Any]:
    """What `item` would change in the stored `row`: the fields it gives (not null, text not ""), customer
    details merged into the stored ones. Empty for an exact resend. A score sent without its scale keeps the
    stored scale (ValueError when it does not fit it); a detected language only fills a stored item that has none."""
    given = item.model_fields_set
    new: dict[str, Any] = {}
    if item.score is not None and "score_type" not in given:
        if row["score_type"] is None:
            given = given | {"score_type"}  # the first score: the default scale (nps) it was validated on
        else:
            check_score(item.score, row["score_type"])
    if item.score is None and row["score"] is not None:
        given = given - {"score_type"}  # a scale without its score says nothing about the stored score's
    if item.language is not None and row["language"] is None:
        given = given | {"language"}  # a detected language fills the gap, never replaces a stored one
    for name in CONTENT:
        value = getattr(item, name)
        if name not in given or value is None or value == "":
            continue
        if isinstance(value, BaseModel):  # customer: the details it names replace the stored ones
            value = {**(row["customer"] or {}), **value.model_dump(exclude_none=True)} or row["customer"]
            if value and value.get("segment") != row["segment"]:
                new["segment"] = value.get("segment")
        if value != row[name]:
            new[name] = value
    return new


class FeedbackIngest:
    """Concurrent requests share transactions (group commit, storage.batching)."""

    def __init__(self, services: Services, redact: Redactor, directory: StationDirectory) -> None:
        self._services = services
        self._redact = redact
        self._directory = directory
        self._writer: GroupWriter[list[FeedbackItem], list[str]] = GroupWriter(self._write_group)

    async def ingest(self, raw_items: list[Any], mapping: Mapping | None = None) -> IngestResult:
        """`raw_items` as parsed; with a mapping, each is a source payload (exploded into its responses, and a
        rejection's index counts responses)."""
        result = IngestResult()
        if mapping is not None:
            raw_items = [r for payload in raw_items for r in mapping.explode(payload)]
        valid: list[FeedbackItem] = []
        indices: list[int] = []
        for index, raw in enumerate(raw_items):
            try:
                valid.append(validate(mapping.apply(raw) if mapping is not None else raw))
                indices.append(index)
            except ValueError as error:
                result.rejected.append({"index": index, "error": str(error)})
        undetected = [item for item in valid if item.language is None and item.text]
        for item, language in zip(undetected, detect_languages([i.text for i in undetected]), strict=True):
            if language is not None:
                item.language = language
                item.model_fields_set.discard("language")  # a guess: it fills a new item, never changes a stored one
        if valid:
            written = await self._writer.submit(valid)
            outcomes = Counter(written)
            result.accepted, result.updated, result.duplicates = (outcomes["accepted"], outcomes["updated"],
                                                                  outcomes["duplicate"])
            result.rejected.extend({"index": index, "error": outcome} for index, outcome in zip(indices, written,
                                                                                                strict=True)
                                   if outcome not in OUTCOMES)
            result.rejected.sort(key=lambda rejection: rejection["index"])
        metrics = self._services.metrics.ingested
        metrics.labels("accepted").inc(result.accepted)
        metrics.labels("updated").inc(result.updated)
        metrics.labels("duplicate").inc(result.duplicates)
        metrics.labels("rejected").inc(len(result.rejected))
        return result

    async def _write_group(self, group: list[list[FeedbackItem]]) -> list[list[str]]:
        """One transaction for every request waiting; each gets back one outcome per item, in order: "accepted"
        (the first naming a new item), "updated" (it changed the stored item), "duplicate" (nothing to change, or
        older than the stored item by the tool's own update time) or why it is refused. Items naming the same
        stored item apply in the order they came, so the last words win."""
        async with self._services.db.write() as session:
            erased = await self._erased(session, group)
            first: dict[tuple[str, str], FeedbackItem] = {}
            for items in group:
                for item in items:
                    if id(item) not in erased:
                        first.setdefault((item.source, item.id), item)
            arrival = list(first)
            # in key order, so two transactions on PostgreSQL take the rows' locks in one order and never deadlock
            state = await self._store(session, [first[key] for key in sorted(first)])
            new = set(state)
            state.update(await self._stored(session, sorted(key for key in first if key not in new)))
            outcomes: list[list[str]] = []
            edited: set[tuple[str, str]] = set()
            timed: set[tuple[str, str]] = set()  # only the tool's update time moved forward: no card to edit
            for items in group:
                mine = []
                for item in items:
                    key = (item.source, item.id)
                    row = state.get(key)
                    if id(item) in erased:
                        mine.append(ERASED)
                    elif first.pop(key, None) is item and key in new:
                        mine.append("accepted")
                    elif row is None or stale(row, item):
                        mine.append("duplicate")
                    else:
                        mine.append(self._apply(row, item, key, edited, timed))
                outcomes.append(mine)
            await self._update(session, [state[key] for key in edited | timed])
            await self._route(session, [Incoming(id=state[key]["id"], **{name: state[key][name] for name in CARRIED})
                                        for key in arrival if key in new])  # cards go out in arrival order
            for key in edited - new:
                await refresh_cards(session, self._services.outbox, self._redact, state[key]["id"])
            await session.commit()
        return outcomes

    async def _erased(self, session: AsyncSession, group: list[list[FeedbackItem]]) -> set[int]:
        """The `id()`s of items naming an erased item or an erased customer's e-mail (bot.governance.tombstones):
        one indexed select for the group, digests computed for its items alone."""
        keys = self._services.keys
        digests = {id(item): [item_digest(keys, item.source, item.id),
                              *([found] if item.customer and item.customer.email
                                and (found := email_digest(keys, item.customer.email)) else [])]
                   for items in group for item in items}
        tombstones = await buried(session, [digest for mine in digests.values() for digest in mine])
        return {item for item, mine in digests.items() if tombstones.intersection(mine)} if tombstones else set()

    @staticmethod
    def _apply(row: dict[str, Any], item: FeedbackItem, key: tuple[str, str], edited: set[tuple[str, str]],
               timed: set[tuple[str, str]]) -> str:
        """Apply `item` to the stored `row`; its outcome ("updated", "duplicate", or the reason it is refused)."""
        try:
            change = changes(row, item)
        except ValueError as error:
            return str(error)
        if moved := newer(row, item):  # kept even for an exact resend, so an older edit arriving later stays out
            row.update(moved)
            timed.add(key)
        if not change:
            return "duplicate"
        row.update(change)
        edited.add(key)
        return "updated"

    async def _stored(self, session: AsyncSession, keys: list[tuple[str, str]]) -> dict[tuple[str, str],
                                                                                      dict[str, Any]]:
        """The stored content of items already there, locked (PostgreSQL) until this transaction ends."""
        found: dict[tuple[str, str], dict[str, Any]] = {}
        for start in range(0, len(keys), KEYS_PER_SELECT):
            rows = await session.exec(
                select(Feedback.id, Feedback.source, Feedback.external_id, *(getattr(Feedback, c) for c in UPDATED))
                .where(tuple_(col(Feedback.source), col(Feedback.external_id)).in_(
                    keys[start:start + KEYS_PER_SELECT]))
                .order_by(col(Feedback.source), col(Feedback.external_id)).with_for_update())
            for row in rows:
                found[(row.source, row.external_id)] = dict(row._mapping)
        return found

    async def _update(self, session: AsyncSession, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        table = Feedback.__table__  # type: ignore[attr-defined]
        statement = update(table).where(table.c.id == bindparam("_id")).values(
            {name: bindparam(f"_{name}", type_=table.c[name].type) for name in UPDATED})
        connection = await session.connection()
        await connection.execute(statement, [{"_id": row["id"], **{f"_{name}": row[name] for name in UPDATED}}
                                             for row in rows])

    async def _store(self, session: AsyncSession, items: list[FeedbackItem]) -> dict[tuple[str, str],
                                                                                    dict[str, Any]]:
        """Insert the items not stored yet; their rows (with `id`) by key."""
        now = self._services.clock()
        rows = [{
            "source": i.source, "external_id": i.id, "text": i.text, "score": i.score, "score_type": i.score_type,
            "customer": i.customer.model_dump(exclude_none=True) if i.customer else None,
            "segment": i.customer.segment if i.customer else None, "tags": i.tags,
            "product_area": i.product_area, "language": i.language, "url": i.url,
            "created_at": i.created_at or now, "received_at": now, "updated_at": i.updated_at,
        } for i in items]
        inserted = await insert_many_ignore(session, Feedback, rows,
                                            returning=(Feedback.id, Feedback.source, Feedback.external_id))
        ids = {(source, external): fid for fid, source, external in inserted}
        return {key: {**row, "id": ids[key]} for row in rows if (key := (row["source"], row["external_id"])) in ids}

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

"""Enqueueing deliveries in the caller's transaction, so a message exists exactly when its cause commits."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.cards import Card
from bot.events import Target
from bot.metrics import Metrics
from storage.columns import Encoded, utcnow
from storage.tables import Delivery
from storage.upsert import insert_ignore, insert_many_ignore

UPDATE_COALESCE_SECONDS = 3.0


async def measure_outbox(session: AsyncSession, metrics: Metrics, now: datetime) -> None:
    """Set the outbox gauges: deliveries pending or in flight, and the age of the oldest of them."""
    depth, oldest = (await session.exec(
        select(func.count(), func.min(Delivery.created_at)).where(col(Delivery.status).in_(("pending", "sending")))
    )).one()
    metrics.outbox_depth.set(depth)
    metrics.outbox_oldest_seconds.set(max(0.0, (now - oldest).total_seconds()) if oldest is not None else 0.0)


@dataclass(frozen=True)
class Message:
    """One message for `Outbox.send_many`; `card` is already encoded (one encoding shared by many targets)."""

    target: Target
    card: Encoded
    dedupe_key: str
    subject: tuple[str, int] | None = None
    created_by: str | None = None


class Outbox:
    def __init__(self, clock: Callable[[], datetime] = utcnow, on_enqueue: Callable[[], None] | None = None,
                 update_interval: float = UPDATE_COALESCE_SECONDS) -> None:
        self._clock = clock
        self._on_enqueue = on_enqueue or (lambda: None)
        self.update_interval = update_interval
        self.edit_intervals: dict[str, float] = {}
        """Per platform, where it differs from `update_interval` (bot.pacing.Pacing.edit_interval)."""

    async def send(self, session: AsyncSession, target: Target, card: Card, *, dedupe_key: str,
                   subject: tuple[str, int] | None = None, created_by: str | None = None,
                   not_before: datetime | None = None) -> bool:
        """Queue a message (not before `not_before`, if given). The same `dedupe_key` twice queues it once;
        True when it is new."""
        row = self._row(target, card.to_json(), dedupe_key, subject, created_by)
        if not_before is not None:
            row["next_attempt_at"] = max(not_before, row["next_attempt_at"])
        new = await insert_ignore(session, Delivery, row)
        if new:
            self._on_enqueue()
        return new

    async def send_many(self, session: AsyncSession, messages: list[Message]) -> None:
        """Queue many messages in one statement (ingest fan-out); duplicates by `dedupe_key` are skipped."""
        now = self._clock()
        targets: dict[Target, Encoded] = {}
        rows = [self._row(m.target, m.card, m.dedupe_key, m.subject, m.created_by, now,
                          encoded_target=targets.get(m.target) or targets.setdefault(m.target,
                                                                                      Encoded.of(m.target.to_json())))
                for m in messages]
        await insert_many_ignore(session, Delivery, rows)
        if rows:
            self._on_enqueue()

    def _row(self, target: Target, card: dict[str, Any] | Encoded, dedupe_key: str, subject: tuple[str, int] | None,
             created_by: str | None, now: datetime | None = None,
             encoded_target: Encoded | None = None) -> dict[str, Any]:
        now = now or self._clock()
        return {
            "dedupe_key": dedupe_key, "platform": target.platform, "kind": "send",
            "target": encoded_target or target.to_json(), "pace_key": target.pace_key, "card": card,
            "subject_kind": subject[0] if subject else None, "subject_id": subject[1] if subject else None,
            "status": "pending", "attempts": 0, "next_attempt_at": now, "created_by": created_by, "created_at": now,
        }  # the columns a new send leaves NULL (parent, lease, error, message ids, sent_at) are left out: each
        # value of each row costs a bound parameter, and a fan-out inserts thousands of rows

    async def update(self, session: AsyncSession, parent: Delivery, card: Card) -> None:
        """Queue a new version of a posted card, coalesced: a pending edit is replaced, not joined by another,
        and edits to one message are spaced `update_interval` apart. A card not yet posted is just replaced."""
        if parent.status == "pending":
            parent.card = card.to_json()
            session.add(parent)
            return
        pending = (await session.exec(
            select(Delivery).where(Delivery.parent_id == parent.id, Delivery.status == "pending")
        )).first()
        if pending is not None:
            pending.card = card.to_json()
            session.add(pending)
            return
        last_sent = (await session.exec(
            select(func.max(Delivery.sent_at)).where(Delivery.parent_id == parent.id)
        )).one()
        now = self._clock()
        interval = self.edit_intervals.get(parent.platform, self.update_interval)
        due = max(now, last_sent + timedelta(seconds=interval)) if last_sent else now
        session.add(Delivery(
            dedupe_key=f"update:{parent.id}:{uuid.uuid4().hex}", platform=parent.platform, kind="update",
            pace_key=f"{parent.pace_key}#edit", card=card.to_json(), parent_id=parent.id,
            next_attempt_at=due, created_at=now,
        ))
        self._on_enqueue()

    @staticmethod
    async def posted(session: AsyncSession, subject_kind: str, subject_id: int) -> list[Delivery]:
        """The sends about one subject (for updating every copy of a card)."""
        rows = await session.exec(
            select(Delivery).where(Delivery.subject_kind == subject_kind, Delivery.subject_id == subject_id,
                                   Delivery.kind == "send").order_by(col(Delivery.id))
        )
        return list(rows)

    @staticmethod
    async def by_key(session: AsyncSession, dedupe_key: str) -> Delivery | None:
        return (await session.exec(select(Delivery).where(Delivery.dedupe_key == dedupe_key))).first()

    @staticmethod
    async def find_by_message(session: AsyncSession, platform: str, channel_id: str,
                              message_id: str) -> Delivery | None:
        rows = await session.exec(select(Delivery).where(
            Delivery.platform == platform, Delivery.message_channel == channel_id,
            Delivery.message_id == message_id, Delivery.kind == "send"))
        return rows.first()

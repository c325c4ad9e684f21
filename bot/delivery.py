"""The delivery worker: drains the outbox with leases, pacing, backoff and a final verdict per delivery."""

from __future__ import annotations

import asyncio
import logging
import random
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta

from sqlalchemy import or_, update
from sqlmodel import col, select

from bot.adapter import Adapter, DeliveryError, SentLookup
from bot.cards import Card
from bot.events import MessageRef, Target
from bot.metrics import Metrics
from bot.pacing import Pacer
from storage.columns import utcnow
from storage.engine import Database
from storage.tables import Delivery

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
LEASE_SECONDS = 60.0
"""How long a claim is this worker's alone. A claim is only sent while at least half of it remains (far more
than a platform call's timeout), so a live worker never races the worker that takes over an expired claim."""
RECORD_RETRY_SECONDS = 0.5
PARENT_WAIT_SECONDS = 1.0
HOLD_SECONDS = 2.0
"""A conversation paused longer than this (a 429's Retry-After) gives its claims back instead of waiting."""

FailureHook = Callable[[Delivery], Awaitable[None]]


def backoff_seconds(attempt: int, rng: random.Random) -> float:
    """Exponential backoff with full jitter: about 1, 2, 4 … seconds, capped at five minutes."""
    return min(300.0, 2.0 ** (attempt - 1)) * (0.5 + rng.random() / 2)


class DeliveryWorker:
    def __init__(self, db: Database, adapters: Mapping[str, Adapter], pacer: Pacer, metrics: Metrics, *,
                 clock: Callable[[], datetime] = utcnow, on_failed: FailureHook | None = None,
                 batch_size: int = 100, concurrency: int = 16, rng: random.Random | None = None,
                 lease_seconds: float = LEASE_SECONDS) -> None:
        self._db = db
        self._adapters = adapters
        self._pacer = pacer
        self._metrics = metrics
        self._clock = clock
        self._on_failed = on_failed
        self._batch_size = batch_size
        self._slots = asyncio.Semaphore(concurrency)
        self._rng = rng or random.Random()
        self._lease = timedelta(seconds=lease_seconds)
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """Something was enqueued in this process: don't wait for the next poll."""
        self._wake.set()

    async def run(self, stop: asyncio.Event, poll_seconds: float = 0.5) -> None:
        while not stop.is_set():
            try:
                handled = await self.run_once()
            except Exception:  # the database may be away for a moment; the next round retries
                log.exception("delivery round failed")
                handled = 0
            if handled:
                continue
            self._wake.clear()
            waiters = [asyncio.ensure_future(self._wake.wait()), asyncio.ensure_future(stop.wait())]
            await asyncio.wait(waiters, timeout=poll_seconds, return_when=asyncio.FIRST_COMPLETED)
            for waiter in waiters:
                waiter.cancel()

    async def run_once(self) -> int:
        """Claim what is due and deliver it: conversations in parallel, each in order. Returns the count."""
        claimed, unsure = await self._claim()
        checked = [d for d in claimed if d.id in unsure]
        found = await asyncio.gather(*(self._recover(d) for d in checked))
        settled = {d.id for d, done in zip(checked, found, strict=True) if done}
        by_target: dict[str, list[Delivery]] = defaultdict(list)
        for delivery in claimed:
            if delivery.id not in settled:
                by_target[delivery.pace_key].append(delivery)
        await asyncio.gather(*(self._drain(group) for group in by_target.values()))
        return len(claimed)

    async def _claim(self) -> tuple[list[Delivery], set[int]]:
        """Due deliveries, now leased to this worker, and the ids of those that were 'sending': their last
        attempt's outcome is unknown (its worker died, or the call failed without a clear answer)."""
        if not self._adapters:
            return [], set()
        now = self._clock()
        # Only this process's platforms: a worker next to another deployment's on one database (or one with a
        # platform turned off) leaves their deliveries to them rather than failing them.
        due = col(Delivery.platform).in_(list(self._adapters)) & or_(
            (col(Delivery.status) == "pending") & (col(Delivery.next_attempt_at) <= now),
            (col(Delivery.status) == "sending") & (col(Delivery.lease_until) < now),
        )
        async with self._db.write() as session:
            query = select(Delivery.id, Delivery.status).where(due).order_by(col(Delivery.id)).limit(self._batch_size)
            if not self._db.is_sqlite:
                query = query.with_for_update(skip_locked=True)
            found = (await session.exec(query)).all()
            if not found:
                return [], set()
            ids = [id_ for id_, _ in found]
            await session.exec(  # type: ignore[call-overload]
                update(Delivery).where(col(Delivery.id).in_(ids), due).values(
                    status="sending", lease_until=now + self._lease,
                    attempts=Delivery.attempts + 1)
            )
            await session.commit()
            rows = await session.exec(select(Delivery).where(col(Delivery.id).in_(ids),
                                                             Delivery.status == "sending"))
            return sorted(rows, key=lambda d: d.id or 0), {id_ for id_, status in found if status == "sending"}

    def _lookup(self, delivery: Delivery) -> SentLookup | None:
        """The adapter, when it can find this delivery's post again (sends only: an edit is idempotent)."""
        adapter = self._adapters.get(delivery.platform)
        return adapter if delivery.kind == "send" and isinstance(adapter, SentLookup) else None

    async def _recover(self, delivery: Delivery) -> bool:
        """A send whose last attempt may have reached the platform: when the adapter finds that post, record it
        rather than post again. True when the delivery needs nothing more this round. The search starts at
        `next_attempt_at`, which no such attempt precedes: only a clear failure moves it on."""
        lookup = self._lookup(delivery)
        if lookup is None:
            return False
        try:
            async with self._slots:
                ref = await lookup.find_sent(Target.from_json(delivery.target or {}), delivery.dedupe_key,
                                              delivery.next_attempt_at)
        except DeliveryError as error:
            if not error.retryable:  # e.g. a missing scope: no way to know, so at least once
                log.warning("delivery %s: cannot look for an earlier post (%s); posting", delivery.id, error.reason)
                return False
            await self._after_error(delivery, error, unknown=True)
            return True
        except Exception as error:
            log.exception("looking up delivery %s raised", delivery.id)
            await self._after_error(delivery, DeliveryError(f"{type(error).__name__}: {error}", retryable=True),
                                    unknown=True)
            return True
        if ref is None:
            return False
        log.info("delivery %s had reached the platform unrecorded; recording it, not posting again", delivery.id)
        await self._finish(delivery, ref)
        return True

    async def _drain(self, group: list[Delivery]) -> None:
        async with self._slots:
            for index, delivery in enumerate(group):
                if delivery.platform not in self._adapters:  # claimed only with an adapter; never a KeyError here
                    await self._fail(delivery, f"platform {delivery.platform} is not configured")
                    continue
                wait = self._pacer.delay(delivery.platform, delivery.pace_key)
                if wait > HOLD_SECONDS:
                    await self._release(group[index:], wait)
                    return
                if not await self._deliver(delivery):
                    await self._release(group[index:], 0.0)
                    return

    async def _release(self, deliveries: list[Delivery], wait: float) -> None:
        """Hand claims back untouched (the attempt does not count) to be tried once the pause is over."""
        retry_at = self._clock() + timedelta(seconds=wait)
        for delivery in deliveries:
            await self._set(delivery, status="pending", lease_until=None, attempts=delivery.attempts - 1,
                            next_attempt_at=retry_at)

    def _lease_ok(self, delivery: Delivery) -> bool:
        """Half the lease still ahead: time enough to send and record before anyone may take the claim over."""
        return delivery.lease_until is None or self._clock() + self._lease / 2 <= delivery.lease_until

    async def _deliver(self, delivery: Delivery) -> bool:
        """Send one claimed delivery and record the outcome. False: the lease ran short, nothing was sent."""
        adapter = self._adapters[delivery.platform]  # _drain checked
        card = Card.from_json(delivery.card)
        try:
            if delivery.kind == "update":
                ref = await self._parent_ref(delivery)
                if ref is None:
                    return True
                await self._pacer.acquire(delivery.platform, delivery.pace_key)
                if not self._lease_ok(delivery):
                    return False
                await adapter.update(ref, card)
            else:
                await self._pacer.acquire(delivery.platform, delivery.pace_key)
                if not self._lease_ok(delivery):
                    return False
                ref = await adapter.send(Target.from_json(delivery.target or {}), card, key=delivery.dedupe_key)
        except DeliveryError as error:
            unknown = error.maybe_delivered and self._lookup(delivery) is not None
            await self._after_error(delivery, error, unknown=unknown)
            return True
        except Exception as error:  # an adapter bug or a dropped connection: retry, but say what happened
            log.exception("delivery %s raised", delivery.id)
            await self._after_error(delivery, DeliveryError(f"{type(error).__name__}: {error}", retryable=True),
                                    unknown=self._lookup(delivery) is not None)
            return True
        await self._finish(delivery, ref)
        return True

    async def _parent_ref(self, delivery: Delivery) -> MessageRef | None:
        async with self._db.session() as session:
            parent = await session.get(Delivery, delivery.parent_id)
        if parent is not None and parent.status == "sent" and parent.message_id and parent.message_channel:
            return MessageRef(parent.platform, parent.message_channel, parent.message_id)
        if parent is None or parent.status == "failed":
            await self._fail(delivery, "the message to update was never posted")
        else:
            await self._set(delivery, status="pending", attempts=delivery.attempts - 1,
                            next_attempt_at=self._clock() + timedelta(seconds=PARENT_WAIT_SECONDS))
        return None

    async def _finish(self, delivery: Delivery, ref: MessageRef) -> None:
        # A sent edit's content is not kept: successive snapshots of live tallies, each with its time, could
        # be differenced against who answered when.
        cleared = {"card": {"fallback": "", "blocks": []}} if delivery.kind == "update" else {}
        values = dict(status="sent", sent_at=self._clock(), lease_until=None, last_error=None,
                      message_channel=ref.channel_id, message_id=ref.message_id, **cleared)
        self._metrics.deliveries.labels(delivery.platform, delivery.kind, "sent").inc()
        # The platform has the message: keep trying to record that (the database may be restarting) for as
        # long as the claim is ours, since a claim that expires unrecorded is taken over by another worker
        # (which finds the post when the adapter can look it up, and sends it again otherwise).
        while True:
            try:
                await self._set(delivery, **values)
                return
            except Exception:
                if delivery.lease_until is None or self._clock() >= delivery.lease_until:
                    raise
                log.warning("delivery %s was sent but could not be recorded yet; retrying", delivery.id)
                await asyncio.sleep(RECORD_RETRY_SECONDS)

    async def _after_error(self, delivery: Delivery, error: DeliveryError, *, unknown: bool) -> None:
        """Back off, or give up. `unknown`: the post may be on the platform, so the delivery stays 'sending'
        until the retry, and whoever claims it then looks for the post before posting again."""
        if not error.retryable:
            await self._fail(delivery, error.reason)
            return
        if delivery.attempts >= MAX_ATTEMPTS:
            await self._fail(delivery, f"gave up after {delivery.attempts} attempts: {error.reason}")
            return
        if error.retry_after is not None:
            self._pacer.hold(delivery.platform, delivery.pace_key, error.retry_after)
            wait = error.retry_after
        else:
            wait = backoff_seconds(delivery.attempts, self._rng)
        retry_at = self._clock() + timedelta(seconds=wait)
        if unknown:
            await self._set(delivery, status="sending", lease_until=retry_at, last_error=error.reason[:500])
        else:
            await self._set(delivery, status="pending", lease_until=None, last_error=error.reason[:500],
                            next_attempt_at=retry_at)
        self._metrics.deliveries.labels(delivery.platform, delivery.kind, "retried").inc()

    async def _fail(self, delivery: Delivery, reason: str) -> None:
        await self._set(delivery, status="failed", lease_until=None, last_error=reason[:500])
        self._metrics.deliveries.labels(delivery.platform, delivery.kind, "failed").inc()
        log.warning("delivery %s failed for good: %s", delivery.id, reason)
        if self._on_failed is not None:
            delivery.last_error = reason[:500]
            await self._on_failed(delivery)

    async def _set(self, delivery: Delivery, **values: object) -> None:
        async with self._db.write() as session:
            await session.exec(update(Delivery).where(col(Delivery.id) == delivery.id)  # type: ignore[call-overload]
                               .values(**values))
            await session.commit()

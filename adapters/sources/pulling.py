"""Pull sources (App Store Connect, Google Play, Delighted's and Zendesk's APIs): run by the scheduler's leader
only, one `tick` every PULL_TICK_SECONDS (adapters/runtime.py).

A tick pulls every registered source whose kind has `pull` and whose `next_pull_at` is due. A source is claimed
first (its `next_pull_at` moved a lease ahead, only if nobody moved it meanwhile), so two schedulers overlapping
for a few seconds at a change of leader never pull the same source at once, and a leader that dies mid-pull
leaves the source to the next one when the lease runs out. Each page's items go through the feedback ingest and
are committed before the page's cursor is saved: a crash between the two pulls the page again, and the ingest
counts the re-fetched items as duplicates. While a page says `more`, the next is pulled at once, up to MAX_PAGES
a tick. A source that fails (RetryAfter, SourceError, a network error, a timeout, a bug) waits, longer after
each failure in a row; the others still run."""

from __future__ import annotations

import asyncio
import logging
import math
import random
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import aiohttp
from sqlalchemy import or_
from sqlmodel import col, select, update

from adapters.sources.base import Kind, Page, RetryAfter, SourceConfig, SourceError
from adapters.sources.kinds import KINDS
from adapters.sources.registry import secret_box, source_config, write_tallies
from adapters.sources.scrub import scrub
from bot.feedback.ingest import IngestResult
from storage.columns import utcnow
from storage.engine import Database
from storage.secrets import SecretKeyError
from storage.tables import FeedbackSource

log = logging.getLogger(__name__)

PULL_TICK_SECONDS = 30
MAX_PAGES = 20
"""Pages one source may pull in one tick; a source with more left is pulled again at the next tick."""
PAGE_TIMEOUT = 120.0
LEASE = timedelta(minutes=10)
"""How long a claimed source is left alone: longer than one page can take (PAGE_TIMEOUT and its ingest). Each page
stored renews it, so a long pull of MAX_PAGES pages keeps its claim to the end."""
ERROR_WAIT = 60.0
"""The wait after a first failure that named no wait of its own; it doubles with each failure in a row."""
MAX_WAIT = 6 * 3600.0
"""No source waits longer, whatever a Retry-After says."""
JITTER = 0.25
HTTP_TIMEOUT = aiohttp.ClientTimeout(total=60, sock_connect=15)

Ingest = Callable[[list[dict[str, Any]]], Awaitable[IngestResult]]


def backoff(wait: float, failures: int, draw: float) -> float:
    """The wait after `failures` failures in a row, the first asking for `wait` seconds: doubled each time,
    capped, and lengthened by up to JITTER (`draw` in [0, 1)) so sources that failed together don't return
    together. Never shorter than `wait`, so a Retry-After is honoured."""
    return min(MAX_WAIT, wait * 2 ** (max(1, failures) - 1) * (1 + JITTER * draw))


class PullRunner:
    """Pulls the due sources of one database. Failures in a row are counted in memory: a new leader starts
    each source's back-off afresh."""

    def __init__(self, db: Database, keys: Sequence[str], ingest: Ingest, *,
                 http: Callable[[], aiohttp.ClientSession | None] = lambda: None, kinds: Mapping[str, Kind] = KINDS,
                 clock: Callable[[], datetime] = utcnow,
                 draw: Callable[[], float] = random.random) -> None:
        self._db = db
        self._box = secret_box(keys)
        self._ingest = ingest
        self._http = http
        self._own_http: aiohttp.ClientSession | None = None
        self._kinds = kinds
        self._clock = clock
        self._draw = draw
        self._failures: Counter[int] = Counter()
        self._idle = asyncio.Event()
        self._idle.set()

    async def idle(self, grace: float) -> bool:
        """Wait up to `grace` seconds for a tick in flight to finish (at a stop: cancelled inside a database call,
        a pull leaves a connection behind that nothing closes). False if it is still running."""
        if self._idle.is_set():
            return True
        try:
            await asyncio.wait_for(self._idle.wait(), grace)
        except TimeoutError:
            return False
        return True

    async def close(self) -> None:
        """Close the HTTP session this runner opened for itself, when `http` gave it none (the runtime's belongs to
        the runtime)."""
        if self._own_http is not None:
            await self._own_http.close()
            self._own_http = None

    def _session(self) -> aiohttp.ClientSession:
        given = self._http()
        if given is not None:
            return given
        if self._own_http is None:
            self._own_http = aiohttp.ClientSession(timeout=HTTP_TIMEOUT)
        return self._own_http

    async def tick(self) -> int:
        """Pull every due source; the number of items stored or updated."""
        self._idle.clear()
        try:
            return await self._tick()
        finally:
            self._idle.set()

    async def _tick(self) -> int:
        pulled = [name for name, kind in self._kinds.items() if kind.pull is not None]
        if not pulled:
            return 0
        now = self._clock()
        async with self._db.session() as session:
            due = list(await session.exec(select(FeedbackSource).where(
                col(FeedbackSource.kind).in_(pulled),
                or_(col(FeedbackSource.next_pull_at).is_(None), col(FeedbackSource.next_pull_at) <= now))
                .order_by(col(FeedbackSource.id))))
        stored = 0
        for row in due:
            if await self._claim(row, now):
                stored += await self._pull(row)
        return stored

    async def _claim(self, row: FeedbackSource, now: datetime) -> bool:
        """Move the source's next pull a lease ahead, unless another scheduler moved it since we read it."""
        same = (col(FeedbackSource.next_pull_at).is_(None) if row.next_pull_at is None
                else col(FeedbackSource.next_pull_at) == row.next_pull_at)
        async with self._db.write() as session:
            result = await session.exec(update(FeedbackSource)  # type: ignore[call-overload]
                                        .where(col(FeedbackSource.id) == row.id, same)
                                        .values(next_pull_at=now + LEASE))
            await session.commit()
        return bool(result.rowcount)

    async def _pull(self, row: FeedbackSource) -> int:
        assert row.id is not None
        kind = self._kinds[row.kind]
        assert kind.pull is not None
        stored = 0
        cursor = row.cursor
        config: SourceConfig | None = None
        try:
            config = source_config(row, self._box)
            for _ in range(MAX_PAGES):
                page = await asyncio.wait_for(kind.pull(self._session(), config, cursor, self._clock()),
                                              PAGE_TIMEOUT)
                stored += await self._store(row.id, page)
                cursor = page.cursor
                if not page.more:
                    break
        except Exception as error:
            await self._failed(row, error, config)
            return stored
        self._failures.pop(row.id, None)
        wait = 0.0 if page.more else kind.pull_every  # pages left after MAX_PAGES: the next tick goes on
        await self._set(row.id, next_pull_at=self._clock() + timedelta(seconds=wait))
        return stored

    async def _store(self, source_id: int, page: Page) -> int:
        """Ingest a page's items (committed there), then save the cursor that follows them, count them and renew
        the claim for the next page."""
        result = await self._ingest(page.items) if page.items else IngestResult()
        now = self._clock()
        hour = now.replace(minute=0, second=0, microsecond=0)
        counts = Counter(accepted=result.accepted, updated=result.updated, duplicates=result.duplicates,
                         rejected=len(result.rejected) + page.rejected)
        if page.rejected:
            log.warning("source %d: %d unreadable record(s) of a page skipped", source_id, page.rejected)
        if result.rejected:
            log.warning("source %d: %d pulled item(s) rejected, e.g. %s", source_id, len(result.rejected),
                        result.rejected[0].get("error"))
        async with self._db.write() as session:
            await session.exec(update(FeedbackSource).where(  # type: ignore[call-overload]
                col(FeedbackSource.id) == source_id).values(cursor=page.cursor, next_pull_at=now + LEASE))
            await write_tallies(session, {(source_id, hour): +counts} if +counts else {},
                                {source_id: now} if page.items else {}, {})
            await session.commit()
        return result.accepted + result.updated

    async def _failed(self, row: FeedbackSource, error: Exception, config: SourceConfig | None) -> None:
        """Back off, and keep the reason as the last error, with the source's secrets cut out (a vendor's error
        text may echo the credential it refused)."""
        assert row.id is not None
        self._failures[row.id] += 1
        failures = self._failures[row.id]
        asked = error.seconds if isinstance(error, RetryAfter) and math.isfinite(error.seconds) else ERROR_WAIT
        wait = backoff(max(asked, 1.0), failures, self._draw())
        message = describe(error) if config is None else scrub(describe(error), config)
        log.warning("source %s: pull failed (%d in a row), next try in %.0f s: %s", row.name, failures, wait, message,
                    exc_info=not isinstance(error, RetryAfter | SourceError | aiohttp.ClientError | TimeoutError))
        now = self._clock()
        await self._set(row.id, next_pull_at=now + timedelta(seconds=wait), last_error=message[:500],
                        last_error_at=now)

    async def _set(self, source_id: int, **values: object) -> None:
        async with self._db.write() as session:
            await session.exec(update(FeedbackSource).where(  # type: ignore[call-overload]
                col(FeedbackSource.id) == source_id).values(**values))
            await session.commit()


def describe(error: Exception) -> str:
    """A failure in words for `earshot sources list`. Only messages written for that (RetryAfter, SourceError)
    are shown whole; other errors by their type, since their text may quote a request."""
    if isinstance(error, RetryAfter | SourceError):
        return str(error)
    if isinstance(error, TimeoutError):
        return "the tool's API did not answer in time"
    if isinstance(error, aiohttp.ClientResponseError):
        return f"the tool's API answered HTTP {error.status}"
    if isinstance(error, aiohttp.ClientError):
        return f"the tool's API could not be reached ({type(error).__name__})"
    if isinstance(error, SecretKeyError):
        return "the source's secrets don't open with EARSHOT_SECRET_KEY: add the source again"
    return f"the pull failed ({type(error).__name__}); the worker's log has the details"

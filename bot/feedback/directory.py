"""Active stations with their compiled filters, cached briefly: routing runs on every ingest request, and
loading and compiling fifty stations each time cost more than the rest of the request."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.feedback.filters import Matcher
from storage.tables import Station

TTL_SECONDS = 2.0
"""How stale another process's station change may be here (this process's own changes apply at once)."""


@dataclass(frozen=True)
class ActiveStation:
    station: Station
    matches: Matcher


class StationDirectory:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._cached: list[ActiveStation] | None = None
        self._loaded_at = 0.0

    async def active(self, session: AsyncSession) -> list[ActiveStation]:
        if self._cached is None or self._clock() - self._loaded_at > TTL_SECONDS:
            rows = await session.exec(select(Station).where(col(Station.paused).is_(False),
                                                            col(Station.removed_at).is_(None)))
            self._cached = [ActiveStation(s, Matcher(s.filters)) for s in rows]
            self._loaded_at = self._clock()
        return self._cached

    def changed(self) -> None:
        """A station was added, paused, resumed or removed in this process."""
        self._cached = None

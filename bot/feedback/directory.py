"""Active stations with their compiled filters, cached briefly: routing runs on every ingest request, and
loading and compiling fifty stations each time cost more than the rest of the request."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.events import Target
from bot.feedback.filters import Matcher, Probe
from storage.tables import Station

TTL_SECONDS = 2.0
"""How stale another process's station change may be here (this process's own changes apply at once)."""


@dataclass(frozen=True, slots=True)
class ActiveStation:
    """What routing reads of a station per item, copied out of the ORM row once (attribute access on a
    mapped row costs more than the filter check itself)."""

    id: int
    target: Target
    cap_per_hour: int | None
    quiet_hours: dict[str, Any] | None
    created_by: str
    matches: Matcher

    @classmethod
    def of(cls, station: Station) -> ActiveStation:
        return cls(station.id or 0, Target.channel(station.platform, station.channel_id), station.cap_per_hour,
                   station.quiet_hours, station.created_by, Matcher(station.filters))

    @property
    def limited(self) -> bool:
        return self.cap_per_hour is not None or self.quiet_hours is not None


@dataclass
class Routing:
    """The active stations, indexed by the product areas their filters require, so an item is only tested
    against stations it could match."""

    stations: list[ActiveStation]
    _any_area: list[ActiveStation] = field(default_factory=list)
    _by_area: dict[str, list[ActiveStation]] = field(default_factory=lambda: defaultdict(list))

    def __post_init__(self) -> None:
        for station in self.stations:
            if not station.matches.areas:
                self._any_area.append(station)
            for area in station.matches.areas:
                self._by_area[area].append(station)

    def matching(self, item: Probe) -> list[ActiveStation]:
        """The stations an item goes to, in station order."""
        candidates = self._any_area + self._by_area.get(item.product_area or "", [])
        found = [s for s in candidates if s.matches(item)]
        return sorted(found, key=lambda s: s.id) if len(found) > 1 else found


class StationDirectory:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._cached: Routing | None = None
        self._loaded_at = 0.0

    async def routing(self, session: AsyncSession) -> Routing:
        if self._cached is None or self._clock() - self._loaded_at > TTL_SECONDS:
            rows = await session.exec(select(Station).where(col(Station.paused).is_(False),
                                                            col(Station.removed_at).is_(None))
                                      .order_by(col(Station.id)))
            self._cached = Routing([ActiveStation.of(s) for s in rows])
            self._loaded_at = self._clock()
        return self._cached

    def changed(self) -> None:
        """A station was added, paused, resumed or removed in this process."""
        self._cached = None

"""What a team is in the digest: a channel.

A channel's customer figures are the feedback in the product areas its stations subscribe it to
(`/station add area:checkout`); a channel with a station that takes every area covers them all. Its
employee figures come from the pulses launched in it, and its engagement from the reactions, claims and
closed loops made in it. Product-area names match case-insensitively.

A station can take less than its areas (`nps:detractor`, `source:appstore`): then the channel hears only part
of the feedback its figures count, and the digest says so, with what it heard beside them (bot.digests.heard)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.digests.queries import StationRow
from bot.text import casefold

NO_AREA = "(no area)"


@dataclass(frozen=True)
class Team:
    platform: str
    channel_id: str
    areas: frozenset[str] | None = None
    """Case-folded product areas; None means every area."""
    label: str | None = None
    """The channel's name on its platform (bot.digests.names), when known."""
    filters: tuple[dict[str, Any], ...] = field(default=(), hash=False)
    """Its stations' filters."""

    @property
    def key(self) -> str:
        return f"{self.platform}:{self.channel_id}"

    @property
    def name(self) -> str:
        return self.label or self.channel_id

    @property
    def narrowed(self) -> bool:
        """Some station takes only part of its areas' feedback (by score, source, keyword…)."""
        return any(values for f in self.filters for key, values in f.items() if key != "areas")

    def covers(self, area: str | None) -> bool:
        if self.areas is None:
            return True
        return area is not None and casefold(area) in self.areas


def area_label(area: str | None) -> str:
    return area if area else NO_AREA


def teams_from(stations: Iterable[StationRow], other_channels: Iterable[tuple[str, str]],
               names: Mapping[str, str] | None = None) -> list[Team]:
    """Every channel with a station, a pulse run or engagement; stations decide the areas it covers. `names`
    (team key → channel name) label them; one without a name goes by its channel id."""
    areas: dict[tuple[str, str], set[str] | None] = {}
    filters: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for station in stations:
        key = (station.platform, station.channel_id)
        filters.setdefault(key, []).append(station.filters)
        wanted = station.filters.get("areas") or []
        if not wanted or (key in areas and areas[key] is None):
            areas[key] = None
        else:
            known = areas.setdefault(key, set())
            assert known is not None
            known.update(casefold(area) for area in wanted)
    names = names or {}
    teams = {key: Team(key[0], key[1], frozenset(value) if value is not None else None, names.get(":".join(key)),
                       tuple(filters[key])) for key, value in areas.items()}
    for key in other_channels:
        teams.setdefault(key, Team(key[0], key[1], frozenset(), names.get(":".join(key))))
    return sorted(teams.values(), key=lambda t: t.key)

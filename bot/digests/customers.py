"""Customer figures of one scope from the per-(area, source, week) groups: sums over the areas it covers."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from bot.digests.model import Customers, QuoteLine
from bot.digests.privacy import Figure, count_figure, figure
from bot.digests.queries import FeedbackGroup
from bot.digests.teams import area_label
from bot.digests.themes import Gram, top_themes


@dataclass
class Tally:
    items: int = 0
    nps_n: int = 0
    promoters: int = 0
    detractors: int = 0
    csat_n: int = 0
    satisfied: int = 0
    by_source: Counter[str] = field(default_factory=Counter)
    by_area: Counter[str] = field(default_factory=Counter)

    def add(self, group: FeedbackGroup) -> None:
        self.items += group.items
        self.nps_n += group.nps_n
        self.promoters += group.promoters
        self.detractors += group.detractors
        self.csat_n += group.csat_n
        self.satisfied += group.satisfied
        self.by_source[group.source] += group.items
        self.by_area[area_label(group.area)] += group.items

    @property
    def nps(self) -> float | None:
        return 100 * (self.promoters - self.detractors) / self.nps_n if self.nps_n else None

    @property
    def csat(self) -> float | None:
        return 100 * self.satisfied / self.csat_n if self.csat_n else None


def tally(groups: Iterable[FeedbackGroup], week: int, covers: Callable[[str | None], bool]) -> Tally:
    total = Tally()
    for group in groups:
        if group.week == week and covers(group.area):
            total.add(group)
    return total


def nps_figure(this: Tally, before: Tally, minimum: int) -> Figure:
    return figure(this.nps, this.nps_n, before.nps, before.nps_n, minimum)


def customers(groups: list[FeedbackGroup], week: int, covers: Callable[[str | None], bool], minimum: int,
              phrases: Counter[Gram], quotes: list[QuoteLine]) -> Customers:
    """Figures for week index `week` against `week - 1`; themes and quotes only when the volume shows (and
    `suppression` drops them if it hides the volume after all)."""
    this, before = tally(groups, week, covers), tally(groups, week - 1, covers)
    volume = count_figure(this.items, before.items, minimum)
    return Customers(
        volume=volume,
        by_source=_breakdown(this.by_source, before.by_source, minimum),
        by_area=_breakdown(this.by_area, before.by_area, minimum),
        nps=nps_figure(this, before, minimum),
        csat=figure(this.csat, this.csat_n, before.csat, before.csat_n, minimum),
        detractors=count_figure(this.detractors, before.detractors, minimum, n=this.nps_n, prev_n=before.nps_n),
        themes=top_themes(phrases) if not volume.hidden else [],
        quotes=quotes if not volume.hidden else [],
    )


def _breakdown(this: Counter[str], before: Counter[str], minimum: int) -> dict[str, Figure]:
    keys = sorted(set(this) | set(before), key=lambda k: (-this[k], k))
    return {key: count_figure(this[key], before[key], minimum) for key in keys}

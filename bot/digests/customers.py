"""Customer figures of one scope from the per-(area, source, week) groups: sums over the areas it covers.

Teams hear overlapping sets of areas, so the difference of two teams' figures (or of the overall and a team's)
is a sum over areas. Like pulse answers under the minimum (rule 2), an area too small to show counts in no
team that hears only some areas: `withheld` picks those areas, with the complementary rule (enough others that
what is left out reaches the minimum), per measure. The overall, and teams hearing every area, count them."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace

from bot.digests.model import Customers, QuoteLine
from bot.digests.privacy import Figure, complementary, count_figure, figure
from bot.digests.queries import FeedbackGroup
from bot.digests.teams import area_label
from bot.digests.themes import Gram, top_themes
from bot.text import casefold


def atom(area: str | None) -> str:
    """An area as teams hear it (case-folded; "" for feedback with no area)."""
    return casefold(area) if area else ""


@dataclass(frozen=True)
class Withheld:
    """One week's areas that count in no team hearing only some areas, per measure: items (volume, area and
    source rows), NPS answers (NPS, detractors), CSAT answers. Each set is enough, by the complementary rule,
    that the overall minus what teams show is nothing or at least the minimum. (Source rows within an area
    are checked as the reader subtracts them: suppression.Outside.)"""

    items: frozenset[str]
    nps: frozenset[str]
    csat: frozenset[str]


def withheld(groups: Iterable[FeedbackGroup], week: int, minimum: int) -> Withheld:
    items: Counter[str] = Counter()
    nps: Counter[str] = Counter()
    csat: Counter[str] = Counter()
    for group in groups:
        if group.week == week:
            key = atom(group.area)
            items[key] += group.items
            nps[key] += group.nps_n
            csat[key] += group.csat_n
    areas = complementary(items, minimum)  # an area left out is left out of every measure
    return Withheld(frozenset(areas), frozenset(complementary(nps, minimum, hidden=areas)),
                    frozenset(complementary(csat, minimum, hidden=areas)))


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
    withheld_items: int = 0
    withheld_nps: int = 0
    withheld_csat: int = 0

    def add(self, group: FeedbackGroup, skip: Withheld | None = None) -> None:
        key = atom(group.area)
        if skip is not None and key in skip.items:
            self.withheld_items += group.items
            self.withheld_nps += group.nps_n
            self.withheld_csat += group.csat_n
            return
        self.items += group.items
        self.by_source[group.source] += group.items
        self.by_area[area_label(key or None)] += group.items
        if skip is not None and key in skip.nps:
            self.withheld_nps += group.nps_n
        else:
            self.nps_n += group.nps_n
            self.promoters += group.promoters
            self.detractors += group.detractors
        if skip is not None and key in skip.csat:
            self.withheld_csat += group.csat_n
        else:
            self.csat_n += group.csat_n
            self.satisfied += group.satisfied

    @property
    def nps(self) -> float | None:
        return 100 * (self.promoters - self.detractors) / self.nps_n if self.nps_n else None

    @property
    def csat(self) -> float | None:
        return 100 * self.satisfied / self.csat_n if self.csat_n else None


def tally(groups: Iterable[FeedbackGroup], week: int, covers: Callable[[str | None], bool],
          skip: Withheld | None = None) -> Tally:
    total = Tally()
    for group in groups:
        if group.week == week and covers(group.area):
            total.add(group, skip)
    return total


def nps_figure(this: Tally, before: Tally, minimum: int) -> Figure:
    return figure(this.nps, this.nps_n, before.nps, before.nps_n, minimum)


def customers(groups: list[FeedbackGroup], week: int, covers: Callable[[str | None], bool], minimum: int,
              phrases: Counter[Gram], quotes: list[QuoteLine],
              skip: tuple[Withheld, Withheld] | None = None) -> Customers:
    """Figures for week index `week` against `week - 1`, without the areas `skip` withholds (last week's, this
    week's); themes and quotes only when the volume shows (and `suppression` drops them if it hides the volume
    after all)."""
    this = tally(groups, week, covers, skip[1] if skip else None)
    before = tally(groups, week - 1, covers, skip[0] if skip else None)
    volume = _or_withheld(count_figure(this.items, before.items, minimum), this.withheld_items)
    return Customers(
        volume=volume,
        by_source=_breakdown(this.by_source, before.by_source, minimum),
        by_area=_breakdown(this.by_area, before.by_area, minimum),
        nps=_or_withheld(nps_figure(this, before, minimum), this.withheld_nps),
        csat=_or_withheld(figure(this.csat, this.csat_n, before.csat, before.csat_n, minimum), this.withheld_csat),
        detractors=_or_withheld(count_figure(this.detractors, before.detractors, minimum, n=this.nps_n,
                                             prev_n=before.nps_n), this.withheld_nps),
        themes=top_themes(phrases) if not volume.hidden else [],
        quotes=quotes if not volume.hidden else [],
    )


def _or_withheld(shown: Figure, withheld_now: int) -> Figure:
    """With nothing left but withheld areas, a figure reads hidden rather than “nothing at all”."""
    return replace(shown, value=None, previous=None, withheld=withheld_now) if shown.n == 0 and withheld_now else shown


def _breakdown(this: Counter[str], before: Counter[str], minimum: int) -> dict[str, Figure]:
    keys = sorted(set(this) | set(before), key=lambda k: (-this[k], k))
    return {key: count_figure(this[key], before[key], minimum) for key in keys}

"""How employees engaged with customer feedback: per channel, against the feedback of the areas it covers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bot.digests.model import Bridge
from bot.digests.privacy import Figure, count_figure, figure
from bot.digests.queries import AttentionGroup, EngagementGroup


@dataclass
class Activity:
    reactions: int = 0
    claims: int = 0
    closed: int = 0
    people: int = 0


@dataclass
class Attention:
    seen: int = 0
    claimed: int = 0
    reacted: int = 0
    seconds: float = 0.0

    @property
    def hours(self) -> float | None:
        return self.seconds / self.reacted / 3600 if self.reacted else None


def activity(groups: list[EngagementGroup], week: int, in_scope: Callable[[str, str], bool],
             people: int | None = None) -> Activity:
    """Sums over the channels in scope; `people` overrides the per-channel sum (distinct across channels)."""
    total = Activity()
    for group in groups:
        if group.week == week and in_scope(group.platform, group.channel_id):
            total.reactions += group.reactions
            total.claims += group.claims
            total.closed += group.closed
            total.people += group.people
    if people is not None:
        total.people = people
    return total


def attention(groups: list[AttentionGroup], week: int, in_scope: Callable[[str, str], bool],
              covers: Callable[[str | None], bool]) -> Attention:
    total = Attention()
    for group in groups:
        if group.week == week and in_scope(group.platform, group.channel_id) and covers(group.area):
            total.seen += group.seen
            total.claimed += group.claimed
            total.reacted += group.reacted
            total.seconds += group.seconds
    return total


def share(part: int, whole: int) -> float | None:
    return min(100.0, 100 * part / whole) if whole else None


def bridge(now: Activity, then: Activity, seen_now: Attention, seen_then: Attention, volume: tuple[int, int],
           minimum: int) -> Bridge:
    """Every figure stands on the people who engaged: below the minimum, all of it is hidden. `volume` is (this
    week, last week) feedback items in scope, the base of the seen and claimed shares; the time to first
    reaction is a mean over the items reacted to, so it needs that many items too."""
    n, prev_n = now.people, then.people

    def counted(this: int, before: int) -> Figure:
        return count_figure(this, before, minimum, n=n, prev_n=prev_n)

    return Bridge(
        people=count_figure(n, prev_n, minimum),
        reactions=counted(now.reactions, then.reactions),
        claims=counted(now.claims, then.claims),
        closed=counted(now.closed, then.closed),
        first_reaction_hours=figure(seen_now.hours, seen_now.reacted, seen_then.hours, seen_then.reacted, minimum),
        seen_share=figure(share(seen_now.seen, volume[0]), n, share(seen_then.seen, volume[1]), prev_n, minimum),
        claimed_share=figure(share(seen_now.claimed, volume[0]), n, share(seen_then.claimed, volume[1]), prev_n,
                             minimum),
    )

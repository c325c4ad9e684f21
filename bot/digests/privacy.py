"""The anonymity minimum applied to every figure, the rule that keeps week-over-week changes from being
differenced into one person's answer, and the complementary rule that keeps a total minus the shown groups from
isolating a hidden one.

A figure carries `n`, the number of people (or items, or answers) it is made of. It shows when `n >= minimum`.
Its change against the previous week shows only when
  * both weeks show (each `n >= minimum`), and
  * for averages and shares, the two groups are the same size or differ by at least `minimum`
    (`n == prev_n` or `abs(n - prev_n) >= minimum`): with one more answer this week, the change would be
    that answer's pull on the average, so it is suppressed.
Plain counts (feedback volume, reactions) reveal no answer by their difference and need only the first rule.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import TypeVar

K = TypeVar("K", bound=Hashable)


@dataclass(frozen=True)
class Figure:
    """One number with its previous-week value, already filtered by the minimum (None = hidden)."""

    value: float | None
    previous: float | None
    n: int
    prev_n: int
    count: bool = False
    """True for plain counts, which only need both weeks to show to show a change."""
    withheld: int = 0
    """Members of groups under the minimum that count nowhere (not in `n`, not in any total): with nothing
    else, the figure reads hidden rather than nothing at all."""

    @property
    def absent(self) -> bool:
        """Nothing at all to show, not even hidden."""
        return self.n == 0 and self.withheld == 0

    @property
    def hidden(self) -> bool:
        return self.value is None

    @property
    def delta(self) -> float | None:
        if self.value is None or self.previous is None:
            return None
        return self.value - self.previous

    def concealed(self) -> Figure:
        """Hidden, keeping its sizes (they tell “hidden” from “nothing at all”, and are never shown)."""
        return replace(self, value=None, previous=None)

    def without_change(self) -> Figure:
        return replace(self, previous=None)


def comparable_sizes(n: int, prev_n: int, minimum: int) -> bool:
    """The change rule on two group sizes: the same, or at least `minimum` apart."""
    return n == prev_n or abs(n - prev_n) >= minimum


def figure(value: float | None, n: int, previous: float | None, prev_n: int, minimum: int,
           count: bool = False) -> Figure:
    """Apply the minimum and the change rule to a raw value and its previous week."""
    shown = value if value is not None and n >= minimum else None
    before = previous if shown is not None and previous is not None and prev_n >= minimum else None
    if before is not None and not count and not comparable_sizes(n, prev_n, minimum):
        before = None
    return Figure(shown, before, n, prev_n, count)


def count_figure(value: int, previous: int, minimum: int, n: int | None = None,
                 prev_n: int | None = None) -> Figure:
    """A count; `n` (default: the count itself) is how many people or items it stands on."""
    return figure(float(value), value if n is None else n, float(previous), previous if prev_n is None else prev_n,
                  minimum, count=True)


def complementary(sizes: Mapping[K, int], minimum: int, rest: int = 0, hidden: Iterable[K] = ()) -> set[K]:
    """The groups of a breakdown to hide, given their sizes, when they add up to a total that shows.

    Groups under the minimum hide, and so do those in `hidden` (keys of `sizes`, hidden for another reason).
    If what is hidden, with `rest` (the part of the total that no group shows), adds up to more than nothing but
    less than the minimum, the total minus the shown groups would give it away: more groups hide, smallest
    first (ties by key, the same on every database), until it reaches the minimum or every group is hidden.
    (Then the total is all there is; it hides by the minimum itself when it is under it.)"""
    out = {key for key, size in sizes.items() if size < minimum}.union(hidden)
    withheld = rest + sum(sizes[key] for key in out)
    for key in sorted((key for key in sizes if key not in out), key=lambda k: (sizes[k], str(k))):
        if withheld == 0 or withheld >= minimum:
            break
        out.add(key)
        withheld += sizes[key]
    return out

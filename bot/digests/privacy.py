"""The anonymity minimum applied to every figure, and the rule that keeps week-over-week changes from being
differenced into one person's answer.

A figure carries `n`, the number of people (or items) it is made of. It shows when `n >= minimum`.
Its change against the previous week shows only when
  * both weeks show (each `n >= minimum`), and
  * for averages and shares, the two groups are the same size or differ by at least `minimum`
    (`n == prev_n` or `abs(n - prev_n) >= minimum`): with one more answer this week, the change would be
    that answer's pull on the average, so it is suppressed.
Plain counts (feedback volume, reactions) reveal no answer by their difference and need only the first rule.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Figure:
    """One number with its previous-week value, already filtered by the minimum (None = hidden)."""

    value: float | None
    previous: float | None
    n: int
    prev_n: int
    count: bool = False
    """True for plain counts, which only need both weeks to show to show a change."""

    @property
    def hidden(self) -> bool:
        return self.value is None

    @property
    def delta(self) -> float | None:
        if self.value is None or self.previous is None:
            return None
        return self.value - self.previous


def figure(value: float | None, n: int, previous: float | None, prev_n: int, minimum: int,
           count: bool = False) -> Figure:
    """Apply the minimum and the change rule to a raw value and its previous week."""
    shown = value if value is not None and n >= minimum else None
    before = previous if previous is not None and prev_n >= minimum else None
    if shown is not None and before is not None and not count and n != prev_n and abs(n - prev_n) < minimum:
        before = None
    return Figure(shown, before, n, prev_n, count)


def count_figure(value: int, previous: int, minimum: int, n: int | None = None,
                 prev_n: int | None = None) -> Figure:
    """A count; `n` (default: the count itself) is how many people or items it stands on."""
    return figure(float(value), value if n is None else n, float(previous), previous if prev_n is None else prev_n,
                  minimum, count=True)

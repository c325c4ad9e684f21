"""Complementary suppression across the digest's breakdowns.

Wherever groups add up to a total that shows — a scope's feedback by source and by area to its volume, the teams
to the overall figure (customers, participation, people engaging), a source's row in each team to its overall
row, the teams' comments to the overall count — `privacy.complementary` hides enough of them that the total
minus the shown ones never isolates a group under the minimum; the same for last week's values behind the
changes. A hidden total hides its breakdown.

Breakdowns share figures: every scope's row for an area is the same number (the items of that area), and teams
that hear the same areas (or all of them, as the overall does) have the same customer figures. Those are hidden
together, and the rules run again until nothing more hides.

Where groups overlap (one person in several channels, teams hearing some of the same areas) the total minus all
shown groups and minus each one is checked too (`_differences`), a team's source rows are checked against a
larger scope's (`Outside`), and a change the change rule hid in a group hides the total's (`_pull_hidden`)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from bot.digests.model import Scope
from bot.digests.privacy import Figure, complementary

CUSTOMER_FIGURES = ("volume", "nps", "csat", "detractors")
BRIDGE_FIGURES = ("people", "reactions", "claims", "closed", "first_reaction_hours", "seen_share", "claimed_share")
SHARES = ("seen_share", "claimed_share")
PULSE_FIGURES = ("score", "workload", "enps")


@dataclass(frozen=True, eq=False)
class Slot:
    """Where a figure lives: an attribute of a section, or a key of a breakdown."""

    owner: Any
    name: str

    def get(self) -> Figure:
        return self.owner[self.name] if isinstance(self.owner, dict) else getattr(self.owner, self.name)

    def put(self, figure: Figure) -> bool:
        """Store `figure`; True when that changed anything."""
        if figure == self.get():
            return False
        if isinstance(self.owner, dict):
            self.owner[self.name] = figure
        else:
            setattr(self.owner, self.name, figure)
        return True


@dataclass(frozen=True)
class Sum:
    """Groups that add up to a total."""

    total: Slot
    groups: list[Slot]

    def apply(self, minimum: int) -> bool:
        total, figures = self.total.get(), [slot.get() for slot in self.groups]
        if total.hidden:
            now = set(range(len(figures)))
        else:
            now = complementary({i: f.n for i, f in enumerate(figures)}, minimum,
                                rest=max(0, total.n - sum(f.n for f in figures)),
                                hidden=[i for i, f in enumerate(figures) if f.hidden])
        before: set[int] = set()
        if total.previous is not None:
            before = complementary({i: f.prev_n for i, f in enumerate(figures)}, minimum,
                                   rest=max(0, total.prev_n - sum(f.prev_n for f in figures)),
                                   hidden=[i for i, f in enumerate(figures) if i in now or f.previous is None])
        now |= _differences(total.n, {i: f.n for i, f in enumerate(figures) if i not in now}, minimum)
        if total.previous is not None:
            before |= _differences(total.prev_n, {i: f.prev_n for i, f in enumerate(figures)
                                                  if i not in now and i not in before and f.previous is not None},
                                   minimum)
        changed = False
        for i, (slot, f) in enumerate(zip(self.groups, figures, strict=True)):
            changed |= slot.put(f.concealed() if i in now else f.without_change() if i in before else f)
        if total.previous is not None and any(_pull_hidden(f, minimum) for f in figures):
            changed |= self.total.put(total.without_change())
        return changed


def _differences(total: int, shown: dict[int, int], minimum: int) -> set[int]:
    """More groups to hide where groups overlap (a person engaging in several channels, teams hearing some of
    the same areas), so that sizes don't add up: the total minus one shown group, or minus them all, must
    still be nothing or at least the minimum. Smallest first."""
    out: set[int] = set()
    while shown:
        rests = [total - sum(shown.values()), *(total - n for n in shown.values())]
        if not any(0 < rest < minimum for rest in rests):
            break
        smallest = min(shown, key=lambda i: (shown[i], i))
        out.add(smallest)
        del shown[smallest]
    return out


def _pull_hidden(f: Figure, minimum: int) -> bool:
    """A group's average whose change a rule hid though both weeks show (sizes a few apart, per question, or
    for another rule): the total's change would give it back, from the total's previous value and the other
    groups'."""
    return not f.count and not f.hidden and f.previous is None and f.prev_n >= minimum


@dataclass(frozen=True)
class Outside:
    """A team's source rows against the same rows of a scope that hears all its areas and more (the overall,
    or a team hearing more areas): their difference is that source's items in the areas only the larger scope
    hears. Where that is more than nothing but under the minimum, the team's row hides, with enough of its
    other rows that what its hidden rows stand for outside it reaches the minimum: its volume minus its shown
    rows gives their total. The same for last week's values behind the changes."""

    larger: dict[str, Figure]
    smaller: dict[str, Figure]

    def apply(self, minimum: int) -> bool:
        changed = False
        for now in (True, False):
            def size(f: Figure, now: bool = now) -> int:
                return f.n if now else f.prev_n

            def shows(f: Figure, now: bool = now) -> bool:
                return not f.hidden if now else f.previous is not None

            outside = {key: size(self.larger[key]) - size(f) for key, f in self.smaller.items()
                       if key in self.larger and shows(self.larger[key])}
            shown = {key for key, f in self.smaller.items() if shows(f)}
            out = {key for key in shown if 0 < outside.get(key, 0) < minimum}
            hidden_outside = sum(outside.get(key, 0) for key in set(self.smaller) - shown | out)
            for key in sorted(shown - out, key=lambda k: (outside.get(k, 0), k)):
                if not 0 < hidden_outside < minimum:
                    break
                out.add(key)
                hidden_outside += outside.get(key, 0)
            for key in out:
                f = self.smaller[key]
                changed |= Slot(self.smaller, key).put(f.concealed() if now else f.without_change())
        return changed


@dataclass(frozen=True)
class Within:
    """An average over a part of another's answers (the workload score within the pulse score): where the
    change rule hides the part's change, the whole's goes too, or the whole's previous value could be the
    part's alone (a week with only the workload question)."""

    part: Slot
    whole: Slot

    def apply(self, minimum: int) -> bool:
        whole = self.whole.get()
        return _pull_hidden(self.part.get(), minimum) and whole.previous is not None and self.whole.put(
            whole.without_change())


@dataclass(frozen=True)
class Same:
    """Places that show one and the same figure: hidden (or without change) in one, so in all."""

    slots: list[Slot]

    def apply(self, minimum: int) -> bool:
        figures = [slot.get() for slot in self.slots]
        if any(f.hidden for f in figures):
            return any([slot.put(f.concealed()) for slot, f in zip(self.slots, figures, strict=True)])
        if any(f.previous is None for f in figures):
            return any([slot.put(f.without_change()) for slot, f in zip(self.slots, figures, strict=True)])
        return False


def suppress(overall: Scope, teams: list[Scope], areas: Mapping[str, Hashable | None], minimum: int) -> None:
    """Hide, in place, what would give a hidden group away. `teams` must be every team (a team left out of the
    view still counts in the totals); `areas` say which customer feedback each team's figures count, by key
    (None: all of it, like the overall): teams with equal values have the same customer figures."""
    rules = _rules(overall, teams, areas)
    while any([rule.apply(minimum) for rule in rules]):  # every rule each round, until none hides more
        pass
    for scope in (overall, *teams):
        _follow(scope)
    if any(t.bridge.people.hidden and not t.bridge.people.absent for t in teams):
        # The overall's shares count items across channels: with a hidden team, an item only it engaged with
        # would show in them (share × volume), next to every other team's.
        for name in SHARES:
            setattr(overall.bridge, name, getattr(overall.bridge, name).concealed())


def comment_themes_shown(comments: Mapping[str, int], teams: Iterable[str], comment_minimum: int) -> set[str]:
    """The scopes ("" overall, else team keys) whose comment themes show. Comment counts are never shown, but
    themes stand on them: the teams' comments add up to the overall count, so the complementary rule applies
    to them as to any figure."""
    sizes = {key: comments.get(key, 0) for key in teams}
    shown = set(sizes) - complementary(sizes, comment_minimum)
    return shown | {""} if comments.get("", 0) >= comment_minimum else shown


def _rules(overall: Scope, teams: list[Scope],
           areas: Mapping[str, Hashable | None]) -> list[Sum | Same | Outside | Within]:
    rules: list[Sum | Same | Outside | Within] = []
    for scope in (overall, *teams):
        c = scope.customers
        rules += [Sum(Slot(c, "volume"), _slots(c.by_source)), Sum(Slot(c, "volume"), _slots(c.by_area))]
    # Teams with the same customer figures: those hearing the same areas; the overall with those hearing all.
    alike: dict[Hashable | None, list[Scope]] = defaultdict(list, {None: [overall]})
    for team in teams:
        alike[areas[team.key]].append(team)
    for scopes in (scopes for scopes in alike.values() if len(scopes) > 1):
        rules += [Same([Slot(s.customers, name) for s in scopes]) for name in CUSTOMER_FIGURES]
        rules += [Same([Slot(s.customers.by_source, key) for s in scopes])
                  for key in scopes[0].customers.by_source]
    heard = [scopes[0] for key, scopes in alike.items() if key is not None]
    rules += [_teams_sum(overall, heard, lambda s, name=name: Slot(s.customers, name)) for name in CUSTOMER_FIGURES]
    rules += [_teams_sum(overall, heard, lambda s, key=key: Slot(s.customers.by_source, key), key)
              for key in overall.customers.by_source]
    rules += [Same([Slot(s.customers.by_area, key) for s in (overall, *teams) if key in s.customers.by_area])
              for key in overall.customers.by_area]
    filtered = [t for t in teams if areas[t.key] is not None]
    rules += [Outside(overall.customers.by_source, t.customers.by_source) for t in filtered]
    rules += [Outside(big.customers.by_source, small.customers.by_source) for small in filtered for big in filtered
              if _within(areas[small.key], areas[big.key])]
    rules.append(_teams_sum(overall, teams, lambda s: Slot(s.employees, "participation")))
    rules += [_teams_sum(overall, teams, lambda s, name=name: Slot(s.employees, name)) for name in PULSE_FIGURES]
    rules += [Within(Slot(s.employees, "workload"), Slot(s.employees, "score")) for s in (overall, *teams)]
    rules.append(_teams_sum(overall, teams, lambda s: Slot(s.bridge, "first_reaction_hours")))
    rules.append(_teams_sum(overall, teams, lambda s: Slot(s.bridge, "people")))
    return rules


def _within(small: Hashable | None, big: Hashable | None) -> bool:
    """Whether one team's customer figures count a strict part of what another's do, both weeks."""
    if not isinstance(small, tuple) or not isinstance(big, tuple):
        return False
    return all(a <= b for a, b in zip(small, big, strict=True)) and small != big


def _slots(breakdown: dict[str, Figure]) -> list[Slot]:
    return [Slot(breakdown, key) for key in breakdown]


def _teams_sum(overall: Scope, teams: Iterable[Scope], slot: Callable[[Scope], Slot],
               source: str | None = None) -> Sum:
    """The teams' figures against the overall one; for a source's row, only the teams that have one."""
    return Sum(slot(overall), [slot(t) for t in teams if source is None or source in t.customers.by_source])


def _follow(scope: Scope) -> None:
    """What stands on a figure goes with it: the engagement figures with the people engaging (and the seen and
    claimed shares with the feedback volume too, their base), the pulse figures with the people who answered
    (their answers would give a hidden participation back), themes and quotes with the feedback volume, and
    quotes (which count reactions) with the reactions."""
    b, c, e = scope.bridge, scope.customers, scope.employees
    for name in BRIDGE_FIGURES:
        _go_with(b, name, b.people)
    for name in SHARES:
        _go_with(b, name, c.volume)
    for name in PULSE_FIGURES:
        _go_with(e, name, e.participation)
    if c.volume.hidden:
        c.themes = []
    if c.volume.hidden or b.reactions.hidden:
        c.quotes = []


def _go_with(owner: Any, name: str, base: Figure) -> None:
    """Hide a figure with its base, and drop its change where the base has none."""
    f = getattr(owner, name)
    setattr(owner, name, f.concealed() if base.hidden else f.without_change() if base.previous is None else f)

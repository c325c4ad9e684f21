"""The linking rules, applied to every copy a route gives, in the order the copies were taken.

A route is a way of looking at Earshot's storage or output (the SQLite WAL replayed commit by commit, PostgreSQL's
WAL by transaction, a pg_dump, the data directory, the cards, the logs). Each copy it gives is a `sight`: the
plaintext answer tokens it shows and, where the copy is a transaction or a difference between two copies, the
people whose participation it writes. The rules (issue 15):

(a) the tokens a route has shown grow, from one copy to the next, by 0 or by at least the minimum (per question);
(b) a commit or transaction that writes a single person's participation shows no new token;
(c) no copy shows a token in the same row, commit or transaction as fewer than the minimum people;
(d) a question answered by fewer than the minimum never shows any of its tokens, anywhere, ever.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from tests.anonymity.voters import Secrets

ANY = "any copy"
Rows = dict[tuple[object, ...], object]


def changed(before: Rows, after: Rows) -> set[tuple[object, ...]]:
    """The participation rows (key -> sealed answer or None) that appeared, went or changed between two copies."""
    return {key for key in before.keys() | after.keys()
            if key not in before or key not in after or before[key] != after[key]}


@dataclass(frozen=True)
class Link:
    rule: str
    route: str
    copy: str
    vote: str
    detail: str
    answers: frozenset[str] = frozenset()
    """The tokens of the answers this link exposes."""

    def __str__(self) -> str:
        return f"({self.rule}) {self.route}, {self.copy}, after {self.vote}: {self.detail}"


@dataclass
class Ledger:
    secrets: Secrets
    minimum: int
    sparse: set[int]
    """Questions answered by fewer than the minimum people: their tokens must never show."""
    links: list[Link] = field(default_factory=list)
    seen: dict[str, set[str]] = field(default_factory=dict)
    """Every token each route has shown so far (a route that never shows the published answers is blind)."""

    def _pairs(self, tokens: Iterable[str]) -> str:
        answers = [self.secrets.tokens[token] for token in sorted(tokens)]
        return ", ".join(f"{a.voter.user_id}→{a.token} (question {a.question_id})" for a in answers)

    def see(self, route: str, copy: str, vote: str, tokens: set[str], people: set[str] | None = None) -> None:
        """One copy of a route: `tokens` it shows; `people` whose participation it writes, where it is a commit,
        a transaction or the difference between two copies (None where the route has no such notion)."""
        seen = self.seen.setdefault(route, set())
        new = tokens - seen
        seen |= tokens

        def link(rule: str, detail: str, answers: set[str]) -> None:
            self.links.append(Link(rule, route, copy, vote, detail, frozenset(answers)))

        sparse = {t for t in new if self.secrets.question_of(t) in self.sparse}
        if sparse:
            link("d", f"answers of a question fewer than {self.minimum} people answered are in plaintext: "
                      f"{self._pairs(sparse)}", sparse)
        for question, count in Counter(self.secrets.question_of(t) for t in new).items():
            if count < self.minimum:
                shown = {t for t in new if self.secrets.question_of(t) == question}
                link("a", f"{count} new answer(s) to question {question} appeared at once (fewer than "
                          f"{self.minimum}): {self._pairs(shown)}", shown)
        if new and people is not None and 0 < len(people) < self.minimum:
            rule = "b" if len(people) == 1 else "c"
            link(rule, f"{len(new)} new answer(s) appeared beside only {sorted(people)} (their participation, "
                       f"id or conversation): {self._pairs(new)}", new)

    def row(self, route: str, copy: str, vote: str, tokens: set[str], people: set[str]) -> None:
        """One row (a tuple, a dump line, a log record): answers in it must not sit beside a few people."""
        if tokens and 0 < len(people) < self.minimum:
            self.links.append(Link("c", route, copy, vote, f"one row holds {self._pairs(tokens)} and names "
                                                           f"{sorted(people)}", frozenset(tokens)))

    def fact(self, rule: str, route: str, copy: str, vote: str, detail: str) -> None:
        """A link or leak found another way (card figures, sealed sizes, Earshot's own log lines)."""
        self.links.append(Link(rule, route, copy, vote, detail))

    def step(self, vote: str) -> None:
        """After every copy of a vote was taken: what all routes have shown, together, obeys the rules too."""
        shown: set[str] = set().union(*(seen for route, seen in self.seen.items() if route != ANY))
        self.see(ANY, "every route together", vote, shown)

    def found(self, *routes: str) -> list[Link]:
        return [link for link in self.links if link.route in routes]


def report(links: list[Link], limit: int = 30) -> str:
    """Links as a failure message: how many, by route and rule, how many answers they expose, then the first
    few in full (rules b and c first: they tie answers to people directly)."""
    by_route = Counter((link.route, link.rule) for link in links)
    summary = "; ".join(f"{route} ({rule}): {n}" for (route, rule), n in sorted(by_route.items()))
    exposed = {token for link in links for token in link.answers}
    links = sorted(links, key=lambda link: link.rule not in ("b", "c"))
    lines = [f"{len(links)} link(s) found, exposing {len(exposed)} answer(s) — {summary}",
             *(str(link) for link in links[:limit])]
    if len(links) > limit:
        lines.append(f"… and {len(links) - limit} more")
    return "\n".join(lines)

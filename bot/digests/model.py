"""The digest as data: what every renderer (card, Markdown, HTML, CSV, charts) reads."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.digests.privacy import Figure
from bot.digests.themes import Theme
from bot.digests.weeks import Week


@dataclass(frozen=True)
class QuoteLine:
    text: str
    """Redacted and cut: safe for a channel."""
    cue: str | None
    source: str
    area: str | None
    reactions: int


@dataclass
class Heard:
    """A team whose stations take only part of the feedback its customer figures count (a detractors-only
    station, say): what it heard, beside those figures."""

    items: Figure
    """Items its stations' filters matched, this week against last."""
    share: Figure
    """Their share of the items its customer figures count, %."""
    mean_nps_answer: Figure
    """Their average NPS answer, 0–10, this week (an NPS over a detractors-only feed would always be −100)."""
    themes: list[Theme]
    takes: str
    """What its stations take, in words: “NPS detractors · score 0–6”."""
    counts: str
    """What its customer figures count: “all feedback”, “feedback in area checkout”."""
    stations: int


@dataclass
class Customers:
    volume: Figure
    by_source: dict[str, Figure]
    by_area: dict[str, Figure]
    nps: Figure
    csat: Figure
    detractors: Figure
    themes: list[Theme]
    quotes: list[QuoteLine]
    heard: Heard | None = None
    """Set for a team that hears only part of what these figures count."""


@dataclass
class Employees:
    score: Figure
    """Mean answer to scale questions, 0–100."""
    workload: Figure
    """The same, for questions about workload only."""
    enps: Figure
    participation: Figure
    themes: list[Theme] | None
    """None while hidden: too few comments here (or in another team, which this one would then give away)."""


@dataclass
class Bridge:
    people: Figure
    reactions: Figure
    claims: Figure
    closed: Figure
    first_reaction_hours: Figure
    seen_share: Figure
    claimed_share: Figure


@dataclass
class Scope:
    """Overall, or one team."""

    key: str
    name: str
    customers: Customers
    employees: Employees
    bridge: Bridge


@dataclass(frozen=True)
class TrendPoint:
    week: str
    volume: Figure
    nps: Figure
    score: Figure


@dataclass
class Digest:
    week: Week
    minimum: int
    comment_minimum: int
    overall: Scope
    teams: list[Scope]
    flags: list[str] = field(default_factory=list)
    trend: list[TrendPoint] = field(default_factory=list)
    nps_distribution: dict[int, int] | None = None
    enps_distribution: dict[int, int] | None = None
    """Score → answers, None when hidden (too few) or empty."""

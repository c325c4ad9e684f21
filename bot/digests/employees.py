"""Employee figures from pulse answers counted per (run, question, week, value).

Anonymity: a (run, question) with fewer answers than the minimum in a week contributes nothing anywhere, so
no breakdown, team or total can be narrowed down to it. A figure's `n` is the number of answers behind it, both
weeks: the change rule compares those totals, so a change can't be one answer's pull."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from bot.digests.model import Employees
from bot.digests.privacy import Figure, comparable_sizes, count_figure, figure
from bot.digests.queries import AnswerGroup, QuestionRow
from bot.digests.themes import Theme
from bot.text import casefold

_NUMBER = re.compile(r"-?\d+(?:[.,]\d+)?")
WORKLOAD_WORDS = ("workload", "work load", "overload", "capacity")
"""A scale question whose prompt has one of these is a workload question."""


def number(text: str) -> float | None:
    match = _NUMBER.search(text)
    return float(match.group().replace(",", ".")) if match else None


def scale_bounds(question: QuestionRow) -> tuple[float, float]:
    values = [v for v in (number(o) for o in question.options) if v is not None]
    return (min(values), max(values)) if len(values) >= 2 and min(values) < max(values) else (1.0, 5.0)


def is_workload(question: QuestionRow) -> bool:
    prompt = casefold(question.prompt)
    return any(word in prompt for word in WORKLOAD_WORDS)


@dataclass
class Answers:
    by_question: Counter[int] = field(default_factory=Counter)
    """The answers behind the figure, per question: the change rule holds for each (see `comparable`)."""
    withheld: int = 0
    """Answers in (run, question) groups under the minimum: left out of the figure."""

    @property
    def answers(self) -> int:
        return sum(self.by_question.values())


def comparable(now: Answers, then: Answers, minimum: int) -> bool:
    """Whether a figure's change may show: every question behind it had as many answers both weeks, or at least
    `minimum` more or fewer. Comparing only the totals would let one more person's answers to three questions
    (12 against 9) pass, and a part of the figure shown elsewhere (the workload score) be subtracted out."""
    return all(comparable_sizes(now.by_question[q], then.by_question[q], minimum)
               for q in set(now.by_question) | set(then.by_question))


@dataclass
class Mean(Answers):
    total: float = 0.0

    @property
    def value(self) -> float | None:
        return self.total / self.answers if self.answers else None


@dataclass
class Enps(Answers):
    promoters: int = 0
    detractors: int = 0

    @property
    def value(self) -> float | None:
        return 100 * (self.promoters - self.detractors) / self.answers if self.answers else None


@dataclass
class PulseTally:
    score: Mean
    workload: Mean
    enps: Enps
    enps_histogram: dict[int, int]


def _new_tally() -> PulseTally:
    return PulseTally(Mean(), Mean(), Enps(), defaultdict(int))


def pulse_tallies(groups: Iterable[AnswerGroup], team_of_run: dict[int, str], questions: dict[int, QuestionRow],
                  minimum: int) -> dict[tuple[str, int], PulseTally]:
    """(team key or "" for overall, week) → sums over the (run, question) groups at or above the minimum."""
    histograms: dict[tuple[int, int, int], dict[str, int]] = defaultdict(dict)
    for group in groups:
        histograms[(group.run_id, group.question_id, group.week)][group.value] = group.answers
    tallies: dict[tuple[str, int], PulseTally] = defaultdict(_new_tally)
    for (run_id, question_id, week), histogram in histograms.items():
        size = sum(histogram.values())
        question = questions.get(question_id)
        if question is None or run_id not in team_of_run:
            continue
        for key in ((team_of_run[run_id], week), ("", week)):
            if size >= minimum:
                _add(tallies[key], question, histogram)
            else:  # withheld: it only marks the figure as hidden rather than absent
                _withhold(tallies[key], question, size)
    return tallies


def _scales(tally: PulseTally, question: QuestionRow) -> tuple[Mean, ...]:
    """The means a scale question counts in: the pulse score, and the workload score for a workload question."""
    return (tally.score, tally.workload) if is_workload(question) else (tally.score,)


def _withhold(tally: PulseTally, question: QuestionRow, size: int) -> None:
    parts: tuple[Answers, ...] = (tally.enps,) if question.kind == "enps" else _scales(tally, question)
    for part in parts:
        part.withheld += size


def _add(tally: PulseTally, question: QuestionRow, histogram: dict[str, int]) -> None:
    parsed = [(number(value), count) for value, count in histogram.items()]
    if question.kind == "enps":
        for value, count in parsed:
            if value is None or not 0 <= value <= 10:
                continue
            tally.enps.by_question[question.id] += count
            tally.enps.promoters += count if value >= 9 else 0
            tally.enps.detractors += count if value <= 6 else 0
            tally.enps_histogram[int(value)] += count
        return
    low, high = scale_bounds(question)
    total, answers = 0.0, 0
    for value, count in parsed:
        if value is not None and low <= value <= high:
            total += 100 * (value - low) / (high - low) * count
            answers += count
    for mean in _scales(tally, question):
        mean.total += total
        mean.by_question[question.id] += answers


def employees(tallies: dict[tuple[str, int], PulseTally], key: str, week: int, minimum: int,
              participation: tuple[int, int, int], themes: list[Theme] | None) -> Employees:
    """`participation`: people this week and last in runs at the minimum, and this week's in smaller runs only
    (they make the figure read hidden when there is no one else)."""
    this = tallies.get((key, week)) or _new_tally()
    before = tallies.get((key, week - 1)) or _new_tally()

    def based_on_answers(now: Mean | Enps, then: Mean | Enps) -> Figure:
        shown = replace(figure(now.value, now.answers, then.value, then.answers, minimum), withheld=now.withheld)
        return shown if comparable(now, then, minimum) else shown.without_change()

    return Employees(
        score=based_on_answers(this.score, before.score), workload=based_on_answers(this.workload, before.workload),
        enps=based_on_answers(this.enps, before.enps),
        participation=replace(count_figure(participation[0], participation[1], minimum), withheld=participation[2]),
        themes=themes,
    )

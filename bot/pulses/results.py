"""Tallies of a run, computed in SQL, with the anonymity minimums applied before anything is shown."""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.config import Settings
from bot.pulses.questions import answer_options
from storage.tables import Participation, Pulse, PulseRun, Question, Response
from storage.tables.summaries import RunSummary, RunSummaryQuestion


@dataclass
class QuestionResult:
    question: Question
    counts: dict[str, int] = field(default_factory=dict)
    answered: int = 0
    comments: list[str] = field(default_factory=list)
    hidden: bool = False
    """Anonymous, and answered by fewer than the minimum: no counts are given."""
    comments_hidden: bool = False
    """Anonymous, with comments from fewer than the comment minimum: none are given."""
    comments_removed: int | None = None
    """Set once retention removed the comments with the run's answers (bot/pulses/summaries.py): how many the
    results showed, or 0 where too few to show were written."""

    @property
    def mean(self) -> float | None:
        if self.question.kind != "scale" or self.hidden or not self.answered:
            return None
        return sum(int(v) * n for v, n in self.counts.items()) / self.answered

    @property
    def enps(self) -> float | None:
        """% promoters (9–10) − % detractors (0–6)."""
        if self.question.kind != "enps" or self.hidden or not self.answered:
            return None
        promoters = sum(n for v, n in self.counts.items() if int(v) >= 9)
        detractors = sum(n for v, n in self.counts.items() if int(v) <= 6)
        return round(100 * (promoters - detractors) / self.answered, 1)


@dataclass
class RunResults:
    pulse: Pulse
    run: PulseRun
    respondents: int
    audience: int | None
    questions: list[QuestionResult]
    minimum: int
    hidden: bool
    comment_minimum: int
    number: int
    """The run's place among its pulse's runs: 1, 2, 3 for each pulse (run ids count across all pulses)."""

    @property
    def participation(self) -> float | None:
        return self.respondents / self.audience if self.audience else None


def run_minimum(run: PulseRun, settings: Settings) -> int:
    """The anonymity minimum of a run: the one it opened with (and its card promised)."""
    return run.minimum or settings.anon_min


async def run_results(session: AsyncSession, settings: Settings, pulse: Pulse, run: PulseRun,
                      questions: list[Question], audience: int | None = None) -> RunResults:
    """Counts per question and value. An anonymous run shows nothing but its respondent count below its minimum
    (run_minimum) of respondents; each of its questions needs that many answers of its own, and each question's
    comments `comment_min` comments, before they show (comments in shuffled order). A closed run whose answers
    have expired reads the same figures from its summary (bot/pulses/summaries.py)."""
    summary = await session.get(RunSummary, run.id) if run.status == "closed" else None
    if summary is not None:
        return await _summarised(session, settings, pulse, run, questions, audience, summary)
    respondents = (await session.exec(
        select(func.count()).select_from(
            select(Participation.platform, Participation.user_id).where(Participation.run_id == run.id)
            .distinct().subquery()))).one()
    minimum = run_minimum(run, settings)
    hidden = pulse.anonymous and respondents < minimum
    results = {q.id: QuestionResult(q) for q in questions}
    if not hidden:
        await _tally(session, run, results)
        await _comments(session, run, results)
        if pulse.anonymous:
            _apply_minimums(results.values(), minimum, settings.comment_min)
    for result in results.values():
        random.shuffle(result.comments)  # order must not hint at who wrote what
    return RunResults(pulse, run, respondents, audience, [results[q.id] for q in questions],
                      minimum, hidden, settings.comment_min, await run_number(session, run))


async def _summarised(session: AsyncSession, settings: Settings, pulse: Pulse, run: PulseRun,
                      questions: list[Question], audience: int | None, summary: RunSummary) -> RunResults:
    """The figures kept when the run's answers expired: the minimums were applied before they were kept."""
    kept = {row.question_id: row for row in await session.exec(
        select(RunSummaryQuestion).where(RunSummaryQuestion.run_id == run.id))}
    results = []
    for question in questions:
        row = kept.get(question.id or 0)
        results.append(QuestionResult(question) if row is None else QuestionResult(
            question, counts=dict(row.counts), answered=row.answered, hidden=row.hidden,
            comments_removed=row.comments if row.comments or row.comments_hidden else None))
    return RunResults(pulse, run, summary.respondents, audience, results, summary.minimum, summary.below_minimum,
                      settings.comment_min, await run_number(session, run))


async def run_number(session: AsyncSession, run: PulseRun) -> int:
    """Which of its pulse's runs this is, counting from 1: run ids are shared by every pulse."""
    return (await session.exec(select(func.count()).select_from(PulseRun).where(
        PulseRun.pulse_id == run.pulse_id, col(PulseRun.id) <= run.id))).one()


async def _tally(session: AsyncSession, run: PulseRun, results: dict[int | None, QuestionResult]) -> None:
    rows = await session.exec(
        select(Response.question_id, Response.value, func.count()).where(Response.run_id == run.id)
        .group_by(col(Response.question_id), col(Response.value)))
    for question_id, value, count in rows:
        result = results.get(question_id)
        if result is None:
            continue
        result.answered += count
        for part in value.split(",") if result.question.kind == "multi" else [value]:
            result.counts[part] = result.counts.get(part, 0) + count


async def _comments(session: AsyncSession, run: PulseRun, results: dict[int | None, QuestionResult]) -> None:
    texts = await session.exec(select(Response.question_id, Response.comment).where(
        Response.run_id == run.id, col(Response.comment).is_not(None)))
    for question_id, comment in texts:
        if question_id in results and comment:
            results[question_id].comments.append(comment)


def _apply_minimums(results: Iterable[QuestionResult], minimum: int, comment_minimum: int) -> None:
    """Withhold each question's counts below `minimum` answers, and its comments below `comment_minimum`."""
    for result in results:
        if result.answered < minimum:
            result.hidden, result.counts = True, {}
        if result.comments and (result.hidden or len(result.comments) < comment_minimum):
            result.comments_hidden, result.comments = True, []


def bars(result: QuestionResult, width: int = 10) -> list[str]:
    """Text bars, one line per option: `██████░░░░  4 🙂  60% (6)`. The bar leads, so the bars and the labels after
    them line up in any font (cards are read in proportional fonts, where padding labels with spaces can't align
    emoji, CJK or Arabic ones); the figures follow each label."""
    options = answer_options(result.question.kind, result.question.options)
    total = result.answered or 1
    lines = []
    for label, value in options:
        count = result.counts.get(value, 0)
        filled = round(width * count / total)
        lines.append(f"{'█' * filled}{'░' * (width - filled)}  {label}  {round(100 * count / total)}% ({count})")
    return lines

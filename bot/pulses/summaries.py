"""History that outlives raw data: before retention removes a closed run's answers and participation rows, the
figures they make are kept (storage/tables/summaries.py), and the results card, the pulse's trend and the weekly
digest read them from there afterwards, unchanged.

What is kept is what the readers show, with the anonymity minimums already applied: the results card's counts
(run_results, the readers' own tally, minimums and all), the digest's weekly counts of scored answers (a week
under the minimum only as its size, which the digest withholds) and how many distinct people the digest counts.
An anonymous run below its minimum keeps its respondent count alone (its card shows it). No comment is kept."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.config import Settings, load_settings
from bot.digests.weeks import Week
from bot.pulses.questions import answer_options
from bot.pulses.results import run_results
from storage.tables import Participation, Pulse, PulseRun, Question, Response
from storage.tables.summaries import RunSummary, RunSummaryQuestion, RunSummaryWeek

SCORED_KINDS = ("scale", "enps")
"""The questions the digest reads (bot.digests.queries.SCORED_KINDS)."""


async def keep_summary(session: AsyncSession, run_id: int, settings: Settings | None = None) -> None:
    """Keep the figures of closed run `run_id` in the caller's transaction, before its answers are deleted.
    Idempotent: a run summarised already keeps its summary (its answers may be gone). An open or unknown run
    is left alone. `settings` (default: from the environment) give the digest's minimum and week zone."""
    settings = settings or load_settings()
    if await session.get(RunSummary, run_id) is not None:
        return
    run = await session.get(PulseRun, run_id)
    pulse = await session.get(Pulse, run.pulse_id) if run is not None else None
    if run is None or pulse is None or run.status != "closed":
        return
    questions = list(await session.exec(select(Question).where(Question.pulse_id == pulse.id)
                                        .order_by(col(Question.position))))
    results = await run_results(session, settings, pulse, run, questions)
    people, people_large = await _new_people(session, pulse, run, settings)
    session.add(RunSummary(run_id=run_id, respondents=results.respondents, minimum=results.minimum,
                           below_minimum=results.hidden, people=people, people_large=people_large))
    await session.flush()
    if results.hidden:
        return  # an anonymous run under its minimum: not one of its figures shows, so none is kept
    session.add_all(RunSummaryQuestion(
        run_id=run_id, question_id=r.question.id or 0, answered=r.answered, hidden=r.hidden,
        counts=_options_only(r.question, r.counts), comments=len(r.comments),
        comments_hidden=r.comments_hidden) for r in results.questions)
    session.add_all(await _weeks(session, run_id, [q for q in questions if q.kind in SCORED_KINDS],
                                 settings.anon_min))
    await session.flush()


def _options_only(question: Question, counts: dict[str, int]) -> dict[str, int]:
    """The counts of the question's options alone: a free-text answer's "value" is no option, and old ones held
    the words themselves."""
    options = {value for _, value in answer_options(question.kind, question.options)}
    return {value: n for value, n in counts.items() if value in options}


async def _weeks(session: AsyncSession, run_id: int, scored: list[Question], minimum: int) -> list[RunSummaryWeek]:
    """The digest's groups (bot.digests.queries.answer_histogram): answers per question, ISO week of the day they
    were published and value; a (question, week) under `minimum` keeps only its size (value "")."""
    if not scored:
        return []
    rows = await session.exec(
        select(Response.question_id, Response.answered_on, Response.value, func.count())
        .where(Response.run_id == run_id, col(Response.question_id).in_([q.id for q in scored]))
        .group_by(col(Response.question_id), col(Response.answered_on), col(Response.value)))
    groups: dict[tuple[int, date], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for question_id, day, value, count in rows:
        groups[(question_id, day - timedelta(days=day.weekday()))][value] += count
    kept = []
    for (question_id, monday), histogram in groups.items():
        size = sum(histogram.values())
        shown = histogram.items() if size >= minimum else [("", size)]
        kept.extend(RunSummaryWeek(run_id=run_id, question_id=question_id, week=monday, value=value, answers=n)
                    for value, n in shown)
    return kept


async def _new_people(session: AsyncSession, pulse: Pulse, run: PulseRun, settings: Settings) -> tuple[int, int]:
    """The run's respondents who answered no other run of its channel in the same week (EARSHOT_TIMEZONE) that is
    not summarised yet, and the same among runs at the digest's minimum (0 for a run under it). Summed over a
    channel's week, with the distinct people of its runs still whole, each person counts once: in the last of
    their runs to be summarised."""
    week = Week.containing(run.opened_at.astimezone(settings.zone).date(), settings.zone)
    others = (select(PulseRun.id).join(Pulse, col(Pulse.id) == PulseRun.pulse_id)
              .where(Pulse.platform == pulse.platform, Pulse.channel_id == pulse.channel_id,
                     PulseRun.opened_at >= week.start, PulseRun.opened_at < week.end, PulseRun.id != run.id,
                     col(PulseRun.id).not_in(select(RunSummary.run_id))))
    size = Participation.__table__.alias("size")  # type: ignore[attr-defined]
    large = others.where(select(func.count(func.distinct(size.c.user_id))).where(size.c.run_id == PulseRun.id)
                         .scalar_subquery() >= settings.anon_min)

    async def count(elsewhere: object) -> int:
        seen_elsewhere = select(Participation.user_id).where(col(Participation.run_id).in_(elsewhere))
        return (await session.exec(select(func.count(func.distinct(Participation.user_id))).where(
            Participation.run_id == run.id, col(Participation.user_id).not_in(seen_elsewhere)))).one()

    everyone = await count(others)
    mine = (await session.exec(select(func.count(func.distinct(Participation.user_id)))
                               .where(Participation.run_id == run.id))).one()
    return everyone, (await count(large) if mine >= settings.anon_min else 0)

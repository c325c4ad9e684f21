"""History survives raw data (issue 18): once a closed run's answers, comments and participation rows and the
feedback's texts and customers have expired, the results cards, the pulses' trends and their charts, and the weekly
digests of past weeks show the same figures as before, comments aside. Both databases."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func
from sqlmodel import col, select

from bot.cards import Card
from bot.digests.build import Privacy, build_digest
from bot.digests.model import Digest, Scope
from bot.digests.weeks import Week
from bot.feedback.redact import Redactor
from bot.pulses.cards import results_card
from bot.pulses.charts import bar_chart, trend_chart
from bot.pulses.results import RunResults, bars
from bot.pulses.summaries import keep_summary
from storage.engine import Database
from storage.tables import Participation, Pulse, PulseRun, Response
from storage.tables.summaries import RunSummary, RunSummaryQuestion, RunSummaryWeek
from tests.governance.history_world import COMMENTS, SETTINGS, WEEKS, at, expire, monday, plant
from tests.support.core import CoreHarness, make_harness

UTC_ZONE = ZoneInfo("UTC")
MID_W45 = at(monday(5) + timedelta(days=2), 12)
"""Wednesday of W45, noon: W45's first named runs have expired, its last ones not (a week half summarised)."""


@pytest.fixture
async def harness(db: Database) -> CoreHarness:
    await plant(db)
    return make_harness(db, **SETTINGS)


def _figures(results: RunResults) -> list[tuple[Any, ...]]:
    """What the results show of each question (comments are the one thing that goes)."""
    return [(r.question.prompt, r.answered, r.hidden, None if r.question.kind == "text" else r.counts, r.mean,
             r.enps, bars(r)) for r in results.questions]


def _card_text(card: Card) -> list[str]:
    """The card's lines but the comments (quoted) and the note that they were removed."""
    lines = "\n".join(getattr(b, "text", "") or " ".join(map(str, getattr(b, "items", ()))) for b in card.blocks)
    return [line for line in lines.splitlines() if not line.startswith(("“", "💬", "comments show once"))]


def _scope(scope: Scope) -> tuple[Any, ...]:
    c, e = scope.customers, scope.employees
    return (scope.key, c.volume, c.by_source, c.by_area, c.nps, c.csat, c.detractors, replace(e, themes=None),
            scope.bridge)


def _digest(digest: Digest) -> tuple[Any, ...]:
    return (_scope(digest.overall), [_scope(t) for t in digest.teams], digest.trend, digest.flags,
            digest.nps_distribution, digest.enps_distribution)


async def snapshot(h: CoreHarness) -> dict[tuple[str, object], object]:
    """Every results card, bar chart, trend and trend chart of the planted pulses, and the digests of W41–W46."""
    pulses = h.features.pulses.pulses
    shown: dict[tuple[str, object], object] = {}
    async with h.db.session() as session:
        for pulse in list(await session.exec(select(Pulse).order_by(col(Pulse.id)))):
            questions = await pulses.questions(session, pulse.id or 0)
            trend, _ = await pulses.trend(session, pulse, questions)
            scored = next(q for q in questions if q.kind in ("scale", "enps"))
            shown[("trend", pulse.title)] = trend
            shown[("trend chart", pulse.title)] = trend_chart(trend, scored.prompt)
            runs = list(await session.exec(select(PulseRun).where(PulseRun.pulse_id == pulse.id)
                                           .order_by(col(PulseRun.id))))
            for run in runs:
                results = await pulses.results(session, pulse, run, questions)
                shown[("results", run.id)] = (results.respondents, results.hidden, results.number, _figures(results))
                shown[("chart", run.id)] = None if results.hidden else bar_chart(results.questions)
                shown[("card", run.id)] = _card_text(results_card(results, final=True, trend=trend))
        await session.rollback()  # the trend charts it stored
    for week in range(1, WEEKS + 1):
        digest = await build_digest(h.db, Week.containing(monday(week), UTC_ZONE), Privacy(3, 4), Redactor())
        shown[("digest", week)] = _digest(digest)
    return shown


async def count(db: Database, table: type) -> int:
    async with db.session() as session:
        return (await session.exec(select(func.count()).select_from(table))).one()


async def test_figures_trends_and_charts_stay_the_same_after_the_rows_behind_them_expire(
        harness: CoreHarness) -> None:
    before = await snapshot(harness)
    assert before[("trend", "Team check")][2][1] is None  # W42: under the minimum, hidden
    assert sum(p[1] is not None for p in before[("trend", "Team check")]) == 5  # type: ignore[index]
    digests = [before[("digest", w)] for w in range(1, WEEKS + 1)]
    assert any(d[0][7].participation.value for d in digests)  # type: ignore[index]
    assert any(d[0][7].enps.value is not None for d in digests)  # type: ignore[index]

    async def mid_purge() -> None:  # summaries kept, half the answers deleted across runs
        assert await snapshot(harness) == before
        checked.append(True)

    checked: list[bool] = []
    expired = await expire(harness.db, harness.settings, MID_W45, mid_purge)
    assert checked
    assert 0 < expired < await count(harness.db, PulseRun)
    async with harness.db.session() as session:  # W45's named runs: two gone, three still whole
        left = set(await session.exec(select(Participation.run_id).distinct()))
    assert len(left) == 3
    assert await snapshot(harness) == before

    await expire(harness.db, harness.settings, at(monday(WEEKS + 2)))
    assert await count(harness.db, Response) == await count(harness.db, Participation) == 0
    assert await count(harness.db, RunSummary) == await count(harness.db, PulseRun)
    after = await snapshot(harness)
    assert after == before


async def test_expired_comments_are_said_to_be_gone_and_kept_nowhere(harness: CoreHarness) -> None:
    async with harness.db.session() as session:
        pulse = (await session.exec(select(Pulse).where(Pulse.title == "Team check"))).one()
        first = (await session.exec(select(PulseRun).where(PulseRun.pulse_id == pulse.id)
                                    .order_by(col(PulseRun.id)))).first()
        assert first is not None
        questions = await harness.features.pulses.pulses.questions(session, pulse.id or 0)
    await expire(harness.db, harness.settings, at(monday(WEEKS + 2)))
    async with harness.db.session() as session:
        results = await harness.features.pulses.pulses.results(session, pulse, first, questions)
        kept = [*await session.exec(select(RunSummaryQuestion)), *await session.exec(select(RunSummaryWeek))]
    text = "\n".join(_card_text_all(results_card(results, final=True)))
    assert "💬 4 comments were removed with the answers when their retention period ended" in text
    assert not any(comment in repr(row) for row in kept for comment in COMMENTS)
    assert {row.value for row in kept if isinstance(row, RunSummaryWeek)} <= {"", *map(str, range(11))}


def _card_text_all(card: Card) -> list[str]:
    return "\n".join(getattr(b, "text", "") or "" for b in card.blocks).splitlines()


async def test_a_run_under_the_minimum_keeps_its_respondent_count_alone(harness: CoreHarness) -> None:
    async with harness.db.session() as session:
        pulse = (await session.exec(select(Pulse).where(Pulse.title == "Team check"))).one()
        small = (await session.exec(select(PulseRun).where(PulseRun.pulse_id == pulse.id)
                                    .order_by(col(PulseRun.id)).offset(2))).first()
    assert small is not None
    async with harness.db.write() as session:
        await keep_summary(session, small.id or 0, harness.settings)
        await keep_summary(session, small.id or 0, harness.settings)  # idempotent
        await session.commit()
    async with harness.db.session() as session:
        summary = await session.get(RunSummary, small.id)
        rows = [*await session.exec(select(RunSummaryQuestion).where(RunSummaryQuestion.run_id == small.id)),
                *await session.exec(select(RunSummaryWeek).where(RunSummaryWeek.run_id == small.id))]
    assert summary is not None and (summary.respondents, summary.below_minimum, rows) == (2, True, [])


async def test_an_open_run_is_not_summarised(harness: CoreHarness) -> None:
    async with harness.db.write() as session:
        run = PulseRun(pulse_id=1, scheduled_for=datetime.now().astimezone(), status="open")
        session.add(run)
        await session.flush()
        await keep_summary(session, run.id or 0, harness.settings)
        await keep_summary(session, 10_000, harness.settings)
        await session.commit()
    assert await count(harness.db, RunSummary) == 0

"""The digest's SQL: every figure is a GROUP BY with COUNT/SUM over CASE, returning a few hundred rows at
most, whatever the size of the tables. Weeks become buckets 0..n-1 (oldest first) through one CASE."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Float, and_, case, cast, func, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnElement

from storage.tables import Engagement, Feedback, Participation, Pulse, PulseRun, Question, Response, Station

SCORED_KINDS = ("scale", "enps")
TOP_QUOTES = 5
TEAM_QUOTES = 3
THEME_SAMPLE = 2_000
"""Texts read per week for themes: the newest, enough for phrases that recur to stand out."""


def bucket(column: Any, bounds: Sequence[datetime | date]) -> ColumnElement[int]:
    """0 for [bounds[0], bounds[1]), 1 for the next week, …; rows outside are filtered by `within`."""
    whens = [(column < bound, literal(index)) for index, bound in enumerate(bounds[1:-1])]
    return case(*whens, else_=literal(len(bounds) - 2)) if whens else literal(0)


def within(column: Any, bounds: Sequence[datetime | date], inclusive_end: bool = False) -> ColumnElement[bool]:
    upper = column <= bounds[-1] if inclusive_end else column < bounds[-1]
    return and_(column >= bounds[0], upper)


def _count_if(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.sum(case((condition, 1), else_=0))


@dataclass(frozen=True)
class FeedbackGroup:
    area: str | None
    source: str
    week: int
    items: int
    nps_n: int
    promoters: int
    detractors: int
    csat_n: int
    satisfied: int


async def feedback_groups(conn: AsyncConnection, bounds: Sequence[datetime]) -> list[FeedbackGroup]:
    f = Feedback.__table__.c  # type: ignore[attr-defined]
    nps = f.score_type == "nps"
    csat = f.score_type == "csat"
    week = bucket(f.received_at, bounds).label("week")
    rows = await conn.execute(
        select(f.product_area, f.source, week, func.count(), _count_if(nps), _count_if(and_(nps, f.score >= 9)),
               _count_if(and_(nps, f.score <= 6)), _count_if(csat), _count_if(and_(csat, f.score >= 4)))
        .where(within(f.received_at, bounds))
        .group_by(f.product_area, f.source, week))
    return [FeedbackGroup(*row) for row in rows]


async def nps_histogram(conn: AsyncConnection, start: datetime, end: datetime) -> dict[int, int]:
    f = Feedback.__table__.c  # type: ignore[attr-defined]
    score = cast(func.round(f.score), Float).label("score")
    rows = await conn.execute(select(score, func.count()).where(
        f.score_type == "nps", f.score.is_not(None), f.received_at >= start, f.received_at < end).group_by(score))
    return {int(s): n for s, n in rows}


async def feedback_texts(conn: AsyncConnection, start: datetime, end: datetime) -> list[tuple[str | None, str]]:
    """(product area, text) of the week's newest items, for themes."""
    f = Feedback.__table__.c  # type: ignore[attr-defined]
    rows = await conn.execute(select(f.product_area, f.text).where(f.received_at >= start, f.received_at < end)
                              .order_by(f.received_at.desc()).limit(THEME_SAMPLE))
    return [(area, text) for area, text in rows]


@dataclass(frozen=True)
class StationRow:
    platform: str
    channel_id: str
    filters: dict[str, Any]


async def stations(conn: AsyncConnection, end: datetime) -> list[StationRow]:
    s = Station.__table__.c  # type: ignore[attr-defined]
    rows = await conn.execute(select(s.platform, s.channel_id, s.filters)
                              .where(s.removed_at.is_(None), s.created_at < end))
    return [StationRow(p, c, filters or {}) for p, c, filters in rows]


# -- pulses ------------------------------------------------------------------------------------------------
def _runs_overlapping(start: datetime, end: datetime) -> Any:
    r = PulseRun.__table__.c  # type: ignore[attr-defined]
    return select(r.id).where(r.opened_at < end, or_(r.closed_at.is_(None), r.closed_at >= start))


@dataclass(frozen=True)
class RunRow:
    run_id: int
    platform: str
    channel_id: str


async def runs(conn: AsyncConnection, start: datetime, end: datetime) -> list[RunRow]:
    r = PulseRun.__table__.c  # type: ignore[attr-defined]
    p = Pulse.__table__.c  # type: ignore[attr-defined]
    rows = await conn.execute(select(r.id, p.platform, p.channel_id).join_from(PulseRun, Pulse, r.pulse_id == p.id)
                              .where(r.id.in_(_runs_overlapping(start, end))))
    return [RunRow(*row) for row in rows]


@dataclass(frozen=True)
class AnswerGroup:
    """How many answered `value` to one question of one run in one week."""

    run_id: int
    question_id: int
    week: int
    value: str
    answers: int


async def answer_histogram(conn: AsyncConnection, days: Sequence[date], start: datetime,
                           end: datetime) -> list[AnswerGroup]:
    """Answers to scored questions (scale, eNPS) counted by value; `days` are bucket bounds (Mondays) with
    the last day of the last week at the end."""
    a = Response.__table__.c  # type: ignore[attr-defined]
    q = Question.__table__.c  # type: ignore[attr-defined]
    week = bucket(a.answered_on, days).label("week")
    rows = await conn.execute(
        select(a.run_id, a.question_id, week, a.value, func.count())
        .join_from(Response, Question, a.question_id == q.id)
        .where(q.kind.in_(SCORED_KINDS), within(a.answered_on, days, inclusive_end=True),
               a.run_id.in_(_runs_overlapping(start, end)))
        .group_by(a.run_id, a.question_id, week, a.value))
    return [AnswerGroup(*row) for row in rows]


@dataclass(frozen=True)
class QuestionRow:
    id: int
    kind: str
    prompt: str
    options: list[str]


async def questions(conn: AsyncConnection, ids: set[int]) -> dict[int, QuestionRow]:
    if not ids:
        return {}
    q = Question.__table__.c  # type: ignore[attr-defined]
    rows = await conn.execute(select(q.id, q.kind, q.prompt, q.options).where(q.id.in_(sorted(ids))))
    return {row[0]: QuestionRow(row[0], row[1], row[2], list(row[3] or [])) for row in rows}


def _comment_text(a: Any, q: Any) -> ColumnElement[str]:
    return case((q.kind == "text", a.value), else_=a.comment)


def _has_comment(a: Any, q: Any) -> ColumnElement[bool]:
    return or_(and_(q.kind == "text", a.value != ""), and_(a.comment.is_not(None), a.comment != ""))


async def comment_counts(conn: AsyncConnection, first: date, last: date, start: datetime,
                         end: datetime) -> dict[int, int]:
    """Comments (free-text answers and comments on other answers) per run in one week."""
    a = Response.__table__.c  # type: ignore[attr-defined]
    q = Question.__table__.c  # type: ignore[attr-defined]
    rows = await conn.execute(
        select(a.run_id, func.count()).join_from(Response, Question, a.question_id == q.id)
        .where(_has_comment(a, q), a.answered_on >= first, a.answered_on <= last,
               a.run_id.in_(_runs_overlapping(start, end)))
        .group_by(a.run_id))
    return dict(rows.all())  # type: ignore[arg-type]


async def comment_texts(conn: AsyncConnection, run_ids: set[int], first: date,
                        last: date) -> list[tuple[int, str]]:
    if not run_ids:
        return []
    a = Response.__table__.c  # type: ignore[attr-defined]
    q = Question.__table__.c  # type: ignore[attr-defined]
    rows = await conn.execute(
        select(a.run_id, _comment_text(a, q)).join_from(Response, Question, a.question_id == q.id)
        .where(_has_comment(a, q), a.answered_on >= first, a.answered_on <= last, a.run_id.in_(sorted(run_ids)))
        .limit(THEME_SAMPLE * 4))
    return [(run_id, text) for run_id, text in rows]


async def participants(conn: AsyncConnection, bounds: Sequence[datetime]) -> list[tuple[str, str, int, int]]:
    """(platform, channel, week, distinct people who answered) for runs opened in each week."""
    r = PulseRun.__table__.c  # type: ignore[attr-defined]
    p = Pulse.__table__.c  # type: ignore[attr-defined]
    t = Participation.__table__.c  # type: ignore[attr-defined]
    week = bucket(r.opened_at, bounds).label("week")
    rows = await conn.execute(
        select(p.platform, p.channel_id, week, func.count(func.distinct(t.user_id)))
        .join_from(Participation, PulseRun, t.run_id == r.id).join(Pulse, r.pulse_id == p.id)
        .where(within(r.opened_at, bounds)).group_by(p.platform, p.channel_id, week))
    return [tuple(row) for row in rows]  # type: ignore[misc]


# -- engagement --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class EngagementGroup:
    platform: str
    channel_id: str
    week: int
    reactions: int
    claims: int
    closed: int
    people: int


async def engagement_groups(conn: AsyncConnection, bounds: Sequence[datetime]) -> list[EngagementGroup]:
    e = Engagement.__table__.c  # type: ignore[attr-defined]
    week = bucket(e.created_at, bounds).label("week")
    rows = await conn.execute(
        select(e.platform, e.channel_id, week, _count_if(e.kind == "reaction"), _count_if(e.kind == "claim"),
               _count_if(e.kind == "done"), func.count(func.distinct(e.user_id)))
        .where(within(e.created_at, bounds)).group_by(e.platform, e.channel_id, week))
    return [EngagementGroup(*row) for row in rows]


async def engagement_people(conn: AsyncConnection, bounds: Sequence[datetime]) -> dict[int, int]:
    """Distinct people who engaged in any channel, per week."""
    e = Engagement.__table__.c  # type: ignore[attr-defined]
    week = bucket(e.created_at, bounds).label("week")
    rows = await conn.execute(select(week, func.count(func.distinct(e.platform + ":" + e.user_id)))
                              .where(within(e.created_at, bounds)).group_by(week))
    return dict(rows.all())  # type: ignore[arg-type]


async def items_engaged(conn: AsyncConnection, bounds: Sequence[datetime]) -> dict[int, tuple[int, int]]:
    """Per week of arrival: (items anyone engaged with, items claimed), each item once across channels."""
    e = Engagement.__table__.c  # type: ignore[attr-defined]
    f = Feedback.__table__.c  # type: ignore[attr-defined]
    week = bucket(f.received_at, bounds).label("week")
    rows = await conn.execute(
        select(week, func.count(func.distinct(e.feedback_id)),
               func.count(func.distinct(case((e.kind == "claim", e.feedback_id)))))
        .join_from(Engagement, Feedback, e.feedback_id == f.id).where(within(f.received_at, bounds)).group_by(week))
    return {w: (seen, claimed) for w, seen, claimed in rows}


@dataclass(frozen=True)
class AttentionGroup:
    """Of the items in one area received in one week, how many one channel engaged with, claimed, and how
    quickly (sum of seconds to its first reaction there, over `reacted` items)."""

    platform: str
    channel_id: str
    area: str | None
    week: int
    seen: int
    claimed: int
    reacted: int
    seconds: float


def _seconds_between(later: Any, earlier: Any, dialect: str) -> ColumnElement[float]:
    if dialect == "postgresql":
        return func.extract("epoch", later - earlier)
    return (func.julianday(later) - func.julianday(earlier)) * 86400.0


async def attention_groups(conn: AsyncConnection, bounds: Sequence[datetime]) -> list[AttentionGroup]:
    e = Engagement.__table__.c  # type: ignore[attr-defined]
    f = Feedback.__table__.c  # type: ignore[attr-defined]
    recent = select(f.id).where(within(f.received_at, bounds))
    per_item = (
        select(e.feedback_id, e.platform, e.channel_id,
               func.min(case((e.kind == "reaction", e.created_at))).label("first_reaction"),
               func.max(case((e.kind == "claim", 1), else_=0)).label("claimed"))
        .where(e.feedback_id.in_(recent)).group_by(e.feedback_id, e.platform, e.channel_id).subquery())
    week = bucket(f.received_at, bounds).label("week")
    delay = _seconds_between(per_item.c.first_reaction, f.received_at, conn.dialect.name)
    rows = await conn.execute(
        select(per_item.c.platform, per_item.c.channel_id, f.product_area, week, func.count(),
               func.sum(per_item.c.claimed), func.count(per_item.c.first_reaction),
               func.coalesce(func.sum(delay), 0.0))
        .join_from(per_item, Feedback, per_item.c.feedback_id == f.id)
        .group_by(per_item.c.platform, per_item.c.channel_id, f.product_area, week))
    return [AttentionGroup(p, c, area, w, seen, int(claimed or 0), reacted, float(seconds or 0))
            for p, c, area, w, seen, claimed, reacted, seconds in rows]


@dataclass(frozen=True)
class QuoteHit:
    platform: str | None
    channel_id: str | None
    feedback_id: int
    reactions: int


async def most_reacted(conn: AsyncConnection, start: datetime, end: datetime) -> list[QuoteHit]:
    """The items with most reactions this week, overall and (top few) per channel."""
    e = Engagement.__table__.c  # type: ignore[attr-defined]
    reacted = and_(e.kind == "reaction", e.created_at >= start, e.created_at < end)
    overall = await conn.execute(select(e.feedback_id, func.count().label("n")).where(reacted)
                                 .group_by(e.feedback_id).order_by(func.count().desc(), e.feedback_id)
                                 .limit(TOP_QUOTES))
    hits = [QuoteHit(None, None, fid, n) for fid, n in overall]
    rank = func.row_number().over(partition_by=(e.platform, e.channel_id),
                                  order_by=(func.count().desc(), e.feedback_id)).label("rank")
    ranked = (select(e.platform, e.channel_id, e.feedback_id, func.count().label("n"), rank).where(reacted)
              .group_by(e.platform, e.channel_id, e.feedback_id).subquery())
    per_team = await conn.execute(select(ranked.c.platform, ranked.c.channel_id, ranked.c.feedback_id, ranked.c.n)
                                  .where(ranked.c.rank <= TEAM_QUOTES))
    hits.extend(QuoteHit(*row) for row in per_team)
    return hits


async def feedback_by_id(conn: AsyncConnection, ids: set[int]) -> dict[int, Any]:
    if not ids:
        return {}
    f = Feedback.__table__.c  # type: ignore[attr-defined]
    rows = await conn.execute(select(f.id, f.text, f.score, f.score_type, f.source, f.product_area)
                              .where(f.id.in_(sorted(ids))))
    return {row.id: row for row in rows}

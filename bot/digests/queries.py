"""The digest's SQL: every figure is counted in the database, returning a few hundred rows at most, whatever the
size of the tables, and each query reads only its weeks, from an index that covers it. Weeks become buckets
0..n-1 (oldest first) through one CASE, or a column each.

Where a GROUP BY would sort a fortnight of rows (SQLite sorts for every GROUP BY, and slowly at that size), a
figure is counted instead per channel or per week, as range counts in an index in that order: one correlated
subquery per figure, many small scans rather than one large sort. PostgreSQL, which groups as it reads, gets
one grouped pass where that reads fewer rows (`_postgres`).

The queries of employees' data take a `viewer` (bot.digests.viewer): given one, they read that viewer's pulses,
stations and channels alone; the customer feedback queries read the organisation's."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Float, Integer, and_, case, cast, exists, func, literal, or_, select, true, union_all
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnElement

from bot.digests.viewer import Viewer, in_channels, owned
from bot.pulses.questions import TEXT_VALUE
from storage.tables import Engagement, Feedback, Participation, Pulse, PulseRun, Question, Response, Station
from storage.tables.summaries import RunSummary, RunSummaryWeek

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


def _postgres(conn: AsyncConnection) -> bool:
    """Where the engines want different SQL: PostgreSQL groups rows in a hash table as it reads them, and joins
    LATERAL; SQLite sorts every GROUP BY's rows first. On PostgreSQL the newest rows are seldom all-visible yet,
    so each index entry read also reads its table row: there, one pass beats several range scans."""
    return conn.dialect.name == "postgresql"


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
    """Per product area, source and week: only the weeks compared in depth (the trend has its own totals)."""
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


async def feedback_trend(conn: AsyncConnection, bounds: Sequence[datetime]) -> list[tuple[int, int, int, int]]:
    """(items, NPS answers, promoters, detractors) per week: a range count each in `ix_feedback_received`, so
    the weeks' items are never sorted into groups."""
    f = Feedback.__table__.c  # type: ignore[attr-defined]
    nps = f.score_type == "nps"

    def count(week: int, *conditions: ColumnElement[bool]) -> Any:
        return (select(func.count()).where(f.received_at >= bounds[week], f.received_at < bounds[week + 1],
                                           *conditions).scalar_subquery())

    weeks = range(len(bounds) - 1)
    row = (await conn.execute(select(*(count(w, *c) for w in weeks for c in (
        (), (nps,), (nps, f.score >= 9), (nps, f.score <= 6)))))).one()
    return [tuple(row[4 * w:4 * w + 4]) for w in weeks]  # type: ignore[misc]


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
class FeedbackRow:
    week: int
    source: str
    text: str
    score: float | None
    score_type: str | None
    tags: list[str]
    product_area: str | None
    segment: str | None
    language: str | None


async def feedback_items(conn: AsyncConnection, bounds: Sequence[datetime],
                         areas: Collection[str] | None = None) -> list[FeedbackRow]:
    """The items of the weeks compared in `areas` (product areas as stored; None: every item), with what station
    filters test: read only when some team's stations take less than all of their areas (bot.digests.heard),
    since those teams' figures are counted item by item."""
    f = Feedback.__table__.c  # type: ignore[attr-defined]
    query = select(bucket(f.received_at, bounds), f.source, f.text, f.score, f.score_type, f.tags, f.product_area,
                   f.segment, f.language).where(within(f.received_at, bounds))
    if areas is not None:  # checked in ix_feedback_received, before any row (and its text) is read
        query = query.where(f.product_area.in_(sorted(areas)))
    rows = await conn.execute(query)
    return [FeedbackRow(*row[:5], row[5] or [], *row[6:]) for row in rows]


async def feedback_areas(conn: AsyncConnection, bounds: Sequence[datetime]) -> list[str | None]:
    """The product areas, as stored, of the weeks' items (from ix_feedback_received alone)."""
    f = Feedback.__table__.c  # type: ignore[attr-defined]
    return list((await conn.execute(select(f.product_area).where(within(f.received_at, bounds)).distinct()))
                .scalars())


@dataclass(frozen=True)
class StationRow:
    platform: str
    channel_id: str
    filters: dict[str, Any]


async def stations(conn: AsyncConnection, end: datetime, viewer: Viewer | None) -> list[StationRow]:
    s = Station.__table__.c  # type: ignore[attr-defined]
    rows = await conn.execute(select(s.platform, s.channel_id, s.filters)
                              .where(s.removed_at.is_(None), s.created_at < end,
                                     *owned(viewer, s.platform, s.workspace)))
    return [StationRow(p, c, filters or {}) for p, c, filters in rows]


# -- pulses ------------------------------------------------------------------------------------------------
def _runs_overlapping(start: datetime, end: datetime, viewer: Viewer | None) -> Any:
    r = PulseRun.__table__.c  # type: ignore[attr-defined]
    runs = select(r.id).where(r.opened_at < end, or_(r.closed_at.is_(None), r.closed_at >= start))
    if viewer is None:
        return runs
    p = Pulse.__table__.c  # type: ignore[attr-defined]
    return runs.where(r.pulse_id.in_(select(p.id).where(*owned(viewer, p.platform, p.workspace))))


@dataclass(frozen=True)
class RunRow:
    run_id: int
    platform: str
    channel_id: str


async def runs(conn: AsyncConnection, start: datetime, end: datetime, viewer: Viewer | None) -> list[RunRow]:
    r = PulseRun.__table__.c  # type: ignore[attr-defined]
    p = Pulse.__table__.c  # type: ignore[attr-defined]
    rows = await conn.execute(select(r.id, p.platform, p.channel_id).join_from(PulseRun, Pulse, r.pulse_id == p.id)
                              .where(r.id.in_(_runs_overlapping(start, end, viewer))))
    return [RunRow(*row) for row in rows]


@dataclass(frozen=True)
class AnswerGroup:
    """How many answered `value` to one question of one run in one week."""

    run_id: int
    question_id: int
    week: int
    value: str
    answers: int


async def answer_histogram(conn: AsyncConnection, days: Sequence[date], start: datetime, end: datetime,
                           viewer: Viewer | None) -> list[AnswerGroup]:
    """Answers to scored questions (scale, eNPS) counted by value; `days` are bucket bounds (Mondays) with
    the last day of the last week at the end. Counted per day first, in the order of `ix_response_answers`,
    so the answers are never sorted; only those few thousand day counts are regrouped into weeks. A run kept
    for its answers' expiry gives its kept weekly counts instead (`_kept_histogram`), whatever rows remain."""
    a = Response.__table__.c  # type: ignore[attr-defined]
    q = Question.__table__.c  # type: ignore[attr-defined]
    per_day = (
        select(a.run_id, a.question_id, a.answered_on, a.value, func.count().label("answers"))
        .where(a.run_id.in_(_unsummarised(_runs_overlapping(start, end, viewer))),
               a.question_id.in_(select(q.id).where(q.kind.in_(SCORED_KINDS))),
               within(a.answered_on, days, inclusive_end=True))
        .group_by(a.run_id, a.question_id, a.answered_on, a.value).subquery())
    week = bucket(per_day.c.answered_on, days).label("week")
    rows = await conn.execute(
        select(per_day.c.run_id, per_day.c.question_id, week, per_day.c.value,
               cast(func.sum(per_day.c.answers), Integer))
        .group_by(per_day.c.run_id, per_day.c.question_id, week, per_day.c.value))
    return [AnswerGroup(*row) for row in rows] + await _kept_histogram(conn, days, start, end, viewer)


async def _kept_histogram(conn: AsyncConnection, days: Sequence[date], start: datetime, end: datetime,
                          viewer: Viewer | None) -> list[AnswerGroup]:
    """The weekly counts kept of runs whose answers expire (bot/pulses/summaries.py), by the Monday of their
    week. The purge keeps a run's summary before it deletes its answers in batches: from then on, only the
    summary counts, so a run half deleted is never counted twice or in part."""
    k = RunSummaryWeek.__table__.c  # type: ignore[attr-defined]
    q = Question.__table__.c  # type: ignore[attr-defined]
    rows = await conn.execute(
        select(k.run_id, k.question_id, bucket(k.week, days), k.value, k.answers)
        .where(k.run_id.in_(_runs_overlapping(start, end, viewer)),
               k.question_id.in_(select(q.id).where(q.kind.in_(SCORED_KINDS))),
               within(k.week, days, inclusive_end=True)))
    return [AnswerGroup(*row) for row in rows]


def _unsummarised(runs: Any) -> Any:
    """`runs` (a select of run ids) without those kept in a summary, which count from it alone."""
    return runs.where(PulseRun.__table__.c.id.not_in(select(RunSummary.__table__.c.run_id)))  # type: ignore


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


def _comments(runs: Any, first: date, last: date) -> Any:
    """(run_id, text) of the comments in runs `runs` from `first` to `last`: free-text answers, read from
    `ix_response_answers`, and comments on other answers, found through the partial `ix_response_comments`.
    A free-text answer's words are its comment (its value only says "text"); answers stored before that kept the
    words in the value, and one that has both is counted once, as its value."""
    a = Response.__table__.c  # type: ignore[attr-defined]
    q = Question.__table__.c  # type: ignore[attr-defined]
    is_text = a.question_id.in_(select(q.id).where(q.kind == "text"))
    in_days = [a.run_id.in_(runs), a.answered_on >= first, a.answered_on <= last]
    words_in_value = and_(is_text, a.value != "", a.value != TEXT_VALUE)
    answers = select(a.run_id, a.value.label("text")).where(*in_days, words_in_value)
    remarks = (select(a.run_id, a.comment.label("text"))
               .where(*in_days, a.comment.is_not(None), a.comment != "", ~words_in_value))
    return union_all(answers, remarks).subquery()


async def comment_counts(conn: AsyncConnection, first: date, last: date, start: datetime, end: datetime,
                         viewer: Viewer | None) -> dict[int, int]:
    """Comments (free-text answers and comments on other answers) per run in one week."""
    comments = _comments(_runs_overlapping(start, end, viewer), first, last)
    rows = await conn.execute(select(comments.c.run_id, func.count()).group_by(comments.c.run_id))
    return dict(rows.all())  # type: ignore[arg-type]


async def comment_texts(conn: AsyncConnection, run_ids: set[int], first: date,
                        last: date) -> list[tuple[int, str]]:
    if not run_ids:
        return []
    comments = _comments(sorted(run_ids), first, last)
    rows = await conn.execute(select(comments.c.run_id, comments.c.text).limit(THEME_SAMPLE * 4))
    return [(run_id, text) for run_id, text in rows]


async def participants(conn: AsyncConnection, bounds: Sequence[datetime], minimum: int,
                       viewer: Viewer | None) -> list[tuple[str, str, int, int, int]]:
    """(platform, channel, week, distinct people who answered runs with at least `minimum` people, distinct
    people who answered any run) for runs opened in each week: the channels' runs are found first, then each
    channel's people are counted from its runs' participation keys (no sort of everyone who answered). A run
    under the minimum counts nowhere, like its answers: else the people counted would give its size away. A run
    kept for its participation's expiry adds the people its summary kept instead (bot/pulses/summaries.py)."""
    r = PulseRun.__table__.c  # type: ignore[attr-defined]
    p = Pulse.__table__.c  # type: ignore[attr-defined]
    t = Participation.__table__.c  # type: ignore[attr-defined]
    channels = (select(p.platform, p.channel_id).join_from(PulseRun, Pulse, r.pulse_id == p.id)
                .where(within(r.opened_at, bounds), *owned(viewer, p.platform, p.workspace)).distinct().subquery())
    own = Pulse.__table__.alias("own")
    run = PulseRun.__table__.alias("run")

    size = Participation.__table__.alias("size")
    k = RunSummary.__table__.c  # type: ignore[attr-defined]

    def people(week: int, large_only: bool) -> Any:
        runs_of_week = (select(run.c.id).join_from(run, own, run.c.pulse_id == own.c.id)
                        .where(own.c.platform == channels.c.platform, own.c.channel_id == channels.c.channel_id,
                               run.c.opened_at >= bounds[week], run.c.opened_at < bounds[week + 1],
                               *owned(viewer, own.c.platform, own.c.workspace))
                        .correlate(channels))
        kept = select(func.coalesce(func.sum(k.people_large if large_only else k.people), 0)).where(
            k.run_id.in_(runs_of_week)).scalar_subquery()
        live_runs = runs_of_week.where(run.c.id.not_in(select(k.run_id)))
        if large_only:
            live_runs = live_runs.where(select(func.count(func.distinct(size.c.user_id)))
                                        .where(size.c.run_id == run.c.id).scalar_subquery() >= minimum)
        live = select(func.count(func.distinct(t.user_id))).where(t.run_id.in_(live_runs)).scalar_subquery()
        return cast(live + kept, Integer)

    weeks = range(len(bounds) - 1)
    rows = await conn.execute(select(channels.c.platform, channels.c.channel_id,
                                     *(people(w, large) for w in weeks for large in (True, False))))
    return [(platform, channel, w, counts[2 * w], counts[2 * w + 1]) for platform, channel, *counts in rows
            for w in weeks if counts[2 * w + 1]]


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


async def engagement_groups(conn: AsyncConnection, bounds: Sequence[datetime],
                            viewer: Viewer | None) -> list[EngagementGroup]:
    """Per channel and week with any engagement: reactions, claims, closed loops and distinct people."""
    if _postgres(conn):
        return await _engagement_grouped(conn, bounds, viewer)
    return await _engagement_per_channel(conn, bounds, viewer)


async def _engagement_grouped(conn: AsyncConnection, bounds: Sequence[datetime],
                              viewer: Viewer | None) -> list[EngagementGroup]:
    """One pass over the weeks in `ix_engagement_created`, grouped per person first (a COUNT(DISTINCT) would
    sort), then per channel."""
    e = Engagement.__table__.c  # type: ignore[attr-defined]
    week = bucket(e.created_at, bounds).label("week")
    per_person = (
        select(e.platform, e.channel_id, week, _count_if(e.kind == "reaction").label("reactions"),
               _count_if(e.kind == "claim").label("claims"), _count_if(e.kind == "done").label("closed"))
        .where(within(e.created_at, bounds), *in_channels(viewer, e.platform, e.channel_id))
        .group_by(e.platform, e.channel_id, week, e.user_id).subquery())
    p = per_person.c
    sums = (cast(func.sum(n), Integer) for n in (p.reactions, p.claims, p.closed))
    rows = await conn.execute(select(p.platform, p.channel_id, p.week, *sums, func.count())
                              .group_by(p.platform, p.channel_id, p.week))
    return [EngagementGroup(*row) for row in rows]


async def _engagement_per_channel(conn: AsyncConnection, bounds: Sequence[datetime],
                                  viewer: Viewer | None) -> list[EngagementGroup]:
    """The channels are found once; then every figure is a count over one channel's week in
    `ix_engagement_channel`, a range scan each: the weeks' rows are never sorted."""
    e = Engagement.__table__.c  # type: ignore[attr-defined]
    channels = (select(e.platform, e.channel_id).where(within(e.created_at, bounds),
                                                       *in_channels(viewer, e.platform, e.channel_id))
                .distinct().subquery())
    x = Engagement.__table__.alias("x").c

    def in_week(week: int) -> list[ColumnElement[bool]]:
        return [x.platform == channels.c.platform, x.channel_id == channels.c.channel_id,
                x.created_at >= bounds[week], x.created_at < bounds[week + 1]]

    def count(week: int, kind: str) -> Any:
        return select(func.count()).where(*in_week(week), x.kind == kind).scalar_subquery()

    def people(week: int) -> Any:
        distinct = select(x.user_id).where(*in_week(week)).distinct().correlate(channels).subquery()
        return select(func.count()).select_from(distinct).scalar_subquery()

    weeks = range(len(bounds) - 1)
    kinds = ("reaction", "claim", "done")
    rows = await conn.execute(select(channels.c.platform, channels.c.channel_id,
                                     *(count(w, kind) for w in weeks for kind in kinds), *(people(w) for w in weeks)))
    groups = []
    for platform, channel, *values in rows:
        counts, engaged = values[:-len(weeks)], values[-len(weeks):]
        groups.extend(EngagementGroup(platform, channel, w, *counts[len(kinds) * w:len(kinds) * (w + 1)], engaged[w])
                      for w in weeks if engaged[w])  # a week with no one engaging there is no group
    return groups


async def engagement_people(conn: AsyncConnection, bounds: Sequence[datetime],
                            viewer: Viewer | None) -> dict[int, int]:
    """Distinct people who engaged in any channel (of the viewer's), per week."""
    e = Engagement.__table__.c  # type: ignore[attr-defined]

    def people(week: int) -> Any:
        distinct = (select(e.platform, e.user_id).distinct()
                    .where(e.created_at >= bounds[week], e.created_at < bounds[week + 1],
                           *in_channels(viewer, e.platform, e.channel_id)).subquery())
        return select(func.count()).select_from(distinct).scalar_subquery()

    weeks = range(len(bounds) - 1)
    counts = (await conn.execute(select(*(people(w) for w in weeks)))).one()
    return dict(zip(weeks, counts, strict=True))


async def items_engaged(conn: AsyncConnection, bounds: Sequence[datetime],
                        viewer: Viewer | None) -> dict[int, tuple[int, int]]:
    """Per week of arrival: (items anyone engaged with by the end of the digest's week, items claimed), each
    item once across channels (the viewer's): one probe of `ix_engagement_feedback` per item rather than a join
    through all its engagement."""
    e = Engagement.__table__.c  # type: ignore[attr-defined]
    f = Feedback.__table__.c  # type: ignore[attr-defined]
    by_then = [e.created_at < bounds[-1],  # what happened after the week belongs to a later digest
               *in_channels(viewer, e.platform, e.channel_id)]
    claimed = exists().where(e.feedback_id == f.id, e.kind == "claim", *by_then)
    weeks = range(len(bounds) - 1)
    arrived = [and_(f.received_at >= bounds[w], f.received_at < bounds[w + 1]) for w in weeks]
    row = (await conn.execute(
        select(*(_count_if(a) for a in arrived), *(_count_if(and_(a, claimed)) for a in arrived))
        .where(within(f.received_at, bounds), exists().where(e.feedback_id == f.id, *by_then)))).one()
    return {w: (int(row[w] or 0), int(row[len(weeks) + w] or 0)) for w in weeks}


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


async def attention_groups(conn: AsyncConnection, bounds: Sequence[datetime],
                           viewer: Viewer | None) -> list[AttentionGroup]:
    """Items are read in `ix_feedback_received` order (time, then id) and each one's engagement from
    `ix_engagement_feedback` (channel by channel), so the per-(item, channel) grouping streams unsorted; it
    hands on only its week and delay, which keeps the one sort left (into channel, area and week) narrow."""
    e = Engagement.__table__.c  # type: ignore[attr-defined]
    f = Feedback.__table__.c  # type: ignore[attr-defined]
    first_reaction = func.min(case((e.kind == "reaction", e.created_at)))
    per_item = (
        select(e.platform, e.channel_id, f.product_area, bucket(f.received_at, bounds).label("week"),
               _seconds_between(first_reaction, f.received_at, conn.dialect.name).label("delay"),
               func.max(case((e.kind == "claim", 1), else_=0)).label("claimed"))
        .join_from(Feedback, Engagement, e.feedback_id == f.id)
        .where(within(f.received_at, bounds), e.created_at < bounds[-1],  # by the end of the digest's week
               *in_channels(viewer, e.platform, e.channel_id))
        .group_by(f.received_at, f.id, e.platform, e.channel_id).subquery())
    i = per_item.c
    rows = await conn.execute(
        select(i.platform, i.channel_id, i.product_area, i.week, func.count(), func.sum(i.claimed),
               func.count(i.delay), func.coalesce(func.sum(i.delay), 0.0))
        .group_by(i.channel_id, i.product_area, i.week, i.platform))  # the most varied key first: cheaper sort
    return [AttentionGroup(p, c, area, w, seen, int(claimed or 0), reacted, float(seconds or 0))
            for p, c, area, w, seen, claimed, reacted, seconds in rows]


@dataclass(frozen=True)
class QuoteHit:
    platform: str | None
    channel_id: str | None
    feedback_id: int
    reactions: int


def _reactions(e: Any, start: datetime, end: datetime) -> list[ColumnElement[bool]]:
    """Engagement rows (of table or alias columns `e`) that are reactions in [start, end)."""
    return [e.kind == "reaction", e.created_at >= start, e.created_at < end]


def _channel_reactions(e: Any, channel: Any, start: datetime, end: datetime) -> list[ColumnElement[bool]]:
    """The reactions in [start, end) of the channel in `channel`'s platform and channel_id columns."""
    return [e.platform == channel.platform, e.channel_id == channel.channel_id, *_reactions(e, start, end)]


def _reacting_channels(start: datetime, end: datetime, viewer: Viewer | None) -> Any:
    e = Engagement.__table__.c  # type: ignore[attr-defined]
    return (select(e.platform, e.channel_id).distinct()
            .where(*_reactions(e, start, end), *in_channels(viewer, e.platform, e.channel_id)).subquery())


async def most_reacted(conn: AsyncConnection, start: datetime, end: datetime,
                       viewer: Viewer | None) -> list[QuoteHit]:
    """The items with most reactions this week (in the viewer's channels), overall and (top few) per channel."""
    e = Engagement.__table__.c  # type: ignore[attr-defined]
    overall = await conn.execute(select(e.feedback_id, func.count().label("n"))
                                 .where(*_reactions(e, start, end), *in_channels(viewer, e.platform, e.channel_id))
                                 .group_by(e.feedback_id).order_by(func.count().desc(), e.feedback_id)
                                 .limit(TOP_QUOTES))
    hits = [QuoteHit(None, None, fid, n) for fid, n in overall]
    per_channel = _lateral_per_channel if _postgres(conn) else _picked_per_channel
    hits.extend(await per_channel(conn, start, end, viewer))
    return hits


async def _lateral_per_channel(conn: AsyncConnection, start: datetime, end: datetime,
                               viewer: Viewer | None) -> list[QuoteHit]:
    """Each channel's week (`ix_engagement_channel`) counted per item and its top few kept, LATERAL: small sorts,
    where ranking every (channel, item) pair of the week sorted them all at once."""
    channels = _reacting_channels(start, end, viewer)
    x = Engagement.__table__.alias("x").c
    top = (select(x.feedback_id, func.count().label("n")).where(*_channel_reactions(x, channels.c, start, end))
           .group_by(x.feedback_id).order_by(func.count().desc(), x.feedback_id).limit(TEAM_QUOTES).lateral("top"))
    rows = await conn.execute(select(channels.c.platform, channels.c.channel_id, top.c.feedback_id, top.c.n)
                              .select_from(channels.join(top, true())))
    return [QuoteHit(*row) for row in rows]


async def _picked_per_channel(conn: AsyncConnection, start: datetime, end: datetime,
                              viewer: Viewer | None) -> list[QuoteHit]:
    """Each of a channel's top items is picked from that channel's week alone (`ix_engagement_channel`): many
    small sorts where ranking every (channel, item) pair sorts them all at once. The picks are kept
    (MATERIALIZED) so that their reaction counts, one probe of `ix_engagement_feedback` each, reuse them."""
    channels = _reacting_channels(start, end, viewer)
    x = Engagement.__table__.alias("x").c

    def pick(place: int) -> Any:
        return (select(x.feedback_id).where(*_channel_reactions(x, channels.c, start, end))
                .group_by(x.feedback_id).order_by(func.count().desc(), x.feedback_id).limit(1).offset(place)
                .scalar_subquery().label(f"top{place}"))

    places = range(TEAM_QUOTES)
    top = (select(channels.c.platform, channels.c.channel_id, *(pick(p) for p in places))
           .cte("top").prefix_with("MATERIALIZED"))
    y = Engagement.__table__.alias("y").c

    def reactions(place: int) -> Any:
        return select(func.count()).where(y.feedback_id == top.c[f"top{place}"],
                                          *_channel_reactions(y, top.c, start, end)).scalar_subquery()

    rows = await conn.execute(select(top.c.platform, top.c.channel_id, *(top.c[f"top{p}"] for p in places),
                                     *(reactions(p) for p in places)))
    return [QuoteHit(platform, channel, fid, n) for platform, channel, *picked in rows
            for fid, n in zip(picked[:len(places)], picked[len(places):], strict=True) if fid is not None]


async def feedback_by_id(conn: AsyncConnection, ids: set[int]) -> dict[int, Any]:
    if not ids:
        return {}
    f = Feedback.__table__.c  # type: ignore[attr-defined]
    rows = await conn.execute(select(f.id, f.text, f.score, f.score_type, f.source, f.product_area)
                              .where(f.id.in_(sorted(ids))))
    return {row.id: row for row in rows}

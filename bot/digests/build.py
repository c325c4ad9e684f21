"""Builds one week's digest: runs the aggregate queries, then assembles overall and per-team sections."""

from __future__ import annotations

import asyncio
import os
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.digests import queries as q
from bot.digests.bridge import activity, attention, bridge
from bot.digests.customers import Tally, Withheld, atom, customers, tally, withheld
from bot.digests.employees import Mean, PulseTally, employees, pulse_tallies
from bot.digests.heard import conceal, heard, probes
from bot.digests.model import Digest, QuoteLine, Scope, TrendPoint
from bot.digests.names import channel_names
from bot.digests.privacy import Figure, comparable_sizes, count_figure, figure
from bot.digests.suppression import comment_themes_shown, suppress
from bot.digests.teams import Team, area_label, teams_from
from bot.digests.themes import Gram, Theme, count_phrases_by, prune, top_themes
from bot.digests.viewer import Viewer
from bot.digests.weeks import Week
from bot.feedback.card import score_cue
from bot.feedback.filters import Probe
from bot.text import cut
from storage.engine import Database

TREND_WEEKS = 6
LAST = TREND_WEEKS - 1
QUOTE_LIMIT = 280
COMMENT_THEME_SUPPORT = 3
"""A comment theme must come from at least this many comments."""
POSTGRES_SETTINGS = text("SELECT set_config('work_mem', '32MB', true), set_config('jit', 'off', true), "
                         "set_config('max_parallel_workers_per_gather', '0', true)")
"""For the digest's transactions only: room to hash and sort a fortnight of rows in memory rather than on disk;
no JIT compilation, which costs these queries (tens of milliseconds each) about as much as it saves; and no
parallel workers, since the queries already run side by side."""


@dataclass(frozen=True)
class Privacy:
    minimum: int
    comment_minimum: int


@dataclass
class Facts:
    """The query results one digest is assembled from (all small). Weeks are buckets 0..LAST (LAST = the
    digest's week): the trend covers them all, feedback groups and pulses only LAST - 1 and LAST; engagement
    and attention cover those two as well, numbered 0 and 1."""

    feedback: list[q.FeedbackGroup]
    trend: list[Tally]
    stations: list[q.StationRow]
    runs: list[q.RunRow]
    pulses: dict[tuple[str, int], PulseTally]
    participants: dict[tuple[str, int], int]
    """People who answered runs at or above the minimum, per (team, week); the others are only withheld."""
    withheld_participants: dict[tuple[str, int], int]
    comments: dict[str, int]
    comment_phrases: dict[str, Counter[Gram]]
    """Phrases of the readable comments per team, and of them all under ""."""
    activity: list[q.EngagementGroup]
    people: dict[int, int]
    engaged: dict[int, tuple[int, int]]
    attention: list[q.AttentionGroup]
    hits: list[q.QuoteHit]
    quoted: dict[int, Any]
    area_phrases: dict[str, Counter[Gram]]
    all_phrases: Counter[Gram]
    nps_histogram: dict[int, int]
    items: list[q.FeedbackRow]
    """Last week's and this week's items (week 0 and 1), when some team's stations take only part of its areas
    (bot.digests.heard); else none."""


async def build_digest(db: Database, week: Week, privacy: Privacy, redact: Callable[[str], str],
                       only_teams: Collection[str] | None = None, *, viewer: Viewer | None = None,
                       lookups: Mapping[str, object] | None = None) -> Digest:
    """The digest of a `viewer` (bot.digests.viewer: built from its facts alone), or without one the whole
    organisation's, as only the operator's CLI reads it. `lookups` (platform → adapter) name the teams' channels
    where they can (bot.adapter.NameLookup); the others go by their ids. The queries on the event loop; the
    assembly (themes, suppression: CPU alone) in a thread, so that the server's other work goes on meanwhile."""
    facts = await gather_facts(db, week, privacy, viewer)
    names = await channel_names(lookups, _channels(facts)) if lookups else {}
    return await asyncio.to_thread(assemble, facts, week, privacy, redact, only_teams, names)


async def gather_facts(db: Database, week: Week, privacy: Privacy, viewer: Viewer | None = None) -> Facts:
    """Runs the independent queries side by side, each on its own connection: up to 8 at once on PostgreSQL;
    on SQLite as many as the machine has cores (each reader is a thread that releases the GIL while SQLite
    works; more than that only contend). The slowest go first, so they do not end up alone at the end."""
    weeks = [week.shifted(i - LAST) for i in range(TREND_WEEKS)]
    bounds = [w.start for w in weeks] + [week.end]
    pair = [week.previous.start, week.start, week.end]  # bucket 0 = last week, 1 = this week
    days = [week.previous.first_day, week.first_day, week.last_day]

    parallel = asyncio.Semaphore((os.cpu_count() or 1) if db.is_sqlite else 8)

    async def on_own_connection(query: Callable[..., Awaitable[Any]], *args: Any) -> Any:
        async with parallel, db.engine.connect() as conn:
            if not db.is_sqlite:
                await conn.execute(POSTGRES_SETTINGS)
            return await query(conn, *args)

    (attention, (hits, quoted), activity, pulses, feedback, trend, people, engaged, participants,
     (area_phrases, all_phrases), stations, nps_histogram, items) = await asyncio.gather(
        on_own_connection(q.attention_groups, pair, viewer),
        on_own_connection(_quotes_facts, week, viewer),
        on_own_connection(q.engagement_groups, pair, viewer),
        on_own_connection(_pulse_facts, week, days, privacy, viewer),
        on_own_connection(q.feedback_groups, pair),
        on_own_connection(q.feedback_trend, bounds),
        on_own_connection(q.engagement_people, pair, viewer),
        on_own_connection(q.items_engaged, pair, viewer),
        on_own_connection(q.participants, pair, privacy.minimum, viewer),
        on_own_connection(_phrase_facts, week),
        on_own_connection(q.stations, week.end, viewer),
        on_own_connection(q.nps_histogram, week.start, week.end),
        on_own_connection(_narrowed_items, pair, week, viewer))
    runs, tallies, comments, comment_phrases = pulses
    return Facts(
        feedback=[replace(g, week=g.week + LAST - 1) for g in feedback], trend=[Tally(*t) for t in trend],
        stations=stations, runs=runs, pulses=tallies,
        participants={(f"{p}:{c}", LAST - 1 + w): n for p, c, w, n, _ in participants},
        withheld_participants={(f"{p}:{c}", LAST - 1 + w): every - n for p, c, w, n, every in participants},
        comments=comments, comment_phrases=comment_phrases, activity=activity, people=people, engaged=engaged,
        attention=attention, hits=hits, quoted=quoted, area_phrases=area_phrases, all_phrases=all_phrases,
        nps_histogram=nps_histogram, items=items)


async def _narrowed_items(conn: AsyncConnection, pair: list[Any], week: Week,
                          viewer: Viewer | None) -> list[q.FeedbackRow]:
    """The two weeks' items in the areas of the teams whose stations take less than all of their areas (what
    bot.digests.heard counts): the others' figures are what they hear, and come from the grouped counts."""
    narrowed = [t for t in teams_from(await q.stations(conn, week.end, viewer), []) if t.narrowed]
    if not narrowed:
        return []
    if any(t.areas is None for t in narrowed):
        return await q.feedback_items(conn, pair)
    areas = [a for a in await q.feedback_areas(conn, pair) if any(t.covers(a) for t in narrowed)]
    return await q.feedback_items(conn, pair, areas) if areas else []


async def _pulse_facts(conn: AsyncConnection, week: Week, days: list[date], privacy: Privacy,
                       viewer: Viewer | None) -> tuple[
        list[q.RunRow], dict[tuple[str, int], PulseTally], dict[str, int], dict[str, Counter[Gram]]]:
    """Pulse answers of this week and the one before (bucket LAST - 1 and LAST), and the phrases of the
    readable comments."""
    start = week.previous.start
    runs = await q.runs(conn, start, week.end, viewer)
    team_of_run = {r.run_id: f"{r.platform}:{r.channel_id}" for r in runs}
    answers = await q.answer_histogram(conn, days, start, week.end, viewer)
    answers = [replace(a, week=a.week + LAST - 1) for a in answers]
    questions = await q.questions(conn, {a.question_id for a in answers})
    per_run = await q.comment_counts(conn, week.first_day, week.last_day, week.start, week.end, viewer)
    comments: Counter[str] = Counter()
    for run_id, count in per_run.items():
        if run_id in team_of_run:
            comments[team_of_run[run_id]] += count
            comments[""] += count
    readable = {run_id for run_id, team in team_of_run.items()
                if run_id in per_run and (comments[team] >= privacy.comment_minimum
                                          or comments[""] >= privacy.comment_minimum)}
    texts = await q.comment_texts(conn, readable, week.first_day, week.last_day)
    phrases, everyone = await asyncio.to_thread(count_phrases_by, [(team_of_run[run_id], text)
                                                                   for run_id, text in texts])
    return (runs, pulse_tallies(answers, team_of_run, questions, privacy.minimum), dict(comments),
            {**phrases, "": everyone})


async def _quotes_facts(conn: AsyncConnection, week: Week,
                        viewer: Viewer | None) -> tuple[list[q.QuoteHit], dict[int, Any]]:
    hits = await q.most_reacted(conn, week.start, week.end, viewer)
    return hits, await q.feedback_by_id(conn, {h.feedback_id for h in hits})


async def _phrase_facts(conn: AsyncConnection, week: Week) -> tuple[dict[str, Counter[Gram]], Counter[Gram]]:
    """The week's feedback phrases per area and in all: counted in a thread (thousands of texts), so that the
    other queries, and the server, go on meanwhile."""
    texts = await q.feedback_texts(conn, week.start, week.end)
    area_phrases, all_phrases = await asyncio.to_thread(count_phrases_by, [(area_label(area), text)
                                                                            for area, text in texts])
    return {area: prune(counts, all_phrases) for area, counts in area_phrases.items()}, all_phrases


def _channels(facts: Facts) -> set[tuple[str, str]]:
    """(platform, channel id) of every channel that is a team: with a station, a pulse run or engagement."""
    return ({(s.platform, s.channel_id) for s in facts.stations} | {(r.platform, r.channel_id) for r in facts.runs}
            | {(g.platform, g.channel_id) for g in facts.activity})


def assemble(facts: Facts, week: Week, privacy: Privacy, redact: Callable[[str], str],
             only_teams: Collection[str] | None = None, names: Mapping[str, str] | None = None) -> Digest:
    """Every team is built and suppressed before `only_teams` (None: all) picks some: one left out still counts
    in the totals, so the figures it could give away are hidden all the same. `names`: team key → channel name."""
    minimum = privacy.minimum
    teams = teams_from(facts.stations, _channels(facts), names)
    quotes = _quotes(facts, redact)
    themed = comment_themes_shown(facts.comments, [t.key for t in teams], privacy.comment_minimum)
    everything = Team("", "", None)
    overall = _scope(facts, everything, "overall", "Overall", quotes.get(None, []), privacy, themed,
                     in_scope=lambda _p, _c: True, people=facts.people)
    skip = (withheld(facts.feedback, LAST - 1, minimum), withheld(facts.feedback, LAST, minimum))
    _withhold_area_rows(overall, skip)
    probed = probes(facts.items)
    scopes = [_scope(facts, t, t.key, t.name, quotes.get(t.key, []), privacy, themed,
                     in_scope=lambda p, c, t=t: (p, c) == (t.platform, t.channel_id),
                     skip=skip if t.areas is not None else None, probed=probed) for t in teams]
    present = [{atom(g.area) for g in facts.feedback if g.week == week} for week in (LAST - 1, LAST)]
    counted = {t.key: None if t.areas is None else tuple(  # the areas each team's customer figures count, by week
        frozenset(a for a in areas if t.covers(a or None) and a not in left_out.items)
        for areas, left_out in zip(present, skip, strict=True)) for t in teams}
    suppress(overall, scopes, counted, minimum)
    for scope in scopes:
        found = scope.customers.heard
        if found is not None and scope.customers.volume.hidden:
            scope.customers.heard = conceal(found)
    if only_teams is not None:
        wanted = set(only_teams)
        picked = [(t, s) for t, s in zip(teams, scopes, strict=True) if t.key in wanted or t.channel_id in wanted]
        teams, scopes = [t for t, _ in picked], [s for _, s in picked]
    trend = []
    for index in range(TREND_WEEKS):
        now, before = facts.trend[index], facts.trend[index - 1] if index else Tally()
        pulse = facts.pulses.get(("", index))
        score = pulse.score if pulse else Mean()
        trend.append(TrendPoint(
            week=week.shifted(index - LAST).label,
            volume=count_figure(now.items, before.items, minimum),
            nps=figure(now.nps, now.nps_n, None, 0, minimum),
            score=figure(score.value, score.answers, None, 0, minimum)))
    pulse_now = facts.pulses.get(("", LAST))
    trend = comparable_trend(trend, minimum)
    trend[-2] = _as_shown(trend[-2], overall)
    return Digest(
        week=week, minimum=minimum, comment_minimum=privacy.comment_minimum, overall=overall, teams=scopes,
        flags=_flags(facts, overall, teams, scopes, minimum), trend=trend,
        nps_distribution=facts.nps_histogram if sum(facts.nps_histogram.values()) >= minimum else None,
        enps_distribution=dict(sorted(pulse_now.enps_histogram.items()))
        if pulse_now and pulse_now.enps.answers else None,
    )


def _scope(facts: Facts, team: Team, key: str, name: str, quotes: list[QuoteLine], privacy: Privacy,
           themed: set[str], in_scope: Callable[[str, str], bool], people: dict[int, int] | None = None,
           skip: tuple[Withheld, Withheld] | None = None, probed: list[Probe] | None = None) -> Scope:
    """One scope's figures; `skip` (last week's, this week's) are the areas it leaves out (customers.withheld);
    `probed`: `facts.items` as filters see them, for a team whose stations take only part of its areas."""
    minimum = privacy.minimum
    pulse_key = "" if key == "overall" else key

    def counted(week: int) -> Callable[[str | None], bool]:
        left_out = skip[week].items if skip else frozenset()
        return lambda area: team.covers(area) and atom(area) not in left_out

    phrases = _phrases_for(facts, counted(1))
    customer = customers(facts.feedback, LAST, team.covers, minimum, phrases, quotes, skip)
    if team.narrowed and probed is not None:
        customer.heard = heard(team, facts.items, probed, (counted(0), counted(1)), customer.volume, customer.nps,
                               minimum)
    themes: list[Theme] | None = None
    if pulse_key in themed:
        themes = top_themes(facts.comment_phrases.get(pulse_key, Counter()), at_least=COMMENT_THEME_SUPPORT)

    def answered(counts: dict[tuple[str, int], int], week: int) -> int:
        return counts.get((key, week), 0) if pulse_key else sum(n for (_k, w), n in counts.items() if w == week)

    participation = (answered(facts.participants, LAST), answered(facts.participants, LAST - 1),
                     answered(facts.withheld_participants, LAST))
    employee = employees(facts.pulses, pulse_key, LAST, minimum, participation, themes)
    now_people = people.get(1, 0) if people is not None else None
    then_people = people.get(0, 0) if people is not None else None
    now, then = activity(facts.activity, 1, in_scope, now_people), activity(facts.activity, 0, in_scope,
                                                                           then_people)
    seen_now, seen_then = attention(facts.attention, 1, in_scope, counted(1)), attention(
        facts.attention, 0, in_scope, counted(0))
    if people is not None:  # overall: each item once, however many channels engaged with it
        seen_now.seen, seen_now.claimed = facts.engaged.get(1, (0, 0))
        seen_then.seen, seen_then.claimed = facts.engaged.get(0, (0, 0))
    volume = (int(customer.volume.n), int(customer.volume.prev_n))
    return Scope(key, name, customer, employee, bridge(now, then, seen_now, seen_then, volume, minimum))


def _phrases_for(facts: Facts, hears: Callable[[str | None], bool]) -> Counter[Gram]:
    """The sum of the phrase counts of the areas a scope hears (all of them: the counts over every text)."""
    if all(hears(None if area == area_label(None) else area) for area in facts.area_phrases):
        return facts.all_phrases
    total: Counter[Gram] = Counter()
    for area, counts in facts.area_phrases.items():
        if hears(None if area == area_label(None) else area):
            total.update(counts)
    return total


def _withhold_area_rows(overall: Scope, skip: tuple[Withheld, Withheld]) -> None:
    """The overall's rows for the areas no team counts hide too (their changes, for last week's), so that
    the areas hidden are the same ones everywhere."""
    rows = overall.customers.by_area
    for key, f in rows.items():
        area = "" if key == area_label(None) else key
        rows[key] = f.concealed() if area in skip[1].items else f.without_change() if area in skip[0].items else f


def _as_shown(last_week: TrendPoint, overall: Scope) -> TrendPoint:
    """Last week's trend point is the overall's previous value: where suppression took that away (a team's
    change would follow from it), the trend shows no more."""
    nps, score = last_week.nps, last_week.score
    return replace(last_week, nps=nps.concealed() if overall.customers.nps.previous is None else nps,
                   score=score.concealed() if overall.employees.score.previous is None else score)


def comparable_trend(trend: list[TrendPoint], minimum: int) -> list[TrendPoint]:
    """The change rule along the trend: an average shows only where it and the next newer one that shows stand
    on as many answers, or at least `minimum` more or fewer; else reading one against the other would give the
    pull of the few answers between them (the same people answering a recurring pulse, one more this week)."""
    out = list(trend)
    for name in ("nps", "score"):
        newer: int | None = None
        for index in reversed(range(len(out))):
            f: Figure = getattr(out[index], name)
            if f.hidden:
                continue
            if newer is not None and not comparable_sizes(f.n, newer, minimum):
                out[index] = replace(out[index], **{name: f.concealed()})
            else:
                newer = f.n
    return out


def _quotes(facts: Facts, redact: Callable[[str], str]) -> dict[str | None, list[QuoteLine]]:
    quotes: dict[str | None, list[QuoteLine]] = defaultdict(list)
    for hit in sorted(facts.hits, key=lambda h: (-h.reactions, h.feedback_id)):
        row = facts.quoted.get(hit.feedback_id)
        if row is None:
            continue
        line = QuoteLine(cut(redact(row.text), QUOTE_LIMIT)[0], score_cue(row), row.source, row.product_area,
                         hit.reactions)
        quotes[None if hit.platform is None else f"{hit.platform}:{hit.channel_id}"].append(line)
    return quotes


def _flags(facts: Facts, overall: Scope, teams: list[Team], scopes: list[Scope], minimum: int) -> list[str]:
    """A product area whose detractors rose while the pulse of the team that hears it fell. Only areas whose
    row the digest shows (after complementary suppression) are named, for teams whose detractors show, and
    without the area's counts: suppression may hide them (its teams' figures, or the overall's others)."""
    rising: set[str] = set()
    for area in sorted({atom(g.area) for g in facts.feedback} - {""}):
        shown = overall.customers.by_area.get(area_label(area))
        if shown is None or shown.hidden:
            continue
        now = tally(facts.feedback, LAST, lambda a, area=area: atom(a) == area)
        before = tally(facts.feedback, LAST - 1, lambda a, area=area: atom(a) == area)
        detractors = count_figure(now.detractors, before.detractors, minimum, n=now.nps_n, prev_n=before.nps_n)
        if detractors.delta is not None and detractors.delta > 0:
            rising.add(area)
    flags = []
    for team, scope in zip(teams, scopes, strict=True):
        pulse, label = scope.employees.workload, "workload"
        if pulse.delta is None:
            pulse, label = scope.employees.score, "pulse"
        if pulse.delta is None or pulse.delta >= 0 or team.areas is None or scope.customers.detractors.hidden:
            continue
        for area in sorted(rising):
            if team.covers(area):
                flags.append(f"{area}: detractors rose while "
                             f"{team.name}'s {label} score fell {pulse.previous:.0f} → {pulse.value:.0f}")
    return flags

"""A few weeks of the demo world's past, so that trends, the digest and closed loops show real figures from the
first minute: customer feedback, what each team did with it (reactions, claims, closed loops with their notes) and
each team's weekly anonymous check-in.

Seeded once per database, relative to the moment it runs. Anonymous answers are stored as publishing leaves them
(bot/pulses/publishing.py): shuffled `response` rows with no person and the day of publication in UTC (the run's
close), each run's question published only when at least the anonymity minimum answered it; who answered is kept
apart in `participation`, with nothing sealed left.
A team smaller than the minimum (#privacy) answers too, and its answers are dropped unopened, as at a real close."""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy import insert
from sqlmodel import SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from adapters.sandbox.workspace import PLATFORM
from bot.digests.weeks import Week
from bot.feedback.card import REACTIONS
from bot.feedback.demo import demo_items
from bot.feedback.filters import Matcher, probe
from bot.pulses.ballots import answer_id
from bot.pulses.schedule import wall_clock
from storage.engine import Database
from storage.tables import Claim, Engagement, Feedback, Participation, Pulse, PulseRun, Question, Response

if TYPE_CHECKING:
    from adapters.sandbox.demo import Team

Rows = dict[type[SQLModel], list[dict[str, Any]]]
"""Rows to insert, by table."""
PREFIX = "history-"
"""The external ids of the seeded feedback: their presence means the history is there."""
WEEKS = 4
"""Whole weeks before the current one."""
PER_TEAM = 5
OTHERS = 14
"""Items a week: up to PER_TEAM that each team hears, and OTHERS more."""
CX = "C-cx"
"""#cx-feedback, where everyone hears everything."""
CHECK_IN = "Weekly check-in"
WORKLOAD = "How manageable was your workload this week? (1 = overwhelming, 5 = just right)"
RECOMMEND = "How likely are you to recommend working here to a friend?"
BETTER = "One thing that would make next week better?"
MOOD = {"C-product": (3.0, 0.3), "C-support": (4.1, -0.3), "C-billing": (3.6, 0.0), "C-privacy": (3.5, 0.0)}
"""Each team's workload score in the first week and its change per week: product improves, support struggles."""
COMMENTS = (
    "Fewer meetings on Fridays, please", "Clearer priorities for the release", "Too many meetings this week",
    "More time for the checkout bugs", "Поменьше созвонов и побольше времени на задачи",
    "Хотелось бы понятных приоритетов на спринт", "อยากให้มีการประชุมน้อยลง", "ขอเวลาโฟกัสงานมากขึ้น",
    "Менше нарад, більше часу на клієнтів", "Чіткіші пріоритети від керівництва",
    "جلسه‌های کمتر و تمرکز بیشتر", "اولویت‌های روشن‌تر برای تیم", "Another person on the support rota",
    "Better tools for refunds", "Quiet mornings without meetings",
)
NOTES = (
    "Called the customer back; refund sent the same day.",
    "Filed CHK-412 for the Apple Pay spinner; the fix ships Thursday.",
    "Переслал инженерам, клиенту ответили и дали временное решение.",
    "แจ้งทีมชำระเงินแล้ว ลูกค้าได้รับอีเมลยืนยันเรียบร้อย",
    "Відповіли клієнту, інструкцію в довідці оновлено.",
    "با مشتری تماس گرفتم و مشکل فاکتور حل شد.",
    "Added to the roadmap review; replied to the customer with the date.",
)


@dataclass(frozen=True)
class Heard:
    """A seeded item as the history needs it: its row id, when it arrived, which channels heard it."""

    id: int
    at: datetime
    channels: frozenset[str]


async def seed_history(db: Database, teams: Sequence[Team], *, now: datetime, zone: ZoneInfo, minimum: int,
                       rng: random.Random | None = None) -> bool:
    """The past WEEKS weeks and this one so far (weeks as the digest counts them, in `zone`); False when the
    database already has its history."""
    rng = rng or random.Random(16)
    async with db.session() as session:
        if (await session.exec(select(Feedback.id).where(
                col(Feedback.external_id).startswith(PREFIX)).limit(1))).first() is not None:
            return False
        this_week = Week.containing(now.astimezone(zone).date(), zone)
        spans = [(w.start, min(w.end, now)) for w in (this_week.shifted(-k) for k in range(WEEKS, -1, -1))]
        channels = [(CX, tuple(sorted({m for t in teams for m in t.members})))]
        channels += [(team.channel_id, team.members) for team in teams]
        matchers = {CX: Matcher({})} | {team.channel_id: Matcher(team.filters) for team in teams}
        claimed: set[int] = set()
        rows: Rows = defaultdict(list)
        for number, (start, end) in enumerate(spans):
            heard = await _feedback(session, rng, number, start, end, matchers)
            for channel_id, members in channels:
                _engagement(rows, rng, f"{number}:{channel_id}", channel_id, members, heard, end, minimum, claimed)
        for team in teams:
            await _check_ins(session, rows, rng, team, spans, zone, minimum)
        connection = await session.connection()
        for table, values in rows.items():  # one executemany per table: thousands of rows in a blink
            await connection.execute(insert(table), values)
        await session.commit()
    return True


async def _feedback(session: AsyncSession, rng: random.Random, week: int, start: datetime, end: datetime,
                    matchers: dict[str, Matcher]) -> list[Heard]:
    items = demo_items()
    probes = [probe(i["source"], i["text"], i.get("score"), i.get("score_type"), i.get("tags", []),
                    i.get("product_area"), (i.get("customer") or {}).get("segment"), i.get("language"))
              for i in items]
    heard_by = [frozenset(c for c, match in matchers.items() if match(p)) for p in probes]
    chosen: set[int] = set()
    for channel_id in matchers:
        hearing = [n for n, channels in enumerate(heard_by) if channel_id in channels]
        chosen.update(rng.sample(hearing, min(PER_TEAM, len(hearing))))
    chosen.update(rng.sample(range(len(items)), OTHERS))
    seconds = max(60.0, (end - start).total_seconds() - 60)
    rows: list[tuple[Feedback, int]] = []
    for n in sorted(chosen):
        item = items[n]
        at = min(start + timedelta(seconds=rng.uniform(0, seconds)), end - timedelta(seconds=1))
        rows.append((Feedback(source=item["source"], external_id=f"{PREFIX}{week}-{n}", text=item["text"],
                              score=item.get("score"), score_type=item.get("score_type"),
                              customer=item.get("customer"), segment=(item.get("customer") or {}).get("segment"),
                              tags=item.get("tags", []), product_area=item.get("product_area"),
                              language=item.get("language"), url=item.get("url"), created_at=at, received_at=at), n))
    session.add_all(row for row, _ in rows)
    await session.flush()  # one batch of inserts for the week
    return [Heard(row.id, row.received_at, heard_by[n]) for row, n in rows if row.id is not None]


def _engagement(out: Rows, rng: random.Random, key: str, channel_id: str, members: Sequence[str],
                heard: list[Heard], end: datetime, minimum: int, claimed: set[int]) -> None:
    """Most of a channel's people react to an item or three it heard that week (every one of a small team, which
    stays below the minimum all the same); a couple claim one, and most close the loop with a note."""
    items = [h for h in heard if channel_id in h.channels]
    if not items:
        return
    engaged = rng.sample(list(members), min(len(members), max(minimum + 2, len(members) * 2 // 3)))
    rows: list[dict[str, Any]] = []
    claims = out[Claim]
    for person in engaged:
        for item in rng.sample(items, min(len(items), rng.randint(1, 3))):
            rows.append({"user_id": person, "feedback_id": item.id, "kind": "reaction",
                         "value": rng.choice(list(REACTIONS)), "at": _after(rng, item.at, end, hours=20)})
    for person in engaged[:2]:
        free = [item for item in items if item.id not in claimed]
        if not free:
            break
        item = rng.choice(free)
        claimed.add(item.id)
        at = _after(rng, item.at, end, hours=6)
        claim: dict[str, Any] = {"feedback_id": item.id, "platform": PLATFORM, "user_id": person,
                                 "claimed_at": at, "done_at": None, "note": None}
        rows.append({"user_id": person, "feedback_id": item.id, "kind": "claim", "value": None, "at": at})
        if rng.random() < 0.75:
            claim["done_at"], claim["note"] = _after(rng, at, end, hours=30), rng.choice(NOTES)
            rows.append({"user_id": person, "feedback_id": item.id, "kind": "done", "value": claim["note"],
                         "at": claim["done_at"]})
        claims.append(claim)
    out[Engagement] += [{"event_key": f"{PREFIX}{key}:{n}", "feedback_id": row["feedback_id"], "platform": PLATFORM,
                         "channel_id": channel_id, "user_id": row["user_id"], "kind": row["kind"],
                         "value": row["value"], "created_at": row["at"]} for n, row in enumerate(rows)]


def _after(rng: random.Random, start: datetime, end: datetime, hours: float) -> datetime:
    """A moment up to `hours` after `start`, before `end` (the week's, or now)."""
    return min(start + timedelta(hours=rng.uniform(0.1, hours)), max(start, end - timedelta(seconds=1)))


async def _check_ins(session: AsyncSession, out: Rows, rng: random.Random, team: Team,
                     spans: Sequence[tuple[datetime, datetime]], zone: ZoneInfo, minimum: int) -> None:
    """The team's recurring Monday check-in, one closed run a week (this week's once Monday 09:00 has passed)."""
    first = spans[0][0].astimezone(zone).date()
    audience = {"kind": "channel", "channel_id": team.channel_id, "share": True}
    pulse = Pulse(platform=PLATFORM, channel_id=team.channel_id, author_id=team.lead, title=CHECK_IN,
                  anonymous=True, results_live=False, audience=audience,
                  recurrence={"kind": "weekly", "day": "mon", "at": "09:00", "weeks": 1, "anchor": first.isoformat()},
                  timezone=zone.key, close_after_minutes=2 * 24 * 60, created_at=spans[0][0])
    session.add(pulse)
    await session.flush()
    questions = [Question(pulse_id=pulse.id, position=n, kind=kind, prompt=prompt, options=[])
                 for n, (kind, prompt) in enumerate((("scale", WORKLOAD), ("enps", RECOMMEND), ("text", BETTER)))]
    session.add_all(questions)
    await session.flush()
    runs: list[tuple[int, PulseRun]] = []
    for week, (start, end) in enumerate(spans):
        opened = wall_clock(start.astimezone(zone).date(), "09:00", zone)
        if opened < end:
            closes = opened + timedelta(minutes=pulse.close_after_minutes or 0)
            runs.append((week, PulseRun(pulse_id=pulse.id, scheduled_for=opened, status="closed", opened_at=opened,
                                        closes_at=closes, closed_at=min(closes, end - timedelta(seconds=1)),
                                        audience_size=len(team.members), minimum=minimum)))
    session.add_all(run for _, run in runs)
    await session.flush()
    base, drift = MOOD.get(team.channel_id, (3.5, 0.0))
    for week, run in runs:
        assert run.id is not None and run.closed_at is not None
        closed = run.closed_at
        people = rng.sample(team.members, max(1, len(team.members) - rng.randint(0, 2)))
        mean = base + drift * week
        answers = {
            questions[0].id: [(str(min(5, max(1, round(rng.gauss(mean, 0.8))))), None) for _ in people],
            questions[1].id: [(str(min(10, max(0, round(rng.gauss(mean * 2, 1.8))))), None) for _ in people],
            questions[2].id: [("text", rng.choice(COMMENTS)) for _ in people],
        }
        published = len(people) >= minimum  # below it, a close drops the answers unopened
        for question_id, values in answers.items():
            assert question_id is not None
            rng.shuffle(values)
            if published:
                out[Response] += [{"id": answer_id(run.id), "run_id": run.id, "question_id": question_id,
                                   "respondent_id": None, "value": value, "comment": comment,
                                   "answered_on": closed.astimezone(UTC).date()} for value, comment in values]
            out[Participation] += [{"run_id": run.id, "question_id": question_id, "platform": PLATFORM,
                                    "user_id": user, "sealed": None} for user in people]

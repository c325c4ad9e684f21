"""A small world where every digest figure is known by hand (see the comments for the arithmetic).

Week 2026-W47 (Mon 16 – Sun 22 Nov) against 2026-W46, UTC, anonymity minimum 3, comment minimum 4.
Teams (channels on platform "test"): C-pay hears area checkout, C-app hears mobile, C-tiny hears reports.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.pulses.questions import TEXT_VALUE
from storage.engine import Database
from storage.tables import Engagement, Feedback, Participation, Pulse, PulseRun, Question, Response, Station

SETTINGS = {"EARSHOT_ANON_MIN": 3, "EARSHOT_COMMENT_MIN": 4}
THIS_WED = datetime(2026, 11, 18, 10, 0, tzinfo=UTC)
LAST_WED = datetime(2026, 11, 11, 10, 0, tzinfo=UTC)

# checkout this week: NPS 10 9 8 3 0 6 → 2 promoters, 3 detractors of 6 → NPS −16.7; CSAT 5 and 2 (2 < min).
# mobile this week: NPS 10 10 9 7 → 3 promoters of 4 → NPS 75; CSAT 4 5 4 → 100 %. reports: 2 items (< min).
THIS_WEEK = [
    ("f1", "nps-survey", "checkout", 10, "nps", "Payment failed at checkout, write me at ana@example.com"),
    ("f2", "nps-survey", "checkout", 9, "nps", "payment failed twice but the team was quick"),
    ("f3", "nps-survey", "checkout", 8, "nps", "Payment failed, support helped"),
    ("f4", "nps-survey", "checkout", 3, "nps", "ชำระเงินไม่ได้เลย"),
    ("f5", "nps-survey", "checkout", 0, "nps", "ชำระเงินไม่ได้ ช้ามาก"),
    ("f6", "nps-survey", "checkout", 6, "nps", "slow checkout"),
    ("f7", "helpdesk", "checkout", 5, "csat", "great support"),
    ("f8", "helpdesk", "checkout", 2, "csat", "refund took weeks"),
    ("m1", "appstore", "mobile", 10, "nps", "アプリの通知が便利"),
    ("m2", "appstore", "mobile", 10, "nps", "通知が多すぎます"),
    ("m3", "appstore", "mobile", 9, "nps", "love the app"),
    ("m4", "appstore", "mobile", 7, "nps", "fine"),
    ("m5", "helpdesk", "mobile", 4, "csat", "ok"),
    ("m6", "helpdesk", "mobile", 5, "csat", "quick answer"),
    ("m7", "helpdesk", "mobile", 4, "csat", "good"),
    ("r1", "nps-survey", "reports", 5, "nps", "reports are slow"),
    ("r2", "nps-survey", "reports", 9, "nps", "nice charts"),
]
# checkout last week: NPS 10 9 9 9 2 8 → 4 promoters, 1 detractor of 6 → 50. mobile: 10 3 9 8 → 25.
LAST_WEEK = [
    ("g1", "nps-survey", "checkout", 10, "nps", "fast"),
    ("g2", "nps-survey", "checkout", 9, "nps", "good"),
    ("g3", "nps-survey", "checkout", 9, "nps", "good"),
    ("g4", "nps-survey", "checkout", 9, "nps", "nice"),
    ("g5", "nps-survey", "checkout", 2, "nps", "bad"),
    ("g6", "nps-survey", "checkout", 8, "nps", "ok"),
    ("h1", "appstore", "mobile", 10, "nps", "great"),
    ("h2", "appstore", "mobile", 3, "nps", "crashes"),
    ("h3", "appstore", "mobile", 9, "nps", "good"),
    ("h4", "appstore", "mobile", 8, "nps", "ok"),
]
WORKLOAD = "How manageable is your workload?"
COMMENTS = ["too many meetings", "Too many meetings this week", "meetings everywhere, too many meetings",
            "the new laptop is great"]


def for_the_cli(db_url: str, monkeypatch: pytest.MonkeyPatch, fill: Callable[[Database], Awaitable[object]]) -> None:
    """Fill the database at `db_url` with `fill`, and point `earshot` (DATABASE_URL, the minimums) at it."""
    async def filled() -> None:
        db = Database(db_url)
        await fill(db)
        await db.dispose()

    asyncio.run(filled())
    monkeypatch.setenv("DATABASE_URL", db_url)
    for name, value in SETTINGS.items():
        monkeypatch.setenv(name, str(value))


async def seed(db: Database) -> dict[str, int]:
    """Store the world; returns feedback ids by external id."""
    async with db.session() as session:
        for channel, area in (("C-pay", "checkout"), ("C-app", "Mobile"), ("C-tiny", "reports")):
            session.add(Station(platform="test", channel_id=channel, filters={"areas": [area]}, created_by="test:hr",
                                created_at=LAST_WED - timedelta(days=30)))
        ids: dict[str, int] = {}
        for when, items in ((THIS_WED, THIS_WEEK), (LAST_WED, LAST_WEEK)):
            for key, source, area, score, kind, text in items:
                row = Feedback(source=source, external_id=key, text=text, score=score, score_type=kind,
                               product_area=area, created_at=when, received_at=when)
                session.add(row)
                await session.flush()
                assert row.id is not None
                ids[key] = row.id
        await _pulses(session)
        await _engagement(session, ids)
        await session.commit()
    return ids


async def _run(session: AsyncSession, pulse: Pulse, opened: datetime) -> int:
    run = PulseRun(pulse_id=pulse.id, scheduled_for=opened, opened_at=opened, status="closed",
                   closed_at=opened + timedelta(days=2))
    session.add(run)
    await session.flush()
    assert run.id is not None
    return run.id


def _answers(session: AsyncSession, run_id: int, question_id: int, values: list[str], day: date,
             words: bool = False) -> None:
    """Answers as voting stores them: a free-text answer's (`words`) value says "text", its words are the comment."""
    for value in values:
        session.add(Response(run_id=run_id, question_id=question_id, value=TEXT_VALUE if words else value,
                             comment=value if words else None, answered_on=day))


async def _pulses(session: AsyncSession) -> None:
    pay = Pulse(platform="test", channel_id="C-pay", author_id="boss", title="Weekly", anonymous=True)
    app = Pulse(platform="test", channel_id="C-app", author_id="boss", title="Weekly", anonymous=True)
    session.add_all([pay, app])
    await session.flush()
    questions = {}
    for pulse in (pay, app):
        for position, (kind, prompt, options) in enumerate((
                ("scale", WORKLOAD, ["1", "2", "3", "4", "5"]), ("enps", "Would you recommend us?", []),
                ("text", "Anything else?", []))):
            question = Question(pulse_id=pulse.id, position=position, kind=kind, prompt=prompt, options=options)
            session.add(question)
            await session.flush()
            questions[(pulse.channel_id, kind)] = question.id
    # C-pay this week: workload 4 4 3 5 2 → 75 75 50 100 25 → 65; eNPS 9 10 7 3 6 → (2 − 2)/5 → 0.
    now = await _run(session, pay, datetime(2026, 11, 16, 9, tzinfo=UTC))
    _answers(session, now, questions[("C-pay", "scale")], ["4", "4", "3", "5", "2"], date(2026, 11, 17))
    _answers(session, now, questions[("C-pay", "enps")], ["9", "10", "7", "3", "6"], date(2026, 11, 17))
    _answers(session, now, questions[("C-pay", "text")], COMMENTS, date(2026, 11, 17), words=True)
    for user in ("u1", "u2", "u3", "u4", "u6"):
        session.add(Participation(run_id=now, question_id=questions[("C-pay", "scale")], platform="test",
                                  user_id=user))
    # C-pay last week: workload 5 5 4 4 4 → 85; eNPS 10 9 9 8 2 → (3 − 1)/5 → 40.
    before = await _run(session, pay, datetime(2026, 11, 9, 9, tzinfo=UTC))
    _answers(session, before, questions[("C-pay", "scale")], ["5", "5", "4", "4", "4"], date(2026, 11, 10))
    _answers(session, before, questions[("C-pay", "enps")], ["10", "9", "9", "8", "2"], date(2026, 11, 10))
    for user in ("u1", "u2", "u3", "u4", "u6"):
        session.add(Participation(run_id=before, question_id=questions[("C-pay", "scale")], platform="test",
                                  user_id=user))
    # C-app this week: two answers only (below the minimum of 3) and one comment.
    small = await _run(session, app, datetime(2026, 11, 16, 9, tzinfo=UTC))
    _answers(session, small, questions[("C-app", "scale")], ["5", "4"], date(2026, 11, 17))
    _answers(session, small, questions[("C-app", "text")], ["meetings again"], date(2026, 11, 17), words=True)
    for user in ("u5", "u7"):
        session.add(Participation(run_id=small, question_id=questions[("C-app", "scale")], platform="test",
                                  user_id=user))


async def _engagement(session: AsyncSession, ids: dict[str, int]) -> None:
    """C-pay this week: u1 reacts to f1 (+2 h) and f2 (+4 h), u2 to f1 (+3 h), u3 to f4 (+2 h), claims f4 and
    closes it: 3 people, 4 reactions, 1 claim, 1 closed; f1 f2 f4 seen (3 of 8 checkout items = 37.5 %),
    first reactions 2, 4 and 2 h → 2.67 h. Last week: u1 and u2 react to g1 (+1 h), u4 to g2 (+3 h):
    3 people, 3 reactions, 2 of 6 seen, 2 h. C-app: only u5, reacting to m1 (1 person: hidden)."""
    rows = [
        ("C-pay", "u1", "f1", "reaction", THIS_WED + timedelta(hours=2)),
        ("C-pay", "u2", "f1", "reaction", THIS_WED + timedelta(hours=3)),
        ("C-pay", "u1", "f2", "reaction", THIS_WED + timedelta(hours=4)),
        ("C-pay", "u3", "f4", "reaction", THIS_WED + timedelta(hours=2)),
        ("C-pay", "u3", "f4", "claim", THIS_WED + timedelta(hours=2, minutes=1)),
        ("C-pay", "u3", "f4", "done", THIS_WED + timedelta(days=1)),
        ("C-pay", "u1", "g1", "reaction", LAST_WED + timedelta(hours=1)),
        ("C-pay", "u2", "g1", "reaction", LAST_WED + timedelta(hours=2)),
        ("C-pay", "u4", "g2", "reaction", LAST_WED + timedelta(hours=3)),
        ("C-app", "u5", "m1", "reaction", THIS_WED + timedelta(hours=5)),
    ]
    for n, (channel, user, item, kind, when) in enumerate(rows):
        session.add(Engagement(event_key=f"e{n}", feedback_id=ids[item], platform="test", channel_id=channel,
                               user_id=user, kind=kind, value="insight" if kind == "reaction" else None,
                               created_at=when))

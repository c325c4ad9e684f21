"""Six weeks of pulses and feedback (2026-W40 to W45, UTC; minimums 3 answers and 4 comments), planted as voting,
publishing and ingest store them, and the expiry of the rows behind them done as the retention purge does it.

- C-team: an anonymous weekly pulse (Mondays 09:00, closed Wednesdays): W42's run had 2 respondents (under the
  minimum: its answers were dropped at close), W43's multiple-choice question only 2 answers (hidden), W44's answers
  were published on its Monday and on the next one (its week and the next), comments on some runs.
- C-named: a named pulse every weekday of W44 and W45 (each closed the next day) answered by overlapping people,
  two runs by 2 people (under the digest's minimum), Friday's answers partly given the next Monday.
- Feedback in areas checkout (C-team's station) and mobile (C-named's), every week, with customers and texts.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import delete, func, update
from sqlmodel import col, select

from bot.config import Settings
from bot.pulses.questions import TEXT_VALUE
from bot.pulses.summaries import keep_summary
from storage.engine import Database
from storage.tables import Feedback, Participation, Pulse, PulseRun, Question, Response, Station

SETTINGS = {"EARSHOT_ANON_MIN": "3", "EARSHOT_COMMENT_MIN": "4"}
W40 = date(2026, 9, 28)  # the Monday of 2026-W40
WEEKS = 6
WEEKLY = {"kind": "weekly", "day": "mon", "at": "09:00", "weeks": 1, "anchor": "2026-09-01"}
WEEKDAYS = {"kind": "weekdays", "at": "09:00"}
COMMENTS = ["too many meetings", "the new laptop is great", "más foco, menos reuniones", "ประชุมเยอะเกินไป",
            "Need clearer priorities", "good week"]


def monday(week: int) -> date:
    return W40 + timedelta(weeks=week)


def at(day: date, hour: int = 9) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


async def plant(db: Database) -> None:
    async with db.write() as session:
        for channel, area in (("C-team", "checkout"), ("C-named", "mobile")):
            session.add(Station(platform="test", channel_id=channel, filters={"areas": [area]}, created_by="test:hr",
                                created_at=at(W40 - timedelta(days=30))))
        team = Pulse(platform="test", channel_id="C-team", author_id="boss", title="Team check", anonymous=True,
                     recurrence=WEEKLY, audience={"kind": "channel", "channel_id": "C-team"})
        named = Pulse(platform="test", channel_id="C-named", author_id="boss", title="Daily mood", anonymous=False,
                      recurrence=WEEKDAYS, audience={"kind": "channel", "channel_id": "C-named"})
        session.add_all([team, named])
        await session.flush()
        asked = [("scale", "How manageable is your workload?", [], True), ("enps", "Would you recommend us?", [],
                                                                         False),
                 ("single", "Which tool helps most?", ["Jira", "Linear", "Paper"], False),
                 ("multi", "What got in the way?", ["meetings", "tools", "nothing"], False),
                 ("text", "Anything else?", [], False)]
        tq = [Question(pulse_id=team.id, position=n, kind=k, prompt=p, options=o, allow_comment=c)
              for n, (k, p, o, c) in enumerate(asked)]
        nq = [Question(pulse_id=named.id, position=0, kind="scale", prompt="How was today?"),
              Question(pulse_id=named.id, position=1, kind="yesno", prompt="Blocked by anything?")]
        session.add_all([*tq, *nq])
        await session.flush()
        await _team_runs(session, team, tq)
        await _named_runs(session, named, nq)
        _feedback(session)
        await session.commit()


async def _run(session: object, pulse: Pulse, opened: datetime, closed: datetime, size: int | None) -> int:
    run = PulseRun(pulse_id=pulse.id, scheduled_for=opened, opened_at=opened, status="closed", closed_at=closed,
                   closes_at=closed, audience_size=size, minimum=3)
    session.add(run)  # type: ignore[attr-defined]
    await session.flush()  # type: ignore[attr-defined]
    assert run.id is not None
    return run.id


def _took_part(session: object, run_id: int, questions: list[Question], people: list[str]) -> None:
    for person in people:
        for question in questions:
            session.add(Participation(run_id=run_id, question_id=question.id, platform="test",  # type: ignore
                                      user_id=person))


async def _team_runs(session: object, pulse: Pulse, q: list[Question]) -> None:
    """Anonymous: answers carry no person and the day they were published; who answered is kept apart."""
    plan = [  # (people, workload, eNPS, tool, got in the way, comments on workload, free-text answers)
        (6, "455434", "9 10 7 8 6 10", "001122", ["0", "0,1", "2", "1", "0", "0,2"], 4, 2),
        (5, "34543", "8 9 10 3 7", "11120", ["0", "1", "1", "0,1", "2"], 2, 1),
        (2, "", "", "", [], 0, 0),
        (7, "2334452", "6 7 8 9 10 5 9", "0011220", ["0", "1"], 5, 4),
        (6, "554433", "10 10 9 4 8 7", "222111", ["2", "2", "0", "1", "0,1,2", "2"], 0, 3),
        (5, "12345", "0 5 10 9 8", "01201", ["0", "1", "2", "0", "1"], 4, 0),
    ]
    for week, (people, workload, enps, tool, hindered, commented, texts) in enumerate(plan):
        opened = at(monday(week))
        closed = at(monday(week + 1), 10) if week == 4 else opened + timedelta(days=2)  # W44's ran a week
        run = await _run(session, pulse, opened, closed, 9)
        _took_part(session, run, q, [f"t{n}" for n in range(people)])
        if people < 3:
            continue  # published nothing: under the minimum at close, the sealed answers were dropped
        days = [monday(week + 1) if week == 4 and n >= 3 else monday(week) + timedelta(days=1)
                for n in range(people)]
        for n, value in enumerate(workload):
            comment = COMMENTS[n % len(COMMENTS)] if n < commented else None
            session.add(Response(run_id=run, question_id=q[0].id, value=value, comment=comment,  # type: ignore
                                 answered_on=days[n]))
        for n, value in enumerate(enps.split()):
            session.add(Response(run_id=run, question_id=q[1].id, value=value, answered_on=days[n]))  # type: ignore
        for n, value in enumerate(tool):
            session.add(Response(run_id=run, question_id=q[2].id, value=value, answered_on=days[n]))  # type: ignore
        for n, value in enumerate(hindered):
            session.add(Response(run_id=run, question_id=q[3].id, value=value, answered_on=days[n]))  # type: ignore
        for n in range(texts):
            session.add(Response(run_id=run, question_id=q[4].id, value=TEXT_VALUE,  # type: ignore
                                 comment=COMMENTS[-1 - n], answered_on=days[n]))


async def _named_runs(session: object, pulse: Pulse, q: list[Question]) -> None:
    """Named: each answer carries its person; answered the day of the run, Friday's partly the next Monday."""
    answered = {  # weekday run → person: (today's score, blocked)
        0: {"n0": "4", "n1": "3", "n2": "5", "n3": "2"}, 1: {"n0": "4", "n4": "4"},
        2: {"n1": "5", "n2": "3", "n3": "3", "n5": "1"}, 3: {"n0": "2", "n5": "3"},
        4: {"n0": "5", "n1": "4", "n2": "4", "n3": "5", "n4": "3"},
    }
    for week in (4, 5):
        for weekday, scores in answered.items():
            opened = at(monday(week) + timedelta(days=weekday))
            run = await _run(session, pulse, opened, opened + timedelta(days=4 if weekday == 4 else 1), 6)
            _took_part(session, run, q, list(scores))
            for n, (person, score) in enumerate(scores.items()):
                day = opened.date() + timedelta(days=3 if weekday == 4 and n % 2 else 0)
                session.add(Response(run_id=run, question_id=q[0].id, respondent_id=person,  # type: ignore
                                     value=score if week == 4 else str(6 - int(score)), answered_on=day,
                                     comment=f"{person} said so" if n == 0 else None))
                session.add(Response(run_id=run, question_id=q[1].id, respondent_id=person,  # type: ignore
                                     value="yes" if n % 2 else "no", answered_on=day))


def _feedback(session: object) -> None:
    for week in range(WEEKS):
        for n in range(4 + week):
            area = "checkout" if n % 3 else "mobile"
            when = at(monday(week) + timedelta(days=n % 7), 8 + n)
            session.add(Feedback(  # type: ignore[attr-defined]
                source="nps-survey" if n % 2 else "helpdesk", external_id=f"w{week}-{n}",
                text=f"week {week} item {n}: checkout was slow, mail me at c{n}@example.com",
                score=float((3 * n + week) % 11) if n % 2 else float(1 + (n + week) % 5),
                score_type="nps" if n % 2 else "csat", customer={"name": f"Customer {n}", "email": f"c{n}@example.com"},
                segment="enterprise" if n % 4 == 0 else "smb", tags=["billing"] if n % 2 else [], product_area=area,
                created_at=when, received_at=when))


async def expire(db: Database, settings: Settings, before: datetime,
                 halfway: Callable[[], Awaitable[None]] | None = None) -> int:
    """What the retention purge does to what closed before `before` (bot/governance/retention.py): each closed
    run's summary kept first, one transaction per run (latest first here); then their answers and participation
    rows deleted in small batches that cut across runs (`halfway` runs when about half are gone); feedback keeps
    its row but loses its text and customer. Returns the runs expired."""
    async with db.session() as session:
        runs = list(await session.exec(select(PulseRun.id).where(
            PulseRun.status == "closed", col(PulseRun.closed_at) < before).order_by(col(PulseRun.id).desc())))
    for run_id in runs:
        async with db.write() as session:
            await keep_summary(session, run_id or 0, settings)
            await session.commit()
    half = await _answers_left(db, runs) // 2
    for table, key in ((Response, Response.id), (Participation, Participation.user_id)):
        while True:
            async with db.write() as session:
                rows = list(await session.exec(select(key).where(col(table.run_id).in_(runs))  # type: ignore
                                               .order_by(col(key)).limit(7)))
                if not rows:
                    break
                await session.exec(delete(table).where(col(table.run_id).in_(runs),  # type: ignore
                                                       col(key).in_(rows)))
                await session.commit()
            if halfway is not None and table is Response and await _answers_left(db, runs) <= half:
                await halfway()
                halfway = None
    async with db.write() as session:
        await session.exec(update(Feedback).where(col(Feedback.received_at) < before)  # type: ignore[call-overload]
                           .values(text="", customer=None))
        await session.commit()
    return len(runs)


async def _answers_left(db: Database, runs: list[int | None]) -> int:
    async with db.session() as session:
        return (await session.exec(select(func.count()).where(col(Response.run_id).in_(runs)))).one()

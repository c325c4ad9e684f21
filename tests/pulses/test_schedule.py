"""Recurring pulses: triggers across daylight-saving changes, double fires, every-N-weeks, per-person time."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlmodel import select

from bot.events import CommandEvent, Person
from bot.pulses.schedule import parse_every, slot, trigger, wall_clock
from storage.engine import Database
from storage.tables import Delivery, Pulse, PulseRun
from tests.support.core import CoreHarness, make_harness
from tests.support.recording import RecordingResponder

BERLIN = ZoneInfo("Europe/Berlin")


def fires(recurrence: dict, zone: ZoneInfo, start: datetime, count: int) -> list[datetime]:
    cron, previous, now, out = trigger(recurrence, zone), None, start, []
    for _ in range(count):
        fire = cron.get_next_fire_time(previous, now)
        out.append(fire)
        previous, now = fire, fire
    return out


def test_weekly_runs_keep_their_wall_clock_time_across_dst() -> None:
    weekly = parse_every("fri@16:00", date(2026, 10, 1))
    times = fires(weekly, BERLIN, datetime(2026, 10, 20, tzinfo=BERLIN), 3)
    assert [t.astimezone(BERLIN).strftime("%a %H:%M") for t in times] == ["Fri 16:00"] * 3
    assert [t.utcoffset() for t in times] == [timedelta(hours=2), timedelta(hours=1), timedelta(hours=1)]


def test_a_repeated_hour_at_fall_back_claims_one_run() -> None:
    sunday = parse_every("sun@02:30", date(2026, 10, 1))
    first, second, third = fires(sunday, BERLIN, datetime(2026, 10, 20, tzinfo=BERLIN), 3)
    assert first.date() == second.date()  # APScheduler fires twice in the repeated hour...
    assert slot(sunday, BERLIN, first) == slot(sunday, BERLIN, second)  # ...but both map to one run
    assert slot(sunday, BERLIN, third) == datetime(2026, 11, 1, 1, 30, tzinfo=UTC)


def test_a_time_skipped_at_spring_forward_still_runs_once() -> None:
    sunday = parse_every("sun@02:30", date(2026, 3, 1))
    times = fires(sunday, BERLIN, datetime(2026, 3, 20, tzinfo=BERLIN), 3)
    slots = [slot(sunday, BERLIN, t) for t in times]
    assert len(set(slots)) == 3
    assert slots[1] == wall_clock(date(2026, 3, 29), "02:30", BERLIN) == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)


def test_every_two_weeks_rests_on_odd_weeks() -> None:
    fortnightly = parse_every("2w:mon@10:00", date(2026, 11, 23))
    mondays = fires(fortnightly, BERLIN, datetime(2026, 11, 22, tzinfo=BERLIN), 4)
    assert [slot(fortnightly, BERLIN, m) is not None for m in mondays] == [True, False, True, False]


def test_weekdays_and_monthly() -> None:
    weekdays = fires(parse_every("weekdays@09:00", date(2026, 11, 1)), BERLIN,
                     datetime(2026, 11, 27, 12, tzinfo=BERLIN), 3)
    assert [d.astimezone(BERLIN).strftime("%a") for d in weekdays] == ["Mon", "Tue", "Wed"]
    monthly = fires(parse_every("month:1@09:00", date(2026, 11, 1)), BERLIN, datetime(2026, 11, 2, tzinfo=BERLIN), 2)
    assert [d.astimezone(BERLIN).strftime("%d %b %H:%M") for d in monthly] == ["01 Dec 09:00", "01 Jan 09:00"]


@pytest.fixture
async def harness(db: Database) -> CoreHarness:
    h = make_harness(db)
    h.adapter.members["C1"] = ["ana", "ben"]
    await h.grant("boss", "manager")
    return h


async def launch(h: CoreHarness, text: str) -> RecordingResponder:
    responder = RecordingResponder()
    await h.core.handle(CommandEvent(platform="test", event_id=uuid.uuid4().hex, actor=Person("test", "boss"),
                                     channel_id="C1", command="pulse", text=text), responder)
    return responder


async def test_double_fire_sends_nothing_twice_and_reconcile_schedules_jobs(harness: CoreHarness) -> None:
    await launch(harness, '"Once?" yesno')  # a one-off pulse is no job (and must not break the others)
    reply = await launch(harness, '"Weekly?" scale to:dm every:fri@16:00 tz:Europe/Berlin')
    assert "every week on Fri at 16:00 (Europe/Berlin)" in reply.last_text
    scheduler = AsyncIOScheduler(timezone=UTC)
    schedule = harness.features.pulses.schedule
    schedule.attach(scheduler)
    assert await schedule.reconcile() == 1
    (job,) = scheduler.get_jobs()
    assert job.id == "pulse:2" and str(job.trigger.timezone) == "Europe/Berlin"
    pulses = harness.features.pulses.pulses
    when = wall_clock(date(2026, 11, 27), "16:00", BERLIN)
    assert await pulses.open_run(2, when) is not None
    assert await pulses.open_run(2, when) is None  # a second process or a repeated hour: nothing twice
    await harness.deliver()
    assert sorted(s.target.user_id for s in harness.adapter.sent
                  if s.card.fallback == "Pulse: Weekly?" and s.target.user_id) == ["ana", "ben"]
    async with harness.db.session() as session:
        pulse = (await session.exec(select(Pulse).where(Pulse.id == 2))).one()
        pulse.status = "ended"
        session.add(pulse)
        await session.commit()
    assert await schedule.reconcile() == 0 and scheduler.get_jobs() == []


async def open_local_run(harness: CoreHarness, options: str = "") -> tuple[date, PulseRun | None]:
    """ana (São Paulo) and ben (Tokyo) get `"Morning?" ... every:weekdays@09:00 local` by DM; its run opens a
    week ahead (ahead of now everywhere, so nobody's 09:00 has passed), at 09:00 in the earliest zone.
    Returns that day and the run."""
    from storage.tables import Person as PersonRow

    async with harness.db.session() as session:
        session.add(PersonRow(platform="test", user_id="ana", timezone="America/Sao_Paulo"))
        session.add(PersonRow(platform="test", user_id="ben", timezone="Asia/Tokyo"))
        await session.commit()
    await launch(harness, f'"Morning?" yesno to:dm every:weekdays@09:00 local{options}')
    day = datetime.now(UTC).date() + timedelta(days=7)
    fired = datetime.combine(day, time(9), ZoneInfo("Pacific/Kiritimati"))
    return day, await harness.features.pulses.pulses.open_run(1, fired.astimezone(UTC))  # the only pulse here


async def test_per_person_local_time_defers_each_dm(harness: CoreHarness) -> None:
    day, run = await open_local_run(harness)
    assert run is not None
    async with harness.db.session() as session:
        due = {d.target["user_id"]: d.next_attempt_at for d in await session.exec(select(Delivery))
               if d.target and d.target.get("user_id") in ("ana", "ben") and d.kind == "send"}
        runs = list(await session.exec(select(PulseRun)))
    assert due["ana"] == datetime.combine(day, time(9), ZoneInfo("America/Sao_Paulo"))
    assert due["ben"] == datetime.combine(day, time(9), ZoneInfo("Asia/Tokyo"))
    assert len(runs) == 1


async def test_per_person_local_time_reminds_each_person_after_their_own_question(harness: CoreHarness) -> None:
    day, run = await open_local_run(harness, " remind:1h")
    assert run is not None
    pulses = harness.features.pulses.pulses

    async def reminded_at(local: datetime) -> set[str]:
        harness.core.services.clock = lambda: local.astimezone(UTC)
        await pulses.due()
        async with harness.db.session() as session:
            return {d.target["user_id"] for d in await session.exec(select(Delivery))
                    if d.dedupe_key.startswith("remind:") and d.target}

    tokyo, sao_paulo = ZoneInfo("Asia/Tokyo"), ZoneInfo("America/Sao_Paulo")
    assert await reminded_at(datetime.combine(day, time(9, 59), tokyo)) == set()  # ben's question is 59 min old
    assert await reminded_at(datetime.combine(day, time(10, 1), tokyo)) == {"ben"}  # ana's hasn't even gone out
    assert await reminded_at(datetime.combine(day, time(9, 30), sao_paulo)) == {"ben"}
    assert await reminded_at(datetime.combine(day, time(10, 1), sao_paulo)) == {"ana", "ben"}
    async with harness.db.session() as session:
        reminders = [d for d in await session.exec(select(Delivery)) if d.dedupe_key.startswith("remind:")]
        assert len(reminders) == 2 and (await session.get(PulseRun, run.id)).reminded_at is not None  # type: ignore[union-attr]

"""A pulse's life: launched, each run opened once and fanned out, answered, reminded, closed with results."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.adapter import DeliveryError
from bot.cards import Card, Context, Text
from bot.charts import save_chart
from bot.core import Services
from bot.events import Person, Target
from bot.governance.former import is_erased
from bot.pulses.audience import dm_key, dm_times, member_count
from bot.pulses.cards import question_card, results_card
from bot.pulses.publishing import publish_due, publish_final, unopenable, waiting_runs
from bot.pulses.results import RunResults, run_minimum, run_results
from bot.pulses.schedule import EARLIEST_ZONE, wall_clock
from bot.pulses.sealing import Sealer
from bot.pulses.spec import PulseSpec
from storage.secrets import ENV, SecretKeyError
from storage.tables import Participation, Pulse, PulseRun, Question
from storage.tables import Person as PersonRow
from storage.upsert import insert_ignore

log = logging.getLogger(__name__)
PUBLISH_EVERY = timedelta(seconds=30)
"""During a burst of votes that never pauses, anonymous answers are still published this often."""


@dataclass(frozen=True)
class Audience:
    recipients: list[Person] | None
    """Who gets the questions by DM; None: they are posted in the channel."""
    size: int | None
    """How many can answer, for the participation rate (None when unknown)."""


class Pulses:
    def __init__(self, services: Services, on_change: Callable[[], None] = lambda: None) -> None:
        self._services = services
        self._on_change = on_change
        self._refreshing: dict[int, asyncio.Task[None]] = {}
        self._voted: set[int] = set()  # runs voted on since their running refresh began counting
        self._unpublished_since: dict[int, datetime] = {}  # runs whose refreshes skip publishing during a burst
        self._sealer = Sealer(services.keys)

    # -- launching ---------------------------------------------------------------------------------
    async def launch(self, spec: PulseSpec, author: Person, channel_id: str,
                     workspace: str | None = None) -> tuple[Pulse, PulseRun | None]:
        """Store a pulse (in the author's `workspace`, bot.events.Event.workspace) and, unless it recurs, open its
        first run in the same transaction. The audience is read first, so a platform error (a DeliveryError,
        raised) leaves nothing half-launched."""
        recurrence = dict(spec.recurrence, local=spec.local_time) if spec.recurrence else None
        pulse = Pulse(platform=author.platform, channel_id=channel_id, workspace=workspace, author_id=author.user_id,
                      title=spec.title, anonymous=spec.anonymous, results_live=spec.results_live,
                      audience={**spec.audience, "share": spec.share_results}, recurrence=recurrence,
                      timezone=spec.timezone, close_after_minutes=spec.close_after,
                      remind_after_minutes=spec.remind_after)
        audience = None if recurrence else await self._audience(pulse)
        async with self._services.db.write() as session:
            session.add(pulse)
            await session.flush()
            questions = [Question(pulse_id=pulse.id, position=position, kind=question.kind, prompt=question.prompt,
                                  options=list(question.options), allow_comment=question.allow_comment)
                         for position, question in enumerate(spec.questions)]
            session.add_all(questions)
            await session.flush()
            run = None
            if audience is not None:
                run = await self._open(session, pulse, questions, self._services.clock().replace(microsecond=0),
                                       audience)
            await session.commit()
        if recurrence is not None:
            self._on_change()
        else:
            self._services.metrics.scheduler_runs.labels("pulse-run", "opened").inc()
        return pulse, run

    # -- opening a run -----------------------------------------------------------------------------
    async def open_run(self, pulse_id: int, slot: datetime) -> PulseRun | None:
        """Claim the run for (pulse, slot) and fan it out; None if it was claimed already (a double fire)."""
        async with self._services.db.session() as session:
            pulse = await session.get(Pulse, pulse_id)
            if pulse is None or pulse.status != "active":
                return None
            questions = await self.questions(session, pulse_id)
        audience = await self._audience(pulse)
        async with self._services.db.write() as session:
            run = await self._open(session, pulse, questions, slot, audience)
            if run is None:
                return None
            await session.commit()
        self._services.metrics.scheduler_runs.labels("pulse-run", "opened").inc()
        return run

    async def _open(self, session: AsyncSession, pulse: Pulse, questions: list[Question], slot: datetime,
                    audience: Audience) -> PulseRun | None:
        closes_at = slot + timedelta(minutes=pulse.close_after_minutes) if pulse.close_after_minutes else None
        if closes_at is not None and (pulse.recurrence or {}).get("local"):
            closes_at += timedelta(hours=26)  # the last time zone reaches the local time a day later
        claimed = await insert_ignore(session, PulseRun, {
            "pulse_id": pulse.id, "scheduled_for": slot, "status": "open", "opened_at": self._services.clock(),
            "closes_at": closes_at, "audience_size": audience.size, "minimum": self._services.settings.anon_min})
        if not claimed:
            return None
        run = (await session.exec(select(PulseRun).where(PulseRun.pulse_id == pulse.id,
                                                         PulseRun.scheduled_for == slot))).one()
        await self._fan_out(session, pulse, run, questions, audience.recipients)
        return run

    async def _audience(self, pulse: Pulse) -> Audience:
        """Who gets a DM (none for a channel pulse, whose members are only counted, and only where the
        platform can count them without looking up each person)."""
        kind = pulse.audience.get("kind")
        if kind == "people":
            users = [Person(pulse.platform, user) for user in pulse.audience["users"]
                     if not is_erased(user)]  # an erased colleague's token stands in the list, and gets no DM
            return Audience(users, len(users))
        adapter = self._services.adapters.get(pulse.platform)
        if kind == "channel":
            return Audience(None, await member_count(adapter, pulse.audience["channel_id"]))
        members = await adapter.list_members(pulse.audience["channel_id"]) if adapter else []
        return Audience(members, len(members))

    async def _fan_out(self, session: AsyncSession, pulse: Pulse, run: PulseRun, questions: list[Question],
                       recipients: list[Person] | None) -> None:
        settings = self._services.settings
        card = question_card(pulse, run, questions, None, run_minimum(run, settings), settings.comment_min)
        author = f"{pulse.platform}:{pulse.author_id}"
        subject = ("pulse_run", run.id or 0)
        if recipients is None:
            await self._services.outbox.send(session, Target.channel(pulse.platform, pulse.audience["channel_id"]),
                                              card, dedupe_key=f"pulse:{run.id}:channel", subject=subject,
                                              created_by=author)
        else:
            local = bool((pulse.recurrence or {}).get("local"))
            zones = await self._zones(session, pulse.platform, [p.user_id for p in recipients]) if local else {}
            for person in recipients:
                not_before = None
                if local:  # the run fired at this local time in the earliest zone; each DM waits for its own
                    day = run.scheduled_for.astimezone(ZoneInfo(EARLIEST_ZONE)).date()
                    zone = ZoneInfo(person.timezone or zones.get(person.user_id) or pulse.timezone)
                    not_before = wall_clock(day, pulse.recurrence["at"], zone)  # type: ignore[index]
                await self._services.outbox.send(session, Target.user(pulse.platform, person.user_id), card,
                                                  dedupe_key=dm_key(run.id, person.user_id), subject=subject,
                                                  created_by=author, not_before=not_before)
        if pulse.results_live:
            results = await self.results(session, pulse, run, questions)
            await self._services.outbox.send(session, Target.user(pulse.platform, pulse.author_id),
                                              results_card(results, final=False),
                                              dedupe_key=f"pulse-results:{run.id}", subject=("pulse_results",
                                                                                              run.id or 0))

    async def _zones(self, session: AsyncSession, platform: str, users: list[str]) -> dict[str, str]:
        rows = await session.exec(select(PersonRow.user_id, PersonRow.timezone).where(
            PersonRow.platform == platform, col(PersonRow.user_id).in_(users)))
        return {user: zone for user, zone in rows if zone}

    # -- reading -----------------------------------------------------------------------------------
    @staticmethod
    async def questions(session: AsyncSession, pulse_id: int) -> list[Question]:
        rows = await session.exec(select(Question).where(Question.pulse_id == pulse_id)
                                  .order_by(col(Question.position)))
        return list(rows)

    async def results(self, session: AsyncSession, pulse: Pulse, run: PulseRun,
                      questions: list[Question]) -> RunResults:
        return await run_results(session, self._services.settings, pulse, run, questions, run.audience_size)

    async def refresh(self, session: AsyncSession, pulse: Pulse, run: PulseRun, questions: list[Question],
                      results: RunResults) -> None:
        """Queue edits of the shared question card and the author's live results (coalesced by the outbox)."""
        settings = self._services.settings
        shown = results if pulse.results_live or run.status == "closed" else None
        outbox = self._services.outbox
        channel_card = await outbox.by_key(session, f"pulse:{run.id}:channel")
        if channel_card is not None:
            await outbox.update(session, channel_card, question_card(pulse, run, questions, shown,
                                                                     run_minimum(run, settings),
                                                                     settings.comment_min))
        live = await outbox.by_key(session, f"pulse-results:{run.id}")
        if live is not None and run.status == "open":
            await outbox.update(session, live, results_card(results, final=False))

    def refresh_soon(self, run_id: int) -> None:
        """Votes only mark their run; one refresh per run per coalescing interval follows, so a burst of
        votes costs a handful of card edits, not one computation and edit per vote. One task per run does
        them one after another, so a slower, older count can never be written over a newer one."""
        if run_id in self._refreshing:
            self._voted.add(run_id)  # the running refresh may have counted already: it goes round once more
            return
        self._refreshing[run_id] = asyncio.get_running_loop().create_task(self._refresh_later(run_id))

    async def _refresh_later(self, run_id: int) -> None:
        try:
            while True:
                await asyncio.sleep(self._services.outbox.update_interval)
                quiet = run_id not in self._voted  # no vote came while this round waited
                self._voted.discard(run_id)  # this round counts every vote so far
                publish = quiet or self._publishing_overdue(run_id)
                if publish:
                    self._unpublished_since.pop(run_id, None)
                if not await self._refresh_once(run_id, publish):
                    return
                if run_id not in self._voted and publish:  # another round if votes came, or batches wait for a pause
                    return
        except Exception:  # the next vote schedules another refresh; the votes themselves are stored
            log.exception("refreshing the cards of run %s failed", run_id)
        finally:
            self._refreshing.pop(run_id, None)
            self._voted.discard(run_id)
            self._unpublished_since.pop(run_id, None)

    def _publishing_overdue(self, run_id: int) -> bool:
        """Answers are published once the votes pause: the batches' writes would make a burst's votes queue behind
        them. During a long burst, every PUBLISH_EVERY all the same, so live figures still move."""
        now = self._services.clock()
        return now - self._unpublished_since.setdefault(run_id, now) >= PUBLISH_EVERY

    async def _refresh_once(self, run_id: int, publish: bool) -> bool:
        """Publish the anonymous answers due (if `publish`), count, and queue the card edits; False once the run is
        gone or closed (closing showed the final figures). Counted outside the write lock: the votes of a burst queue
        for it, and would wait out the count."""
        async with self._services.db.session() as session:
            run = await session.get(PulseRun, run_id)
            pulse = await session.get(Pulse, run.pulse_id) if run else None
            if run is None or pulse is None or run.status != "open":
                return False
            questions = await self.questions(session, pulse.id or 0)
        if pulse.anonymous and publish:  # the batches due join the results (bot/pulses/publishing.py)
            await publish_due(self._services.db, self._sealer, run_id, run_minimum(run, self._services.settings),
                              self._services.clock().date())
        async with self._services.db.session() as session:
            results = await self.results(session, pulse, run, questions)
        async with self._services.db.write() as session:
            status = (await session.exec(select(PulseRun.status).where(PulseRun.id == run_id))).first()
            if status != "open":
                return False
            await self.refresh(session, pulse, run, questions, results)
            await session.commit()
        return True

    async def check_sealed(self) -> None:
        """Refuse to start while answers wait sealed under a key none of the configured keys opens (every waiting
        answer is tried: a rotation leaves runs with answers under both keys): published later they would fail."""
        async with self._services.db.session() as session:
            lost = await unopenable(session, self._sealer, forget=False)
        if lost:
            raise SecretKeyError(
                f"{lost} anonymous answers wait to be published, sealed with a key that {ENV} doesn't hold: put "
                "the old key back after the new one (comma-separated) until they are published; if it is lost, so "
                "are they: `earshot db forget-sealed --yes` gives them up (docs/anonymity.md)")

    async def settle(self) -> None:
        """Wait for pending card refreshes (shutdown, tests)."""
        while self._refreshing:
            await asyncio.gather(*self._refreshing.values(), return_exceptions=True)

    # -- closing -----------------------------------------------------------------------------------
    async def close(self, run_id: int) -> bool:
        """Close a run and post its results (to the author, and to the channel if asked). False if closed."""
        async with self._services.db.write() as session:
            run = await session.get(PulseRun, run_id)
            if run is None or run.status == "closed":
                return False
            pulse = await session.get(Pulse, run.pulse_id)
            assert pulse is not None
            run.status, run.closed_at = "closed", self._services.clock()
            session.add(run)
            await session.flush()  # on PostgreSQL this waits for vote batches that saw the run open (FOR SHARE)
            if pulse.anonymous:  # every waiting answer joins the results (or, below the minimum, is dropped)
                await publish_final(session, self._sealer, run_id, run_minimum(run, self._services.settings),
                                    self._services.clock().date())
            if pulse.recurrence is None:
                pulse.status = "ended"
                session.add(pulse)
            questions = await self.questions(session, pulse.id or 0)
            results = await self.results(session, pulse, run, questions)
            chart = None
            from bot.pulses.charts import bar_chart  # matplotlib loads on the first chart, not at start-up

            png = None if results.hidden else await asyncio.to_thread(bar_chart, results.questions)
            if png:
                chart = await save_chart(session, png)
            trend, trend_url = await self.trend(session, pulse, questions)
            card = results_card(results, final=True, chart_url=chart, trend=trend, trend_chart=trend_url)
            await self._services.outbox.send(session, Target.user(pulse.platform, pulse.author_id), card,
                                              dedupe_key=f"pulse-final:{run.id}:author")
            if pulse.audience.get("share"):
                where = pulse.audience.get("channel_id") or pulse.channel_id
                await self._services.outbox.send(session, Target.channel(pulse.platform, where), card,
                                                  dedupe_key=f"pulse-final:{run.id}:channel")
            await self.refresh(session, pulse, run, questions, results)
            await session.commit()
        self._services.metrics.scheduler_runs.labels("pulse-run", "closed").inc()
        return True

    async def trend(self, session: AsyncSession, pulse: Pulse,
                    questions: list[Question]) -> tuple[list[tuple[datetime, float | None]], str | None]:
        """Average score (scale) or eNPS of the first scored question across closed runs, minimum applied."""
        scored = next((q for q in questions if q.kind in ("scale", "enps")), None)
        if pulse.recurrence is None or scored is None:
            return [], None
        runs = list(await session.exec(select(PulseRun).where(PulseRun.pulse_id == pulse.id,
                                                              PulseRun.status == "closed")
                                       .order_by(col(PulseRun.scheduled_for))))
        points: list[tuple[datetime, float | None]] = []
        for past in runs[-12:]:
            result = await self.results(session, pulse, past, [scored])
            first = result.questions[0]  # mean and eNPS are None where a minimum hides the run or the question
            value = first.mean if scored.kind == "scale" else first.enps
            points.append((past.scheduled_for, value))
        from bot.pulses.charts import trend_chart

        png = await asyncio.to_thread(trend_chart, points, scored.prompt)  # CPU work, off the event loop
        return points, (await save_chart(session, png) if png else None)

    # -- timed work --------------------------------------------------------------------------------
    async def due(self) -> None:
        """Close runs past their deadline and remind those who have not answered (each person once)."""
        now = self._services.clock()
        async with self._services.db.session() as session:
            closing = list(await session.exec(select(PulseRun.id).where(
                PulseRun.status == "open", col(PulseRun.closes_at).is_not(None), col(PulseRun.closes_at) <= now)))
            reminding = list(await session.exec(
                select(PulseRun, Pulse).join(Pulse, col(Pulse.id) == PulseRun.pulse_id).where(
                    PulseRun.status == "open", col(PulseRun.reminded_at).is_(None),
                    col(Pulse.remind_after_minutes).is_not(None))))
        for run_id in closing:
            try:
                await self.close(run_id or 0)
            except SecretKeyError as error:  # a run sealed under a removed key must not hold up the others
                log.error("closing run %s failed: %s", run_id, error)
        async with self._services.db.session() as session:  # batches no refresh published (a crash, a restart)
            due_batches = await waiting_runs(session, self._services.settings.anon_min)
        for run_id in due_batches:
            self.refresh_soon(run_id)
        for run, pulse in reminding:
            if run.opened_at + timedelta(minutes=pulse.remind_after_minutes or 0) <= now:
                await self.remind(run, pulse)

    async def remind(self, run: PulseRun, pulse: Pulse) -> int:
        """DM those in the audience who have not answered, `remind_after` after the run opened or, with
        per-person local time, after their own question went out. Called until every reminder was due; each
        is queued once (by its key). Returns how many were queued now."""
        after = timedelta(minutes=pulse.remind_after_minutes or 0)
        members: list[Person] | None = None
        if pulse.audience.get("kind") == "channel":  # a channel pulse: remind the channel's members by DM
            adapter = self._services.adapters.get(pulse.platform)
            try:
                members = await adapter.list_members(pulse.audience["channel_id"]) if adapter else []
            except DeliveryError as error:
                log.warning("reminders of run %s wait: members unknown (%s)", run.id, error.reason)
                return 0
        local = bool((pulse.recurrence or {}).get("local"))
        async with self._services.db.write() as session:
            if members is not None:
                due = {p.user_id: run.opened_at + after for p in members}
            else:
                due = {user: (sent if local else run.opened_at) + after
                       for user, sent in (await dm_times(session, run.id)).items()}
            answered = set(await session.exec(select(Participation.user_id).where(
                Participation.run_id == run.id, Participation.platform == pulse.platform)))
            now = self._services.clock()
            card = Card(fallback=f"Reminder: {pulse.title}", blocks=(
                Text(f"⏰ A quick reminder: “{pulse.title}” is waiting for your answer."),
                Context(("It takes a few seconds. " + ("It's anonymous." if pulse.anonymous else ""),))))
            queued = 0
            for user, at in due.items():
                if at <= now and user not in answered and user != pulse.author_id:
                    queued += await self._services.outbox.send(session, Target.user(pulse.platform, user), card,
                                                               dedupe_key=f"remind:{run.id}:{user}")
            if all(at <= now for at in due.values()):  # everyone's time has come: this run is done
                await session.exec(update(PulseRun).where(  # type: ignore[call-overload]
                    col(PulseRun.id) == run.id).values(reminded_at=now))
            await session.commit()
        return queued

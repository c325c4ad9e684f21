"""Wires pulse checks into a core: the /pulse command, answer buttons and forms, schedules."""

from __future__ import annotations

import asyncio

from sqlmodel import col, select

from bot.cards import Block, Context, Text
from bot.core import Earshot
from bot.events import Person
from bot.pulses.audience import Members, in_audience
from bot.pulses.commands import PulseCommands
from bot.pulses.form import FORM_ID
from bot.pulses.jobs import PulseSchedule
from bot.pulses.service import Pulses
from bot.pulses.voting import Voting
from storage.tables import Participation, Pulse, PulseRun

HOME_CANDIDATES = 50
"""Open runs looked at for a person's Home tab, newest first; the first HOME_SHOWN they are in the audience of
show."""
HOME_SHOWN = 5


class PulseChecks:
    def __init__(self, core: Earshot) -> None:
        services = core.services
        self.pulses = Pulses(services, on_change=self._changed)
        self.schedule = PulseSchedule(services, self.pulses)
        self.commands = PulseCommands(services, self.pulses)
        self._services = services
        self._members = Members(services.adapters)
        voting = Voting(services, self.pulses, self._members)
        self._tasks: set[asyncio.Task[int]] = set()
        core.commands.register(self.commands.command())
        core.handlers.actions["pulse"] = voting.on_action
        core.handlers.actions["pulse-close"] = self.commands.on_close_action
        core.handlers.forms["pulse-answer"] = voting.on_form
        core.handlers.forms[FORM_ID] = self.commands.on_form
        core.handlers.home.append(self.home_section)

    def _changed(self) -> None:
        """A recurring pulse was added: schedule it now if this process runs the scheduler (other processes'
        workers pick it up at their next reconcile, within a minute)."""
        task = asyncio.get_running_loop().create_task(self.schedule.reconcile())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def home_section(self, person: Person, workspace: str | None) -> tuple[Block, ...]:
        """The open pulses of this workspace this person is in the audience of and hasn't answered (never anyone
        else's)."""
        answered = select(Participation.run_id).where(Participation.platform == person.platform,
                                                      Participation.user_id == person.user_id)
        async with self._services.db.session() as session:
            candidates = list(await session.exec(
                select(Pulse, PulseRun.id).join(PulseRun, col(PulseRun.pulse_id) == Pulse.id).where(
                    Pulse.platform == person.platform, col(Pulse.workspace).is_not_distinct_from(workspace),
                    PulseRun.status == "open",
                    col(PulseRun.id).not_in(answered)).order_by(col(PulseRun.id).desc()).limit(HOME_CANDIDATES)))
            waiting = await in_audience(session, self._members, person.user_id,
                                        [(pulse, run_id or 0) for pulse, run_id in candidates], limit=HOME_SHOWN)
        if not waiting:
            return (Text("📊 No open pulses waiting for you."),)
        return (Text("📊 Open pulses you haven't answered:\n" + "\n".join(f"• {p.title}" for p, _ in waiting)),
                Context(("Answer them where they were posted or in your DMs.",)))

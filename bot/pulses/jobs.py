"""Recurring pulses on APScheduler: one job per active recurring pulse, reconciled from Earshot's tables
(schedules live there, not in APScheduler's job store), each firing claiming its run once."""

from __future__ import annotations

import logging

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlmodel import col, select

from bot.core import Services
from bot.pulses.schedule import slot, trigger, trigger_zone
from bot.pulses.service import Pulses
from storage.tables import Pulse

log = logging.getLogger(__name__)
PREFIX = "pulse:"


class PulseSchedule:
    def __init__(self, services: Services, pulses: Pulses) -> None:
        self._services = services
        self._pulses = pulses
        self._scheduler: AsyncIOScheduler | None = None
        self._signatures: dict[str, str] = {}

    def attach(self, scheduler: AsyncIOScheduler) -> None:
        """Use `scheduler` (the worker role's) from now on."""
        self._scheduler = scheduler

    async def reconcile(self) -> int:
        """Add, replace or remove jobs so they match the active recurring pulses. Returns the job count."""
        if self._scheduler is None:
            return 0
        async with self._services.db.session() as session:
            pulses = list(await session.exec(select(Pulse).where(
                Pulse.status == "active", col(Pulse.recurrence).is_not(None))))
        wanted = {f"{PREFIX}{p.id}": p for p in pulses if p.recurrence}  # (rows from before none_as_null)
        for job_id in [j for j in self._signatures if j not in wanted]:
            self._scheduler.remove_job(job_id)
            del self._signatures[job_id]
        for job_id, pulse in wanted.items():
            recurrence = pulse.recurrence or {}
            signature = f"{sorted(recurrence.items())}|{pulse.timezone}"
            if self._signatures.get(job_id) == signature:
                continue
            zone = trigger_zone(pulse.timezone, bool(recurrence.get("local")))
            self._scheduler.add_job(self.fire, trigger(recurrence, zone), args=[pulse.id], id=job_id,
                                    name=f"pulse #{pulse.id}", replace_existing=True)
            self._signatures[job_id] = signature
        return len(wanted)

    async def fire(self, pulse_id: int) -> None:
        async with self._services.db.session() as session:
            pulse = await session.get(Pulse, pulse_id)
        if pulse is None or pulse.status != "active" or not pulse.recurrence:
            return
        zone = trigger_zone(pulse.timezone, bool(pulse.recurrence.get("local")))
        run_slot = slot(pulse.recurrence, zone, self._services.clock())
        if run_slot is None:
            return  # an every-N-weeks pulse rests this week
        run = await self._pulses.open_run(pulse_id, run_slot)
        log.info("pulse #%s fired for %s: %s", pulse_id, run_slot.isoformat(), "opened" if run else "already open")

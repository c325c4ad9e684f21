"""APScheduler (3.x) for timed work in the worker role. Schedules live in Earshot's tables; this only fires
them, and every firing claims a unique row first, so a double fire is harmless."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from zoneinfo import ZoneInfo

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from bot.metrics import Metrics

log = logging.getLogger(__name__)


def make_scheduler(zone: ZoneInfo) -> AsyncIOScheduler:
    """In-memory job store, explicit zone, coalesced misfires with a generous grace time."""
    return AsyncIOScheduler(timezone=zone, job_defaults={"coalesce": True, "misfire_grace_time": 300,
                                                         "max_instances": 1})


def every(scheduler: AsyncIOScheduler, seconds: float, name: str, job: Callable[[], Awaitable[object]],
          metrics: Metrics) -> None:
    """Run `job` periodically, counting outcomes; a failure is logged and retried next time."""
    for outcome in ("ok", "error"):  # every job's series exist from the start, at zero, for alerts and rates
        metrics.scheduler_runs.labels(name, outcome)

    async def run() -> None:
        try:
            await job()
        except Exception:
            metrics.scheduler_runs.labels(name, "error").inc()
            log.exception("scheduled job %s failed", name)
            return
        metrics.scheduler_runs.labels(name, "ok").inc()

    scheduler.add_job(run, IntervalTrigger(seconds=seconds, timezone=scheduler.timezone), id=name, name=name,
                      replace_existing=True)

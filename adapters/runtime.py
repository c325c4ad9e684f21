"""The composition root: builds storage, core, adapters and workers from settings, and runs the roles."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import time
from datetime import timedelta
from typing import Literal

import aiohttp
from aiohttp import web

from adapters.platform import Platform, PlatformContext
from adapters.probes import serve_probes
from adapters.sandbox.platform import SandboxPlatform
from adapters.sandbox.workspace import Workspace
from adapters.sources.kinds import KINDS
from adapters.sources.pulling import PULL_TICK_SECONDS, PullRunner
from adapters.sources.registry import Tallies
from adapters.sources.route import SourceRoute
from bot.adapter import Adapter
from bot.config import Settings
from bot.core import Earshot, Services
from bot.delivery import DeliveryWorker
from bot.features import install_features
from bot.feedback.languages import warm_language_detector
from bot.governance.retention import Counts, purge
from bot.metrics import Metrics
from bot.outbox import Outbox
from bot.pacing import Pacer
from bot.roles import bootstrap_admins
from bot.scheduler import every, make_scheduler
from storage.deployment import claim_database
from storage.engine import Database, sqlite_file
from storage.leadership import Leadership
from storage.migrate import upgrade
from storage.secrets import resolve_keys

log = logging.getLogger(__name__)

Role = Literal["web", "worker", "all"]
ROLLUP_SECONDS = 60
STOP_GRACE_SECONDS = 5.0
PULSE_TICK_SECONDS = 20
RECONCILE_SECONDS = 60
FORGET_EVENTS_SECONDS = 600
"""How often the leader deletes handled events older than the platforms' retry window (bot.core.RETRY_WINDOW)."""
PURGE_SECONDS = 24 * 3600
"""How often the leader runs the retention purge (bot.governance.retention)."""
PURGE_FIRST = timedelta(minutes=10)
"""The first purge after a start, so a process restarted more often than daily still purges."""
SOURCE_TALLY_SECONDS = 1.0
"""How often what the feedback sources delivered (and were refused) is written to `source_tally`."""
SOURCE_HTTP_TIMEOUT = aiohttp.ClientTimeout(total=30, connect=10)


class Runtime:
    """Everything one process runs. `role` decides whether it serves HTTP, drains the outbox, or both."""

    def __init__(self, settings: Settings, role: Role = "all") -> None:
        self.settings = settings
        self.role = role
        self.metrics = Metrics()
        self.db = Database(settings.database_url)
        self.outbox = Outbox(on_enqueue=self._wake_worker)
        self.core = Earshot(Services(settings, self.db, self.outbox, self.metrics,
                                     keys=resolve_keys(settings.database_url, settings.secret_keys)))
        self.features = install_features(self.core)
        self.platforms = build_platforms(PlatformContext(settings, self.core, self.db, self.metrics))
        self.adapters: dict[str, Adapter] = {p.name: p.adapter for p in self.platforms}
        self.core.services.adapters.update(self.adapters)
        self.outbox.edit_intervals.update({name: adapter.pacing.edit_interval for name, adapter in self.adapters.items()
                                           if adapter.pacing.edit_interval is not None})
        self.worker = DeliveryWorker(self.db, self.adapters, Pacer({n: a.pacing for n, a in self.adapters.items()}),
                                     self.metrics, on_failed=self.core.report_failure,
                                     lease_seconds=settings.delivery_lease_seconds)
        self.scheduler = make_scheduler(settings.zone)
        self.leadership = Leadership(settings.database_url, on_elected=self._lead, on_deposed=self._follow)
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._probes: web.AppRunner | None = None
        self.http: aiohttp.ClientSession | None = None
        """One client session for the feedback tools' APIs (sources that fetch or pull), open while running."""
        self.source_tallies = Tallies()
        self.sources = SourceRoute(settings, self.db, self.core.services.keys, self.features.stations.ingest,
                                   KINDS, self.source_tallies, http=lambda: self.http)
        self.pulls = PullRunner(self.db, self.core.services.keys, self.features.stations.ingest.ingest,
                                http=lambda: self.http)
        self.features.stations.webhook_kinds.update(name for name, kind in KINDS.items() if kind.translate)

    @property
    def workspace(self) -> Workspace | None:
        """The sandbox workspace, when the sandbox is served."""
        return next((p.workspace for p in self.platforms if isinstance(p, SandboxPlatform)), None)

    def _wake_worker(self) -> None:
        if self.role != "web":
            self.worker.wake()

    async def start(self) -> None:
        """Bring the database up to date, check it is this kind of deployment's, grant the configured admins, start
        the background roles."""
        await asyncio.gather(  # the detector is built while the schema is checked, not by the first item's request
            asyncio.to_thread(upgrade, self.settings.database_url, secret_keys=self.settings.secret_keys),
            asyncio.to_thread(warm_language_detector))
        await self._claim_database()
        await self.features.pulses.pulses.check_sealed()
        database = sqlite_file(self.settings.database_url)
        if database is not None and not self.settings.secret_keys:
            log.info("secrets and anonymous answers waiting to be published are sealed with the key in %s.key: keep "
                     "it out of the database's backups, or set EARSHOT_SECRET_KEY (docs/anonymity.md)", database)
        async with self.db.session() as session:
            await bootstrap_admins(session, self.core.services.keys, self.settings.admins)
        for platform in self.platforms:
            await platform.start()
        self.http = aiohttp.ClientSession(timeout=SOURCE_HTTP_TIMEOUT)
        self._tasks.append(asyncio.create_task(self._write_source_tallies(), name="source-tallies"))
        if self.role in ("worker", "all"):
            self._tasks.append(asyncio.create_task(self.worker.run(self._stop), name="delivery"))
            every(self.scheduler, ROLLUP_SECONDS, "station-rollups", self.features.stations.release_rollups,
                  self.metrics)
            every(self.scheduler, 60, "weekly-digests", self.features.digests.send_due, self.metrics)
            pulses = self.features.pulses
            pulses.schedule.attach(self.scheduler)
            await pulses.schedule.reconcile()
            every(self.scheduler, PULSE_TICK_SECONDS, "pulse-deadlines", pulses.pulses.due, self.metrics)
            every(self.scheduler, RECONCILE_SECONDS, "pulse-schedules", pulses.schedule.reconcile, self.metrics)
            retention = self.settings.retention
            if (window := retention.period("event_keys")) is not None:
                every(self.scheduler, FORGET_EVENTS_SECONDS, "event-expiry",
                      functools.partial(self.core.forget_events, window), self.metrics)
            every(self.scheduler, PURGE_SECONDS, "retention-purge", self.purge, self.metrics)
            self.scheduler.modify_job("retention-purge", next_run_time=self.core.services.clock() + PURGE_FIRST)
            every(self.scheduler, PULL_TICK_SECONDS, "source-pulls", self.pulls.tick, self.metrics)
            self.scheduler.start(paused=True)  # every worker delivers; only the leader's scheduler fires
            await self.leadership.start()
        if self.role == "worker" and self.settings.metrics_port is not None:
            self._probes = await serve_probes(self, self.settings.listen_host, self.settings.metrics_port)
        log.info("earshot started: role=%s platforms=%s database=%s", self.role,
                 ",".join(self.adapters) or "none", self.db.engine.url.render_as_string(hide_password=True))

    async def _claim_database(self) -> None:
        """The sandbox and real platforms never share a database (storage.deployment): mark it as this process's
        kind, or refuse to start (DatabaseKindError) when it is the other's."""
        if not self.platforms:
            return
        serving = " and ".join(p.name.title() for p in self.platforms)
        try:
            await claim_database(self.db, "sandbox" if self.settings.sandbox_enabled else "platforms", serving)
        except Exception:
            await self.db.dispose()  # nothing else has started: leave no connection behind
            raise

    async def _lead(self) -> None:
        """Elected: refresh the recurring pulses a standby may have missed, then let the jobs fire."""
        await self.features.pulses.schedule.reconcile()
        self.scheduler.resume()
        self.metrics.scheduler_leader.set(1)

    async def purge(self) -> Counts:
        """The retention purge, now (the leader's daily job)."""
        log.info("retention purge started")
        started = time.monotonic()
        counts = await purge(self.db, self.core.services.keys, self.settings.retention, self.core.services.clock(),
                             settings=self.settings)
        log.info("retention purge done in %.1f s: %s", time.monotonic() - started,
                 json.dumps({kind: count for kind, count in counts.details().items() if count}))
        return counts

    def _follow(self) -> None:
        self.scheduler.pause()
        self.metrics.scheduler_leader.set(0)

    async def _write_source_tallies(self) -> None:
        """Until stopped, and once more then: the sources' counts, last deliveries and errors, once a second."""
        while not self._stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), SOURCE_TALLY_SECONDS)
            await self.source_tallies.flush(self.db)

    async def stop(self) -> None:
        self._stop.set()
        await self.leadership.stop()
        if self._probes is not None:
            await self._probes.cleanup()
        if self.scheduler.running:
            self.scheduler.pause()
            await self.pulls.idle(STOP_GRACE_SECONDS)  # a pull in flight stores its page rather than being cancelled
            self.scheduler.shutdown(wait=False)
        for platform in self.platforms:
            await platform.stop()
        # Let the delivery worker finish its round rather than cancelling it inside a database call: a
        # cancelled aiosqlite call leaves a connection that is closed later, on whatever loop runs then.
        if self._tasks:
            _, late = await asyncio.wait(self._tasks, timeout=STOP_GRACE_SECONDS)
            for task in late:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if self.http is not None:
            await self.http.close()
        await self.db.dispose()

    async def run_until_stopped(self) -> None:
        await self._stop.wait()


def build_platforms(context: PlatformContext) -> list[Platform]:
    """The platforms this configuration turns on; each folder builds its own."""
    platforms: list[Platform] = []
    if context.settings.sandbox_enabled:
        platforms.append(SandboxPlatform(context))
    if context.settings.slack_enabled:
        from adapters.slack.platform import SlackPlatform  # slack-bolt loads only when Slack is configured

        platforms.append(SlackPlatform(context))
    if context.settings.teams_enabled:
        from adapters.teams.platform import TeamsPlatform  # botbuilder loads only when Teams is configured

        platforms.append(TeamsPlatform(context))
    return platforms

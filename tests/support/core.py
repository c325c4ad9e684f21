"""A core wired to a recording adapter, as tests need it."""

from __future__ import annotations

from dataclasses import dataclass

from bot.config import Settings, load_settings
from bot.core import Earshot, Services
from bot.delivery import DeliveryWorker
from bot.features import Features, install_features
from bot.metrics import Metrics
from bot.outbox import Outbox
from bot.pacing import Pacer
from bot.roles import grant
from storage.engine import Database
from storage.secrets import resolve_keys
from tests.support.recording import RecordingAdapter


@dataclass
class CoreHarness:
    core: Earshot
    adapter: RecordingAdapter
    worker: DeliveryWorker
    db: Database
    settings: Settings
    clock: list[float]
    """The pacer's monotonic clock, in seconds: advance it to let pauses run out."""
    features: Features

    async def grant(self, user_id: str, role: str) -> None:
        async with self.db.session() as session:
            await grant(session, self.adapter.platform, user_id, role)
            await session.commit()

    async def deliver(self, rounds: int = 5) -> None:
        """Drain the outbox of everything due now (after the cards that votes asked to refresh)."""
        await self.features.pulses.pulses.settle()
        for _ in range(rounds):
            if not await self.worker.run_once():
                return


def make_harness(db: Database, **settings: object) -> CoreHarness:
    config = load_settings(DATABASE_URL=db.url, **settings)
    metrics = Metrics()
    outbox = Outbox(update_interval=0)
    core = Earshot(Services(config, db, outbox, metrics, keys=resolve_keys(db.url, config.secret_keys)))
    features = install_features(core)
    adapter = RecordingAdapter()
    clock = [0.0]
    pacer = Pacer({adapter.platform: adapter.pacing}, clock=lambda: clock[0])
    core.services.adapters[adapter.platform] = adapter
    worker = DeliveryWorker(db, {adapter.platform: adapter}, pacer, metrics, on_failed=core.report_failure)
    return CoreHarness(core, adapter, worker, db, config, clock, features)

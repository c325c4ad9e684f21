"""The pull runner against fake vendor APIs on loopback, on SQLite and PostgreSQL: cursors saved after the items
and resumed (across ticks, restarts and crashes), Retry-After honoured, back-off, one failing source leaving the
others be, and only the scheduler's leader pulling."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest
from sqlmodel import select, update

from adapters.runtime import Runtime
from adapters.sources.pulling import ERROR_WAIT, LEASE, MAX_PAGES, MAX_WAIT, backoff
from bot.config import load_settings
from storage.engine import Database
from storage.tables import FeedbackSource
from tests.sources.fake_stores import APP_ID, ISSUER_ID, KEY_ID, PACKAGE, FakeAppStore, FakeGooglePlay, serving
from tests.sources.pull_support import Pulls, crashing_after
from tests.support.postgres import free_port


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
async def store() -> AsyncIterator[FakeAppStore]:
    fake = FakeAppStore(page_size=2)
    async with serving(fake):
        yield fake


async def add_appstore(pulls: Pulls, fake: FakeAppStore, name: str = "ios", private_key: str | None = None) -> None:
    await pulls.add("appstore", name, {"private_key": private_key or fake.private_key},
                    {"key_id": KEY_ID, "issuer_id": ISSUER_ID, "app_id": APP_ID, "api_url": fake.url})


def reviews(fake: FakeAppStore, first: int, last: int) -> None:
    for n in range(first, last + 1):
        fake.add(f"r{n}", f"2026-12-01T10:{n:02d}:00Z", title=f"Review {n}")


async def test_cursor_is_saved_and_resumed_across_ticks_and_restarts(db: Database, http: aiohttp.ClientSession,
                                                                     store: FakeAppStore) -> None:
    pulls = Pulls.make(db, http)
    await add_appstore(pulls, store)
    reviews(store, 1, 5)
    assert await pulls.runner().tick() == 5  # three pages of two, at once (each said `more`)
    assert len(store.requests) == 3
    source = await pulls.source("ios")
    assert source.next_pull_at == pulls.clock.now + timedelta(seconds=900)
    assert source.last_received_at == pulls.clock.now and source.last_error is None
    assert await pulls.runner().tick() == 0  # not due yet: no call at all
    assert len(store.requests) == 3

    reviews(store, 6, 7)
    pulls.clock.advance(901)
    store.served.clear()
    restarted = pulls.runner()  # a new process, or a new leader: only the database remembers
    assert await restarted.tick() == 2
    assert store.served == ["r7", "r6", "r5", "r4"]  # stopped at the first page reaching r5

    pulls.clock.advance(901)
    assert await restarted.tick() == 0
    assert set(await pulls.items("ios")) == {f"r{n}" for n in range(1, 8)}
    assert (await pulls.items("ios"))["r3"].text == "Review 3\n\nBody"
    assert await pulls.tally("ios") == {"accepted": 7, "updated": 0, "duplicates": 0, "rejected": 0}


async def test_a_stop_waits_for_the_pull_in_flight_to_store_its_page(db: Database, http: aiohttp.ClientSession,
                                                                      store: FakeAppStore) -> None:
    """`idle` is what the runtime's stop awaits before shutting the scheduler down, which would cancel the tick
    inside a database call."""
    pulls = Pulls.make(db, http)
    await add_appstore(pulls, store)
    reviews(store, 1, 2)
    storing = asyncio.Event()

    async def slow_ingest(items: list[object]) -> object:
        storing.set()
        await asyncio.sleep(0.5)
        return await pulls.ingest(items)

    runner = pulls.runner(ingest=slow_ingest)  # type: ignore[arg-type]
    assert await runner.idle(0)  # nothing in flight
    tick = asyncio.create_task(runner.tick())
    await asyncio.wait_for(storing.wait(), 5)
    assert not await runner.idle(0.05)  # still storing its page
    assert await runner.idle(5)
    assert tick.done() and tick.result() == 2
    assert set(await pulls.items("ios")) == {"r1", "r2"}


async def test_a_crash_between_the_items_and_the_cursor_fetches_again_and_never_skips(
        db: Database, http: aiohttp.ClientSession, store: FakeAppStore) -> None:
    pulls = Pulls.make(db, http)
    await add_appstore(pulls, store)
    reviews(store, 1, 5)
    await pulls.runner(ingest=crashing_after(pulls.ingest, 2)).tick()  # page 2 committed, its cursor never saved
    assert set(await pulls.items("ios")) == {"r5", "r4", "r3", "r2"}
    source = await pulls.source("ios")
    assert source.last_error is not None and "RuntimeError" in source.last_error
    pulls.clock.advance(ERROR_WAIT + 1)
    await pulls.runner().tick()
    assert set(await pulls.items("ios")) == {f"r{n}" for n in range(1, 6)}
    # page 2's counts died with the process; its re-fetch counts as 2 duplicates, nothing stored twice
    assert await pulls.tally("ios") == {"accepted": 3, "updated": 0, "duplicates": 2, "rejected": 0}


async def test_a_429_with_retry_after_is_honoured_before_the_next_call(db: Database, http: aiohttp.ClientSession,
                                                                       store: FakeAppStore) -> None:
    pulls = Pulls.make(db, http)
    await add_appstore(pulls, store)
    reviews(store, 1, 1)
    store.failures.queue.append((429, {"Retry-After": "120"}))
    assert await pulls.runner().tick() == 0
    source = await pulls.source("ios")
    assert source.next_pull_at == pulls.clock.now + timedelta(seconds=120)
    assert source.last_error_at == pulls.clock.now
    assert source.last_error is not None and "429" in source.last_error
    pulls.clock.advance(119)
    await pulls.runner().tick()
    assert len(store.requests) == 1  # still waiting
    pulls.clock.advance(2)
    assert await pulls.runner().tick() == 1
    assert len(store.requests) == 2


async def test_repeated_500s_back_off_exponentially_and_a_success_resets_it(
        db: Database, http: aiohttp.ClientSession, store: FakeAppStore) -> None:
    pulls = Pulls.make(db, http)
    await add_appstore(pulls, store)
    reviews(store, 1, 1)
    store.failures.queue.extend([(500, {})] * 3)
    runner = pulls.runner()
    waits = []
    for _ in range(3):
        await runner.tick()
        source = await pulls.source("ios")
        assert source.next_pull_at is not None
        wait = (source.next_pull_at - pulls.clock.now).total_seconds()
        waits.append(wait)
        pulls.clock.advance(wait)
    assert waits == [ERROR_WAIT, 2 * ERROR_WAIT, 4 * ERROR_WAIT]
    assert "HTTP 500" in (source.last_error or "")
    assert await runner.tick() == 1
    store.failures.queue.append((500, {}))
    pulls.clock.advance(900)
    await runner.tick()
    source = await pulls.source("ios")
    assert source.next_pull_at == pulls.clock.now + timedelta(seconds=ERROR_WAIT)  # back to the first step


def test_backoff_is_jittered_capped_and_never_shorter_than_asked() -> None:
    assert backoff(120, 1, 0.0) == 120
    assert backoff(120, 1, 0.999) < 150
    assert backoff(60, 3, 0.5) == 60 * 4 * 1.125
    assert backoff(60, 40, 0.0) == MAX_WAIT
    assert backoff(10 * MAX_WAIT, 1, 0.0) == MAX_WAIT


async def test_a_failing_source_does_not_stop_another_and_its_error_holds_no_secret(
        db: Database, http: aiohttp.ClientSession, store: FakeAppStore) -> None:
    pulls = Pulls.make(db, http)
    other_store = FakeAppStore()
    async with serving(other_store):
        await add_appstore(pulls, other_store, "broken", private_key=store.private_key)  # a key Apple doesn't know
        await pulls.add("appstore", "garbled", {"private_key": "sekrit-not-a-key"},
                        {"key_id": KEY_ID, "issuer_id": ISSUER_ID, "app_id": APP_ID, "api_url": store.url})
        await pulls.add("appstore", "unreachable", {"private_key": store.private_key},
                        {"key_id": KEY_ID, "issuer_id": ISSUER_ID, "app_id": APP_ID,
                         "api_url": f"http://127.0.0.1:{free_port()}"})  # nothing listens there
        await add_appstore(pulls, store, "ios")
        reviews(store, 1, 3)
        assert await pulls.runner().tick() == 3
    unreachable = await pulls.source("unreachable")
    assert unreachable.last_error is not None and "could not be reached" in unreachable.last_error
    assert unreachable.next_pull_at == pulls.clock.now + timedelta(seconds=ERROR_WAIT)
    broken, garbled = await pulls.source("broken"), await pulls.source("garbled")
    assert broken.last_error is not None and "HTTP 401" in broken.last_error
    assert garbled.last_error is not None and "not an App Store Connect API key" in garbled.last_error
    for error in (broken.last_error, garbled.last_error):
        assert "PRIVATE KEY" not in error and "sekrit" not in error
    assert (await pulls.source("ios")).last_error is None


async def test_a_page_limit_per_tick_leaves_the_rest_to_the_next_tick(db: Database, http: aiohttp.ClientSession,
                                                                     store: FakeAppStore) -> None:
    pulls = Pulls.make(db, http)
    await add_appstore(pulls, store)
    reviews(store, 1, 2 * MAX_PAGES + 3)
    assert await pulls.runner().tick() == 2 * MAX_PAGES
    assert (await pulls.source("ios")).next_pull_at == pulls.clock.now  # due again at once
    assert await pulls.runner().tick() == 3
    assert len(await pulls.items("ios")) == 2 * MAX_PAGES + 3


async def test_a_long_pull_renews_its_claim_page_by_page(db: Database, http: aiohttp.ClientSession,
                                                        store: FakeAppStore) -> None:
    """Pages that each take most of a lease: a second scheduler (a new leader) ticking meanwhile finds the source
    still claimed and pulls nothing, so no page is fetched twice."""
    pulls = Pulls.make(db, http)
    await add_appstore(pulls, store)
    reviews(store, 1, 8)  # four pages of two
    other = pulls.runner()
    other_ticks: list[int] = []

    async def slow_ingest(items: list[dict[str, object]]) -> object:
        result = await pulls.ingest(items)
        pulls.clock.advance(LEASE.total_seconds() * 0.8)  # this page took most of a lease
        return result

    async def ingest_then_let_the_other_tick(items: list[dict[str, object]]) -> object:
        result = await slow_ingest(items)
        other_ticks.append(await other.tick())
        return result

    assert await pulls.runner(ingest=ingest_then_let_the_other_tick).tick() == 8  # type: ignore[arg-type]
    assert other_ticks == [0, 0, 0, 0]
    assert len(store.requests) == 4


async def test_the_runner_drives_every_pull_kind(db: Database, http: aiohttp.ClientSession,
                                                 store: FakeAppStore) -> None:
    pulls = Pulls.make(db, http)
    play = FakeGooglePlay()
    async with serving(play):
        await add_appstore(pulls, store)
        await pulls.add("googleplay", "android", {"service_account": play.service_account()},
                        {"package": PACKAGE, "api_url": play.url})
        reviews(store, 1, 1)
        play.add("g1", 1_765_000_000, "Gut", language="de")
        assert await pulls.runner().tick() == 2
    assert (await pulls.items("android"))["g1"].language == "de"


async def test_only_the_leader_pulls(db_url: str, tmp_path: object, store: FakeAppStore) -> None:
    """Two workers on one database: the leader's tick pulls, the standby's never fires; when the leader stops,
    the standby takes over and pulls."""
    settings = load_settings(DATABASE_URL=db_url, EARSHOT_SANDBOX=False)
    first, second = Runtime(settings, role="worker"), Runtime(settings, role="worker")
    await first.start()
    await second.start()
    try:
        assert first.leadership.leading and not second.leadership.leading
        async with aiohttp.ClientSession() as http:
            pulls = Pulls.make(first.db, http)
            await add_appstore(pulls, store)
        reviews(store, 1, 1)
        await _fire(second)
        await asyncio.sleep(1.0)
        assert store.requests == []  # the standby's scheduler is paused
        await _fire(first)
        await _until(lambda: len(store.requests) == 1)
        await _finished(first)
        await _due(first.db)
        await _fire(second)
        await asyncio.sleep(1.0)
        assert len(store.requests) == 1
        await first.stop()
        await _until(lambda: second.leadership.leading, seconds=10)
        await _fire(second)
        await _until(lambda: len(store.requests) == 2)
    finally:
        await second.stop()
        if first.leadership.leading:
            await first.stop()


async def _fire(runtime: Runtime) -> None:
    runtime.scheduler.modify_job("source-pulls", next_run_time=datetime.now(runtime.scheduler.timezone))


async def _finished(runtime: Runtime) -> None:
    """The pull saved its schedule, 15 minutes on (the claim's lease is 10)."""
    for _ in range(100):
        async with runtime.db.session() as session:
            row = (await session.exec(select(FeedbackSource))).one()
        if row.next_pull_at is not None and row.next_pull_at > datetime.now(UTC) + LEASE + timedelta(seconds=60):
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the pull never saved its next time")


async def _due(db: Database) -> None:
    async with db.write() as session:
        await session.exec(update(FeedbackSource).values(next_pull_at=datetime.now(UTC)))  # type: ignore[call-overload]
        await session.commit()


async def _until(condition: object, seconds: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not condition():  # type: ignore[operator]
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)

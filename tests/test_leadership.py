"""Scheduler leadership: one leader at a time, and a quick takeover when it stops or is killed."""

from __future__ import annotations

import asyncio
import time

from storage.leadership import Leadership
from tests.support.processes import children


class Candidate:
    def __init__(self, url: str) -> None:
        self.leading = False
        self.elections = 0
        self.leadership = Leadership(url, on_elected=self._elected, on_deposed=self._deposed, poll_seconds=0.1)

    async def _elected(self) -> None:
        self.leading = True
        self.elections += 1

    def _deposed(self) -> None:
        self.leading = False


async def _until(condition: object, seconds: float) -> float:
    started = time.monotonic()
    while not condition():  # type: ignore[operator]
        assert time.monotonic() - started < seconds, "condition not met in time"
        await asyncio.sleep(0.05)
    return time.monotonic() - started


async def test_one_leader_at_a_time_and_a_successor_when_it_stops(db_url: str) -> None:
    first, second, third = Candidate(db_url), Candidate(db_url), Candidate(db_url)
    try:
        for candidate in (first, second, third):
            await candidate.leadership.start()
        await asyncio.sleep(0.5)  # several polls: nobody else wins the lock meanwhile
        assert [c.leading for c in (first, second, third)] == [True, False, False]
        await first.leadership.stop()
        assert not first.leading
        await _until(lambda: second.leading or third.leading, 3)
        await asyncio.sleep(0.5)
        assert second.leading != third.leading  # exactly one successor
        assert second.elections + third.elections == 1
    finally:
        for candidate in (first, second, third):
            await candidate.leadership.stop()


async def test_a_killed_leader_worker_is_replaced_within_seconds(postgres_url: str) -> None:
    """Two `earshot serve worker` processes on one PostgreSQL: one schedules; SIGKILL it, the other takes over."""
    with children(DATABASE_URL=postgres_url, EARSHOT_SANDBOX="1") as group:
        one = group.spawn("worker")
        await one.wait_logged("earshot started", 60)
        two = group.spawn("worker")
        await two.wait_logged("earshot started", 60)
        assert one.logged("this worker is the leader")
        assert two.logged("another worker leads; standing by")
        await asyncio.sleep(2.5)  # more than one poll: the standby stays a standby while the leader lives
        assert not two.logged("this worker is the leader")
        killed_at = time.monotonic()
        one.kill()
        await two.wait_logged("this worker is the leader", 10)
        takeover = time.monotonic() - killed_at
        assert takeover < 6, f"takeover took {takeover:.1f} s"
        entries = two.logs()  # EARSHOT_LOG_FORMAT=json: every line one object, nothing else on the stream
        assert entries and all({"time", "level", "logger", "message"} <= entry.keys() for entry in entries)
        assert any(e["level"] == "info" and e["logger"] == "storage.leadership" for e in entries)

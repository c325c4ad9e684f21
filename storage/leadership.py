"""Which worker runs the scheduler: exactly one at a time, and another takes over within seconds of its death.

PostgreSQL: a session-level advisory lock (`pg_try_advisory_lock`) on a connection of its own, held for the
life of the process. A dead process's session ends, PostgreSQL drops its locks, and the next poll of a standby
takes them. A leader that loses its connection (the database restarted) steps down until it wins the lock again.

SQLite (one machine): an exclusive `flock` on a file beside the database; the kernel releases it when the
holder exits, however it exits. An in-memory database is private to its process, which therefore always leads.

A leader that is cut off learns it at its next poll, so two schedulers may overlap for a few seconds; every
firing claims a unique row first (bot/scheduler.py), which makes that overlap harmless.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import IO

from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

log = logging.getLogger(__name__)

LOCK_KEY = 0x45415253484F54  # "EARSHOT": advisory locks are per database, so one key serves every install
POLL_SECONDS = 2.0
KEEPALIVE = {"tcp_keepalives_idle": "10", "tcp_keepalives_interval": "5", "tcp_keepalives_count": "3"}
"""Server-side keepalives on the lock's connection: a leader whose machine vanished (no FIN) loses the lock
after about 25 s instead of the kernel's default two hours."""


class _PostgresLock:
    def __init__(self, url: str) -> None:
        self._engine: AsyncEngine = create_async_engine(
            url, poolclass=NullPool, isolation_level="AUTOCOMMIT",
            connect_args={"server_settings": {**KEEPALIVE, "application_name": "earshot-leader"}})
        self._connection: AsyncConnection | None = None

    async def acquire(self) -> bool:
        if self._connection is None:
            self._connection = await self._engine.connect()
        return bool((await self._connection.execute(text("SELECT pg_try_advisory_lock(:key)"),
                                                    {"key": LOCK_KEY})).scalar())

    async def still_held(self) -> bool:
        """The lock lives as long as the session: a working connection still holds it."""
        assert self._connection is not None
        await self._connection.execute(text("SELECT 1"))
        return True

    async def release(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(Exception):  # a broken connection has already lost the lock
                await connection.close()

    async def dispose(self) -> None:
        await self.release()
        await self._engine.dispose()


class _FileLock:
    def __init__(self, path: Path) -> None:
        self._path = path
        self._file: IO[bytes] | None = None

    async def acquire(self) -> bool:
        handle = os.fdopen(os.open(self._path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600), "ab")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return False
        self._file = handle
        return True

    async def still_held(self) -> bool:
        return True

    async def release(self) -> None:
        handle, self._file = self._file, None
        if handle is not None:
            handle.close()  # closing the file drops the flock

    async def dispose(self) -> None:
        await self.release()


class _Always:
    async def acquire(self) -> bool:
        return True

    async def still_held(self) -> bool:
        return True

    async def release(self) -> None:
        return None

    async def dispose(self) -> None:
        return None


_Lock = _PostgresLock | _FileLock | _Always


def _lock_for(url: str) -> _Lock:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return _PostgresLock(url)
    if not parsed.database or parsed.database == ":memory:" or parsed.database.startswith("file::memory:"):
        return _Always()
    return _FileLock(Path(os.path.abspath(parsed.database + ".leader")))


class Leadership:
    """Polls for the lock; awaits `on_elected` when this process becomes the leader (a failure there steps
    down again), calls `on_deposed` when it stops leading."""

    def __init__(self, database_url: str, on_elected: Callable[[], Awaitable[None]],
                 on_deposed: Callable[[], None], poll_seconds: float = POLL_SECONDS) -> None:
        self._lock = _lock_for(database_url)
        self._on_elected = on_elected
        self._on_deposed = on_deposed
        self._poll_seconds = poll_seconds
        self._task: asyncio.Task[None] | None = None
        self.leading = False

    async def start(self) -> None:
        """Try once now (so a lone worker schedules from its first second), then keep polling."""
        await self._round()
        if not self.leading:
            log.info("scheduler: another worker leads; standing by (checking every %.0f s)", self._poll_seconds)
        self._task = asyncio.create_task(self._poll(), name="leadership")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self.leading:
            self.leading = False
            self._on_deposed()
        await self._lock.dispose()

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(self._poll_seconds)
            await self._round()

    async def _round(self) -> None:
        try:
            if self.leading:
                await self._lock.still_held()
            elif await self._lock.acquire():
                self.leading = True
                log.info("scheduler: this worker is the leader (pid %d)", os.getpid())
                await self._on_elected()
        except Exception as error:  # the database is away: whatever we held is gone with the session
            if self.leading:
                self._step_down(f"lost the database ({type(error).__name__}: {error})")
            await self._lock.release()

    def _step_down(self, why: str) -> None:
        self.leading = False
        log.warning("scheduler: no longer the leader: %s", why)
        self._on_deposed()

"""The async engine and sessions: SQLite (WAL, busy timeout) by default, PostgreSQL to scale."""

from __future__ import annotations

import asyncio
import os
import stat
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from pathlib import Path
from typing import Any

from sqlalchemy import event, make_url, text
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.columns import encode_json

SQLITE_BUSY_TIMEOUT_MS = 10_000
SQLITE_COMPANIONS = ("-wal", "-shm", "-journal")


def make_engine(url: str, **kwargs: Any) -> AsyncEngine:
    kwargs.setdefault("json_serializer", encode_json)
    if url.startswith("sqlite"):
        secure_sqlite_files(url)
        # Every aiosqlite connection is a thread: keep a steady pool rather than opening overflow ones per burst.
        engine = create_async_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}, pool_size=20,
                                     max_overflow=20, **kwargs)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    return create_async_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10, **kwargs)


def sqlite_file(url: str) -> Path | None:
    """The file of a SQLite URL; None for another database or an in-memory one."""
    parsed = make_url(url)
    if not parsed.drivername.startswith("sqlite") or parsed.database in (None, "", ":memory:") \
            or parsed.query.get("mode") == "memory":
        return None
    return Path(parsed.database)


def secure_sqlite_files(url: str) -> None:
    """Make the SQLite database readable by its owner only (it holds feedback, answers and tokens): create it
    empty with mode 0600 before SQLite first opens it (SQLite then gives its -wal and -shm files the database's
    mode), and take group and other access away from files an older version created 0644."""
    path = sqlite_file(url)
    if path is None or not path.parent.is_dir():
        return
    with suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    for file in (path, *(path.with_name(path.name + suffix) for suffix in SQLITE_COMPANIONS)):
        owner_only(file)


def owner_only(path: Path) -> None:
    """chmod 0600 a file that exists and is open to group or others."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return
    if stat.S_IMODE(mode) & 0o077:
        os.chmod(path, 0o600)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA secure_delete=ON")  # deleted and overwritten text is zeroed in the file, not left there
    cursor.close()


class Database:
    """The engine plus a session factory; one session per unit of work, never shared between tasks."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self._sessions = async_sessionmaker(self.engine, class_=AsyncSession, expire_on_commit=False)
        self._sqlite_writer = asyncio.Lock()

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        async with self._sessions() as session:
            yield session

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncSession]:
        """A session for a write transaction on a hot path. SQLite allows one writer at a time and makes the
        others sleep in its busy handler (in steps up to 100 ms); queueing them on an asyncio lock instead
        keeps latency flat. PostgreSQL needs no such lock. Do not open another write() inside one."""
        if not self.is_sqlite:
            async with self.session() as session:
                yield session
            return
        async with self._sqlite_writer, self.session() as session:
            yield session

    async def dispose(self) -> None:
        await self.engine.dispose()


CHECKPOINT_TRIES = 50
CHECKPOINT_BUSY_MS = 20


async def flush_deleted(db: Database) -> bool:
    """After deleting people data on SQLite: copy the WAL into the database file and truncate the WAL to zero bytes
    (`PRAGMA wal_checkpoint(TRUNCATE)`), so no earlier version of a changed page stays readable in it; secure
    delete has already zeroed the freed bytes in the pages themselves. A reader still on an older snapshot makes
    SQLite answer busy: retried for a while, queued with the writers. True once the WAL is empty (always on
    PostgreSQL, where VACUUM reclaims dead rows: see docs/governance.md)."""
    if not db.is_sqlite:
        return True
    for _ in range(CHECKPOINT_TRIES):
        async with db.write() as session:
            connection = await session.connection()
            # TRUNCATE waits in the busy handler for readers on older snapshots: briefly, not the usual 10 s with
            # the write lock held, then lets the writers go and tries again
            await connection.execute(text(f"PRAGMA busy_timeout={CHECKPOINT_BUSY_MS}"))
            try:
                busy = (await connection.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))).one()[0]
            finally:
                await connection.execute(text(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}"))
        if not busy:
            return True
        await asyncio.sleep(0.1)
    return False

"""The SQLite database and its -wal and -shm files hold feedback, answers and tokens: only their owner may read
them, whatever the umask, from the first migration on and after writes."""

from __future__ import annotations

import asyncio
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from storage.engine import Database
from storage.migrate import upgrade


@pytest.fixture(autouse=True)
def permissive_umask() -> Iterator[None]:
    """A usual umask (022), under which files are created world-readable unless made otherwise."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def modes(folder: Path) -> dict[str, int]:
    return {p.name: stat.S_IMODE(p.stat().st_mode) for p in folder.iterdir()}


def test_upgrade_creates_the_database_owner_only(tmp_path: Path) -> None:
    upgrade(f"sqlite+aiosqlite:///{tmp_path / 'earshot.db'}")
    assert modes(tmp_path)["earshot.db"] == 0o600
    assert set(modes(tmp_path).values()) == {0o600}


async def test_the_wal_and_shm_files_of_a_write_are_owner_only(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'earshot.db'}"
    await asyncio.to_thread(upgrade, url)
    db = Database(url)
    try:
        async with db.engine.begin() as connection:
            await connection.execute(text("CREATE TABLE scratch (x INTEGER)"))
            await connection.execute(text("INSERT INTO scratch VALUES (1)"))
        found = modes(tmp_path)
        assert {"earshot.db", "earshot.db-wal", "earshot.db-shm"} <= set(found)
        assert set(found.values()) == {0o600}
    finally:
        await db.dispose()


async def test_files_an_older_version_left_world_readable_are_closed(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'earshot.db'}"
    await asyncio.to_thread(upgrade, url)
    for name in ("earshot.db", "earshot.db-wal", "earshot.db-shm"):
        (tmp_path / name).touch()
        os.chmod(tmp_path / name, 0o644)
    db = Database(url)
    await db.dispose()
    assert set(modes(tmp_path).values()) == {0o600}

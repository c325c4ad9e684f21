"""On SQLite, what the purge removed is gone from the bytes of the database file and its WAL, not only from the
tables: secure delete zeroes it, and the checkpoint after the purge empties the WAL."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from adapters.cli import main
from bot.governance.retention import purge
from storage.engine import Database
from storage.tables import Feedback
from tests.governance.test_retention import KEYS, NOW, POLICY, SETTINGS, days, plant

MARK = "Qzv7"
GONE = [f"{MARK}text-old says", f"{MARK}contact-old@ex.com", f"{MARK}text-old@ex.com", f"{MARK}comment 31 ",
        f"{MARK}file old", f"{MARK}chart old", f"{MARK}sandbox old", f"{MARK}card send-old", f"{MARK}card edit-old",
        f"{MARK}card send-failed", f"{MARK}long old "]
KEPT = [f"{MARK}new says", f"{MARK}new@ex.com", f"{MARK}comment 29 ", f"{MARK}file new", f"{MARK}card send-new",
        f"{MARK}long new "]


def stored_bytes(path: Path) -> bytes:
    return b"".join(file.read_bytes() for file in (path, path.with_name(path.name + "-wal")) if file.exists())


async def plant_long(db: Database) -> None:
    """Items long enough to spill onto overflow pages, old and new."""
    async with db.session() as session:
        for tag, age in (("old", 25), ("new", 2)):
            for n in range(40):
                session.add(Feedback(source="long", external_id=f"{tag}-{n}", text=f"{MARK}long {tag} {n} " * 400,
                                     received_at=days(age), created_at=days(age)))
        await session.commit()


def found(path: Path, words: list[str]) -> list[str]:
    data = stored_bytes(path)
    return [word for word in words if word.encode() in data]


@pytest.fixture
def path(tmp_path: Path, sqlite_template: Path) -> Path:
    copy = tmp_path / "earshot.db"
    copy.write_bytes(sqlite_template.read_bytes())
    return copy


async def test_the_file_and_wal_hold_none_of_the_purged_text(path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{path}")
    try:
        await plant(db, MARK)
        await plant_long(db)
        assert found(path, GONE) == GONE  # planted where a copy of the files would show them
        await purge(db, KEYS, POLICY, NOW, batch=7, settings=SETTINGS)
        assert found(path, GONE) == []
        assert found(path, KEPT) == KEPT
    finally:
        await db.dispose()


def test_vacuum_keeps_them_gone_and_shrinks_the_file(path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite+aiosqlite:///{path}"

    async def prepare() -> None:
        db = Database(url)
        try:
            await plant(db, MARK)
            await plant_long(db)
            await purge(db, KEYS, POLICY, NOW, settings=SETTINGS)
        finally:
            await db.dispose()

    asyncio.run(prepare())
    before = path.stat().st_size
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("EARSHOT_SANDBOX", "1")
    assert main(["db", "vacuum"]) == 0
    assert "vacuumed" in capsys.readouterr().out
    assert path.stat().st_size < before
    assert found(path, GONE) == [] and found(path, KEPT) == KEPT

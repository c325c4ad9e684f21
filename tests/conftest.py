"""Shared fixtures: databases on SQLite and on a real PostgreSQL the run starts itself."""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from storage.engine import Database
from storage.migrate import upgrade
from tests.support.postgres import PostgresUnavailable, TempPostgres

REQUIRE_POSTGRES = os.environ.get("EARSHOT_TEST_POSTGRES") == "required"
POSTGRES_KEY = "baT9qNjJthQvtKZuwkrTUnVsuJORx8w7jXie59g-VZw="
"""PostgreSQL deployments must set EARSHOT_SECRET_KEY (SQLite ones get a key file beside the database): the
tests' own, which is no secret."""


@pytest.fixture(autouse=True)
def _root_logging() -> Iterator[None]:
    """A test that runs the CLI (bot.logs.configure) gives the root logger a handler on that test's captured
    stderr; put the handlers back, or every later log line fails on the closed stream ("Logging error")."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture(autouse=True)
def _postgres_key(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests on PostgreSQL run with the test key unless they set EARSHOT_SECRET_KEY themselves."""
    callspec = getattr(request.node, "callspec", None)
    on_postgres = (callspec is not None and callspec.params.get("db_url") == "postgres") or any(
        name in request.fixturenames for name in ("postgres_url", "postgres_server"))
    if on_postgres and "EARSHOT_SECRET_KEY" not in os.environ:
        monkeypatch.setenv("EARSHOT_SECRET_KEY", POSTGRES_KEY)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str | None]:
    """Base URL of a throwaway cluster, or None (skip) where PostgreSQL is not installed."""
    try:
        server = TempPostgres()
        base = server.start()
    except PostgresUnavailable as error:
        if REQUIRE_POSTGRES:
            raise
        pytest.skip(f"PostgreSQL unavailable: {error}")
        return
    try:
        asyncio.run(_create_database(base, "earshot_template"))
        upgrade(f"{base}/earshot_template")
        yield base
    finally:
        server.stop()


async def _create_database(base: str, name: str, template: str | None = None) -> None:
    engine = create_async_engine(f"{base}/postgres", isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            clause = f" TEMPLATE {template}" if template else ""
            await connection.execute(text(f'CREATE DATABASE "{name}"{clause}'))
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "earshot.db"
    upgrade(f"sqlite+aiosqlite:///{path}")
    return path


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> str:
    """A fresh, migrated database per test, on each backend."""
    if request.param == "sqlite":
        path = tmp_path / "earshot.db"
        shutil.copy(sqlite_template, path)
        return f"sqlite+aiosqlite:///{path}"
    base = request.getfixturevalue("postgres_server")
    name = f"t_{uuid.uuid4().hex[:12]}"
    asyncio.run(_create_database(base, name, template="earshot_template"))
    return f"{base}/{name}"


@pytest.fixture
def postgres_url(postgres_server: str) -> str:
    """A fresh, migrated PostgreSQL database, for tests that only make sense there (several processes)."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    asyncio.run(_create_database(postgres_server, name, template="earshot_template"))
    return f"{postgres_server}/{name}"


@pytest.fixture
async def db(db_url: str) -> AsyncIterator[Database]:
    database = Database(db_url)
    yield database
    await database.dispose()


CHROMIUM = os.environ.get("EARSHOT_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
HAVE_CHROMIUM = Path(CHROMIUM).exists()
REQUIRE_BROWSER = os.environ.get("EARSHOT_TEST_BROWSER") == "required"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]


@pytest.fixture
async def browser() -> AsyncIterator[object]:
    """Debian's chromium through Playwright, headless (never a downloaded browser); required in CI."""
    playwright_api = pytest.importorskip("playwright.async_api")
    if not HAVE_CHROMIUM:
        if REQUIRE_BROWSER:
            pytest.fail(f"chromium not found at {CHROMIUM}")
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    async with playwright_api.async_playwright() as p:
        instance = await p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield instance
        await instance.close()

"""One adversarial run per backend, shared by the tests that each check one route of it: SQLite in a file with
its WAL, and PostgreSQL in a cluster of the suite's own (so its WAL and data directory hold nothing else)."""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from storage.engine import Database
from storage.migrate import upgrade
from tests.anonymity.linking import Ledger
from tests.anonymity.postgres_copies import Cluster, PostgresCopies
from tests.anonymity.scenario import Run, run_pulse
from tests.anonymity.sqlite_copies import SqliteCopies
from tests.support.postgres import PostgresUnavailable, TempPostgres

REQUIRE_POSTGRES = os.environ.get("EARSHOT_TEST_POSTGRES") == "required"


async def _run(url: str, copier: object) -> Run:
    db = Database(url)
    try:
        return await run_pulse(db, copier)  # type: ignore[arg-type]
    finally:
        await db.dispose()


@pytest.fixture(scope="session")
def sqlite_run(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Run:
    work = tmp_path_factory.mktemp("anonymity-sqlite")
    path = work / "earshot.db"
    shutil.copy(sqlite_template, path)

    def copier(ledger: Ledger, run_id: int) -> SqliteCopies:
        return SqliteCopies(path, work, ledger, run_id)

    return asyncio.run(_run(f"sqlite+aiosqlite:///{path}", copier))


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[Cluster]:
    """A cluster that commits synchronously, as production does, so each commit's WAL is on disk at once."""
    try:
        server = TempPostgres(synchronous_commit="on")
        base = server.start()
    except PostgresUnavailable as error:
        if REQUIRE_POSTGRES:
            raise
        pytest.skip(f"PostgreSQL unavailable: {error}")
    try:
        asyncio.run(_create(base, "earshot"))
        upgrade(f"{base}/earshot")
        yield Cluster(server.bin, server.data, server.port, "earshot")
    finally:
        server.stop()


async def _create(base: str, name: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(base.replace("+asyncpg", "") + "/postgres")
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()


@pytest.fixture(scope="session")
def postgres_run(postgres_cluster: Cluster) -> Run:
    def copier(ledger: Ledger, run_id: int) -> PostgresCopies:
        return PostgresCopies(postgres_cluster, ledger, run_id)

    return asyncio.run(_run(f"postgresql+asyncpg://postgres@127.0.0.1:{postgres_cluster.port}/earshot", copier))


@pytest.fixture(params=["sqlite", "postgres"])
def run(request: pytest.FixtureRequest) -> Run:
    """The run on each backend."""
    return request.getfixturevalue(f"{request.param}_run")

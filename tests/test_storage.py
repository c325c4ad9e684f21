"""Storage on SQLite and on a real PostgreSQL: migrations, time zones, idempotent inserts."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore
from sqlalchemy import Connection, MetaData, Text, inspect, text
from sqlmodel import SQLModel, select

from adapters.slack.oauth import SEALED_COLUMNS
from storage.engine import Database
from storage.migrate import current_heads, include_name, upgrade
from storage.tables import Feedback, ProcessedEvent, SandboxChannel
from storage.tables.slack import SLACK_SDK_TABLES
from storage.upsert import insert_ignore


async def test_migrations_create_every_table(db: Database) -> None:
    async with db.engine.connect() as connection:
        tables = set(await connection.run_sync(lambda c: inspect(c).get_table_names()))
        version = (await connection.execute(text("SELECT version_num FROM alembic_version"))).scalar_one()
    assert set(SQLModel.metadata.tables) <= tables
    assert (version,) == current_heads()


def _differences(connection: Connection, metadata: MetaData, include: object) -> list[object]:
    context = MigrationContext.configure(connection, opts={"compare_type": True, "include_name": include})
    return list(compare_metadata(context, metadata))


async def test_migrations_match_the_models(db: Database) -> None:
    """Autogenerate would find nothing to do. slack_sdk's installation tables are deliberately left out of this
    comparison (`include_name`): they have no SQLModel model, slack_sdk owns their shape (next test)."""
    async with db.engine.connect() as connection:
        assert await connection.run_sync(_differences, SQLModel.metadata, include_name) == []


async def test_slack_sdk_tables_are_the_ones_its_stores_build(db: Database) -> None:
    """Migration 0007 writes slack_sdk's tables out by hand (a frozen schema): still what slack_sdk's
    SQLAlchemy installation and state stores build, with their default table names."""
    expected = MetaData()
    SQLAlchemyInstallationStore.build_installations_table(
        expected, SQLAlchemyInstallationStore.default_installations_table_name)
    SQLAlchemyInstallationStore.build_bots_table(expected, SQLAlchemyInstallationStore.default_bots_table_name)
    SQLAlchemyOAuthStateStore.build_oauth_states_table(expected, SQLAlchemyOAuthStateStore.default_table_name)
    assert set(expected.tables) == SLACK_SDK_TABLES
    for table, columns in SEALED_COLUMNS.items():  # encrypted tokens are longer: TEXT since migration 0009
        for column in columns:
            expected.tables[table].c[column].type = Text()

    def only_slack_sdk(name: str | None, type_: str, _parents: object) -> bool:
        return type_ != "table" or name in SLACK_SDK_TABLES

    async with db.engine.connect() as connection:
        assert await connection.run_sync(_differences, expected, only_slack_sdk) == []


async def test_upgrade_is_idempotent_on_an_up_to_date_database(db_url: str) -> None:
    await asyncio.to_thread(upgrade, db_url)  # the fixture already migrated it: this must be a no-op, not an error


async def test_datetimes_come_back_aware_and_in_utc(db: Database) -> None:
    moment = datetime(2026, 3, 29, 1, 30, tzinfo=timezone(timedelta(hours=2)))
    async with db.session() as session:
        session.add(Feedback(source="s", external_id="1", text="hi", created_at=moment))
        await session.commit()
    async with db.session() as session:
        row = (await session.exec(select(Feedback))).one()
    assert row.created_at == moment
    assert row.created_at.tzinfo is not None and row.created_at.utcoffset() == timedelta(0)


async def test_naive_datetimes_are_refused(db: Database) -> None:
    async with db.session() as session:
        session.add(Feedback(source="s", external_id="1", text="hi", created_at=datetime(2026, 1, 1)))
        with pytest.raises(Exception, match="naive"):
            await session.commit()


async def test_insert_ignore_reports_new_rows_once(db: Database) -> None:
    async with db.session() as session:
        assert await insert_ignore(session, ProcessedEvent, {"key": "slack:Ev1", "seen_at": datetime.now(UTC)})
        assert not await insert_ignore(session, ProcessedEvent, {"key": "slack:Ev1", "seen_at": datetime.now(UTC)})
        await session.commit()
        assert len((await session.exec(select(ProcessedEvent))).all()) == 1


async def test_unicode_round_trips_in_every_script(db: Database) -> None:
    words = "สวัสดีครับ ขอบคุณ · سلام، ممنون · Привіт · Спасибо · ありがとう · 👩🏽‍💻👨‍👩‍👧"
    async with db.session() as session:
        session.add(SandboxChannel(id="C1", name=words[:100]))
        await session.commit()
    async with db.session() as session:
        assert (await session.get(SandboxChannel, "C1")).name == words[:100]  # type: ignore[union-attr]


async def test_sqlite_runs_in_wal_with_a_busy_timeout(tmp_path: Path) -> None:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'w.db'}")
    async with database.engine.connect() as connection:
        assert (await connection.execute(text("PRAGMA journal_mode"))).scalar_one() == "wal"
        assert (await connection.execute(text("PRAGMA busy_timeout"))).scalar_one() >= 5000
    await database.dispose()


def test_processes_starting_together_on_an_empty_postgresql_database_all_migrate(postgres_server: str) -> None:
    import subprocess
    import sys
    import uuid

    from tests.conftest import _create_database

    name = f"t_{uuid.uuid4().hex[:12]}"
    asyncio.run(_create_database(postgres_server, name))  # empty: every process finds work to do
    url = f"{postgres_server}/{name}"
    script = "import sys; from storage.migrate import upgrade; upgrade(sys.argv[1])"
    processes = [subprocess.Popen([sys.executable, "-c", script, url], stderr=subprocess.PIPE, text=True)
                 for _ in range(3)]
    outcomes = [(process.communicate(timeout=120)[1], process.wait()) for process in processes]
    assert [code for _, code in outcomes] == [0, 0, 0], [error[-500:] for error, code in outcomes if code]

    async def version() -> list[str]:
        database = Database(url)
        async with database.engine.connect() as connection:
            found = list((await connection.execute(text("SELECT version_num FROM alembic_version"))).scalars())
        await database.dispose()
        return found

    assert asyncio.run(version()) == list(current_heads())

"""A database belongs to the sandbox or to real platforms, never both (storage.deployment), on both databases:
the sandbox refuses a Slack database, Slack refuses a demo database, and of two starting at once one wins."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest
from sqlmodel import SQLModel

from adapters.runtime import Runtime
from bot.config import load_settings
from storage.deployment import DatabaseKindError, claim_database
from storage.engine import Database
from storage.migrate import upgrade
from storage.tables import Deployment, Person, SandboxChannel, Station
from tests.support.postgres import free_port

ROOT = Path(__file__).resolve().parent.parent
SETTINGS_PREFIXES = ("SLACK_", "Microsoft", "EARSHOT_", "HOST", "PORT", "DATABASE_URL")
SLACK = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s"}
SANDBOX_REFUSED = ("DATABASE_URL holds Slack data: the sandbox needs its own database "
                   "(e.g. DATABASE_URL=sqlite+aiosqlite:///./sandbox.db)")
SLACK_REFUSED = ("DATABASE_URL holds the sandbox's demo data: Slack needs a database of its own "
                 "(point DATABASE_URL at a new or the production database)")


async def add(url: str, *rows: SQLModel) -> None:
    db = Database(url)
    try:
        async with db.session() as session:
            session.add_all(rows)
            await session.commit()
    finally:
        await db.dispose()


async def marked(url: str) -> str | None:
    db = Database(url)
    try:
        async with db.session() as session:
            row = await session.get(Deployment, 1)
            return row.kind if row else None
    finally:
        await db.dispose()


async def start(url: str, *, sandbox: bool) -> None:
    """Start and stop a serving runtime: the sandbox's, or Slack's."""
    settings = load_settings(DATABASE_URL=url, EARSHOT_SANDBOX=True) if sandbox else \
        load_settings(DATABASE_URL=url, EARSHOT_SANDBOX=False, **SLACK)
    runtime = Runtime(settings, role="web")
    await runtime.start()
    await runtime.stop()


def slack_station() -> Station:
    return Station(platform="slack", channel_id="C1", created_by="U1")


async def test_the_sandbox_refuses_a_database_with_slack_data(db_url: str) -> None:
    await add(db_url, slack_station())
    with pytest.raises(DatabaseKindError) as refused:
        await start(db_url, sandbox=True)
    assert str(refused.value) == SANDBOX_REFUSED
    assert await marked(db_url) is None  # a refusal writes nothing


async def test_the_sandbox_refuses_a_database_slack_has_served(db_url: str) -> None:
    await start(db_url, sandbox=False)
    assert await marked(db_url) == "platforms"
    with pytest.raises(DatabaseKindError, match="the sandbox needs its own database"):
        await start(db_url, sandbox=True)
    await start(db_url, sandbox=False)  # Slack again: its own database


async def test_slack_refuses_the_demo_database(db_url: str) -> None:
    await start(db_url, sandbox=True)
    assert await marked(db_url) == "sandbox"
    with pytest.raises(DatabaseKindError) as refused:
        await start(db_url, sandbox=False)
    assert str(refused.value) == SLACK_REFUSED
    await start(db_url, sandbox=True)  # the demo again: its own database


async def test_slack_refuses_an_unmarked_database_holding_only_demo_data(db_url: str) -> None:
    await add(db_url, SandboxChannel(id="general", name="general"), Person(platform="sandbox", user_id="sam"))
    with pytest.raises(DatabaseKindError, match="the sandbox's demo data"):
        await start(db_url, sandbox=False)
    assert await marked(db_url) is None


async def test_an_old_production_database_with_leftover_sandbox_rows_still_starts_for_slack(db_url: str) -> None:
    await add(db_url, slack_station(), Station(platform="sandbox", channel_id="general", created_by="sam"),
              SandboxChannel(id="general", name="general"))
    await start(db_url, sandbox=False)
    assert await marked(db_url) == "platforms"
    with pytest.raises(DatabaseKindError, match="holds Slack data"):
        await start(db_url, sandbox=True)


async def test_of_the_sandbox_and_slack_starting_together_on_an_empty_database_exactly_one_wins(
        db_url: str) -> None:
    for _ in range(3):  # two processes each: their own engine and connections
        databases = [Database(db_url), Database(db_url)]
        try:
            outcomes = await asyncio.gather(claim_database(databases[0], "sandbox", "the sandbox"),
                                            claim_database(databases[1], "platforms", "Slack"),
                                            return_exceptions=True)
        finally:
            for db in databases:
                await db.dispose()
        refused = [o for o in outcomes if isinstance(o, DatabaseKindError)]
        assert len(refused) == 1 and outcomes.count(None) == 1, outcomes
        winner = "sandbox" if outcomes[0] is None else "platforms"
        assert await marked(db_url) == winner
        await reset(db_url)


async def reset(url: str) -> None:
    db = Database(url)
    try:
        async with db.session() as session:
            row = await session.get(Deployment, 1)
            assert row is not None
            await session.delete(row)
            await session.commit()
    finally:
        await db.dispose()


async def test_commands_that_do_not_serve_mark_nothing(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'earshot.db'}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(SETTINGS_PREFIXES)} | {"DATABASE_URL": url}
    for command in (["db", "upgrade"], ["roles", "list"], ["digest"]):
        process = await asyncio.create_subprocess_exec(sys.executable, "-m", "adapters.cli", *command, env=env,
                                                       cwd=ROOT, stdout=asyncio.subprocess.DEVNULL)
        assert await process.wait() == 0, command
    assert await marked(url) is None


async def test_earshot_demo_on_a_slack_database_says_so_in_one_line(tmp_path: Path) -> None:
    """F2: `earshot demo` pointed at the database `earshot serve` uses for Slack started with no warning."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'slack.db'}"
    await asyncio.to_thread(upgrade, url)
    await add(url, slack_station())
    env = {k: v for k, v in os.environ.items() if not k.startswith(SETTINGS_PREFIXES)}
    env |= {"DATABASE_URL": url, "PORT": str(free_port())}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "adapters.cli", "demo", "--feed-interval", "0", env=env, cwd=ROOT,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    async with asyncio.timeout(90):
        stdout, stderr = await process.communicate()
    assert process.returncode == 2
    errors = stderr.decode()
    assert errors.splitlines()[-1] == f"earshot: {SANDBOX_REFUSED}" and "Traceback" not in errors, errors
    assert b"sandbox/?token=" not in stdout
    assert await marked(url) is None

"""The command line's actions on people data leave one audit entry each, as `cli`'s: role grants and revokes (the
history a revoke no longer keeps in `role_grant`), feedback sources added and removed (never their secrets or
URL tokens), `earshot digest`; and EARSHOT_ADMINS' grants at start, as the system's, once."""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import pytest

from adapters.cli import main
from adapters.sources.kinds import KINDS
from storage.engine import Database
from storage.secrets import resolve_keys, split_keys
from storage.tables.audit import AuditEntry
from tests.governance.audit_support import assert_chain_ok, assert_nowhere, entries, facts
from tests.sources.fixture_kinds import SIGNED, URLONLY
from tests.support.server import running_app

sqlite_only = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
T = TypeVar("T")

SECRET = "whsec-Platypus-9931"


@pytest.fixture
def cli(db_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.delenv("EARSHOT_PUBLIC_URL", raising=False)
    monkeypatch.setitem(KINDS, "signed", SIGNED)
    monkeypatch.setitem(KINDS, "urlonly", URLONLY)
    return db_url


def on(db_url: str, read: Callable[[Database], Awaitable[T]]) -> T:
    async def run() -> T:
        db = Database(db_url)
        try:
            return await read(db)
        finally:
            await db.dispose()

    return asyncio.run(run())


def logged(db_url: str) -> list[AuditEntry]:
    return on(db_url, entries)


def keys(db_url: str) -> tuple[str, ...]:
    return resolve_keys(db_url, split_keys(os.environ.get("EARSHOT_SECRET_KEY")))


def test_grants_and_revokes_are_the_roles_history(cli: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["roles", "grant", "slack:U024BE7LH", "hr"]) == 0
    assert main(["roles", "grant", "slack:U024BE7LH", "hr"]) == 0  # already held: nothing changed, nothing recorded
    assert main(["roles", "revoke", "slack:U024BE7LH", "hr"]) == 0
    assert main(["roles", "revoke", "slack:U024BE7LH", "hr"]) == 0
    assert main(["roles", "grant", "slak:U1", "hr"]) == 2  # refused: no entry
    assert "nothing to do: already revoked" in capsys.readouterr().out
    assert main(["roles", "list"]) == 0
    assert "no roles granted yet" in capsys.readouterr().out  # the grant row is gone; the log keeps its history
    assert [facts(e) for e in logged(cli)] == [
        ("cli", "role.granted", "slack:U024BE7LH", {"role": "hr"}),
        ("cli", "role.revoked", "slack:U024BE7LH", {"role": "hr"}),
    ]
    on(cli, lambda db: assert_chain_ok(db, keys(cli)))


@sqlite_only
def test_sources_added_and_removed_are_recorded_without_secrets_or_tokens(cli: str,
                                                                           capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sources", "add", "signed", "tool-a", "--secret", SECRET]) == 0
    assert main(["sources", "add", "urlonly", "hook"]) == 0
    (token,) = re.findall(r"/api/sources/hook/([A-Za-z0-9_-]{43})", capsys.readouterr().out)
    assert main(["sources", "add", "signed", "tool-a", "--secret", "other"]) == 2  # the name is taken
    assert main(["sources", "remove", "tool-a"]) == 0
    assert main(["sources", "remove", "tool-a"]) == 2  # gone already
    assert [facts(e) for e in logged(cli)] == [
        ("cli", "source.added", "source:tool-a", {"kind": "signed"}),
        ("cli", "source.added", "source:hook", {"kind": "urlonly"}),
        ("cli", "source.removed", "source:tool-a", {"kind": "signed"}),
    ]
    on(cli, lambda db: assert_nowhere(db, SECRET, "Platypus", token))
    on(cli, lambda db: assert_chain_ok(db, keys(cli)))


@sqlite_only
def test_earshot_digest_is_recorded_with_its_week_and_format(cli: str, tmp_path: Path) -> None:
    assert main(["digest", "--week", "2026-W47", "--format", "csv", "-o", str(tmp_path / "d.csv")]) == 0
    assert main(["digest", "--week", "2026-W47", "--team", "C-nowhere"]) == 2  # no such team: nothing written
    assert [facts(e) for e in logged(cli)] == [
        ("cli", "digest.previewed", "digest:2026-W47", {"format": "csv", "teams": 0})]


@sqlite_only
async def test_earshot_admins_are_granted_and_recorded_once_across_restarts(db_url: str) -> None:
    for _ in range(2):
        async with running_app(db_url, EARSHOT_ADMINS="slack:UADMIN1,teams:29:1a2b") as running:
            db = running.runtime.db
            found = [facts(e) for e in await entries(db)]
    assert found == [("system", "role.granted", "slack:UADMIN1", {"role": "admin"}),
                     ("system", "role.granted", "teams:29:1a2b", {"role": "admin"})]

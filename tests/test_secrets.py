"""Secrets at rest: the key rules, the encrypted Slack installation store, and migration 0009 encrypting the
tokens an older Earshot stored in plaintext (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import stat
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from slack_sdk.oauth.installation_store import Installation
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from adapters.slack.oauth import SealedInstallationStore
from storage.engine import Database
from storage.migrate import upgrade
from storage.secrets import ENV, SecretBox, SecretKeyError, resolve_keys
from tests.conftest import _create_database

OLD = "the-key-earshot-was-installed-with-long-enough"
NEW = Fernet.generate_key().decode()
TOKEN = "xoxb-1234-5678-secret"


def test_a_sealed_value_is_not_the_plaintext_and_opens_again() -> None:
    box = SecretBox([NEW])
    sealed = box.seal(TOKEN)
    assert TOKEN not in sealed and sealed.startswith("enc1:") and sealed != box.seal(TOKEN)
    assert box.open(sealed) == TOKEN
    assert "xoxb" not in repr(box) and NEW not in repr(box)


def test_rotation_reads_with_an_old_key_listed_second_and_writes_with_the_new_one() -> None:
    sealed_before = SecretBox([OLD]).seal(TOKEN)
    rotated = SecretBox([NEW, OLD])
    assert rotated.open(sealed_before) == TOKEN
    sealed_after = rotated.seal(TOKEN)
    assert SecretBox([NEW]).open(sealed_after) == TOKEN
    with pytest.raises(SecretKeyError):
        SecretBox([OLD]).open(sealed_after)


def test_a_wrong_key_or_a_plaintext_value_is_a_clear_error() -> None:
    sealed = SecretBox([OLD]).seal(TOKEN)
    with pytest.raises(SecretKeyError, match=r"can't be decrypted with EARSHOT_SECRET_KEY.*old one after it") as wrong:
        SecretBox([NEW]).open(sealed)
    assert TOKEN not in str(wrong.value) and NEW not in str(wrong.value)
    with pytest.raises(SecretKeyError, match="not encrypted"):
        SecretBox([NEW]).open(TOKEN)


def test_a_key_is_a_fernet_key_or_a_long_passphrase() -> None:
    with pytest.raises(SecretKeyError, match="at least 32 characters"):
        SecretBox(["short"])
    with pytest.raises(SecretKeyError, match="not set"):
        SecretBox([])
    assert SecretBox([NEW]).open(SecretBox([NEW]).seal("x")) == "x"
    assert SecretBox([OLD]).open(SecretBox([OLD]).seal("x")) == "x"  # the same passphrase derives the same key


def test_keys_come_from_the_setting_else_an_owner_only_file_beside_the_sqlite_database(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'earshot.db'}"
    assert resolve_keys(url, (NEW, OLD)) == (NEW, OLD)
    (generated,) = resolve_keys(url, ())
    key_file = tmp_path / "earshot.db.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600 and key_file.read_text().strip() == generated
    assert resolve_keys(url, ()) == (generated,)  # kept, not regenerated
    assert SecretBox([generated]).open(SecretBox(resolve_keys(url, ())).seal("x")) == "x"
    assert [p.name for p in tmp_path.iterdir()] == ["earshot.db.key"]  # no temporary file left behind
    with pytest.raises(SecretKeyError, match="required with PostgreSQL"):
        resolve_keys("postgresql+asyncpg://earshot@db/earshot", ())


async def test_the_installation_store_encrypts_tokens_and_rewrites_them_with_the_newest_key(db: Database) -> None:
    def store(*keys: str) -> SealedInstallationStore:
        return SealedInstallationStore("1111.2222", db.engine, SecretBox(keys), {"T1"})

    def installed(token: str, at: float) -> Installation:
        return Installation(app_id="A1", team_id="T1", user_id="U1", bot_token=token, bot_id="B1",
                            bot_user_id="UB1", bot_refresh_token=f"{token}-refresh", user_token=f"{token}-user",
                            installed_at=at)

    await store(OLD).async_save(installed(TOKEN, 1_000.0))
    async with db.engine.connect() as connection:
        raw = (await connection.execute(text(
            "SELECT bot_token, bot_refresh_token, user_token FROM slack_installations"))).all()
    assert len(raw) == 1 and all(v.startswith("enc1:") and "xoxb" not in v for v in raw[0])
    rotated = store(NEW, OLD)
    found = await rotated.async_find_installation(enterprise_id=None, team_id="T1")
    assert found is not None and (found.bot_token, found.user_token) == (TOKEN, f"{TOKEN}-user")
    await rotated.async_save(installed("xoxb-reinstalled", 2_000.0))  # a reinstall is written with the new key
    bot = await store(NEW).async_find_bot(enterprise_id=None, team_id="T1")
    assert bot is not None and bot.bot_token == "xoxb-reinstalled"
    assert bot.bot_refresh_token == "xoxb-reinstalled-refresh"
    with pytest.raises(SecretKeyError, match="can't be decrypted"):
        await store(OLD).async_find_bot(enterprise_id=None, team_id="T1")


# -- migration 0009 ------------------------------------------------------------------------------------------

@pytest.fixture(params=["sqlite", "postgres"])
def at_0008(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database migrated up to 0008, the schema before tokens were encrypted."""
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"
    else:
        base = request.getfixturevalue("postgres_server")
        name = f"m_{uuid.uuid4().hex[:12]}"
        asyncio.run(_create_database(base, name))
        url = f"{base}/{name}"
    upgrade(url, "0008")
    return url


@pytest.fixture
def no_env_key(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv(ENV, raising=False)
    yield


PLAINTEXT_ROWS = [
    "INSERT INTO slack_bots (client_id, app_id, team_id, bot_token, bot_refresh_token, is_enterprise_install, "
    "installed_at) VALUES ('1111.2222', 'A1', 'T1', 'xoxb-old', NULL, false, '2026-01-01 00:00:00')",
    "INSERT INTO slack_installations (client_id, app_id, team_id, user_id, bot_token, user_token, "
    "incoming_webhook_url, is_enterprise_install, installed_at) VALUES ('1111.2222', 'A1', 'T1', 'U1', 'xoxb-old', "
    "'xoxp-old', 'https://hooks.slack.com/services/T1/B1/secret', false, '2026-01-01 00:00:00')",
]


async def _execute(url: str, *statements: str) -> None:
    engine = create_async_engine(url)
    try:
        async with engine.begin() as connection:
            for statement in statements:
                await connection.execute(text(statement))
    finally:
        await engine.dispose()


async def _raw(url: str, table: str, columns: str) -> list[tuple[str, ...]]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            return [tuple(r) for r in (await connection.execute(text(f"SELECT {columns} FROM {table}"))).all()]
    finally:
        await engine.dispose()


def test_the_migration_encrypts_plaintext_tokens(at_0008: str, no_env_key: None) -> None:
    asyncio.run(_execute(at_0008, *PLAINTEXT_ROWS))
    upgrade(at_0008, secret_keys=(NEW,))
    box = SecretBox([NEW])
    ((bot_token, refresh),) = asyncio.run(_raw(at_0008, "slack_bots", "bot_token, bot_refresh_token"))
    assert refresh is None and bot_token.startswith("enc1:") and box.open(bot_token) == "xoxb-old"
    ((bot, user, hook),) = asyncio.run(_raw(at_0008, "slack_installations",
                                            "bot_token, user_token, incoming_webhook_url"))
    assert [box.open(v) for v in (bot, user, hook)] == ["xoxb-old", "xoxp-old",
                                                        "https://hooks.slack.com/services/T1/B1/secret"]
    long_token = "xoxe.xoxb-" + "9" * 180  # a rotating token, sealed, no longer fits the old VARCHAR(200)
    asyncio.run(_execute(at_0008, f"UPDATE slack_bots SET bot_token = '{box.seal(long_token)}'"))


def test_the_migration_reads_the_key_from_the_environment(at_0008: str, monkeypatch: pytest.MonkeyPatch) -> None:
    asyncio.run(_execute(at_0008, *PLAINTEXT_ROWS))
    monkeypatch.setenv(ENV, f"{NEW},{OLD}")
    upgrade(at_0008)
    ((bot_token,),) = asyncio.run(_raw(at_0008, "slack_bots", "bot_token"))
    assert SecretBox([NEW]).open(bot_token) == "xoxb-old"


def test_plaintext_tokens_and_no_key_stop_the_migration_before_any_change(at_0008: str, no_env_key: None) -> None:
    asyncio.run(_execute(at_0008, *PLAINTEXT_ROWS))
    with pytest.raises(SecretKeyError, match=r"needs EARSHOT_SECRET_KEY.*nothing was changed"):
        upgrade(at_0008)
    assert asyncio.run(_raw(at_0008, "slack_bots", "bot_token")) == [("xoxb-old",)]
    assert asyncio.run(_raw(at_0008, "alembic_version", "version_num")) == [("0008",)]


def test_with_no_tokens_the_migration_needs_no_key(at_0008: str, no_env_key: None) -> None:
    upgrade(at_0008)
    assert asyncio.run(_raw(at_0008, "alembic_version", "version_num"))[0][0] >= "0009"

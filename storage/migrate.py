"""Alembic, driven from code: `earshot db upgrade` and start-up both call `upgrade`."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from alembic import command
from alembic.config import Config

from storage.tables.slack import SLACK_SDK_TABLES

MIGRATIONS = Path(__file__).with_name("migrations")


def include_name(name: str | None, type_: str, _parents: dict[str, str | None]) -> bool:
    """What autogenerate compares with the models: not slack_sdk's tables (migration 0007), which have no SQLModel
    model since slack_sdk reads and writes them itself, and would otherwise be proposed for dropping."""
    return not (type_ == "table" and name in SLACK_SDK_TABLES)


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head", *, secret_keys: Sequence[str] = ()) -> None:
    """Bring the database at `url` up to `revision`. Blocking: call it in a thread from async code.
    `secret_keys` (settings.secret_keys) encrypt stored secrets a migration finds in plaintext (0009); without
    them such a migration reads `EARSHOT_SECRET_KEY` from the environment."""
    config = alembic_config(url)
    config.attributes["secret_keys"] = tuple(secret_keys)
    command.upgrade(config, revision)


def current_heads() -> tuple[str, ...]:
    from alembic.script import ScriptDirectory

    return tuple(ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads())

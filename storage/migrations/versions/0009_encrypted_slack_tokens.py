"""encrypted Slack tokens: OAuth tokens in slack_bots and slack_installations are sealed with EARSHOT_SECRET_KEY

The token columns become TEXT (a sealed token is longer than the token), then every plaintext token is
encrypted. The keys come from `storage.migrate.upgrade(secret_keys=...)` (the process's settings, `.env`
included), else from the environment. With plaintext tokens and no key the upgrade stops before changing
anything; with no tokens it needs no key.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 10:00:00
"""

import os
from collections.abc import Callable, Sequence

import sqlalchemy as sa
from alembic import context, op

from storage.secrets import ENV, SecretBox, SecretKeyError, is_sealed, split_keys

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SEALED_COLUMNS = {
    "slack_bots": ("bot_token", "bot_refresh_token"),
    "slack_installations": ("bot_token", "bot_refresh_token", "user_token", "user_refresh_token",
                            "incoming_webhook_url"),
}
"""Must match adapters/slack/oauth.py's SEALED_COLUMNS."""


def upgrade() -> None:
    pending = _rows(_plaintext)
    if pending:
        _rewrite(pending, _plaintext, _box("encrypt the Slack tokens stored in plaintext").seal)
    _retype(sa.String(200), sa.Text())


def downgrade() -> None:
    sealed = _rows(is_sealed)
    if sealed:
        _rewrite(sealed, is_sealed, _box("decrypt the stored Slack tokens").open)
    _retype(sa.Text(), sa.String(200))


Rows = dict[str, list[dict[str, object]]]


def _retype(before: sa.types.TypeEngine[str], after: sa.types.TypeEngine[str]) -> None:
    for table, columns in SEALED_COLUMNS.items():
        with op.batch_alter_table(table) as batch:
            for column in columns:
                batch.alter_column(column, type_=after, existing_type=before)


def _plaintext(value: str) -> bool:
    return not is_sealed(value)


def _rows(wanted: Callable[[str], bool]) -> Rows:
    """Per table, the rows (id and token columns) holding at least one token `wanted` picks."""
    found: Rows = {}
    for name, columns in SEALED_COLUMNS.items():
        table = sa.table(name, sa.column("id"), *(sa.column(c) for c in columns))
        rows = op.get_bind().execute(sa.select(table)).mappings().all()
        found[name] = [dict(row) for row in rows
                       if any(_holds(row[c], wanted) for c in columns)]
    return {name: rows for name, rows in found.items() if rows}


def _holds(value: object, wanted: Callable[[str], bool]) -> bool:
    return isinstance(value, str) and bool(value) and wanted(value)


def _rewrite(rows: Rows, wanted: Callable[[str], bool], change: Callable[[str], str]) -> None:
    for name, table_rows in rows.items():
        columns = SEALED_COLUMNS[name]
        table = sa.table(name, sa.column("id"), *(sa.column(c) for c in columns))
        for row in table_rows:
            values = {c: change(str(row[c])) for c in columns if _holds(row[c], wanted)}
            op.get_bind().execute(sa.update(table).where(table.c.id == row["id"]).values(values))


def _box(doing: str) -> SecretBox:
    keys = tuple(context.config.attributes.get("secret_keys") or ()) or split_keys(os.environ.get(ENV))
    if not keys:
        raise SecretKeyError(f"migration 0009 needs {ENV} to {doing}: set it to the key Earshot runs with "
                             "(it is required in Slack OAuth mode) and upgrade again; nothing was changed")
    return SecretBox(keys)

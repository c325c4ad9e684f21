"""audit log: an append-only, hash-chained record of who read, exported or changed people data

`audit_entry` keeps one row per action (results viewed, exports, digest previews and subscriptions, role grants
and revokes, station and source changes, erasures, purges, sandbox sign-ins): when, who (`platform:user_id`,
`cli` or `system`), what (a dotted action), about what (`pulse:12`), and small facts in `details` — never an
answer, a comment or customer text. `workspace` is the chat workspace the action came from where one platform
serves several (a Slack team), so `/earshot audit` shows HR of one workspace only its own entries. `hash` is
an HMAC-SHA256, keyed from EARSHOT_SECRET_KEY, over the entry and `prev_hash` (the hash of the entry before), so
`earshot audit verify` finds an edited or deleted entry and a copy of the database alone can't rewrite the chain
consistently. Indexed by time (`--since`, retention), actor (`--who`) and action (`--action`).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 18:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import storage.columns

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "audit_entry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", storage.columns.UTCDateTime(timezone=True), nullable=False),
        sa.Column("workspace", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("actor", sqlmodel.sql.sqltypes.AutoString(length=160), nullable=False),
        sa.Column("action", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("subject", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("prev_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("audit_entry") as batch:
        batch.create_index(batch.f("ix_audit_entry_at"), ["at"], unique=False)
        batch.create_index(batch.f("ix_audit_entry_actor"), ["actor"], unique=False)
        batch.create_index(batch.f("ix_audit_entry_action"), ["action"], unique=False)


def downgrade() -> None:
    op.drop_table("audit_entry")

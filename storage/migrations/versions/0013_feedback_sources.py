"""feedback sources: the feedback tools registered with `earshot sources add`, and hourly counts of what each sent

`feedback_source` keeps a tool's kind, options, encrypted secrets (signing secret, secret-URL token, API keys:
sealed under EARSHOT_SECRET_KEY), a pull source's cursor and its last error; `source_tally` counts accepted,
updated, duplicate, rejected and refused (bad signature) deliveries per source and hour. `feedback.updated_at`
keeps a tool's own time of an item's last change, so an older delivery (a replay, a late retry) never rolls back
a newer edit.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 15:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import storage.columns

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "feedback_source",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("secrets", sa.Text(), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("cursor", sa.Text(), nullable=True),
        sa.Column("next_pull_at", storage.columns.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_received_at", storage.columns.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
        sa.Column("last_error_at", storage.columns.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_by", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("created_at", storage.columns.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "source_tally",
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("hour", storage.columns.UTCDateTime(timezone=True), nullable=False),
        sa.Column("accepted", sa.Integer(), nullable=False),
        sa.Column("updated", sa.Integer(), nullable=False),
        sa.Column("duplicates", sa.Integer(), nullable=False),
        sa.Column("rejected", sa.Integer(), nullable=False),
        sa.Column("refused", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["source_id"], ["feedback_source.id"]),
        sa.PrimaryKeyConstraint("source_id", "hour"),
    )
    with op.batch_alter_table("feedback") as batch:
        batch.add_column(sa.Column("updated_at", storage.columns.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("feedback") as batch:
        batch.drop_column("updated_at")
    op.drop_table("source_tally")
    op.drop_table("feedback_source")

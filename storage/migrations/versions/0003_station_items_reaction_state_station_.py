"""station items, reaction state, station removal

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 16:39:08.626354
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import storage.columns

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "feedback_reaction",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("feedback_id", sa.Integer(), nullable=False),
        sa.Column("platform", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("user_id", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("reaction", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("updated_at", storage.columns.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["feedback_id"],
            ["feedback.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("feedback_id", "platform", "user_id", "reaction"),
    )
    with op.batch_alter_table("feedback_reaction", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_feedback_reaction_feedback_id"), ["feedback_id"], unique=False)

    op.create_table(
        "station_item",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("station_id", sa.Integer(), nullable=False),
        sa.Column("feedback_id", sa.Integer(), nullable=False),
        sa.Column("routed_at", storage.columns.UTCDateTime(timezone=True), nullable=False),
        sa.Column("held", sa.Boolean(), nullable=False),
        sa.Column("released_at", storage.columns.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["feedback_id"],
            ["feedback.id"],
        ),
        sa.ForeignKeyConstraint(
            ["station_id"],
            ["station.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("station_id", "feedback_id"),
    )
    with op.batch_alter_table("station_item", schema=None) as batch_op:
        batch_op.create_index("ix_station_item_recent", ["station_id", "routed_at"], unique=False)

    with op.batch_alter_table("station", schema=None) as batch_op:
        batch_op.add_column(sa.Column("removed_at", storage.columns.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("station", schema=None) as batch_op:
        batch_op.drop_column("removed_at")

    with op.batch_alter_table("station_item", schema=None) as batch_op:
        batch_op.drop_index("ix_station_item_recent")

    op.drop_table("station_item")
    with op.batch_alter_table("feedback_reaction", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_feedback_reaction_feedback_id"))

    op.drop_table("feedback_reaction")

"""digest: engagement by time (the weekly digest reads a week of reactions, claims and closed loops from
this covering index alone)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 17:10:00.090267
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("engagement", schema=None) as batch_op:
        batch_op.create_index("ix_engagement_created",
                              ["created_at", "kind", "platform", "channel_id", "user_id", "feedback_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("engagement", schema=None) as batch_op:
        batch_op.drop_index("ix_engagement_created")

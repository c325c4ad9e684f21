"""deployment kind: a database holds the sandbox's demo data or real platforms' data, never both

One row, marked by the first `earshot serve` or `earshot demo` on the database (storage.deployment). Existing
databases stay unmarked until then; that start decides from the rows they hold.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import storage.columns

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "deployment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("marked_at", storage.columns.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("id = 1", name="ck_deployment_one_row"),
        sa.CheckConstraint("kind IN ('sandbox', 'platforms')", name="ck_deployment_kind"),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade() -> None:
    op.drop_table("deployment")

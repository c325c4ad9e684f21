"""erasure tombstones: what keeps an erased customer's feedback from coming back

`erased_feedback` holds one keyed digest (HMAC under EARSHOT_SECRET_KEY) per erased item's source and id and per
erased customer's e-mail address. A feedback tool retries webhooks and pull sources read their history again, so
without it an erased item would be stored (and posted) again by the next delivery; the ingest refuses items
matching a digest. No address, id or word is kept: without the key a digest names nobody.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 19:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import storage.columns

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "erased_feedback",
        sa.Column("digest", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("erased_at", storage.columns.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("digest"),
    )


def downgrade() -> None:
    op.drop_table("erased_feedback")

"""sealed answers: an anonymous answer waits in its participation row, sealed, until it is published in a batch

`participation.sealed` holds the answer of an anonymous pulse, encrypted under a key kept outside the database
(bot/pulses/sealing.py), from the vote until it joins the results in a shuffled batch of at least the anonymity
minimum (bot/pulses/publishing.py); a partial index finds the runs with answers waiting. `pulse_run.minimum`
keeps the anonymity minimum a run opened with, the one its card promised. Inbound-event dedupe
keys are now keyed digests (bot/core.py), so the ones stored in clear before, which named the conversation an
event came from, are dropped: they only stop a platform's resend of an event handled before the upgrade.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WAITING = "sealed IS NOT NULL"


def upgrade() -> None:
    with op.batch_alter_table("participation", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sealed", sa.Text(), nullable=True))
    op.create_index("ix_participation_sealed", "participation", ["run_id"], unique=False,
                    sqlite_where=sa.text(WAITING), postgresql_where=sa.text(WAITING))
    with op.batch_alter_table("pulse_run", schema=None) as batch_op:
        batch_op.add_column(sa.Column("minimum", sa.Integer(), nullable=True))
    op.execute("DELETE FROM processed_event")


def downgrade() -> None:
    op.drop_index("ix_participation_sealed", table_name="participation",
                  sqlite_where=sa.text(WAITING), postgresql_where=sa.text(WAITING))
    with op.batch_alter_table("participation", schema=None) as batch_op:
        batch_op.drop_column("sealed")
    with op.batch_alter_table("pulse_run", schema=None) as batch_op:
        batch_op.drop_column("minimum")

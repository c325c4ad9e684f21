"""workspace scope: stations, pulses and digest subscriptions remember the workspace they were made in

With Slack OAuth installs one Earshot serves several workspaces, and each sees only its own (bot.events.Event
.workspace). Slack rows made before are given the workspace their channel was last seen in
(slack_conversation_team: the team, or the Enterprise Grid org of an org-wide install); the others stay NULL,
the workspace of platforms that have none.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 11:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("station", "pulse", "digest_subscription")


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("workspace", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
        op.execute(f"UPDATE {table} SET workspace = (SELECT COALESCE(t.team_id, t.enterprise_id) "
                   f"FROM slack_conversation_team t WHERE t.conversation_id = {table}.channel_id) "
                   "WHERE platform = 'slack'")


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("workspace")

"""anonymous answers keep no order (no sequential ids, no rowid on SQLite); runs remember reminders
and audience size; the sandbox stores no ephemeral messages

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 17:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import storage.columns

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _participation(name: str) -> sa.Table:
    return op.create_table(
        name,
        sa.Column("run_id", sa.Integer(), sa.ForeignKey("pulse_run.id"), primary_key=True),
        sa.Column("question_id", sa.Integer(), sa.ForeignKey("question.id"), primary_key=True),
        sa.Column("platform", sqlmodel.sql.sqltypes.AutoString(length=16), primary_key=True),
        sa.Column("user_id", sqlmodel.sql.sqltypes.AutoString(length=128), primary_key=True),
        sqlite_with_rowid=False,
    )


def _response(name: str) -> sa.Table:
    return op.create_table(
        name,
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=32), primary_key=True),
        sa.Column("run_id", sa.Integer(), sa.ForeignKey("pulse_run.id"), nullable=False, index=True),
        sa.Column("question_id", sa.Integer(), sa.ForeignKey("question.id"), nullable=False),
        sa.Column("respondent_id", sqlmodel.sql.sqltypes.AutoString(length=160), nullable=True),
        sa.Column("value", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("answered_on", sa.Date(), nullable=False),
        sa.UniqueConstraint("run_id", "question_id", "respondent_id"),
        sqlite_with_rowid=False,
    )


def upgrade() -> None:
    with op.batch_alter_table("sandbox_message") as batch_op:  # ephemeral messages are not stored, as in Slack
        batch_op.drop_column("ephemeral_to")

    with op.batch_alter_table("pulse_run") as batch_op:
        batch_op.add_column(sa.Column("reminded_at", storage.columns.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("audience_size", sa.Integer(), nullable=True))

    _participation("participation_new")
    op.execute("INSERT INTO participation_new (run_id, question_id, platform, user_id) "
               "SELECT DISTINCT run_id, question_id, platform, user_id FROM participation")
    op.drop_table("participation")
    op.rename_table("participation_new", "participation")

    op.drop_index("ix_response_run_id", table_name="response")
    _response("response_new")
    op.execute("INSERT INTO response_new (id, run_id, question_id, respondent_id, value, comment, answered_on) "
               "SELECT id, run_id, question_id, respondent_id, value, comment, answered_on FROM response")
    op.drop_table("response")
    op.rename_table("response_new", "response")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER INDEX ix_response_new_run_id RENAME TO ix_response_run_id")
    else:
        op.drop_index("ix_response_new_run_id", table_name="response")
        op.create_index("ix_response_run_id", "response", ["run_id"])


def downgrade() -> None:
    raise NotImplementedError("0004 removes ordering information on purpose; restore from a backup instead")

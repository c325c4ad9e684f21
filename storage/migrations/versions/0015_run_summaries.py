"""run summaries: the figures of a closed pulse run that outlive its answers

When retention removes a closed run's answers, comments and participation rows, `run_summary` (respondents, the
minimum applied, the distinct people the digest counts), `run_summary_question` (each question's counts per option
as the results card showed them, none where a minimum hid them) and `run_summary_week` (the digest's answers per
value and ISO week of scored questions, a week under the minimum only as its size) keep the run's results card,
its pulse's trend and the weekly digest's employee figures as they were. No comment, answer or person is kept.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 19:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import storage.columns

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "run_summary",
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("respondents", sa.Integer(), nullable=False),
        sa.Column("minimum", sa.Integer(), nullable=False),
        sa.Column("below_minimum", sa.Boolean(), nullable=False),
        sa.Column("people", sa.Integer(), nullable=False),
        sa.Column("people_large", sa.Integer(), nullable=False),
        sa.Column("kept_at", storage.columns.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["pulse_run.id"]),
        sa.PrimaryKeyConstraint("run_id"),
    )
    op.create_table(
        "run_summary_question",
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("question_id", sa.Integer(), nullable=False),
        sa.Column("answered", sa.Integer(), nullable=False),
        sa.Column("hidden", sa.Boolean(), nullable=False),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.Column("comments", sa.Integer(), nullable=False),
        sa.Column("comments_hidden", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["question_id"], ["question.id"]),
        sa.ForeignKeyConstraint(["run_id"], ["run_summary.run_id"]),
        sa.PrimaryKeyConstraint("run_id", "question_id"),
    )
    op.create_table(
        "run_summary_week",
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("question_id", sa.Integer(), nullable=False),
        sa.Column("week", sa.Date(), nullable=False),
        sa.Column("value", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column("answers", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["question_id"], ["question.id"]),
        sa.ForeignKeyConstraint(["run_id"], ["run_summary.run_id"]),
        sa.PrimaryKeyConstraint("run_id", "question_id", "week", "value"),
    )


def downgrade() -> None:
    op.drop_table("run_summary_week")
    op.drop_table("run_summary_question")
    op.drop_table("run_summary")

"""digest: indexes that cover each of the weekly digest's queries, in the order it reads them: a week's feedback
(in id order within a time), an item's engagement by channel, a channel's engagement by time, a run's answers by
question, day and value (instead of by run alone), and the few answers with a comment

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COMMENTED = sa.text("comment IS NOT NULL")


def upgrade() -> None:
    op.drop_index("ix_feedback_received", table_name="feedback")
    op.create_index("ix_feedback_received", "feedback",
                    ["received_at", "id", "product_area", "source", "score_type", "score"])
    op.drop_index("ix_engagement_feedback", table_name="engagement")
    op.create_index("ix_engagement_feedback", "engagement",
                    ["feedback_id", "platform", "channel_id", "kind", "created_at"])
    op.create_index("ix_engagement_channel", "engagement",
                    ["platform", "channel_id", "created_at", "kind", "user_id", "feedback_id"])
    op.drop_index("ix_response_run_id", table_name="response")
    op.create_index("ix_response_answers", "response", ["run_id", "question_id", "answered_on", "value"])
    op.create_index("ix_response_comments", "response", ["run_id", "answered_on"], sqlite_where=_COMMENTED,
                    postgresql_where=_COMMENTED)


def downgrade() -> None:
    op.drop_index("ix_response_comments", table_name="response")
    op.drop_index("ix_response_answers", table_name="response")
    op.create_index("ix_response_run_id", "response", ["run_id"])
    op.drop_index("ix_engagement_channel", table_name="engagement")
    op.drop_index("ix_engagement_feedback", table_name="engagement")
    op.create_index("ix_engagement_feedback", "engagement", ["feedback_id", "kind"])
    op.drop_index("ix_feedback_received", table_name="feedback")
    op.create_index("ix_feedback_received", "feedback", ["received_at"])

"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-23 16:27:01.569852
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import storage.columns

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "conversation_ref",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("platform", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("conversation_id", sqlmodel.sql.sqltypes.AutoString(length=512), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("user_id", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True),
        sa.Column("reference", sa.Text(), nullable=False),
        sa.Column("updated_at", storage.columns.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("platform", "conversation_id"),
    )
    with op.batch_alter_table("conversation_ref", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_conversation_ref_user_id"), ["user_id"], unique=False)

    op.create_table(
        "delivery",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dedupe_key", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column("platform", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("target", sa.JSON(), nullable=True),
        sa.Column("pace_key", sqlmodel.sql.sqltypes.AutoString(length=600), nullable=False),
        sa.Column("card", sa.JSON(), nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("subject_kind", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
        sa.Column("subject_id", sa.Integer(), nullable=True),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", storage.columns.UTCDateTime(timezone=True), nullable=False),
        sa.Column("lease_until", storage.columns.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
        sa.Column("message_channel", sqlmodel.sql.sqltypes.AutoString(length=512), nullable=True),
        sa.Column("message_id", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("created_by", sqlmodel.sql.sqltypes.AutoString(length=160), nullable=True),
        sa.Column("created_at", storage.columns.UTCDateTime(timezone=True), nullable=False),
        sa.Column("sent_at", storage.columns.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["parent_id"],
            ["delivery.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("dedupe_key"),
    )
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.create_index("ix_delivery_due", ["status", "next_attempt_at"], unique=False)
        batch_op.create_index("ix_delivery_message", ["platform", "message_channel", "message_id"], unique=False)
        batch_op.create_index("ix_delivery_subject", ["subject_kind", "subject_id"], unique=False)

    op.create_table(
        "digest_subscription",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("platform", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("channel_id", sqlmodel.sql.sqltypes.AutoString(length=512), nullable=False),
        sa.Column("weekday", sa.Integer(), nullable=False),
        sa.Column("at", sa.Time(), nullable=False),
        sa.Column("timezone", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("created_by", sqlmodel.sql.sqltypes.AutoString(length=160), nullable=False),
        sa.Column("created_at", storage.columns.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "feedback",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("external_id", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("score_type", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=True),
        sa.Column("customer", sa.JSON(), nullable=True),
        sa.Column("segment", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("product_area", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
        sa.Column("language", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
        sa.Column("url", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=True),
        sa.Column("created_at", storage.columns.UTCDateTime(timezone=True), nullable=False),
        sa.Column("received_at", storage.columns.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("source", "external_id"),
    )
    with op.batch_alter_table("feedback", schema=None) as batch_op:
        batch_op.create_index("ix_feedback_received", ["received_at"], unique=False)

    op.create_table(
        "person",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("platform", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("user_id", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("display_name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("timezone", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("unreachable", sa.Boolean(), nullable=False),
        sa.Column("unreachable_reason", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("updated_at", storage.columns.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("platform", "user_id"),
    )
    op.create_table(
        "processed_event",
        sa.Column("key", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column("seen_at", storage.columns.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    with op.batch_alter_table("processed_event", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_processed_event_seen_at"), ["seen_at"], unique=False)

    op.create_table(
        "pulse",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("platform", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("channel_id", sqlmodel.sql.sqltypes.AutoString(length=512), nullable=False),
        sa.Column("author_id", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("title", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column("anonymous", sa.Boolean(), nullable=False),
        sa.Column("results_live", sa.Boolean(), nullable=False),
        sa.Column("audience", sa.JSON(), nullable=False),
        sa.Column("recurrence", sa.JSON(), nullable=True),
        sa.Column("timezone", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("close_after_minutes", sa.Integer(), nullable=True),
        sa.Column("remind_after_minutes", sa.Integer(), nullable=True),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
        sa.Column("created_at", storage.columns.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "role_grant",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("platform", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("user_id", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("role", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("granted_by", sqlmodel.sql.sqltypes.AutoString(length=160), nullable=True),
        sa.Column("granted_at", storage.columns.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("platform", "user_id", "role"),
    )
    op.create_table(
        "sandbox_channel",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "sandbox_message",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("thread_id", sa.Integer(), nullable=True),
        sa.Column("author_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("ephemeral_to", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("card", sa.JSON(), nullable=False),
        sa.Column("reactions", sa.JSON(), nullable=False),
        sa.Column("edited", sa.Boolean(), nullable=False),
        sa.Column("created_at", storage.columns.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("sandbox_message", schema=None) as batch_op:
        batch_op.create_index("ix_sandbox_message_channel", ["channel_id", "id"], unique=False)

    op.create_table(
        "station",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("platform", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("channel_id", sqlmodel.sql.sqltypes.AutoString(length=512), nullable=False),
        sa.Column("filters", sa.JSON(), nullable=False),
        sa.Column("paused", sa.Boolean(), nullable=False),
        sa.Column("cap_per_hour", sa.Integer(), nullable=True),
        sa.Column("quiet_hours", sa.JSON(), nullable=True),
        sa.Column("created_by", sqlmodel.sql.sqltypes.AutoString(length=160), nullable=False),
        sa.Column("created_at", storage.columns.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("station", schema=None) as batch_op:
        batch_op.create_index("ix_station_channel", ["platform", "channel_id"], unique=False)

    op.create_table(
        "claim",
        sa.Column("feedback_id", sa.Integer(), nullable=False),
        sa.Column("platform", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("user_id", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("claimed_at", storage.columns.UTCDateTime(timezone=True), nullable=False),
        sa.Column("done_at", storage.columns.UTCDateTime(timezone=True), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["feedback_id"],
            ["feedback.id"],
        ),
        sa.PrimaryKeyConstraint("feedback_id"),
    )
    op.create_table(
        "digest_run",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subscription_id", sa.Integer(), nullable=False),
        sa.Column("week", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("sent_at", storage.columns.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["digest_subscription.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("subscription_id", "week"),
    )
    op.create_table(
        "engagement",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_key", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column("feedback_id", sa.Integer(), nullable=False),
        sa.Column("platform", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("channel_id", sqlmodel.sql.sqltypes.AutoString(length=512), nullable=False),
        sa.Column("user_id", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("value", sa.Text(), nullable=True),
        sa.Column("created_at", storage.columns.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["feedback_id"],
            ["feedback.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("event_key"),
    )
    with op.batch_alter_table("engagement", schema=None) as batch_op:
        batch_op.create_index("ix_engagement_feedback", ["feedback_id", "kind"], unique=False)

    op.create_table(
        "pulse_run",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("pulse_id", sa.Integer(), nullable=False),
        sa.Column("scheduled_for", storage.columns.UTCDateTime(timezone=True), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("opened_at", storage.columns.UTCDateTime(timezone=True), nullable=False),
        sa.Column("closes_at", storage.columns.UTCDateTime(timezone=True), nullable=True),
        sa.Column("closed_at", storage.columns.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["pulse_id"],
            ["pulse.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("pulse_id", "scheduled_for"),
    )
    op.create_table(
        "question",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("pulse_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
        sa.Column("prompt", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("allow_comment", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["pulse_id"],
            ["pulse.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("pulse_id", "position"),
    )
    op.create_table(
        "sandbox_member",
        sa.Column("channel_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("user_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["channel_id"],
            ["sandbox_channel.id"],
        ),
        sa.PrimaryKeyConstraint("channel_id", "user_id"),
    )
    op.create_table(
        "participation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("question_id", sa.Integer(), nullable=False),
        sa.Column("platform", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("user_id", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.ForeignKeyConstraint(
            ["question_id"],
            ["question.id"],
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["pulse_run.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("run_id", "question_id", "platform", "user_id"),
    )
    with op.batch_alter_table("participation", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_participation_run_id"), ["run_id"], unique=False)

    op.create_table(
        "response",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("question_id", sa.Integer(), nullable=False),
        sa.Column("respondent_id", sqlmodel.sql.sqltypes.AutoString(length=160), nullable=True),
        sa.Column("value", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("answered_on", sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(
            ["question_id"],
            ["question.id"],
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["pulse_run.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("run_id", "question_id", "respondent_id"),
    )
    with op.batch_alter_table("response", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_response_run_id"), ["run_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("response", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_response_run_id"))

    op.drop_table("response")
    with op.batch_alter_table("participation", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_participation_run_id"))

    op.drop_table("participation")
    op.drop_table("sandbox_member")
    op.drop_table("question")
    op.drop_table("pulse_run")
    with op.batch_alter_table("engagement", schema=None) as batch_op:
        batch_op.drop_index("ix_engagement_feedback")

    op.drop_table("engagement")
    op.drop_table("digest_run")
    op.drop_table("claim")
    with op.batch_alter_table("station", schema=None) as batch_op:
        batch_op.drop_index("ix_station_channel")

    op.drop_table("station")
    with op.batch_alter_table("sandbox_message", schema=None) as batch_op:
        batch_op.drop_index("ix_sandbox_message_channel")

    op.drop_table("sandbox_message")
    op.drop_table("sandbox_channel")
    op.drop_table("role_grant")
    op.drop_table("pulse")
    with op.batch_alter_table("processed_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_processed_event_seen_at"))

    op.drop_table("processed_event")
    op.drop_table("person")
    with op.batch_alter_table("feedback", schema=None) as batch_op:
        batch_op.drop_index("ix_feedback_received")

    op.drop_table("feedback")
    op.drop_table("digest_subscription")
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.drop_index("ix_delivery_subject")
        batch_op.drop_index("ix_delivery_message")
        batch_op.drop_index("ix_delivery_due")

    op.drop_table("delivery")
    with op.batch_alter_table("conversation_ref", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_conversation_ref_user_id"))

    op.drop_table("conversation_ref")

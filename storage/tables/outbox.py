"""The outbox of pending deliveries, and the inbound events already handled."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index
from sqlmodel import Field, SQLModel

from storage.columns import UTCDateTime, utcnow


class Delivery(SQLModel, table=True):
    """One message to send or one card to update, committed before any attempt.

    `status`: pending → sending (leased until `lease_until`) → sent | failed. `subject_kind`/`subject_id`
    say what the message is about (a feedback item, a pulse run), so reactions on it can be traced back.
    """

    __tablename__ = "delivery"
    __table_args__ = (
        Index("ix_delivery_due", "status", "next_attempt_at"),
        Index("ix_delivery_message", "platform", "message_channel", "message_id"),
        Index("ix_delivery_subject", "subject_kind", "subject_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    dedupe_key: str = Field(max_length=300, unique=True)
    platform: str = Field(max_length=16)
    kind: str = Field(max_length=8)  # send | update
    target: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON(none_as_null=True)))
    pace_key: str = Field(max_length=600)
    card: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    parent_id: int | None = Field(default=None, foreign_key="delivery.id")
    subject_kind: str | None = Field(default=None, max_length=16)
    subject_id: int | None = None
    status: str = Field(default="pending", max_length=8)
    attempts: int = 0
    next_attempt_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    lease_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_error: str | None = Field(default=None, max_length=500)
    message_channel: str | None = Field(default=None, max_length=512)
    message_id: str | None = Field(default=None, max_length=200)
    created_by: str | None = Field(default=None, max_length=160)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class ProcessedEvent(SQLModel, table=True):
    """Inbound platform events already handled, so a resend (Slack's X-Slack-Retry-Num) is a no-op.

    `key` is a keyed digest of `<platform>:<kind>:<event id>` (bot/core.py), never the id itself: event ids name
    conversations and people. `seen_at` is floored to the minute, and rows expire after the platforms' retry
    window (bot.core.RETRY_WINDOW): a row tells neither whose event it was nor, finer than a minute, when."""

    __tablename__ = "processed_event"

    key: str = Field(max_length=300, primary_key=True)
    """40 hex digits (storage.secrets.keyed_digest)."""
    seen_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)

"""Weekly digest subscriptions and the runs claimed once per (subscription, ISO week)."""

from __future__ import annotations

from datetime import datetime, time

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from storage.columns import UTCDateTime, utcnow


class DigestSubscription(SQLModel, table=True):
    __tablename__ = "digest_subscription"

    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(max_length=16)
    channel_id: str = Field(max_length=512)
    workspace: str | None = Field(default=None, max_length=64)  # bot.events.Event.workspace
    weekday: int = Field(ge=0, le=6)  # Monday = 0
    at: time
    timezone: str = Field(max_length=64)
    created_by: str = Field(max_length=160)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class DigestRun(SQLModel, table=True):
    __tablename__ = "digest_run"
    __table_args__ = (UniqueConstraint("subscription_id", "week"),)

    id: int | None = Field(default=None, primary_key=True)
    subscription_id: int = Field(foreign_key="digest_subscription.id")
    week: str = Field(max_length=8)  # 2026-W47
    sent_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)

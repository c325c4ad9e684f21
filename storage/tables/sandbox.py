"""The sandbox workspace's own state: its channels, members and the messages in them.

The sandbox plays the platform, so these are what Slack or Teams would hold on their side.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index
from sqlmodel import Field, SQLModel

from storage.columns import UTCDateTime, utcnow


class SandboxChannel(SQLModel, table=True):
    __tablename__ = "sandbox_channel"

    id: str = Field(primary_key=True, max_length=64)
    name: str = Field(max_length=100)
    kind: str = Field(default="channel", max_length=8)  # channel | dm


class SandboxMember(SQLModel, table=True):
    __tablename__ = "sandbox_member"

    channel_id: str = Field(foreign_key="sandbox_channel.id", primary_key=True, max_length=64)
    user_id: str = Field(primary_key=True, max_length=64)


class SandboxMessage(SQLModel, table=True):
    __tablename__ = "sandbox_message"
    __table_args__ = (Index("ix_sandbox_message_channel", "channel_id", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    channel_id: str = Field(max_length=64)
    thread_id: int | None = None
    author_id: str = Field(max_length=64)
    card: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    reactions: dict[str, list[str]] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    edited: bool = False
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)

"""People as each platform knows them, their roles, and stored conversation references (Teams)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from storage.columns import UTCDateTime, utcnow


class Person(SQLModel, table=True):
    __tablename__ = "person"
    __table_args__ = (UniqueConstraint("platform", "user_id"),)

    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(max_length=16)
    user_id: str = Field(max_length=128)
    display_name: str | None = Field(default=None, max_length=200)
    timezone: str | None = Field(default=None, max_length=64)
    unreachable: bool = False
    unreachable_reason: str | None = Field(default=None, max_length=200)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class RoleGrant(SQLModel, table=True):
    """admin, manager or hr; a person may hold several."""

    __tablename__ = "role_grant"
    __table_args__ = (UniqueConstraint("platform", "user_id", "role"),)

    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(max_length=16)
    user_id: str = Field(max_length=128)
    role: str = Field(max_length=16)
    granted_by: str | None = Field(default=None, max_length=160)
    granted_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class ConversationRef(SQLModel, table=True):
    """What a platform needs to message a conversation later (a Teams ConversationReference as JSON)."""

    __tablename__ = "conversation_ref"
    __table_args__ = (UniqueConstraint("platform", "conversation_id"),)

    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(max_length=16)
    conversation_id: str = Field(max_length=512)
    kind: str = Field(max_length=16)  # channel | group | personal
    user_id: str | None = Field(default=None, max_length=128, index=True)
    reference: str = Field(sa_column=Column(Text, nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)

"""Feedback tools registered as sources (`earshot sources add`): their settings, encrypted secrets, pull cursor
and hourly counts of what each delivered."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Text
from sqlmodel import Field, SQLModel

from storage.columns import UTCDateTime, utcnow


class FeedbackSource(SQLModel, table=True):
    """One registered tool. `name` is also the `source` of every item it delivers (what `source:` filters
    match). `secrets` is a SecretBox-sealed JSON object (signing secret, URL token, API keys): nothing in it is
    readable from a copy of the database without EARSHOT_SECRET_KEY."""

    __tablename__ = "feedback_source"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100, unique=True)
    kind: str = Field(max_length=32)
    secrets: str = Field(sa_column=Column(Text, nullable=False))
    options: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    cursor: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    """A pull source's place in the tool's API (its own format, JSON text), saved after each page stored."""
    next_pull_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    """When a pull source may call the tool again (its schedule, or a 429's Retry-After)."""
    last_received_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_error: str | None = Field(default=None, max_length=500)
    last_error_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_by: str | None = Field(default=None, max_length=200)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class SourceTally(SQLModel, table=True):
    """What one source delivered in one hour, for `earshot sources list` (its last 24 hours)."""

    __tablename__ = "source_tally"

    source_id: int = Field(primary_key=True, foreign_key="feedback_source.id")
    hour: datetime = Field(primary_key=True, sa_type=UTCDateTime)
    accepted: int = 0
    updated: int = 0
    duplicates: int = 0
    rejected: int = 0
    refused: int = 0
    """Requests whose signature, token or secret URL was wrong: answered 401 and never stored."""

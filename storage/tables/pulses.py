"""Pulse checks. Anonymity is structural: `Response` rows of anonymous pulses hold no person, no
sequential id and only the day they were published, and `Participation` (who answered) shares no key with them;
an anonymous answer waits sealed in its participation row until it is published with others'."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, Text, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from storage.columns import UTCDateTime, utcnow


class Pulse(SQLModel, table=True):
    __tablename__ = "pulse"

    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(max_length=16)
    channel_id: str = Field(max_length=512)
    workspace: str | None = Field(default=None, max_length=64)  # bot.events.Event.workspace
    author_id: str = Field(max_length=128)
    title: str = Field(max_length=300)
    anonymous: bool = False
    results_live: bool = True
    audience: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    recurrence: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON(none_as_null=True)))
    timezone: str = Field(default="UTC", max_length=64)
    close_after_minutes: int | None = None
    remind_after_minutes: int | None = None
    status: str = Field(default="active", max_length=12)  # active | ended
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Question(SQLModel, table=True):
    __tablename__ = "question"
    __table_args__ = (UniqueConstraint("pulse_id", "position"),)

    id: int | None = Field(default=None, primary_key=True)
    pulse_id: int = Field(foreign_key="pulse.id")
    position: int
    kind: str = Field(max_length=12)  # single | multi | scale | enps | yesno | text
    prompt: str = Field(max_length=500)
    options: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    allow_comment: bool = False


class PulseRun(SQLModel, table=True):
    """One firing of a pulse; the unique (pulse, scheduled_for) makes a double fire harmless."""

    __tablename__ = "pulse_run"
    __table_args__ = (UniqueConstraint("pulse_id", "scheduled_for"),)

    id: int | None = Field(default=None, primary_key=True)
    pulse_id: int = Field(foreign_key="pulse.id")
    scheduled_for: datetime = Field(sa_type=UTCDateTime)
    status: str = Field(default="open", max_length=8)  # open | closed
    opened_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    closes_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    closed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    reminded_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    audience_size: int | None = None
    minimum: int | None = None
    """EARSHOT_ANON_MIN when the run opened: its anonymous answers are published, and its figures shown, by this
    minimum, the one its card promised, whatever the setting later (NULL: opened before it was kept)."""


class Response(SQLModel, table=True):
    """An answer. `respondent_id` is NULL for anonymous pulses and the id is random, not sequential. Anonymous
    answers arrive only in shuffled batches of at least the anonymity minimum, dated the day they were published
    (bot/pulses/publishing.py)."""

    __tablename__ = "response"
    __table_args__ = (UniqueConstraint("run_id", "question_id", "respondent_id"),
                      # a run's answers by question, day and value: tallies count them from the index alone
                      Index("ix_response_answers", "run_id", "question_id", "answered_on", "value"),
                      # the few answers with a comment, so the digest finds comments without reading every answer
                      Index("ix_response_comments", "run_id", "answered_on", sqlite_where=text("comment IS NOT NULL"),
                            postgresql_where=text("comment IS NOT NULL")),
                      {"sqlite_with_rowid": False})

    id: str = Field(default_factory=lambda: uuid.uuid4().hex, primary_key=True, max_length=32)
    run_id: int = Field(foreign_key="pulse_run.id")
    question_id: int = Field(foreign_key="question.id")
    respondent_id: str | None = Field(default=None, max_length=160)
    value: str = Field(max_length=500)
    comment: str | None = Field(default=None, sa_column=Column(Text))
    answered_on: date


class Participation(SQLModel, table=True):
    """Who has answered a run: for reminders and one-answer-per-person only, never joined to answers. An
    anonymous answer waits here, `sealed` under a key kept outside the database, until it is published with
    others' into `response` (bot/pulses/publishing.py); then `sealed` is NULL, as it always is for named ones."""

    __tablename__ = "participation"
    __table_args__ = (Index("ix_participation_sealed", "run_id", sqlite_where=text("sealed IS NOT NULL"),
                            postgresql_where=text("sealed IS NOT NULL")),
                      {"sqlite_with_rowid": False})

    run_id: int = Field(foreign_key="pulse_run.id", primary_key=True)
    question_id: int = Field(foreign_key="question.id", primary_key=True)
    platform: str = Field(max_length=16, primary_key=True)
    user_id: str = Field(max_length=128, primary_key=True)
    sealed: str | None = Field(default=None, sa_column=Column(Text))

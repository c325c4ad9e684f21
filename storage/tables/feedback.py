"""Customer feedback, the stations that subscribe channels to it, and how employees engaged with it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from storage.columns import UTCDateTime, utcnow


class Feedback(SQLModel, table=True):
    __tablename__ = "feedback"
    __table_args__ = (UniqueConstraint("source", "external_id"),
                      # covers the digest's weekly figures; `id` right after the time keeps a week's items in
                      # id order, which the per-item engagement join streams through without sorting
                      Index("ix_feedback_received", "received_at", "id", "product_area", "source", "score_type",
                            "score"))

    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(max_length=100)
    external_id: str = Field(max_length=200)
    text: str = Field(sa_column=Column(Text, nullable=False))
    score: float | None = None
    score_type: str | None = Field(default=None, max_length=8)
    customer: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON(none_as_null=True)))
    segment: str | None = Field(default=None, max_length=100)
    tags: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    product_area: str | None = Field(default=None, max_length=100)
    language: str | None = Field(default=None, max_length=16)
    url: str | None = Field(default=None, max_length=2000)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    received_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    """The tool's own time of the item's last change, when it gives one: an older delivery never replaces a newer."""


class Station(SQLModel, table=True):
    """A channel's subscription to feedback; `filters` empty means everything."""

    __tablename__ = "station"
    __table_args__ = (Index("ix_station_channel", "platform", "channel_id"),)

    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(max_length=16)
    channel_id: str = Field(max_length=512)
    workspace: str | None = Field(default=None, max_length=64)  # bot.events.Event.workspace
    filters: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    paused: bool = False
    cap_per_hour: int | None = None
    quiet_hours: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON(none_as_null=True)))
    created_by: str = Field(max_length=160)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    removed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class Engagement(SQLModel, table=True):
    """Every reaction, un-reaction, comment, claim and closed loop, once each (`event_key` is unique)."""

    __tablename__ = "engagement"
    __table_args__ = (# an item's engagement channel by channel: the digest's per-item figures read only this
                      Index("ix_engagement_feedback", "feedback_id", "platform", "channel_id", "kind", "created_at"),
                      # covers the digest's weekly scans, which then never read the table itself
                      Index("ix_engagement_created", "created_at", "kind", "platform", "channel_id", "user_id",
                            "feedback_id"),
                      # one channel's week: the digest's per-channel counts and top items read only this
                      Index("ix_engagement_channel", "platform", "channel_id", "created_at", "kind", "user_id",
                            "feedback_id"))

    id: int | None = Field(default=None, primary_key=True)
    event_key: str = Field(max_length=300, unique=True)
    feedback_id: int = Field(foreign_key="feedback.id")
    platform: str = Field(max_length=16)
    channel_id: str = Field(max_length=512)
    user_id: str = Field(max_length=128)
    kind: str = Field(max_length=16)  # reaction | unreaction | comment | claim | done
    value: str | None = Field(default=None, sa_column=Column(Text))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Claim(SQLModel, table=True):
    """"I'll follow up": at most one owner per feedback item, and the note when the loop is closed."""

    __tablename__ = "claim"

    feedback_id: int = Field(foreign_key="feedback.id", primary_key=True)
    platform: str = Field(max_length=16)
    user_id: str = Field(max_length=128)
    claimed_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    done_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    note: str | None = Field(default=None, sa_column=Column(Text))


class StationItem(SQLModel, table=True):
    """An item routed to a station with a cap or quiet hours: sent as its own card, or `held` until a roll-up
    message folds it in (`released_at`). Stations without limits keep no such log; their cards are in the
    outbox."""

    __tablename__ = "station_item"
    __table_args__ = (UniqueConstraint("station_id", "feedback_id"),
                      Index("ix_station_item_recent", "station_id", "routed_at"))

    id: int | None = Field(default=None, primary_key=True)
    station_id: int = Field(foreign_key="station.id")
    feedback_id: int = Field(foreign_key="feedback.id")
    routed_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    held: bool = False
    released_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class FeedbackReaction(SQLModel, table=True):
    """Who currently holds which reaction on an item (named buttons and emoji alike); `Engagement` keeps
    the history."""

    __tablename__ = "feedback_reaction"
    __table_args__ = (UniqueConstraint("feedback_id", "platform", "user_id", "reaction"),)

    id: int | None = Field(default=None, primary_key=True)
    feedback_id: int = Field(foreign_key="feedback.id", index=True)
    platform: str = Field(max_length=16)
    user_id: str = Field(max_length=128)
    reaction: str = Field(max_length=64)
    active: bool = True
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)

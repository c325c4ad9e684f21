"""What erasures leave behind so an erased customer's feedback stays out: keyed digests, never the address or id."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from storage.columns import UTCDateTime, utcnow


class ErasedFeedback(SQLModel, table=True):
    """A tombstone: the keyed digest (bot.governance.tombstones) of an erased item's (source, id) or of an erased
    customer's e-mail address. The ingest refuses items that match one, so a tool's retry or a later pull never
    brings the words back; without the key nobody can tell whose they are or test a guess."""

    __tablename__ = "erased_feedback"

    digest: str = Field(primary_key=True, max_length=40)
    erased_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)

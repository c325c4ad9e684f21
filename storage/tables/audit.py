"""The audit log: who read, exported or changed people data, one hash-chained row per action."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel

from storage.columns import UTCDateTime, utcnow


class AuditEntry(SQLModel, table=True):
    """One action on people data. `id` is the chain's order: each entry's `hash` is an HMAC (keyed from
    EARSHOT_SECRET_KEY) over its fields and `prev_hash`, the hash of entry `id - 1`. `workspace`: the chat
    workspace the action came from, where a platform serves several, so each one's HR reads only its own. Written
    only by bot.governance.audit; `details` holds small facts (a format, a count), never an answer, a comment or
    customer text."""

    __tablename__ = "audit_entry"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    workspace: str | None = Field(default=None, max_length=64)  # bot.events.Event.workspace; None: no chat's own
    actor: str = Field(max_length=160, index=True)
    action: str = Field(max_length=64, index=True)
    subject: str = Field(default="", max_length=200)
    details: dict[str, str | int | float | bool | None] = Field(default_factory=dict,
                                                                 sa_column=Column(JSON, nullable=False))
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)

"""Files the core made for someone (a pulse's CSV export), referenced from cards as `file:<id>`."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Column, LargeBinary
from sqlmodel import Field, SQLModel

from storage.columns import UTCDateTime, utcnow


class StoredFile(SQLModel, table=True):
    __tablename__ = "stored_file"

    id: str = Field(default_factory=lambda: uuid.uuid4().hex, primary_key=True, max_length=32)
    name: str = Field(max_length=200)
    mime: str = Field(max_length=100)
    data: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)

"""Chart images (PNG) the core rendered, referenced from cards as `chart:<id>`."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Column, LargeBinary
from sqlmodel import Field, SQLModel

from storage.columns import UTCDateTime, utcnow


class Chart(SQLModel, table=True):
    __tablename__ = "chart"

    id: str = Field(default_factory=lambda: uuid.uuid4().hex, primary_key=True, max_length=32)
    png: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)

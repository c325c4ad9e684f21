"""What a database serves: the sandbox's demo data or real platforms' data, never both (storage.deployment)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint
from sqlmodel import Field, SQLModel

from storage.columns import UTCDateTime, utcnow


class Deployment(SQLModel, table=True):
    """One row, written by the first process that serves the database; its primary key is always 1, so of two
    processes marking the database at once only one can insert it."""

    __tablename__ = "deployment"
    __table_args__ = (
        CheckConstraint("id = 1", name="ck_deployment_one_row"),
        CheckConstraint("kind IN ('sandbox', 'platforms')", name="ck_deployment_kind"),
    )

    id: int = Field(default=1, primary_key=True)
    kind: str = Field(max_length=16)  # sandbox | platforms
    marked_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)

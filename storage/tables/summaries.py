"""What a closed pulse run's figures stand on once its answers and its participation rows have expired
(bot/pulses/summaries.py): the tallies its results card, its pulse's trend and the weekly digest show, with the
anonymity minimums already applied. No comment, no answer on its own, nobody's name or id."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel

from storage.columns import UTCDateTime, utcnow


class RunSummary(SQLModel, table=True):
    """One per summarised run: written just before its answers go, read instead of them afterwards."""

    __tablename__ = "run_summary"

    run_id: int = Field(foreign_key="pulse_run.id", primary_key=True)
    respondents: int
    """People who answered (the results card's "N answered", shown below the minimum too)."""
    minimum: int
    """The anonymity minimum the figures were shown by (the run's own)."""
    below_minimum: bool = False
    """An anonymous run with fewer respondents than `minimum`: no tally of it is kept at all."""
    people: int = 0
    people_large: int = 0
    """Of its respondents, those who answered no other run of its channel in the same week that was still
    unsummarised (`people_large`: counting only runs at the digest's minimum): each person is counted once, in
    the last of their runs summarised, so the digest's distinct people per channel and week add up exactly."""
    kept_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class RunSummaryQuestion(SQLModel, table=True):
    """A question's figures on the results card: counts per option (none where a minimum hides them, none for
    free text, whose words are no option), how many answered, and how many comments were shown (their words
    are not kept)."""

    __tablename__ = "run_summary_question"

    run_id: int = Field(foreign_key="run_summary.run_id", primary_key=True)
    question_id: int = Field(foreign_key="question.id", primary_key=True)
    answered: int
    hidden: bool = False
    counts: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    comments: int = 0
    comments_hidden: bool = False
    """Comments were written but too few to show: the card says they were removed, not how many."""


class RunSummaryWeek(SQLModel, table=True):
    """The digest's tallies of a scored question (scale, eNPS): answers per value and ISO week of the day they
    were published. A week with fewer answers than the digest's minimum keeps only its size, under value ""
    (the digest counts such a group as withheld, never its values)."""

    __tablename__ = "run_summary_week"

    run_id: int = Field(foreign_key="run_summary.run_id", primary_key=True)
    question_id: int = Field(foreign_key="question.id", primary_key=True)
    week: date = Field(primary_key=True)
    """The Monday of the week."""
    value: str = Field(primary_key=True, max_length=500)
    answers: int

"""ISO weeks in a timezone: parsing `2026-W47`, their bounds, and which week a scheduled digest covers."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

_WEEK = re.compile(r"^(\d{4})-?W(\d{1,2})$", re.IGNORECASE)
REPORT_THIS_WEEK_FROM = 4
"""A digest sent Friday (4) to Sunday covers the week it is sent in; one sent Monday to Thursday covers the
week before, which has just ended."""


@dataclass(frozen=True)
class Week:
    year: int
    number: int
    zone: ZoneInfo

    @classmethod
    def parse(cls, text: str, zone: ZoneInfo) -> Week:
        match = _WEEK.match(text.strip())
        if not match:
            raise ValueError(f"{text!r} is not an ISO week like 2026-W47")
        year, number = int(match.group(1)), int(match.group(2))
        try:
            date.fromisocalendar(year, number, 1)
        except ValueError:
            raise ValueError(f"{year} has no week {number}") from None
        return cls(year, number, zone)

    @classmethod
    def containing(cls, day: date, zone: ZoneInfo) -> Week:
        year, number, _ = day.isocalendar()
        return cls(year, number, zone)

    @property
    def label(self) -> str:
        return f"{self.year}-W{self.number:02d}"

    @property
    def first_day(self) -> date:
        return date.fromisocalendar(self.year, self.number, 1)

    @property
    def last_day(self) -> date:
        return self.first_day + timedelta(days=6)

    @property
    def start(self) -> datetime:
        """Monday 00:00 in the week's zone, as UTC."""
        return datetime.combine(self.first_day, time(), tzinfo=self.zone).astimezone(UTC)

    @property
    def end(self) -> datetime:
        """The next Monday 00:00 in the zone, as UTC (exclusive)."""
        return datetime.combine(self.first_day + timedelta(days=7), time(), tzinfo=self.zone).astimezone(UTC)

    def shifted(self, weeks: int) -> Week:
        return Week.containing(self.first_day + timedelta(weeks=weeks), self.zone)

    @property
    def previous(self) -> Week:
        return self.shifted(-1)

    def __str__(self) -> str:
        return self.label


def covered_week(local_day: date, zone: ZoneInfo) -> Week:
    """The week a digest sent on `local_day` reports on (see REPORT_THIS_WEEK_FROM)."""
    week = Week.containing(local_day, zone)
    return week if local_day.weekday() >= REPORT_THIS_WEEK_FROM else week.previous


def scheduled_at(week: Week, weekday: int, at: time) -> datetime:
    """When a subscription for (weekday, at) fires in `week`, as UTC: wall-clock time in the week's zone."""
    local = datetime.combine(week.first_day + timedelta(days=weekday), at, tzinfo=week.zone)
    return local.astimezone(UTC)

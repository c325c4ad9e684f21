"""When subscriptions are due, and the words `/digest subscribe` takes: a weekday, a time, a timezone."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.commands import UsageError
from bot.digests.weeks import Week, covered_week, scheduled_at
from storage.tables import DigestSubscription

DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
DEFAULT_DAY = 0
DEFAULT_TIME = time(9, 0)
_TIME = re.compile(r"^(\d{1,2})(?::(\d{2}))?$")


@dataclass(frozen=True)
class When:
    weekday: int
    at: time
    timezone: str

    def describe(self) -> str:
        return f"every {DAYS[self.weekday].capitalize()} at {self.at:%H:%M} ({self.timezone})"


def parse_when(words: list[str], default_tz: str) -> When:
    """`[day] [HH:MM] [timezone]` in any order; Monday 09:00 in the default zone when left out."""
    weekday, at, zone = DEFAULT_DAY, DEFAULT_TIME, default_tz
    for word in words:
        lowered = word.lower()
        day = next((i for i, name in enumerate(DAYS) if len(lowered) >= 3 and name.startswith(lowered)), None)
        if day is not None:
            weekday = day
            continue
        match = _TIME.match(lowered)
        if match:
            hour, minute = int(match.group(1)), int(match.group(2) or 0)
            if hour > 23 or minute > 59:
                raise UsageError(f"{word} is not a time of day; use 24-hour HH:MM, like 09:00 or 16:30")
            at = time(hour, minute)
            continue
        try:
            ZoneInfo(word)
        except (ZoneInfoNotFoundError, ValueError):
            raise UsageError(f"I don't understand “{word}”: give a weekday (monday), a time (09:00) and a "
                             "timezone (Europe/Berlin)") from None
        zone = word
    return When(weekday, at, zone)


def due_week(subscription: DigestSubscription, now: datetime) -> Week | None:
    """The week whose digest is due for `subscription` at `now`, or None when it is not yet time this week.
    A subscription made after this week's time waits for next week."""
    zone = ZoneInfo(subscription.timezone)
    this_week = Week.containing(now.astimezone(zone).date(), zone)
    fires = scheduled_at(this_week, subscription.weekday, subscription.at)
    if now < fires or fires < subscription.created_at:
        return None
    return covered_week(fires.astimezone(zone).date(), zone)

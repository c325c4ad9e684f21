"""Quiet hours: a daily window in a station's own timezone, possibly across midnight."""

from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo


def in_quiet_hours(quiet: dict[str, str] | None, now: datetime) -> bool:
    if not quiet:
        return False
    local = now.astimezone(ZoneInfo(quiet["tz"])).time()
    start, end = time.fromisoformat(quiet["start"]), time.fromisoformat(quiet["end"])
    if start <= end:
        return start <= local < end
    return local >= start or local < end

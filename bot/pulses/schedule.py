"""Recurrence: parsed from `every:…`, described in words, turned into APScheduler triggers, and mapped from
a fire time to the run's canonical slot (so the repeated hour of a DST fall-back claims the same run)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger

from bot.commands import UsageError, whole_number

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MAX_DURATION_DAYS = 90
"""The longest close: or remind: a pulse takes: past it, a pulse is a standing survey, not a pulse."""
MAX_WEEKS = 8
"""The longest gap of every:Nw."""
EARLIEST_ZONE = "Pacific/Kiritimati"
"""UTC+14: where a date's local time comes first. Per-person pulses fire there and defer each DM."""


def parse_every(value: str, today: date) -> dict[str, Any]:
    """`fri@16:00`, `weekdays@09:00`, `2w:mon@10:00`, `month:1@09:00` → a recurrence dict."""
    spec, _, at = value.lower().partition("@")
    at_time = _time(at or "09:00")
    parts = spec.split(":")
    if parts == ["weekdays"] or parts == ["weekday"] or parts == ["daily"]:
        return {"kind": "weekdays", "at": at_time}
    day = whole_number(parts[1], 1, 28) if parts[0] == "month" and len(parts) == 2 else None
    if day is not None:
        return {"kind": "monthly", "day": day, "at": at_time}
    weeks: int | None = 1
    if len(parts) == 2 and parts[0].endswith("w"):
        weeks, parts = whole_number(parts[0][:-1], 1, MAX_WEEKS), parts[1:]
    if len(parts) == 1 and parts[0][:3] in DAYS and weeks is not None:
        return {"kind": "weekly", "day": parts[0][:3], "at": at_time, "weeks": weeks, "anchor": today.isoformat()}
    raise UsageError(f"I can't read every:{value}. Try every:fri@16:00, every:weekdays@09:00, "
                     "every:2w:mon@10:00 or every:month:1@09:00")


def _time(text: str) -> str:
    try:
        return time.fromisoformat(text if ":" in text else f"{int(text):02d}:00").strftime("%H:%M")
    except ValueError:
        raise UsageError(f"“{text}” is not a time of day; use HH:MM, like 16:00") from None


def describe(recurrence: dict[str, Any] | None, zone: str, local: bool) -> str:
    if not recurrence:
        return "once"
    where = "each person's local time" if local else zone
    match recurrence["kind"]:
        case "weekdays":
            return f"every weekday at {recurrence['at']} ({where})"
        case "monthly":
            return f"monthly on day {recurrence['day']} at {recurrence['at']} ({where})"
        case _:
            every = "every week" if recurrence["weeks"] == 1 else f"every {recurrence['weeks']} weeks"
            return f"{every} on {recurrence['day'].title()} at {recurrence['at']} ({where})"


def trigger_zone(zone: str, local: bool) -> ZoneInfo:
    return ZoneInfo(EARLIEST_ZONE if local else zone)


def trigger(recurrence: dict[str, Any], zone: ZoneInfo) -> CronTrigger:
    hour, minute = (int(x) for x in recurrence["at"].split(":"))
    match recurrence["kind"]:
        case "weekdays":
            return CronTrigger(day_of_week="mon-fri", hour=hour, minute=minute, timezone=zone)
        case "monthly":
            return CronTrigger(day=recurrence["day"], hour=hour, minute=minute, timezone=zone)
        case _:
            return CronTrigger(day_of_week=recurrence["day"], hour=hour, minute=minute, timezone=zone)


def slot(recurrence: dict[str, Any], zone: ZoneInfo, fired_at: datetime) -> datetime | None:
    """The run a firing belongs to, as the wall-clock time in `zone` (first occurrence when the hour repeats),
    or None when an every-N-weeks pulse skips this week."""
    local_day = fired_at.astimezone(zone).date()
    if recurrence["kind"] == "weekly" and recurrence.get("weeks", 1) > 1:
        weeks = (local_day - date.fromisoformat(recurrence["anchor"])).days // 7
        if weeks % recurrence["weeks"]:
            return None
    return wall_clock(local_day, recurrence["at"], zone)


def wall_clock(day: date, at: str, zone: ZoneInfo) -> datetime:
    """`at` on `day` in `zone`, as an aware instant; a time skipped by DST moves forward by the gap."""
    local = datetime.combine(day, time.fromisoformat(at), tzinfo=zone)
    round_trip = local.astimezone(ZoneInfo("UTC")).astimezone(zone)
    if round_trip.replace(tzinfo=None) != local.replace(tzinfo=None):  # inside a spring-forward gap
        local = local + timedelta(hours=1)
    return local.astimezone(ZoneInfo("UTC"))


def parse_duration(value: str, name: str) -> int:
    """`2d`, `4h`, `30m`, `1w` → minutes, at most MAX_DURATION_DAYS; `name` (close, remind) is for the refusal."""
    units = {"m": 1, "h": 60, "d": 1440, "w": 10080}
    unit, digits = units.get(value[-1:].lower()), value[:-1]
    if unit is None or not (digits.isascii() and digits.isdigit()) or not digits.strip("0"):
        raise UsageError(f"“{value[:40]}” is not a duration; use 30m, 4h, 2d or 1w")
    number = whole_number(digits, 1, MAX_DURATION_DAYS * 1440)
    if number is None or number * unit > MAX_DURATION_DAYS * 1440:
        raise UsageError(f"{name}: at most {MAX_DURATION_DAYS} days")
    return number * unit

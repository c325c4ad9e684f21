"""Retention: how long each kind of people data is kept (the settings, their defaults, and how they are read).

Each kind has a period set by an environment variable (days; hours for the inbound event keys, whose shortest
period, one hour, is the platforms' retry window, bot.core.RETRY_WINDOW). `never` (or 0)
keeps that kind forever. Copies follow their source: a posted card (the outbox) and a sandbox message quote
customer text, contact fields and pulse results, so they go no later than those; a stored export holds pulse
answers, so it goes no later than they do."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

MAX_DAYS = 36_500
"""A hundred years: anything longer is a typo for `never`, and would overflow date arithmetic."""


@dataclass(frozen=True)
class Kind:
    name: str
    env: str
    default: int
    unit: str  # days | hours
    removed: str
    kept: str


KINDS: tuple[Kind, ...] = (
    Kind("customer_contact", "EARSHOT_RETAIN_CUSTOMER_CONTACT_DAYS", 90, "days",
         "the customer's contact fields (name, e-mail, plan, country)", "the item, its text, score, segment and tags"),
    Kind("feedback_text", "EARSHOT_RETAIN_FEEDBACK_TEXT_DAYS", 365, "days",
         "what the customer wrote (the text becomes empty)", "the item's score, times, segment, area and tags"),
    Kind("pulse_answers", "EARSHOT_RETAIN_PULSE_ANSWERS_DAYS", 365, "days",
         "answers, comments and who answered, of runs closed this long ago",
         "the run's summary (tallies that met the minimum), the pulse and its questions"),
    Kind("files", "EARSHOT_RETAIN_FILES_DAYS", 30, "days", "stored files (exports)", "nothing"),
    Kind("charts", "EARSHOT_RETAIN_CHARTS_DAYS", 180, "days", "chart images", "nothing"),
    Kind("event_keys", "EARSHOT_RETAIN_EVENT_KEYS_HOURS", 1, "hours",
         "keyed digests of inbound events already handled", "nothing"),
    Kind("deliveries", "EARSHOT_RETAIN_DELIVERIES_DAYS", 30, "days",
         "the content of messages and edits sent or given up",
         "each message's row (where it was posted, its id) so reactions, claims and erasure still find it"),
    Kind("sandbox_messages", "EARSHOT_RETAIN_SANDBOX_MESSAGES_DAYS", 30, "days", "the sandbox's messages",
         "the sandbox's channels and members"),
    Kind("audit", "EARSHOT_RETAIN_AUDIT_DAYS", 730, "days", "audit log entries",
         "the chain's anchor, so `earshot audit verify` still checks what remains"),
)
BY_NAME = {kind.name: kind for kind in KINDS}


def parse_period(kind: Kind, value: object) -> int | None:
    """An environment value as a whole number of the kind's unit, or None for `never`/0 (keep forever); a clear
    ValueError for anything else."""
    if value is None:
        return kind.default
    text = str(value).strip().lower()
    if text == "never":
        return None
    if not (text.isascii() and text.isdigit()):
        raise ValueError(f"{text!r} is not a number of {kind.unit}: use a whole number like {kind.default}, or "
                         "`never` to keep forever")
    number = int(text)
    if number == 0:
        return None
    if number > (MAX_DAYS * 24 if kind.unit == "hours" else MAX_DAYS):
        raise ValueError(f"{number} {kind.unit} is over a hundred years: use `never` to keep forever")
    return number


@dataclass(frozen=True)
class Policy:
    """Periods in each kind's unit; None keeps forever."""

    customer_contact: int | None = 90
    feedback_text: int | None = 365
    pulse_answers: int | None = 365
    files: int | None = 30
    charts: int | None = 180
    event_keys: int | None = 1
    deliveries: int | None = 30
    sandbox_messages: int | None = 30
    audit: int | None = 730

    @classmethod
    def from_values(cls, values: dict[str, Any]) -> Policy:
        """From raw values by kind name (settings or the environment); a missing kind takes its default."""
        return cls(**{kind.name: parse_period(kind, values.get(kind.name)) for kind in KINDS})

    def period(self, name: str) -> timedelta | None:
        """How long a kind is kept on its own (None: forever)."""
        amount = getattr(self, name)
        if amount is None:
            return None
        return timedelta(hours=amount) if BY_NAME[name].unit == "hours" else timedelta(days=amount)

    def effective(self, name: str) -> timedelta | None:
        """How long a kind is really kept: a copy goes no later than what it copies."""
        periods = [self.period(source) for source in (name, *COPIES.get(name, ()))]
        kept = [period for period in periods if period is not None]
        return min(kept) if kept else None

    def cutoff(self, name: str, now: datetime) -> datetime | None:
        """What is older than this goes (None: nothing does)."""
        period = self.effective(name)
        return None if period is None else now - period

    def describe(self) -> list[tuple[Kind, str, str]]:
        """(kind, as set, in effect) per kind, for `earshot db retention`."""
        rows = []
        for kind in KINDS:
            own = getattr(self, kind.name)
            setting = "never" if own is None else f"{own} {kind.unit[:-1] if own == 1 else kind.unit}"
            period = self.effective(kind.name)
            effective = "kept forever" if period is None else _human(period)
            rows.append((kind, setting, effective))
        return rows


COPIES: dict[str, tuple[str, ...]] = {
    "deliveries": ("customer_contact", "feedback_text", "pulse_answers"),
    "sandbox_messages": ("customer_contact", "feedback_text", "pulse_answers"),
    "files": ("pulse_answers",),
}
"""What each kind holds copies of: it is kept no longer than any of them."""

def _human(period: timedelta) -> str:
    if period < timedelta(days=1):
        hours = int(period.total_seconds() // 3600)
        return f"{hours} hour{'s' * (hours != 1)}"
    return f"{period.days} day{'s' * (period.days != 1)}"

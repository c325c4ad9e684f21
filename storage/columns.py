"""Column types shared by the tables."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import DateTime, TypeDecorator
from sqlalchemy.engine import Dialect


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC out, on SQLite (which keeps no zone) and PostgreSQL alike."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def bind_processor(self, dialect: Dialect) -> Callable[[Any], Any] | None:
        """The usual conversion, remembering the last value: the rows of one batch (a fan-out's deliveries)
        share one `now`, which is then converted once instead of once per row and column."""
        convert = super().bind_processor(dialect)
        if convert is None:
            return None
        last: list[tuple[Any, Any]] = [(None, None)]  # one (value, converted) pair, read and replaced whole

        def process(value: Any) -> Any:
            seen, converted = last[0]
            if value is not seen:
                converted = convert(value)
                last[0] = (value, converted)
            return converted

        return process

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def floored(moment: datetime, step: timedelta) -> datetime:
    """`moment` rounded down to a whole `step` (a minute, an hour): a time written because someone acted is kept
    no finer than its use needs, so it doesn't tell whose action it was by when it happened."""
    return moment - (moment - EPOCH) % step


def this_hour() -> datetime:
    """Now, floored to the hour: the time of a row written as someone acts (a turn in a 1:1 chat, a request from a
    channel) then says only which hour they were active in, not which vote or click was theirs."""
    return floored(utcnow(), timedelta(hours=1))



class Encoded(str):
    """A value already serialized to JSON text, for a JSON column: the engine's serializer passes it through.
    One card fanned out to many deliveries is then encoded once, not once per row."""

    __slots__ = ()

    @classmethod
    def of(cls, value: Any) -> Encoded:
        return cls(json.dumps(value))


def encode_json(value: Any) -> str:
    """The engines' JSON serializer (see `Encoded`)."""
    return value if isinstance(value, Encoded) else json.dumps(value)

"""Which database errors mean "unavailable for a moment, retry" and which mean "this data can't be stored".

A request refused for its data must not be told to retry (it would fail for ever), and an outage must not be
blamed on the data. asyncpg reports both kinds as SQLAlchemy's generic DBAPIError, so the SQLSTATE decides."""

from __future__ import annotations

from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

OUTAGE_CLASSES = ("08", "53", "57", "58")
"""SQLSTATE classes of an outage: connection exception, insufficient resources (too many connections),
operator intervention (shutdown, restart, cannot connect now), system error (I/O)."""
DATA_CLASSES = ("22", "23")
"""SQLSTATE classes of refused data: data exception (NUL, too long, out of range), integrity violation."""


def unavailable(error: BaseException) -> bool:
    """The database could not be reached or kept the connection from us: nothing was committed, a retry is safe."""
    if isinstance(error, PoolTimeout | OSError):  # refused, reset, unresolvable, timed out (asyncpg's connect)
        return True
    if not isinstance(error, DBAPIError):
        return False
    if error.connection_invalidated:
        return True
    state = _sqlstate(error)
    if state is not None:
        return state.startswith(OUTAGE_CLASSES)
    cause = error.orig.__cause__ if error.orig is not None else None  # asyncpg's own, under SQLAlchemy's adapter
    return isinstance(error, OperationalError) or isinstance(cause, OSError)


def refused_data(error: BaseException) -> bool:
    """The database refused what it was given (a request's data), not the connection."""
    if not isinstance(error, DBAPIError) or unavailable(error):
        return False
    state = _sqlstate(error)
    return state.startswith(DATA_CLASSES) if state is not None else isinstance(error, DataError | IntegrityError)


def _sqlstate(error: DBAPIError) -> str | None:
    state = getattr(error.orig, "sqlstate", None) or getattr(error.orig, "pgcode", None)
    return state if isinstance(state, str) and state else None

"""Dialect-aware INSERT ... ON CONFLICT DO NOTHING: the building block of every idempotent write."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

CHUNK = 500


async def insert_ignore(session: AsyncSession, table: type[SQLModel], values: dict[str, Any]) -> bool:
    """Insert one row unless a unique key already holds it. True when the row is new."""
    dialect = session.bind.dialect.name if session.bind else "sqlite"
    module = postgresql if dialect == "postgresql" else sqlite
    statement = module.insert(table).values(**values).on_conflict_do_nothing()
    result = await session.exec(statement)  # type: ignore[call-overload]
    return bool(result.rowcount)


async def insert_many_ignore(session: AsyncSession, table: type[SQLModel], rows: list[dict[str, Any]],
                             returning: tuple[Any, ...] = ()) -> list[Any]:
    """Insert many rows in one statement, skipping those a unique key already holds. With `returning`
    columns, gives back those columns of the rows actually inserted."""
    dialect = session.bind.dialect.name if session.bind else "sqlite"
    module = postgresql if dialect == "postgresql" else sqlite
    inserted: list[Any] = []
    for start in range(0, len(rows), CHUNK):  # SQLite caps the number of bound parameters per statement
        statement = module.insert(table).values(rows[start:start + CHUNK]).on_conflict_do_nothing()
        if returning:
            result = await session.exec(statement.returning(*returning))  # type: ignore[call-overload]
            inserted.extend(result.all())
        else:
            await session.exec(statement)  # type: ignore[call-overload]
    return inserted

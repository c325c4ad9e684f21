"""A database belongs to the sandbox or to real platforms, never both: the sandbox trusts whoever holds its link,
so it must never see Slack's or Teams' feedback, people, pulses or deliveries, and its demo data must never reach
a real workspace. The first serving process marks the database (table `deployment`); later ones must match."""

from __future__ import annotations

from typing import Any, Literal

from sqlalchemy import Select, literal, select, table
from sqlalchemy.exc import IntegrityError
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.engine import Database
from storage.tables import (
    ConversationRef,
    Delivery,
    Deployment,
    DigestSubscription,
    Person,
    Pulse,
    SandboxChannel,
    SandboxMember,
    SandboxMessage,
    Station,
)

Kind = Literal["sandbox", "platforms"]
SANDBOX = "sandbox"
SANDBOX_DATABASE_EXAMPLE = "DATABASE_URL=sqlite+aiosqlite:///./sandbox.db"

PLATFORM_TABLES = (Station, Pulse, Person, Delivery, ConversationRef, DigestSubscription)
"""Tables whose rows say which platform they were made on."""
SLACK_TABLES = ("slack_installations", "slack_conversation_team")
"""Tables only Slack writes."""
SANDBOX_TABLES = (SandboxChannel, SandboxMember, SandboxMessage)
NAMES = {"slack": "Slack", "teams": "Teams"}


class DatabaseKindError(Exception):
    """This process may not serve this database. One line for the operator, naming DATABASE_URL."""


async def claim_database(db: Database, kind: Kind, serving: str) -> None:
    """Mark the database as `kind` on its first serving start, or check that it is already that kind; raise
    DatabaseKindError otherwise. `serving` names the platforms this process serves, for the message.

    An unmarked database (older than this rule, or new) is judged by its rows: the sandbox refuses any real
    platform's; real platforms refuse one holding only the sandbox's. A production database that also holds
    sandbox rows (allowed before) stays production. Two processes marking at once: only one row can exist, so
    one insert wins and the other reads the winner's kind."""
    async with db.session() as session:
        marked = await session.get(Deployment, 1)
        if marked is None:
            real = await _real_platforms(session)
            if kind == SANDBOX and real:
                raise _refusal(kind, real)
            if kind != SANDBOX and not real and await _has_sandbox_rows(session):
                raise _refusal(kind, set(), serving)
    if marked is None:
        marked = await _mark(db, kind)
    if marked.kind != kind:
        async with db.session() as session:
            raise _refusal(kind, await _real_platforms(session), serving)


async def _mark(db: Database, kind: Kind) -> Deployment:
    """Insert the mark; when another process got there first, theirs."""
    try:
        async with db.write() as session:
            session.add(Deployment(kind=kind))
            await session.commit()
        return Deployment(kind=kind)
    except IntegrityError:
        async with db.session() as session:
            winner = await session.get(Deployment, 1)
        assert winner is not None  # the row that made the insert fail
        return winner


def _refusal(kind: Kind, real: set[str], serving: str = "") -> DatabaseKindError:
    if kind == SANDBOX:
        names = " and ".join(NAMES.get(name, name) for name in sorted(real)) or "Slack or Teams"
        return DatabaseKindError(f"DATABASE_URL holds {names} data: the sandbox needs its own database "
                                 f"(e.g. {SANDBOX_DATABASE_EXAMPLE})")
    return DatabaseKindError(f"DATABASE_URL holds the sandbox's demo data: {serving} needs a database of its own "
                             "(point DATABASE_URL at a new or the production database)")


async def _real_platforms(session: AsyncSession) -> set[str]:
    """The platforms other than the sandbox that have rows in the database. Each query stops at its first row."""
    found: set[str] = set()
    for model in PLATFORM_TABLES:
        platform = col(model.platform)
        while name := await _first(session, select(platform).where(platform != SANDBOX, platform.not_in(found))):
            found.add(name)
    for name in SLACK_TABLES:
        if await _first(session, select(literal(1)).select_from(table(name))):
            found.add("slack")
    return found


async def _has_sandbox_rows(session: AsyncSession) -> bool:
    for model in PLATFORM_TABLES:
        if await _first(session, select(literal(1)).where(col(model.platform) == SANDBOX)):
            return True
    for model in SANDBOX_TABLES:
        if await _first(session, select(literal(1)).select_from(model)):
            return True
    return False


async def _first(session: AsyncSession, query: Select[tuple[Any]]) -> Any:
    """The first column of the query's first row, or None."""
    return (await session.exec(query.limit(1))).scalar()  # type: ignore[call-overload]

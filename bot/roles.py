"""Roles (admin, manager, hr): stored grants, bootstrapped from EARSHOT_ADMINS."""

from __future__ import annotations

from collections.abc import Iterable

from sqlmodel import col, delete, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.events import Person
from storage.tables import RoleGrant
from storage.upsert import insert_ignore

ROLES = ("admin", "manager", "hr")


async def roles_of(session: AsyncSession, person: Person) -> set[str]:
    rows = await session.exec(select(RoleGrant.role).where(
        RoleGrant.platform == person.platform, RoleGrant.user_id == person.user_id))
    return set(rows)


async def has_any_role(session: AsyncSession, person: Person, *roles: str) -> bool:
    """Admins hold every role."""
    held = await roles_of(session, person)
    return "admin" in held or bool(held.intersection(roles))


async def grant(session: AsyncSession, platform: str, user_id: str, role: str, by: str | None = None) -> bool:
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}: choose one of {', '.join(ROLES)}")
    return await insert_ignore(session, RoleGrant, {"platform": platform, "user_id": user_id, "role": role,
                                                    "granted_by": by})


async def revoke(session: AsyncSession, platform: str, user_id: str, role: str) -> bool:
    result = await session.exec(delete(RoleGrant).where(  # type: ignore[call-overload]
        col(RoleGrant.platform) == platform, col(RoleGrant.user_id) == user_id, col(RoleGrant.role) == role))
    return bool(result.rowcount)


async def list_grants(session: AsyncSession) -> list[RoleGrant]:
    rows = await session.exec(select(RoleGrant).order_by(col(RoleGrant.platform), col(RoleGrant.user_id),
                                                         col(RoleGrant.role)))
    return list(rows)


async def bootstrap_admins(session: AsyncSession, admins: Iterable[tuple[str, str]]) -> None:
    for platform, user_id in admins:
        await grant(session, platform, user_id, "admin", by="EARSHOT_ADMINS")
    await session.commit()

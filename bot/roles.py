"""Roles (admin, manager, hr): stored grants, bootstrapped from EARSHOT_ADMINS. A revoke deletes the grant, so
the history of who held what is the audit log's `role.granted` / `role.revoked` entries (grant_role, revoke_role)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlmodel import col, delete, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.events import Person
from bot.governance.audit import record
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
    """Store a grant, unrecorded: for seeding a demo or test world. A grant someone makes goes through grant_role."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}: choose one of {', '.join(ROLES)}")
    return await insert_ignore(session, RoleGrant, {"platform": platform, "user_id": user_id, "role": role,
                                                    "granted_by": by})


async def revoke(session: AsyncSession, platform: str, user_id: str, role: str) -> bool:
    """Delete a grant, unrecorded; a revoke someone makes goes through revoke_role."""
    result = await session.exec(delete(RoleGrant).where(  # type: ignore[call-overload]
        col(RoleGrant.platform) == platform, col(RoleGrant.user_id) == user_id, col(RoleGrant.role) == role))
    return bool(result.rowcount)


async def grant_role(session: AsyncSession, keys: Sequence[str], platform: str, user_id: str, role: str, *,
                     actor: str, by: str | None = None) -> bool:
    """Grant a role and record it in the audit log in the caller's transaction (`actor` did it; `by` is what the
    grant row keeps). Only a change is recorded: granting a role someone holds writes nothing."""
    changed = await grant(session, platform, user_id, role, by=by)
    if changed:
        await record(session, keys, actor=actor, action="role.granted", subject=f"{platform}:{user_id}",
                     details={"role": role})
    return changed


async def revoke_role(session: AsyncSession, keys: Sequence[str], platform: str, user_id: str, role: str, *,
                      actor: str) -> bool:
    """Revoke a role and record it in the audit log in the caller's transaction; revoking one not held writes
    nothing."""
    changed = await revoke(session, platform, user_id, role)
    if changed:
        await record(session, keys, actor=actor, action="role.revoked", subject=f"{platform}:{user_id}",
                     details={"role": role})
    return changed


async def list_grants(session: AsyncSession) -> list[RoleGrant]:
    rows = await session.exec(select(RoleGrant).order_by(col(RoleGrant.platform), col(RoleGrant.user_id),
                                                         col(RoleGrant.role)))
    return list(rows)


async def bootstrap_admins(session: AsyncSession, keys: Sequence[str], admins: Iterable[tuple[str, str]]) -> None:
    """Grant EARSHOT_ADMINS their role at start; each new grant is recorded as the system's (a restart with the
    same list records nothing)."""
    for platform, user_id in admins:
        await grant_role(session, keys, platform, user_id, "admin", actor="system", by="EARSHOT_ADMINS")
    await session.commit()

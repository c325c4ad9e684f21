"""Demo people and channels for the sandbox workspace (idempotent: running it twice changes nothing)."""

from __future__ import annotations

from sqlmodel import select

from adapters.sandbox.workspace import PLATFORM, Workspace
from bot.roles import grant
from storage.engine import Database
from storage.tables import Person
from storage.upsert import insert_ignore

PEOPLE = (
    # user id, display name, timezone, role (None = employee)
    ("ana", "Ana Souza", "America/Sao_Paulo", None),
    ("ben", "Ben Okafor", "Europe/London", None),
    ("mei", "Mei Tanaka", "Asia/Tokyo", None),
    ("maria", "María García", "Europe/Madrid", "manager"),
    ("priya", "Priya Nair", "Asia/Kolkata", "hr"),
    ("sam", "Sam Lee", "America/New_York", "admin"),
)

CHANNELS = (
    ("C-general", "general", ("ana", "ben", "mei", "maria", "priya", "sam")),
    ("C-cx", "cx-feedback", ("ana", "ben", "mei", "maria", "priya", "sam")),
    ("C-product", "product", ("ana", "mei", "maria", "sam")),
    ("C-support", "support", ("ben", "maria", "sam")),
)


async def seed_workspace(db: Database, workspace: Workspace) -> None:
    async with db.session() as session:
        for user_id, name, zone, role in PEOPLE:
            await insert_ignore(session, Person, {"platform": PLATFORM, "user_id": user_id, "display_name": name,
                                                  "timezone": zone, "unreachable": False})
            if role:
                await grant(session, PLATFORM, user_id, role, by="demo")
        await session.commit()
        known = set((await session.exec(select(Person.user_id).where(Person.platform == PLATFORM))).all())
    for channel_id, name, members in CHANNELS:
        await workspace.ensure_channel(channel_id, name, "channel", [m for m in members if m in known])

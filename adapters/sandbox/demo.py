"""Demo people and channels for the sandbox workspace (idempotent: running it twice changes nothing)."""

from __future__ import annotations

from sqlmodel import select

from adapters.sandbox.workspace import PLATFORM, Workspace
from bot.roles import grant
from storage.engine import Database
from storage.tables import Person, Station
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

STATIONS = (  # what `/station add …` would store: everything; checkout and mobile; unhappy customers
    ("C-cx", {}),
    ("C-product", {"areas": ["checkout", "mobile", "reports"]}),
    ("C-support", {"nps": ["detractor"], "csat": ["low"]}),
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
    await _seed_stations(db)


async def _seed_stations(db: Database) -> None:
    """Subscribe the demo channels to feedback once, as the demo manager would with /station add."""
    async with db.session() as session:
        if (await session.exec(select(Station).where(Station.platform == PLATFORM))).first() is not None:
            return
        for channel_id, filters in STATIONS:
            session.add(Station(platform=PLATFORM, channel_id=channel_id, filters=filters,
                                created_by=f"{PLATFORM}:maria"))
        await session.commit()

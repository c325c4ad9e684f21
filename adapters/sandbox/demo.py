"""The demo world for the sandbox workspace: its people, teams, channels and stations (idempotent: running it
twice changes nothing). `seed_demo` adds a few weeks of history (adapters/sandbox/history.py) for `earshot demo`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import select

from adapters.sandbox.history import seed_history
from adapters.sandbox.welcome import welcome
from adapters.sandbox.workspace import PLATFORM, Workspace
from bot.roles import grant
from storage.engine import Database
from storage.tables import Person, Station
from storage.upsert import insert_ignore

PEOPLE = (
    # user id, display name, timezone, role (None = employee); the first is who a new visitor is
    ("ana", "Ana Souza", "America/Sao_Paulo", None),
    ("ben", "Ben Okafor", "Europe/London", None),
    ("mei", "Mei Tanaka", "Asia/Tokyo", None),
    ("maria", "María García", "Europe/Madrid", "manager"),
    ("priya", "Priya Nair", "Asia/Kolkata", "hr"),
    ("sam", "Sam Lee", "America/New_York", "admin"),
    ("somchai", "สมชาย วงศ์สกุล", "Asia/Bangkok", None),
    ("nattaya", "ณัฐยา ศรีสุข", "Asia/Bangkok", None),
    ("dmitry", "Дмитрий Волков", "Europe/Moscow", None),
    ("olena", "Олена Шевченко", "Europe/Kyiv", None),
    ("reza", "رضا احمدی", "Asia/Tehran", None),
    ("emily", "Emily Clarke", "Europe/London", None),
    ("oksana", "Оксана Бондаренко", "Europe/Kyiv", "manager"),
    ("anastasia", "Анастасия Иванова", "Europe/Moscow", None),
    ("taras", "Тарас Коваленко", "Europe/Kyiv", None),
    ("niloufar", "نیلوفر کریمی", "Asia/Tehran", None),
    ("kanya", "กัญญา ชัยพร", "Asia/Bangkok", None),
    ("james", "James Whitaker", "America/New_York", None),
    ("sergei", "Сергей Морозов", "Europe/Moscow", None),
    ("arash", "آرش حسینی", "Asia/Tehran", "manager"),
    ("irina", "Ирина Петрова", "Europe/Moscow", None),
    ("mykola", "Микола Ткаченко", "Europe/Kyiv", None),
    ("pim", "พิมพ์ชนก รัตนากร", "Asia/Bangkok", None),
    ("george", "George Harris", "Europe/London", None),
    ("sara", "سارا رحیمی", "Asia/Tehran", None),
    ("yulia", "Юлія Мельник", "Europe/Kyiv", None),
    ("darya", "Дарья Орлова", "Europe/Moscow", None),
    ("kamran", "کامران جعفری", "Asia/Tehran", None),
    ("lucy", "Lucy Bennett", "Europe/London", None),
    ("mahsa", "مهسا تهرانی", "Asia/Tehran", "hr"),
)


@dataclass(frozen=True)
class Team:
    """A team's channel, who is in it, who runs its weekly pulse, and what its station hears."""

    channel_id: str
    name: str
    lead: str
    members: tuple[str, ...]
    filters: dict[str, Any]


TEAMS = (
    Team("C-product", "product", "maria", ("maria", "ana", "mei", "sam", "somchai", "nattaya", "dmitry", "olena",
                                           "reza", "emily"), {"areas": ["checkout", "mobile", "reports"]}),
    Team("C-support", "support", "oksana", ("oksana", "ben", "maria", "sam", "anastasia", "taras", "niloufar",
                                            "kanya", "james", "sergei"), {"nps": ["detractor"], "csat": ["low"]}),
    Team("C-billing", "billing", "arash", ("arash", "irina", "mykola", "pim", "george", "sara", "yulia"),
         {"areas": ["billing", "pricing", "onboarding"]}),
    Team("C-privacy", "privacy", "sam", ("darya", "kamran", "lucy"), {"areas": ["privacy"]}),
)
"""Three teams at or above the anonymity minimum of 5, and #privacy with 3 people: the digest hides its figures."""

EVERYONE = tuple(user for user, *_ in PEOPLE)
CHANNELS = (
    ("C-general", "general", EVERYONE),
    ("C-cx", "cx-feedback", EVERYONE),
    *((team.channel_id, team.name, team.members) for team in TEAMS),
)

STATIONS = (  # what `/station add …` would store: everything in #cx-feedback, and each team what it works on
    ("C-cx", {}),
    *((team.channel_id, team.filters) for team in TEAMS),
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
    await welcome(db, workspace)


async def seed_demo(db: Database, workspace: Workspace, *, now: datetime, zone: ZoneInfo, minimum: int) -> None:
    """`earshot demo`'s world: the workspace, and once per database a few weeks of history."""
    await seed_workspace(db, workspace)
    await seed_history(db, TEAMS, now=now, zone=zone, minimum=minimum)


async def _seed_stations(db: Database) -> None:
    """Subscribe each demo channel to feedback once, as its manager would with /station add: a channel that has
    (or had) a station is left as it is."""
    async with db.session() as session:
        had = set(await session.exec(select(Station.channel_id).where(Station.platform == PLATFORM)))
        for channel_id, filters in STATIONS:
            if channel_id not in had:
                session.add(Station(platform=PLATFORM, channel_id=channel_id, filters=filters,
                                    created_by=f"{PLATFORM}:maria"))
        await session.commit()

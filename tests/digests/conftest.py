"""The hand-computed world of seed.py in a fresh database, with a core harness over it."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

from bot.digests.build import Privacy, build_digest
from bot.digests.model import Digest, Scope
from bot.digests.weeks import Week
from bot.feedback.redact import Redactor
from storage.engine import Database
from tests.digests.seed import SETTINGS, seed
from tests.support.core import CoreHarness, make_harness

WEEK = Week.parse("2026-W47", ZoneInfo("UTC"))


@pytest.fixture
async def harness(db: Database) -> CoreHarness:
    await seed(db)
    return make_harness(db, **SETTINGS)


@pytest.fixture
async def seeded(db: Database) -> Database:
    await seed(db)
    return db


@pytest.fixture
async def digest(seeded: Database) -> Digest:
    return await build_digest(seeded, WEEK, Privacy(3, 4), Redactor())


@pytest.fixture
async def everything(seeded: Database) -> Digest:
    """The same world with a minimum of 1, so that nothing is hidden: the arithmetic behind figures that the
    minimum of 3 hides (or hides as the complement of a smaller group) is checked here."""
    return await build_digest(seeded, WEEK, Privacy(1, 1), Redactor())


def team(digest: Digest, name: str) -> Scope:
    return next(t for t in digest.teams if t.name == name)

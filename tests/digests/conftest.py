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
async def digest(db: Database) -> Digest:
    await seed(db)
    return await build_digest(db, WEEK, Privacy(3, 4), Redactor())


def team(digest: Digest, name: str) -> Scope:
    return next(t for t in digest.teams if t.name == name)

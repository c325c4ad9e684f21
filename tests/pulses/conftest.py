"""The pulse tests' core: a recording adapter whose channel C1 has eight members, a manager and an HR reader,
and the anonymity minimums lowered to 3 answers and 5 comments."""

from __future__ import annotations

import pytest

from storage.engine import Database
from tests.pulses.support import MEMBERS
from tests.support.core import CoreHarness, make_harness


@pytest.fixture
async def harness(db: Database) -> CoreHarness:
    h = make_harness(db, EARSHOT_ANON_MIN="3", EARSHOT_COMMENT_MIN="5")
    h.adapter.members["C1"] = list(MEMBERS)
    await h.grant("boss", "manager")
    await h.grant("hr", "hr")
    return h

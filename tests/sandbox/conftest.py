"""The sandbox's browser and HTTP tests run against a real app on loopback with the demo world seeded."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support.server import Running, running_app


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[Running]:
    async with running_app(f"sqlite+aiosqlite:///{tmp_path / 'sandbox.db'}") as running:
        yield running

"""Slack test fixtures: the fake Web API on loopback, and the real app wired to it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.slack.fake_api import FakeSlack, fake_slack
from tests.slack.signing import SECRET
from tests.support.server import Running, running_app

ADMIN = "U2147483697"


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    async with fake_slack() as api:
        yield api


@pytest.fixture
async def server(db_url: str, fake: FakeSlack) -> AsyncIterator[Running]:
    async with running_app(db_url, demo=False, SLACK_BOT_TOKEN="xoxb-test", SLACK_SIGNING_SECRET=SECRET,
                           SLACK_API_URL=fake.api_url, EARSHOT_ADMINS=f"slack:{ADMIN}") as running:
        yield running

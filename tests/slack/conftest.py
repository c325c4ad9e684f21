"""Slack test fixtures: the fake Web API on loopback, and the real app wired to it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.slack.fake_api import FakeSlack, fake_slack
from tests.slack.signing import SECRET
from tests.slack.test_oauth import (
    ADMIN_A,
    ADMIN_B,
    CLIENT_ID,
    CLIENT_SECRET,
    REDIRECT,
    SECRET_KEY,
    TEAM_A,
    TEAM_B,
    TOKEN_A,
    TOKEN_B,
    install,
)
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


@pytest.fixture
async def two_workspaces(db_url: str, fake: FakeSlack) -> AsyncIterator[Running]:
    """Two allowed workspaces, A and B, installed over OAuth on one Earshot (the scoping tests' world)."""
    async with running_app(db_url, demo=False, SLACK_CLIENT_ID=CLIENT_ID, SLACK_CLIENT_SECRET=CLIENT_SECRET,
                           SLACK_SIGNING_SECRET=SECRET, SLACK_REDIRECT_URI=REDIRECT, SLACK_API_URL=fake.api_url,
                           EARSHOT_ADMINS=f"slack:{ADMIN_A},slack:{ADMIN_B}", SLACK_ALLOWED_TEAMS=f"{TEAM_A},{TEAM_B}",
                           EARSHOT_SECRET_KEY=SECRET_KEY) as running:
        await install(running, fake, TEAM_A, TOKEN_A, ADMIN_A)
        await install(running, fake, TEAM_B, TOKEN_B, ADMIN_B)
        yield running

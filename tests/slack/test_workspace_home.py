"""The Home tab with two allowed workspaces (OAuth installs), over real HTTP: opened in B, it lists B's pulses alone,
even to a person who is in the audience of A's (a Slack Connect channel A and B share)."""

from __future__ import annotations

import json

import pytest

from tests.slack import signing
from tests.slack.fake_api import FakeSlack
from tests.slack.test_e2e_plumbing import post, texts, until
from tests.slack.test_oauth import ADMIN_A, ADMIN_B, CHANNEL_A, CHANNEL_B, TEAM_A, TEAM_B, TOKEN_A, TOKEN_B
from tests.slack.test_translate import load
from tests.support.server import Running

pytestmark = pytest.mark.filterwarnings("ignore:BasicAuth is deprecated:DeprecationWarning")  # slack_sdk's


@pytest.fixture
def server(two_workspaces: Running) -> Running:
    return two_workspaces


MEMBER = "UB0000777"
"""A person of workspace B, also in the channel A shares with B."""


async def home(server: Running, fake: FakeSlack, team: str, user: str) -> tuple[str, str | None]:
    """The Home tab `user` opens in `team`: what it lists, and the token it was published with."""
    before = len(fake.of("views.publish"))
    envelope = load("event_app_home_opened")
    envelope.update(team_id=team, context_team_id=team, event_id=f"Ev-{team}-{user}-{before}",
                    authorizations=[{**envelope["authorizations"][0], "team_id": team}])
    envelope["event"] = {**envelope["event"], "user": user, "view": {**envelope["event"]["view"], "team_id": team}}
    assert (await post(server, *signing.event(envelope)))[0] == 200
    published = (await fake.wait_for("views.publish", before + 1))[before]
    view = published.args["view"]
    return json.dumps(view if isinstance(view, dict) else json.loads(view), ensure_ascii=False), published.token


async def test_the_home_tab_lists_the_pulses_of_its_own_workspace_only(server: Running, fake: FakeSlack) -> None:
    fake.members.update({CHANNEL_A: [ADMIN_A, MEMBER], CHANNEL_B: [ADMIN_B, MEMBER]})
    for team, admin, channel, question in [(TEAM_A, ADMIN_A, CHANNEL_A, "Ship on Friday?"),
                                           (TEAM_B, ADMIN_B, CHANNEL_B, "Lunch on Monday?")]:
        launch = {**load("command_pulse"), "text": f'"{question}" yesno', "team_id": team, "user_id": admin,
                  "channel_id": channel, "trigger_id": f"t-{team}", "response_url": fake.response_url(team)}
        assert await post(server, *signing.command(launch)) == (200, "")
        await until(fake, "chat.postMessage", lambda c, question=question: question in texts(c))

    in_b, token = await home(server, fake, TEAM_B, MEMBER)
    assert token == TOKEN_B and "Lunch on Monday?" in in_b and "Ship on Friday?" not in in_b
    in_a, token = await home(server, fake, TEAM_A, MEMBER)
    assert token == TOKEN_A and "Ship on Friday?" in in_a and "Lunch on Monday?" not in in_a

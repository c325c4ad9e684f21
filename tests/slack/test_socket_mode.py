"""Socket Mode: with SLACK_APP_TOKEN the app connects out over a WebSocket instead of serving /slack/events."""

from __future__ import annotations

import aiohttp

from tests.slack.fake_api import FakeSlack
from tests.slack.test_translate import load
from tests.support.server import running_app


async def test_events_arrive_over_the_socket_and_are_acked(db_url: str, fake: FakeSlack) -> None:
    fake.socket_envelopes.append({"envelope_id": "env-1", "type": "events_api", "accepts_response_payload": False,
                                  "retry_attempt": 0, "retry_reason": "",
                                  "payload": load("event_member_joined_channel_bot")})
    async with running_app(db_url, demo=False, SLACK_BOT_TOKEN="xoxb-test", SLACK_APP_TOKEN="xapp-1-test",
                           SLACK_API_URL=fake.api_url) as running:
        (opened,) = await fake.wait_for("apps.connections.open")
        assert opened.token == "xapp-1-test"
        (ack,) = await fake.wait_for("socket_ack")
        assert ack.args == {"envelope_id": "env-1"}
        (welcome,) = await fake.wait_for("chat.postMessage")
        assert welcome.args["channel"] == "C0NEW0001" and welcome.token == "xoxb-test"
        async with aiohttp.ClientSession() as session, session.post(f"{running.url}/slack/events",
                                                                    data="{}") as response:
            assert response.status == 404  # nothing to sign or verify: the endpoint is not served

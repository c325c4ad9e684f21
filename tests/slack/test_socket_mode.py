"""Socket Mode: with SLACK_APP_TOKEN the app connects out over a WebSocket instead of serving /slack/events.
Events, slash commands and interactions all arrive as envelopes, each acknowledged by its envelope_id."""

from __future__ import annotations

from typing import Any

import aiohttp

from tests.slack.fake_api import FakeSlack
from tests.slack.test_translate import load
from tests.support.server import running_app


def envelope(envelope_id: str, kind: str, payload: dict[str, Any]) -> dict[str, Any]:
    return {"envelope_id": envelope_id, "type": kind, "accepts_response_payload": kind != "events_api",
            "retry_attempt": 0, "retry_reason": "", "payload": payload}


async def test_events_commands_and_interactions_arrive_over_the_socket_and_are_acked(db_url: str,
                                                                                      fake: FakeSlack) -> None:
    expired_form = load("view_submission")
    expired_form["view"]["callback_id"] = "retired:form"
    fake.socket_envelopes.extend([
        envelope("env-event", "events_api", load("event_member_joined_channel_bot")),
        envelope("env-command", "slash_commands",
                 {**load("command_station_help"), "response_url": fake.response_url("command")}),
        envelope("env-click", "interactive",
                 {**load("block_actions_vote"), "response_url": fake.response_url("click")}),
        envelope("env-form", "interactive", expired_form),
    ])
    async with running_app(db_url, demo=False, SLACK_BOT_TOKEN="xoxb-test", SLACK_APP_TOKEN="xapp-1-test",
                           SLACK_API_URL=fake.api_url) as running:
        (opened,) = await fake.wait_for("apps.connections.open")
        assert opened.token == "xapp-1-test"
        acks = {a.args["envelope_id"]: a.args for a in await fake.wait_for("socket_ack", 4)}
        assert acks["env-event"] == {"envelope_id": "env-event"}
        assert acks["env-command"] == {"envelope_id": "env-command"}  # empty ack: the answer follows privately
        assert acks["env-click"] == {"envelope_id": "env-click"}
        assert acks["env-form"] == {"envelope_id": "env-form", "payload": {
            "response_action": "errors", "errors": {"question": "This form has expired; please open it again."}}}
        (welcome,) = await fake.wait_for("chat.postMessage")
        assert welcome.args["channel"] == "C0NEW0001" and welcome.token == "xoxb-test"
        await fake.wait_for("response_url", 2)
        replies = {c.args["name"]: r for c, r in zip(fake.of("response_url"), fake.responses, strict=True)}
        assert "/station help" in str(replies["command"]["blocks"])
        assert "no longer does anything" in replies["click"]["text"]
        async with aiohttp.ClientSession() as session, session.post(f"{running.url}/slack/events",
                                                                    data="{}") as response:
            assert response.status == 404  # nothing to sign or verify: the endpoint is not served

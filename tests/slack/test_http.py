"""Signed Slack requests through the real app's POST /slack/events, with the Web API faked on loopback."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any

import aiohttp
import pytest

from adapters.slack.listeners import FORM_DEADLINE_SECONDS
from bot.adapter import Responder
from bot.cards import FormErrors
from bot.commands import Command
from bot.events import ActionEvent, CommandEvent, FormSubmitted, Person
from bot.roles import has_any_role
from tests.slack import signing
from tests.slack.conftest import ADMIN
from tests.slack.fake_api import FakeSlack
from tests.slack.test_translate import load
from tests.support.server import Running

EVENTS = "/slack/events"


async def post(server: Running, body: str, headers: dict[str, str]) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.post(server.url + EVENTS, data=body.encode(),
                                                                headers=headers) as response:
        return response.status, await response.text()


def with_response_url(payload: dict[str, Any], fake: FakeSlack, name: str = "r1") -> dict[str, Any]:
    return {**payload, "response_url": fake.response_url(name)}


async def test_a_bad_signature_is_refused(server: Running, fake: FakeSlack) -> None:
    body, headers = signing.command(load("command_station_help"))
    forged = signing.headers(body, secret="not-the-secret")
    assert (await post(server, body, forged))[0] == 401
    assert (await post(server, body, {"Content-Type": signing.FORM}))[0] == 401
    tampered = body.replace("help", "list")
    assert (await post(server, tampered, headers))[0] == 401
    assert fake.calls == []


async def test_a_stale_timestamp_is_refused(server: Running) -> None:
    body = json.dumps(load("event_reaction_added"))
    stale = signing.headers(body, content_type="application/json", timestamp=int(time.time()) - 6 * 60)
    assert (await post(server, body, stale))[0] == 401


async def test_url_verification_answers_the_challenge(server: Running) -> None:
    body, headers = signing.event({"token": "x", "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",
                                   "type": "url_verification"})
    status, text = await post(server, body, headers)
    assert status == 200 and "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P" in text


async def test_a_slash_command_is_acked_empty_and_answered_privately(server: Running, fake: FakeSlack) -> None:
    body, headers = signing.command({**load("command_station_help"), "response_url": fake.response_url()})
    started = time.perf_counter()
    status, text = await post(server, body, headers)
    assert (status, text) == (200, "")
    assert time.perf_counter() - started < 3
    await fake.wait_for("response_url")
    (reply,) = fake.responses
    assert reply["response_type"] == "ephemeral" and reply["replace_original"] is False
    assert "/station help" in json.dumps(reply["blocks"], ensure_ascii=False)


async def test_an_unknown_button_gets_a_private_explanation(server: Running, fake: FakeSlack) -> None:
    payload = with_response_url(load("block_actions_vote"), fake)
    status, text = await post(server, *signing.interaction(payload))
    assert (status, text) == (200, "")
    await fake.wait_for("response_url")
    assert "no longer does anything" in fake.responses[0]["text"]


async def test_a_resent_event_is_handled_once(server: Running, fake: FakeSlack) -> None:
    envelope = load("event_member_joined_channel_bot")
    for retry in (None, 1, 2):
        status, _ = await post(server, *signing.event(envelope, retry=retry))
        assert status == 200
    posts = await fake.wait_for("chat.postMessage")
    await asyncio.sleep(0.5)
    assert [c.args["channel"] for c in fake.of("chat.postMessage")] == ["C0NEW0001"] == [posts[0].args["channel"]]
    metrics = server.runtime.metrics.render().decode()
    assert 'earshot_events_total{outcome="duplicate",platform="slack",type="MembersAdded"} 2.0' in metrics


async def test_view_submission_errors_travel_in_the_ack(server: Running, fake: FakeSlack) -> None:
    seen: list[FormSubmitted] = []

    async def validate(event: FormSubmitted, _responder: object) -> FormErrors | None:
        seen.append(event)
        return {"question": "Ask a question first"} if event.values["close_after"] == "3" else None

    server.runtime.core.handlers.forms["pulse"] = validate
    payload = load("view_submission")
    status, text = await post(server, *signing.interaction(payload))
    assert status == 200
    assert json.loads(text) == {"response_action": "errors", "errors": {"question": "Ask a question first"}}
    payload["trigger_id"] = "another-submission"
    payload["view"]["state"]["values"]["close_after"]["close_after"]["value"] = "5"
    assert await post(server, *signing.interaction(payload)) == (200, "")
    assert [e.values["close_after"] for e in seen] == ["3", "5"]
    assert seen[0].metadata == '{"channel":"C2147483705"}' and seen[0].actor == Person("slack", "U2147483697")


async def test_form_errors_found_after_the_deadline_reach_the_person_privately(server: Running,
                                                                             fake: FakeSlack) -> None:
    async def slow(_event: FormSubmitted, _responder: object) -> FormErrors | None:
        await asyncio.sleep(FORM_DEADLINE_SECONDS + 1)
        return {"question": "Ask a <!channel> question first", "_": "Pick at least one team"}

    server.runtime.core.handlers.forms["pulse"] = slow
    started = time.perf_counter()
    assert await post(server, *signing.interaction(load("view_submission"))) == (200, "")  # the modal closes
    assert time.perf_counter() - started < 3
    (dm,) = await fake.wait_for("chat.postMessage", seconds=FORM_DEADLINE_SECONDS + 5)
    assert dm.args["channel"] == "D2147483697" and fake.of("conversations.open")[0].args["users"] == ADMIN
    shown = json.dumps(dm.args["blocks"], ensure_ascii=False)
    assert "“New pulse” was not saved" in shown and "• Question: Ask a &lt;!channel&gt; question first" in shown
    assert "• Pick at least one team" in shown


async def test_a_slow_command_and_click_are_still_acked_within_3_seconds(server: Running) -> None:
    finished: list[str] = []
    both = asyncio.Event()

    async def slow(name: str) -> None:
        await asyncio.sleep(4)
        finished.append(name)
        if len(finished) == 2:
            both.set()

    async def slow_command(event: CommandEvent, _words: list[str], _responder: Responder) -> None:
        await slow(event.command)

    async def slow_click(event: ActionEvent, _responder: Responder) -> None:
        await slow(event.action_id)

    core = server.runtime.core
    core.commands.register(Command("slowtest", "test-only: takes 4 s", default=slow_command))
    core.handlers.actions["slowtest"] = slow_click
    click = load("block_actions_vote")
    click["actions"] = [{**click["actions"][0], "action_id": "slowtest:1#0"}]
    for request in (signing.command({**load("command_station_help"), "command": "/slowtest", "text": ""}),
                    signing.interaction(click)):
        started = time.perf_counter()
        assert await post(server, *request) == (200, "")
        assert time.perf_counter() - started < 3
    await asyncio.wait_for(both.wait(), 6)
    assert sorted(finished) == ["slowtest", "slowtest:1"]


async def test_an_expired_form_says_so_under_its_first_field(server: Running) -> None:
    payload = load("view_submission")
    payload["view"]["callback_id"] = "retired:form"
    status, text = await post(server, *signing.interaction(payload))
    assert status == 200
    assert json.loads(text)["errors"] == {"question": "This form has expired; please open it again."}


async def test_opening_the_home_tab_publishes_the_home_card(server: Running, fake: FakeSlack) -> None:
    assert (await post(server, *signing.event(load("event_app_home_opened"))))[0] == 200
    (publish,) = await fake.wait_for("views.publish")
    assert publish.args["user_id"] == "U0ANA0001"
    view = publish.args["view"] if isinstance(publish.args["view"], dict) else json.loads(publish.args["view"])
    assert view["type"] == "home" and view["blocks"][0] == {
        "type": "header", "text": {"type": "plain_text", "text": "Earshot", "emoji": True}}
    shown = json.dumps(view["blocks"], ensure_ascii=False)  # what it lists: see test_e2e_stations.py
    assert "No open pulses waiting for you" in shown and "No feedback from your stations yet" in shown


async def test_web_api_calls_go_to_the_configured_url_with_the_bot_token(server: Running, fake: FakeSlack) -> None:
    await post(server, *signing.event(load("event_member_joined_channel_bot")))
    await fake.wait_for("chat.postMessage")
    assert {c.token for c in fake.calls if c.method not in ("upload", "response_url")} == {"xoxb-test"}
    assert fake.of("auth.test")


async def test_configured_admins_are_admins(server: Running) -> None:
    async with server.runtime.db.session() as session:
        assert await has_any_role(session, Person("slack", ADMIN), "manager")
        assert not await has_any_role(session, Person("slack", "U0ANA0001"), "manager")


@pytest.mark.parametrize("fixture", ["event_message_top_level", "event_message_from_bot", "event_reaction_on_file"])
async def test_events_that_are_not_ours_are_acked_and_dropped(server: Running, fake: FakeSlack,
                                                              fixture: str) -> None:
    assert (await post(server, *signing.event(load(fixture))))[0] == 200
    await asyncio.sleep(0.2)
    metrics = server.runtime.metrics.render().decode()
    assert 'platform="slack"' not in metrics.split("earshot_events_total", 1)[1].split("# HELP", 1)[0]


DEEP = '{"a":' * 5000 + "1" + "}" * 5000


@pytest.mark.parametrize(("body", "content_type"), [
    (DEEP.encode(), "application/json"),
    (b'{"type":"event_callback","x":"\xff"}', "application/json"),  # not UTF-8
    (b"payload=%7B", signing.FORM),
    (b"payload=" + b"%5B" * 5000, signing.FORM),
], ids=["deep-json", "invalid-utf8", "payload-brace", "payload-deep"])
@pytest.mark.parametrize("signature", [None, "v0=" + "0" * 64])
async def test_an_unsigned_body_is_refused_before_it_is_read(server: Running, fake: FakeSlack,
                                                             caplog: pytest.LogCaptureFixture, body: bytes,
                                                             content_type: str, signature: str | None) -> None:
    """Anyone who can reach the port can send these: a 401 without parsing, and no traceback in the log."""
    headers = {"Content-Type": content_type, "X-Slack-Request-Timestamp": str(int(time.time()))}
    if signature is not None:
        headers["X-Slack-Signature"] = signature
    async with aiohttp.ClientSession() as session, session.post(server.url + EVENTS, data=body,
                                                                headers=headers) as response:
        assert response.status == 401
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING or r.exc_info], caplog.text
    assert fake.calls == []


@pytest.mark.parametrize(("body", "content_type"), [
    (DEEP, "application/json"),
    ("[1, 2]", "application/json"),
    ("payload=%7B", signing.FORM),
    ("payload=" + "%5B" * 5000, signing.FORM),
    ('{"a":' * 65 + "1" + "}" * 65, "application/json"),  # every Python parses it: refused by json_input's limit
    ("payload=" + "%7B%22a%22%3A" * 65 + "1" + "%7D" * 65, signing.FORM),
], ids=["deep-json", "json-array", "payload-brace", "payload-deep", "json-65-deep", "payload-65-deep"])
async def test_a_signed_body_that_cannot_be_parsed_is_a_400_and_a_warning(
        server: Running, caplog: pytest.LogCaptureFixture, body: str, content_type: str) -> None:
    status, _ = await post(server, body, signing.headers(body, content_type=content_type))
    assert status == 400
    logged = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert [r.levelno for r in logged] == [logging.WARNING] and logged[0].exc_info is None, caplog.text

"""End to end over HTTP: activities POSTed to /api/messages of the real app, replies landing on a fake Bot
Connector on loopback. The flows use a small test-only feature (a vote card, a DM, a form) registered on the
core, so the Teams plumbing is proven independently of the real features."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlmodel import select

from bot.adapter import Responder
from bot.cards import Button, Buttons, Card, Form, Heading, Input, text_card
from bot.commands import Command
from bot.core import Earshot
from bot.events import ActionEvent, CommandEvent, Target
from bot.outbox import Outbox
from storage.tables import ConversationRef
from tests.support.server import Running, running_app
from tests.teams.activities import recorded
from tests.teams.fake_connector import FakeConnector, running_connector

CHANNEL = "19:9f1e6b2c7d8a4e3f5a0b1c2d3e4f5a6b@thread.tacv2"
TEAM = "19:2b5a3c0f8d1e4f7a9b6c5d4e3f2a1b0c@thread.tacv2"
PERSONAL = "a:1xqGZc9yS7nTJbhbA2M9zZ4a6Xc4l3Yq7cPzq2D5vG3kZbWq8Jx0Ho1Nd6Rf5Tg4Yh3Uj2Ik1Ol0Pm9Qn8"
ANA = "29:1GcS4EyB_oSI8A88XmWBN7NJFyMqe3QGnJdgLfFGkJnVelzRGos0bPbpsfJjcbAD22bmKc4GMbrY2g4JDrWoDJA"
BEN = "29:1Rmk3pYQ7vA2mCkZ0a9oWq8Jc6QnXyHt5LbDf4Ue2Ig1Ps0Mv7Nw3Ox8Zr9Ty6Ks5Jh4Gf3Dd2Sa1"
TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
APP_ID = "2d4b1c3a-9f5e-4f7a-8c1e-6a2b3c4d5e6f"


def vote_card(votes: int) -> Card:
    return Card(f"{votes} votes", (Heading(f"Votes so far: {votes}"),
                                   Buttons((Button("vote:1", "Vote", "yes", style="primary"),))))


def install_test_feature(core: Earshot) -> None:
    """`vote launch` posts a card through the outbox; its button queues an update; `vote dm` messages Ben;
    `vote form` opens a form. Stand-ins for pulses and stations."""
    services = core.services
    command = core.commands.register(Command("vote", "test-only votes"))

    async def enqueue(target: Target, card: Card, key: str) -> None:
        async with services.db.session() as session:
            await services.outbox.send(session, target, card, dedupe_key=key)
            await session.commit()

    @command.add("launch", "", "post a vote card here")
    async def launch(event: CommandEvent, _words: list[str], _responder: Responder) -> None:
        await enqueue(Target.channel("teams", event.channel_id or "", event.thread_id), vote_card(0), event.event_id)

    @command.add("dm", "", "message Ben")
    async def dm(event: CommandEvent, _words: list[str], _responder: Responder) -> None:
        await enqueue(Target.user("teams", BEN), text_card("Hello Ben 👋"), event.event_id)

    @command.add("form", "", "open a form")
    async def form(_event: CommandEvent, _words: list[str], responder: Responder) -> None:
        await responder.open_form(Form("vote-form", "Your vote", (Input("why", "Why?"),)))

    async def on_vote(event: ActionEvent, responder: Responder) -> None:
        assert event.message is not None
        async with services.db.session() as session:
            parent = await Outbox.find_by_message(session, "teams", event.message.channel_id, event.message.message_id)
            assert parent is not None
            await services.outbox.update(session, parent, vote_card(1))
            await session.commit()
        await responder.private(text_card("Vote counted"))

    core.handlers.actions["vote"] = on_vote


@pytest.fixture
async def connector() -> AsyncIterator[FakeConnector]:
    async with running_connector() as fake:
        yield fake


@pytest.fixture
async def server(db_url: str) -> AsyncIterator[Running]:
    async with running_app(db_url, demo=False, EARSHOT_TEAMS_EMULATOR="1") as running:
        install_test_feature(running.runtime.core)
        yield running


async def post(server: Running, activity: dict[str, Any], headers: dict[str, str] | None = None,
               raw: str | None = None) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as session, session.post(
            f"{server.url}/api/messages", data=raw if raw is not None else json.dumps(activity),
            headers={"Content-Type": "application/json", **(headers or {})}) as response:
        text = await response.text()
        return response.status, json.loads(text) if text else None


def at(connector: FakeConnector, name: str, **changes: Any) -> dict[str, Any]:
    return recorded(name, serviceUrl=connector.url, **changes)


async def test_a_personal_command_is_answered_in_the_chat(server: Running, connector: FakeConnector) -> None:
    status, _ = await post(server, at(connector, "message_personal_command"))
    assert status == 201
    (reply,) = await connector.wait_for(1)
    assert reply.segments == ["conversations", PERSONAL, "activities", "1709543727512"]
    assert "/pulse help" in json.dumps(reply.card, ensure_ascii=False)
    assert reply.authorization is None  # emulator mode: no token


async def test_installing_in_a_team_stores_the_reference_and_the_welcome_goes_out(
        server: Running, connector: FakeConnector) -> None:
    status, _ = await post(server, at(connector, "conversation_update_bot_added_team"))
    assert status == 201
    (welcome,) = await connector.wait_for(1)
    assert welcome.segments == ["conversations", TEAM, "activities"]
    assert "Earshot" in json.dumps(welcome.card, ensure_ascii=False)
    async with server.runtime.db.session() as session:
        (stored,) = list(await session.exec(select(ConversationRef)))
    assert (stored.conversation_id, stored.kind) == (TEAM, "channel")


async def test_a_vote_card_is_posted_answered_and_updated_in_place(server: Running, connector: FakeConnector) -> None:
    status, _ = await post(server, at(connector, "message_channel_command", text="<at>Earshot</at> vote launch"))
    assert status == 201
    (posted,) = await connector.wait_for(1)
    assert posted.segments == ["conversations", CHANNEL, "activities"]
    action = posted.card["body"][1]["actions"][0]
    assert (action["type"], action["verb"]) == ("Action.Execute", "vote:1")
    message_id = (await _sent_message_id(server))
    status, body = await post(server, at(connector, "invoke_vote", replyToId=message_id, value={
        "action": {"type": "Action.Execute", "verb": "vote:1", "data": action["data"]}, "trigger": "manual"}))
    assert status == 200
    assert body == {"statusCode": 200, "type": "application/vnd.microsoft.activity.message", "value": "Vote counted"}
    (update,) = await connector.wait_for(1, "PUT")
    assert update.segments == ["conversations", CHANNEL, "activities", message_id]
    assert "Votes so far: 1" in json.dumps(update.card)


async def _sent_message_id(server: Running) -> str:
    from storage.tables import Delivery

    async with server.runtime.db.session() as session:
        for _ in range(50):
            row = (await session.exec(select(Delivery).where(Delivery.status == "sent"))).first()
            if row is not None and row.message_id:
                return row.message_id
            await asyncio.sleep(0.1)
    raise AssertionError("the vote card was never marked sent")


async def test_a_card_for_a_thread_is_a_reply_to_its_root(server: Running, connector: FakeConnector) -> None:
    await post(server, at(connector, "message_channel_thread_command", text="<at>Earshot</at> vote launch"))
    (posted,) = await connector.wait_for(1)
    assert posted.segments == ["conversations", f"{CHANNEL};messageid=1709543800123", "activities", "1709543800123"]


async def test_a_dm_opens_a_one_to_one_chat_first(server: Running, connector: FakeConnector) -> None:
    await post(server, at(connector, "message_channel_command", text="<at>Earshot</at> vote dm"))
    created, message = await connector.wait_for(2)
    assert created.segments == ["conversations"]
    assert created.body["isGroup"] is False and created.body["members"] == [{"id": BEN}]
    assert created.body["channelData"] == {"tenant": {"id": TENANT}}  # what Teams reads (botbuilder also sends
    assert created.body["tenantID"] == TENANT  # its own spelling of tenantId)
    assert message.segments == ["conversations", "a:created-1", "activities"]
    async with server.runtime.db.session() as session:
        stored = (await session.exec(select(ConversationRef).where(ConversationRef.user_id == BEN))).one()
    assert (stored.conversation_id, stored.kind) == ("a:created-1", "personal")


async def test_private_answers_and_forms_from_a_channel_go_to_the_one_to_one_chat(
        server: Running, connector: FakeConnector) -> None:
    await post(server, at(connector, "message_channel_command", text="<at>Earshot</at> pulse help"))
    created, help_reply = await connector.wait_for(2)
    assert created.body["members"] == [{"id": ANA}]
    assert help_reply.conversation_id == "a:created-1" and "/pulse help" in json.dumps(help_reply.card)
    await post(server, at(connector, "message_channel_command", id="1709543800999",
                          text="<at>Earshot</at> vote form"))
    form = (await connector.wait_for(3))[-1]
    assert form.conversation_id == "a:created-1"  # the chat opened before is reused
    assert form.card["body"][1]["id"] == "input:why"


async def test_bad_requests_are_refused_clearly(server: Running, connector: FakeConnector) -> None:
    assert (await post(server, {}, raw="not json"))[0] == 400
    assert (await post(server, {"text": "no type"}))[0] == 400
    async with aiohttp.ClientSession() as session, session.post(f"{server.url}/api/messages", data="x",
                                                                headers={"Content-Type": "text/plain"}) as response:
        assert response.status == 415


@pytest.fixture
async def secured(db_url: str) -> AsyncIterator[Running]:
    async with running_app(db_url, demo=False, MicrosoftAppId=APP_ID, MicrosoftAppPassword="secret",
                           MicrosoftAppType="SingleTenant", MicrosoftAppTenantId=TENANT) as running:
        yield running


def forged_token(issuer: str) -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = int(time.time())
    claims = {"iss": issuer, "aud": APP_ID, "serviceurl": "http://127.0.0.1:9/", "iat": now, "nbf": now,
              "exp": now + 3600}
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": "not-a-microsoft-key"})


@pytest.mark.parametrize("authorization", [
    None,
    "Bearer",
    "Bearer not.a.jwt",
    "Basic dXNlcjpwYXNz",
    "Bearer " + forged_token("https://evil.example"),
    "Bearer " + forged_token("https://api.botframework.com"),  # right issuer, key Microsoft never published
])
async def test_with_an_app_id_a_missing_or_bad_token_is_401(secured: Running, authorization: str | None) -> None:
    headers = {"Authorization": authorization} if authorization is not None else {}
    status, _ = await post(secured, recorded("message_personal_command", serviceUrl="http://127.0.0.1:9/"), headers)
    assert status == 401
    async with secured.runtime.db.session() as session:
        assert list(await session.exec(select(ConversationRef))) == []  # nothing of a refused turn is kept


async def test_null_entities_and_unknown_invokes_get_answers_not_5xx(server: Running, connector: FakeConnector
                                                                     ) -> None:
    """`"entities": [null]` crashed serializing the activity (500); an invoke Earshot doesn't handle got
    botbuilder's default 501. Both are the client's doing: a turn that still runs, and a 400 that says why."""
    base = {"serviceUrl": connector.url, "from": {"id": ANA}, "conversation": {"id": PERSONAL},
            "channelId": "msteams", "recipient": {"id": "28:earshot"}}
    status, _ = await post(server, {**base, "type": "message", "id": "m-null", "text": "pulse help",
                                    "entities": [None]})
    assert status in (200, 201)
    status, body = await post(server, {**base, "type": "invoke", "id": "i-unknown", "name": "config/fetch"})
    assert status == 400 and "config/fetch" in body["error"]


MISSING = object()
MALFORMED: list[tuple[str, Any]] = [
    ("type", 5), ("type", ["message"]),
    ("serviceUrl", MISSING), ("serviceUrl", None), ("serviceUrl", {}), ("serviceUrl", {"id": None}),
    ("serviceUrl", [{}]), ("serviceUrl", 5), ("serviceUrl", "file:///etc/passwd"), ("serviceUrl", "ftp://127.0.0.1/"),
    ("serviceUrl", "x"), ("serviceUrl", "http:///v3"), ("serviceUrl", "http://[::1/"),
    ("conversation", MISSING), ("conversation", None), ("conversation", {}), ("conversation", {"id": None}),
    ("conversation", {"id": ""}), ("conversation", {"id": 5}), ("conversation", "a:chat"),
    ("from", {"id": 5}), ("from", "29:ana"), ("from", []),
]


@pytest.mark.parametrize(("field", "value"), MALFORMED,
                         ids=[f"{f}={'missing' if v is MISSING else json.dumps(v)}" for f, v in MALFORMED])
async def test_an_activity_of_the_wrong_shape_is_a_400_that_names_the_field(
        server: Running, connector: FakeConnector, field: str, value: Any) -> None:
    activity = at(connector, "message_personal_command", text="station preview")
    if value is MISSING:
        del activity[field]
    else:
        activity[field] = value
    status, body = await post(server, activity)
    assert status == 400 and field in body["error"], body
    await asyncio.sleep(0.2)
    assert connector.calls == []


async def test_a_service_url_that_answers_with_a_page_not_json_is_a_502(server: Running, connector: FakeConnector,
                                                                         caplog: pytest.LogCaptureFixture) -> None:
    """Any 404 page: msrest can't read it as the Bot Connector's error (DeserializationError), nor a 200 page as
    a resource; either way the reply didn't reach Teams, which is a bad gateway, not Earshot's 500."""
    activity = recorded("message_personal_command", serviceUrl=f"{connector.url}no/such/")
    with caplog.at_level(logging.INFO, logger="adapters.teams"):
        status, body = await post(server, activity)
    assert status == 502 and "serviceUrl" in body["error"]
    (logged,) = [r for r in caplog.records if r.name == "adapters.teams.routes"]
    assert logged.levelno == logging.WARNING and logged.exc_info is None and "DeserializationError" in logged.message

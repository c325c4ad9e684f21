"""Card data travels through the client, so nothing in a card's value chooses who acts or where: the person is the
activity's `from`, the conversation its `conversation`, the card its `replyToId`; a form's metadata is re-checked
by the core against what the person may do."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlmodel import select

from bot.adapter import Responder
from bot.cards import FormErrors
from bot.events import ActionEvent, AnyEvent, FormSubmitted
from bot.roles import grant
from storage.engine import Database
from storage.tables import Pulse
from tests.support.core import CoreHarness, make_harness
from tests.support.server import Running, running_app
from tests.teams.activities import recorded
from tests.teams.fake_connector import FakeConnector, running_connector
from tests.teams.test_http import ANA, BEN, CHANNEL, TENANT, post
from tests.teams.test_turn import Turns

SECRET = "19:0c0ffee0c0ffee0c0ffee0c0ffee00@thread.tacv2"
MALLORY = "29:mallory"
FORGED = {"from": {"id": MALLORY, "name": "Mallory"}, "actor": MALLORY, "user_id": MALLORY,
          "conversation": {"id": SECRET}, "channel_id": SECRET, "channel": SECRET, "replyToId": "1", "message_id": "1"}


@pytest.fixture
def harness(db: Database) -> CoreHarness:
    return make_harness(db)


def spy(harness: CoreHarness) -> list[AnyEvent]:
    seen: list[AnyEvent] = []

    async def on_action(event: ActionEvent, _responder: Responder) -> None:
        seen.append(event)

    async def on_form(event: FormSubmitted, _responder: Responder) -> FormErrors | None:
        seen.append(event)
        return None

    harness.core.handlers.actions["vote"] = on_action
    harness.core.handlers.forms["pulse-new"] = on_form
    return seen


async def test_a_tampered_card_value_chooses_neither_the_person_nor_the_conversation(harness: CoreHarness) -> None:
    seen = spy(harness)
    turns = Turns(harness)
    button = recorded("invoke_vote")
    button["value"] = {**FORGED, "action": {**button["value"]["action"], "data": {
        **button["value"]["action"]["data"], **FORGED}}}
    form = recorded("invoke_form")
    form["value"]["action"]["data"].update(FORGED, form_title="✓ Approved by HR " + "x" * 5_000)
    submit = recorded("message_personal_command", id="1709549999000", text=None,
                      value={"form_id": "pulse-new", "metadata": SECRET, "input:question": "Hi?", **FORGED})
    await turns.run(button)
    (accepted,) = await turns.run(form)
    await turns.run(submit)
    action, by_invoke, by_submit = seen
    assert isinstance(action, ActionEvent) and isinstance(by_invoke, FormSubmitted)
    assert isinstance(by_submit, FormSubmitted)
    for event, sent in ((action, button), (by_invoke, form), (by_submit, submit)):
        assert event.actor.user_id == sent["from"]["id"] == ANA
        assert event.channel_id == sent["conversation"]["id"].split(";")[0] != SECRET
    assert action.message is not None and action.message.message_id == button["replyToId"] != "1"
    assert by_submit.metadata == SECRET  # handed over as what the client says it is, for the core to check
    title = accepted.value.body["value"]["body"][0]["text"]
    assert title.startswith("✓ ✓ Approved by HR") and len(title) < 200


@pytest.fixture
async def connector() -> AsyncIterator[FakeConnector]:
    async with running_connector() as fake:
        fake.members_of = {CHANNEL: [{"id": ANA, "name": "Ana Souza"}], SECRET: [{"id": BEN, "name": "Ben Okafor"}]}
        yield fake


@pytest.fixture
async def server(db_url: str) -> AsyncIterator[Running]:
    async with running_app(db_url, demo=False, EARSHOT_TEAMS_EMULATOR="1") as running:
        async with running.runtime.db.session() as session:
            await grant(session, "teams", ANA, "manager")
            await session.commit()
        yield running


def at(connector: FakeConnector, name: str, **changes: Any) -> dict[str, Any]:
    return recorded(name, serviceUrl=connector.url, **changes)


async def test_a_form_launches_only_where_its_author_may_whatever_its_metadata_says(
        server: Running, connector: FakeConnector) -> None:
    secret = {"id": SECRET, "conversationType": "channel", "tenantId": TENANT, "isGroup": True}
    ben = {"id": BEN, "name": "Ben Okafor"}
    assert (await post(server, at(connector, "message_channel_command", id="1709540000001", conversation=secret,
                                  text="<at>Earshot</at> pulse help", **{"from": ben})))[0] == 201  # Earshot knows it
    assert (await post(server, at(connector, "message_channel_command", id="1709540000002",
                                  text="<at>Earshot</at> pulse")))[0] == 201  # the form goes to Ana's 1:1 chat
    form = next(c for c in await connector.wait_for(4) if "input:title" in json.dumps(c.body))
    chat = {"id": form.conversation_id, "conversationType": "personal", "tenantId": TENANT}
    (action,) = form.card["body"][-1]["actions"]
    filled = {"input:title": "Quick one", "input:questions": "yesno: Coffee at 3?", "input:audience": "channel",
              "input:anonymous": "yes", "input:results": "live", "input:share": "no", "input:when": "zone",
              "input:tz": "UTC"}

    async def send(metadata: str, number: int) -> Any:
        invoke = at(connector, "invoke_form", id=f"f:trust-{number}", conversation=chat)
        invoke["value"]["action"] = {"type": "Action.Execute", "verb": action["verb"],
                                     "data": {**action["data"], **filled, "metadata": metadata}}
        status, body = await post(server, invoke)
        assert status == 200
        return body

    refused = await send(SECRET, 1)
    assert "only to a channel you are in" in refused["value"]
    async with server.runtime.db.session() as session:
        assert list(await session.exec(select(Pulse))) == []
    accepted = await send(CHANNEL, 2)
    assert "✓ New pulse" in json.dumps(accepted, ensure_ascii=False)
    async with server.runtime.db.session() as session:
        (pulse,) = list(await session.exec(select(Pulse)))
    assert (pulse.author_id, pulse.audience["channel_id"]) == (ANA, CHANNEL)

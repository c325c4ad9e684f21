"""The bot's turn handler under botbuilder's TestAdapter: replies, invoke responses, forms, stored references."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botbuilder.core.adapters import TestAdapter
from botbuilder.schema import Activity
from sqlmodel import select

from adapters.teams.adapter import TeamsAdapter
from adapters.teams.connection import build_cloud_adapter
from adapters.teams.references import References
from adapters.teams.turn import ACKNOWLEDGED, TeamsBot
from bot.adapter import Responder
from bot.cards import FormErrors, text_card
from bot.events import ActionEvent, FormSubmitted
from storage.engine import Database
from storage.tables import ConversationRef
from tests.support.core import CoreHarness, make_harness
from tests.teams.activities import recorded

ANA = "29:1GcS4EyB_oSI8A88XmWBN7NJFyMqe3QGnJdgLfFGkJnVelzRGos0bPbpsfJjcbAD22bmKc4GMbrY2g4JDrWoDJA"


class Turns:
    """Runs recorded activities through TeamsBot.on_turn on a TestAdapter, which keeps what the bot sends."""

    def __init__(self, harness: CoreHarness) -> None:
        cloud, _ = build_cloud_adapter(harness.settings)
        references = References(harness.db)
        self.bot = TeamsBot(harness.core, TeamsAdapter(cloud, references, harness.db, harness.settings), references)
        self.adapter = TestAdapter()

    async def run(self, data: dict[str, Any]) -> list[Activity]:
        before = len(self.adapter.activity_buffer)
        context = self.adapter.create_turn_context(Activity().deserialize(data))
        await self.adapter.run_pipeline(context, self.bot.on_turn)
        return self.adapter.activity_buffer[before:]


@pytest.fixture
def harness(db: Database) -> CoreHarness:
    return make_harness(db)


@pytest.fixture
def turns(harness: CoreHarness) -> Turns:
    return Turns(harness)


def card_text(activity: Activity) -> str:
    return json.dumps(activity.attachments[0].content, ensure_ascii=False)


async def test_a_command_in_the_personal_chat_is_answered_there_with_a_card(turns: Turns, harness: CoreHarness) -> None:
    (reply,) = await turns.run(recorded("message_personal_command"))
    assert reply.attachments[0].content_type == "application/vnd.microsoft.card.adaptive"
    assert "/pulse help" in card_text(reply)
    assert reply.conversation.id.startswith("a:1xqGZc9y")
    async with harness.db.session() as session:
        (stored,) = list(await session.exec(select(ConversationRef)))
    assert (stored.platform, stored.kind, stored.user_id) == ("teams", "personal", ANA)
    assert json.loads(stored.reference)["serviceUrl"] == "https://smba.trafficmanager.net/emea/"


async def test_a_resent_command_is_answered_once(turns: Turns) -> None:
    assert len(await turns.run(recorded("message_personal_command"))) == 1
    assert await turns.run(recorded("message_personal_command")) == []


async def test_a_card_button_gets_an_invoke_response_with_what_the_core_said(turns: Turns,
                                                                              harness: CoreHarness) -> None:
    seen: list[ActionEvent] = []

    async def on_vote(event: ActionEvent, responder: Responder) -> None:
        seen.append(event)
        await responder.private(text_card(f"Thanks, your {event.value} is in."))

    harness.core.handlers.actions["vote"] = on_vote
    (response,) = await turns.run(recorded("invoke_vote"))
    assert response.type == "invokeResponse" and response.value.status == 200
    assert response.value.body == {"statusCode": 200, "type": "application/vnd.microsoft.activity.message",
                                   "value": "Thanks, your 4 is in."}
    (again,) = await turns.run(recorded("invoke_vote"))  # a resend is acknowledged, not counted twice
    assert again.value.body["value"] == ACKNOWLEDGED and len(seen) == 1


async def test_form_errors_keep_the_form_and_an_accepted_form_is_replaced(turns: Turns,
                                                                          harness: CoreHarness) -> None:
    async def on_form(event: FormSubmitted, _responder: Responder) -> FormErrors | None:
        return None if event.values.get("scale") == "1-5" else {"scale": "Pick a scale"}

    harness.core.handlers.forms["pulse-new"] = on_form
    bad = recorded("invoke_form")
    bad["value"]["action"]["data"]["input:scale"] = ""
    (refused,) = await turns.run(bad)
    assert refused.value.body["type"] == "application/vnd.microsoft.activity.message"
    assert "Pick a scale" in refused.value.body["value"]
    (accepted,) = await turns.run(recorded("invoke_form", id="f:second-try"))
    assert accepted.value.body["type"] == "application/vnd.microsoft.card.adaptive"
    assert "✓ New pulse" in json.dumps(accepted.value.body["value"], ensure_ascii=False)


async def test_a_submit_fallback_form_with_errors_is_answered_with_them(turns: Turns, harness: CoreHarness) -> None:
    async def on_form(_event: FormSubmitted, _responder: Responder) -> FormErrors | None:
        return {"question": "Ask a question"}

    harness.core.handlers.forms["pulse-new"] = on_form
    data = recorded("message_personal_command", id="1709549999000", text=None,
                    value={"form_id": "pulse-new", "metadata": "", "input:question": ""})
    (reply,) = await turns.run(data)
    assert "Ask a question" in card_text(reply)


async def test_an_unknown_form_is_reported_as_expired(turns: Turns, harness: CoreHarness) -> None:
    harness.core.handlers.forms.pop("pulse-new")  # as if the form's feature were gone since it was sent
    (response,) = await turns.run(recorded("invoke_form"))
    assert "expired" in response.value.body["value"]


async def test_typing_is_ignored_but_the_reference_is_kept(turns: Turns, harness: CoreHarness) -> None:
    assert await turns.run(recorded("typing_personal")) == []
    async with harness.db.session() as session:
        assert len(list(await session.exec(select(ConversationRef)))) == 1

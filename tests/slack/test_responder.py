"""Private replies and modals for one interaction, against the fake Web API: each fallback in turn."""

from __future__ import annotations

import json

from adapters.slack.adapter import SlackAdapter
from adapters.slack.platform import web_client
from adapters.slack.responder import SlackResponder
from bot.cards import Form, Input, text_card
from storage.engine import Database
from tests.slack.fake_api import FakeSlack


def responder(fake: FakeSlack, db: Database, **where: str) -> SlackResponder:
    return SlackResponder(SlackAdapter(web_client("xoxb-test", fake.api_url), db), "U0ANA0001", **where)


async def test_private_prefers_the_response_url(fake: FakeSlack, db: Database) -> None:
    await responder(fake, db, channel_id="C1", response_url=fake.response_url()).private(text_card("<@U1> only you"))
    (reply,) = fake.responses
    assert reply["response_type"] == "ephemeral" and reply["text"] == "&lt;@U1&gt; only you"
    assert fake.of("chat.postEphemeral") == []


async def test_private_falls_back_to_ephemeral_then_to_a_dm(fake: FakeSlack, db: Database) -> None:
    gone = f"{fake.url}/expired-response-url"  # answers 404, as an expired response_url does
    await responder(fake, db, channel_id="C1", response_url=gone).private(text_card("one"))
    assert [c.args["channel"] for c in fake.of("chat.postEphemeral")] == ["C1"]
    fake.fail("chat.postEphemeral", error="not_in_channel")
    await responder(fake, db, channel_id="C1").private(text_card("two"))
    (dm,) = fake.of("chat.postMessage")
    assert (dm.args["channel"], dm.args["text"]) == ("D0ANA0001", "two")
    await responder(fake, db).private(text_card("three"))  # a modal or the Home tab: no channel at all
    assert [c.args["text"] for c in fake.of("chat.postMessage")] == ["two", "three"]


async def test_open_form_uses_the_trigger_and_explains_failures(fake: FakeSlack, db: Database) -> None:
    form = Form("pulse:create", "New pulse", (Input("question", "Question"),), metadata="C1")
    await responder(fake, db, channel_id="C1", trigger_id="trig-1").open_form(form)
    (opened,) = fake.of("views.open")
    view = opened.args["view"] if isinstance(opened.args["view"], dict) else json.loads(opened.args["view"])
    assert opened.args["trigger_id"] == "trig-1" and view["callback_id"] == "pulse:create"
    fake.fail("views.open", error="expired_trigger_id")
    await responder(fake, db, channel_id="C1", trigger_id="trig-2").open_form(form)
    await responder(fake, db, channel_id="C1").open_form(form)
    notes = [c.args["text"] for c in fake.of("chat.postEphemeral")]
    assert "took too long" in notes[0] and "slash command" in notes[1]


async def test_a_private_card_with_charts_goes_by_dm_and_the_reply_says_so(fake: FakeSlack, db: Database) -> None:
    """A digest preview: an ephemeral reply can't carry its chart uploads, a DM can."""
    from bot.cards import Card, Heading, Image
    from bot.charts import save_chart

    async with db.session() as session:
        url = await save_chart(session, b"\x89PNG chart")
        await session.commit()
    card = Card("Digest preview", (Heading("Digest preview"), Image(url, "NPS trend")))
    await responder(fake, db, channel_id="C1", response_url=fake.response_url()).private(card)
    (dm,) = fake.of("chat.postMessage")
    assert dm.args["channel"] == "D0ANA0001" and "Digest preview" in dm.args["text"]
    assert list(fake.uploads.values()) == [b"\x89PNG chart"]
    (reply,) = fake.responses
    assert "sent it to you by direct message" in reply["text"]
    fake.fail("chat.postMessage", error="channel_not_found")  # no DM either: the reply comes without the chart
    await responder(fake, db, channel_id="C1", response_url=fake.response_url()).private(card)
    assert "Digest preview" in fake.responses[-1]["text"] and len(fake.uploads) == 1

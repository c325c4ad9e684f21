"""The real listening stations over Slack, end to end: /station add → POST /api/feedback → the quote card in the
subscribed channel → a reaction button, an emoji (a signed `reaction_added` event) and a thread reply → stored →
chat.update of that card. And the Home tab: the person's open pulses and the latest feedback from their stations."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
from sqlmodel import select

from storage.tables import Engagement, FeedbackReaction
from tests.slack import signing
from tests.slack.conftest import ADMIN
from tests.slack.fake_api import Call, FakeSlack
from tests.slack.signing import SECRET
from tests.slack.test_e2e_plumbing import CHANNEL, decoded, post, texts, until
from tests.slack.test_e2e_pulses import click, launched
from tests.slack.test_translate import load
from tests.support.server import Running, running_app

INGEST_TOKEN = "ingest-secret"


@asynccontextmanager
async def stations_app(db_url: str, fake: FakeSlack) -> AsyncIterator[Running]:
    async with running_app(db_url, demo=False, SLACK_BOT_TOKEN="xoxb-test", SLACK_SIGNING_SECRET=SECRET,
                           SLACK_API_URL=fake.api_url, EARSHOT_ADMINS=f"slack:{ADMIN}",
                           EARSHOT_INGEST_TOKEN=INGEST_TOKEN) as server:
        server.runtime.outbox.update_interval = 0.2
        yield server


async def quote_card(server: Running, fake: FakeSlack, text: str) -> Call:
    """The admin subscribes CHANNEL (/station add all), one item is ingested: its card as posted in CHANNEL."""
    add = {**load("command_station_help"), "text": "add all", "user_id": ADMIN, "trigger_id": "t-station-add",
           "response_url": fake.response_url("station")}
    assert await post(server, *signing.command(add)) == (200, "")
    await until(fake, "chat.postMessage", lambda c: c.args["channel"] == CHANNEL)  # the confirmation
    item = {"id": "zd-1", "source": "zendesk", "text": text, "score": 2, "score_type": "csat"}
    async with aiohttp.ClientSession() as session, session.post(
            f"{server.url}/api/feedback", json=item, headers={"Authorization": f"Bearer {INGEST_TOKEN}"}) as answer:
        assert answer.status == 202
    posted = await until(fake, "chat.postMessage", lambda c: "checkout" in c.args["text"])
    assert posted.answer is not None and posted.args["channel"] == CHANNEL
    return posted


async def test_e2e_real_stations_ingest_quote_card_button_reaction_update(db_url: str, fake: FakeSlack) -> None:
    async with stations_app(db_url, fake) as server:
        posted = await quote_card(server, fake, "<!channel> checkout *always* crashes")
        assert "&lt;!channel&gt;" in texts(posted) and "<!channel>" not in texts(posted)
        first = next(b for b in decoded(posted.args["blocks"]) if b["type"] == "actions")["elements"][0]
        press = load("block_actions_vote")
        press |= {"trigger_id": "t-react-1", "response_url": fake.response_url("react"),
                  "container": {"type": "message", "message_ts": posted.answer["ts"], "channel_id": CHANNEL,
                                "is_ephemeral": False}}
        press["actions"] = [{**press["actions"][0], "action_id": first["action_id"], "value": first["value"]}]
        assert await post(server, *signing.interaction(press)) == (200, "")
        updated = await until(fake, "chat.update", lambda c: c.args["ts"] == posted.answer["ts"])
        assert updated.args["channel"] == CHANNEL and "💡 Insight · 1" in texts(updated)


async def test_e2e_real_stations_emoji_reaction_and_thread_reply_update_the_card(db_url: str,
                                                                                 fake: FakeSlack) -> None:
    async with stations_app(db_url, fake) as server:
        posted = await quote_card(server, fake, "The checkout keeps failing on my phone")
        ts = posted.answer["ts"]
        reaction = load("event_reaction_added")
        reaction["event"] |= {"reaction": "bulb", "item": {"type": "message", "channel": CHANNEL, "ts": ts}}
        for retry in (None, 1):  # Slack resends it: it still counts once
            assert (await post(server, *signing.event(reaction, retry=retry)))[0] == 200
        updated = await until(fake, "chat.update", lambda c: c.args["ts"] == ts and "💡 Insight · 1" in texts(c))
        assert updated.args["channel"] == CHANNEL

        reply = load("event_message_thread_reply")
        reply["event"] |= {"channel": CHANNEL, "thread_ts": ts}
        assert (await post(server, *signing.event(reply)))[0] == 200
        updated = await until(fake, "chat.update", lambda c: c.args["ts"] == ts and "1 reply in thread" in texts(c))
        assert "💡 Insight · 1" in texts(updated)
        async with server.runtime.db.session() as session:
            reactions = [(r.reaction, r.user_id, r.active) for r in await session.exec(select(FeedbackReaction))]
            engaged = [(e.kind, e.user_id, e.value) for e in
                       await session.exec(select(Engagement).order_by(Engagement.id))]
        assert reactions == [("emoji:bulb", "U0ANA0001", True)]
        assert engaged == [("reaction", "U0ANA0001", "bulb"),
                           ("comment", "U0BEN0001", "I'll call them today — @U0MEI0001 fyi")]


async def test_the_home_tab_shows_the_persons_open_pulses_and_their_stations_feedback(db_url: str,
                                                                                       fake: FakeSlack) -> None:
    fake.members[CHANNEL] = [ADMIN, "U0ANA0001"]
    fake.add_user(ADMIN, "Maria", "Europe/Lisbon")
    fake.add_user("U0ANA0001", "Ana", "America/Sao_Paulo")
    async with stations_app(db_url, fake) as server:
        await quote_card(server, fake, "The checkout keeps failing on my phone")
        await launched(server, fake, "Ship on Friday?", "yesno")
        answered = await launched(server, fake, "Lunch on Thursday?", "yesno")
        await launched(server, fake, "Offsite in May?", "yesno", channel="C0OTHER001")  # Maria is not there
        vote = click(answered, "yes", ADMIN, "t-lunch", response_url=fake.response_url("lunch"))
        assert await post(server, *signing.interaction(vote)) == (200, "")
        await until(fake, "response_url", lambda c: c.args["name"] == "lunch")

        opened = load("event_app_home_opened")
        opened["event"] |= {"user": ADMIN, "channel": "D2147483697"}
        assert (await post(server, *signing.event(opened)))[0] == 200
        (publish,) = await fake.wait_for("views.publish")
        view = decoded(publish.args["view"])
        assert publish.args["user_id"] == ADMIN and view["type"] == "home"
        shown = "\n".join(b["text"]["text"] for b in view["blocks"] if b["type"] in ("header", "section"))
        assert "📊 Open pulses you haven't answered:\n• Ship on Friday?" in shown
        assert "Lunch on Thursday?" not in shown  # answered
        assert "Offsite in May?" not in shown  # not in its audience
        assert "📡 Latest from your stations:\n• The checkout keeps failing on my phone (zendesk)" in shown
        assert shown.count("•") == 2

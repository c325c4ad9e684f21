"""End to end over real HTTP: signed requests → neutral events → core → outbox → Web API → chat.update.

These tests use TEST-ONLY features registered on the core inside the test, so the plumbing is checked apart
from any feature: `PollStandIn` (command → modal → submission → card posted → votes → card updated) and
`StationStandIn` (quote card → emoji reaction and thread reply → card updated). The real features run end to end
in test_e2e_pulses.py and test_e2e_stations.py.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import aiohttp

from bot.adapter import Responder
from bot.cards import Button, Buttons, Card, Context, Form, FormErrors, Heading, Input, Quote
from bot.commands import Command
from bot.core import Earshot
from bot.events import ActionEvent, CommandEvent, FormSubmitted, MessageEvent, ReactionEvent, Target
from bot.outbox import Outbox
from tests.slack import signing
from tests.slack.fake_api import Call, FakeSlack
from tests.slack.test_translate import load
from tests.support.server import Running

CHANNEL = "C2147483705"


async def post(server: Running, body: str, headers: dict[str, str]) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.post(f"{server.url}/slack/events", data=body.encode(),
                                                                headers=headers) as response:
        return response.status, await response.text()


def decoded(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


async def until(fake: FakeSlack, method: str, done: Callable[[Call], bool], seconds: float = 10.0) -> Call:
    """The latest call of `method`, once one satisfies `done`."""
    async with asyncio.timeout(seconds):
        while True:
            matching = [c for c in fake.of(method) if done(c)]
            if matching:
                return matching[-1]
            await fake.wait_for(method, len(fake.of(method)) + 1, seconds)


def texts(call: Call) -> str:
    return json.dumps(decoded(call.args["blocks"]), ensure_ascii=False)


class PollStandIn:
    """Test-only stand-in for pulses."""

    def __init__(self, core: Earshot) -> None:
        self.core = core
        self.votes: dict[str, str] = {}
        self.question = ""
        core.commands.register(Command("testpoll", "a test-only poll", default=self.open_form))
        core.handlers.forms["testpoll"] = self.create
        core.handlers.actions["testpoll"] = self.vote

    async def open_form(self, event: CommandEvent, _words: list[str], responder: Responder) -> None:
        await responder.open_form(Form("testpoll:create", "New poll", (Input("question", "Question"),),
                                       submit_label="Launch", metadata=event.channel_id or ""))

    def card(self) -> Card:
        yes, no = (sum(v == choice for v in self.votes.values()) for choice in ("yes", "no"))
        return Card(self.question, (Heading(self.question), Buttons((
            Button("testpoll:1", "Yes", "yes", style="primary"), Button("testpoll:1", "No", "no"))),
            Context((f"Yes {yes} · No {no}",))))

    async def create(self, event: FormSubmitted, _responder: Responder) -> FormErrors | None:
        question = str(event.values.get("question", "")).strip()
        if len(question) < 5:
            return {"question": "Ask a longer question"}
        self.question = question
        services = self.core.services
        async with services.db.session() as session:
            await services.outbox.send(session, Target.channel("slack", event.metadata), self.card(),
                                       dedupe_key=f"testpoll:{event.event_id}")
            await session.commit()
        return None

    async def vote(self, event: ActionEvent, _responder: Responder) -> None:
        assert event.message is not None
        self.votes[event.actor.user_id] = str(event.value)  # one vote per person: a double click is harmless
        services = self.core.services
        async with services.db.session() as session:
            parent = await Outbox.find_by_message(session, "slack", event.message.channel_id,
                                                  event.message.message_id)
            assert parent is not None
            await services.outbox.update(session, parent, self.card())
            await session.commit()


async def test_e2e_test_only_poll_command_modal_submission_post_votes_update(server: Running,
                                                                             fake: FakeSlack) -> None:
    poll = PollStandIn(server.runtime.core)
    command = {**load("command_pulse"), "command": "/testpoll", "text": "", "trigger_id": "trigger-cmd-1"}
    assert await post(server, *signing.command(command)) == (200, "")
    (opened,) = await fake.wait_for("views.open")
    view = decoded(opened.args["view"])
    assert (opened.args["trigger_id"], view["callback_id"], view["private_metadata"]) == (
        "trigger-cmd-1", "testpoll:create", CHANNEL)

    def submission(question: str, trigger: str) -> dict[str, Any]:
        payload = load("view_submission")
        payload["trigger_id"] = trigger
        payload["view"] = {**payload["view"], **view, "id": opened.answer["view"]["id"] if opened.answer else "V1",
                           "state": {"values": {"question": {"question": {"type": "plain_text_input",
                                                                         "value": question}}}}}
        return payload

    status, text = await post(server, *signing.interaction(submission("Hi?", "trigger-submit-1")))
    assert (status, json.loads(text)) == (200, {"response_action": "errors",
                                                "errors": {"question": "Ask a longer question"}})
    assert await post(server, *signing.interaction(submission("Ship on Friday? 🚢", "trigger-submit-2"))) == (200, "")
    posted = await until(fake, "chat.postMessage", lambda c: c.args["channel"] == CHANNEL)
    assert posted.answer is not None and "Ship on Friday? 🚢" in texts(posted)
    buttons = next(b for b in decoded(posted.args["blocks"]) if b["type"] == "actions")["elements"]

    def click(user: str, choice: str, trigger: str) -> dict[str, Any]:
        button = next(b for b in buttons if b["value"] == choice)
        payload = load("block_actions_vote")
        payload |= {"trigger_id": trigger, "user": {"id": user}, "response_url": fake.response_url(trigger),
                    "container": {"type": "message", "message_ts": posted.answer["ts"], "channel_id": CHANNEL,
                                  "is_ephemeral": False}}
        payload["actions"] = [{**payload["actions"][0], "action_id": button["action_id"], "value": choice}]
        return payload

    ana_twice = [click("U0ANA0001", "yes", "t-ana-1"), click("U0ANA0001", "yes", "t-ana-2")]  # a double click
    for payload in [*ana_twice, ana_twice[0], click("U0BEN0001", "no", "t-ben-1")]:  # and a resent click
        assert await post(server, *signing.interaction(payload)) == (200, "")
    updated = await until(fake, "chat.update", lambda c: "Yes 1 · No 1" in texts(c))
    assert (updated.args["channel"], updated.args["ts"]) == (CHANNEL, posted.answer["ts"])
    assert poll.votes == {"U0ANA0001": "yes", "U0BEN0001": "no"}
    assert fake.responses == []  # nobody was told anything went wrong


class StationStandIn:
    """Test-only stand-in for listening stations."""

    def __init__(self, core: Earshot) -> None:
        self.core = core
        self.reactions: dict[str, set[str]] = {}
        self.replies: list[MessageEvent] = []
        core.handlers.reactions.append(self.on_reaction)
        core.handlers.messages.append(self.on_message)

    def card(self) -> Card:
        count = sum(len(who) for who in self.reactions.values())
        return Card("New customer feedback", (
            Heading("New customer feedback"),
            Quote("<!channel> the app *always* crashes at checkout — <https://evil.example|see>"),
            Context((f"{count} reactions · {len(self.replies)} replies",))))

    async def publish(self, channel: str) -> None:
        services = self.core.services
        async with services.db.session() as session:
            await services.outbox.send(session, Target.channel("slack", channel), self.card(),
                                       dedupe_key=f"teststation:1:{channel}")
            await session.commit()

    async def _refresh(self, channel: str, ts: str) -> None:
        services = self.core.services
        async with services.db.session() as session:
            parent = await Outbox.find_by_message(session, "slack", channel, ts)
            assert parent is not None
            await services.outbox.update(session, parent, self.card())
            await session.commit()

    async def on_reaction(self, event: ReactionEvent) -> None:
        who = self.reactions.setdefault(event.emoji, set())
        (who.add if event.added else who.discard)(event.actor.user_id)
        await self._refresh(event.message.channel_id, event.message.message_id)

    async def on_message(self, event: MessageEvent) -> None:
        self.replies.append(event)
        assert event.channel_id is not None and event.thread_id is not None
        await self._refresh(event.channel_id, event.thread_id)


async def test_e2e_test_only_station_quote_card_reaction_and_reply_update_it(server: Running,
                                                                            fake: FakeSlack) -> None:
    station = StationStandIn(server.runtime.core)
    await station.publish(CHANNEL)
    posted = await until(fake, "chat.postMessage", lambda c: c.args["channel"] == CHANNEL)
    assert posted.answer is not None
    quote = texts(posted)
    assert "&lt;!channel&gt;" in quote and "&lt;https://evil.example|see&gt;" in quote and "<!channel>" not in quote
    ts = posted.answer["ts"]

    reaction = load("event_reaction_added")
    reaction["event"]["item"] = {"type": "message", "channel": CHANNEL, "ts": ts}
    for retry in (None, 1):  # Slack resends it: the reaction still counts once
        assert (await post(server, *signing.event(reaction, retry=retry)))[0] == 200
    await until(fake, "chat.update", lambda c: "1 reactions · 0 replies" in texts(c))

    reply = load("event_message_thread_reply")
    reply["event"] |= {"channel": CHANNEL, "thread_ts": ts}
    assert (await post(server, *signing.event(reply)))[0] == 200
    updated = await until(fake, "chat.update", lambda c: "1 reactions · 1 replies" in texts(c))
    assert (updated.args["channel"], updated.args["ts"]) == (CHANNEL, ts)
    assert station.reactions == {"thumbsup": {"U0ANA0001"}}
    assert [r.text for r in station.replies] == ["I'll call them today — @U0MEI0001 fyi"]

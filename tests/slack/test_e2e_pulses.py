"""The real pulse feature over Slack, end to end: /pulse → modal (views.open) → a refused submission with the
errors in the modal → a valid one → the pulse posted → votes, one resent and one double-clicked → chat.update
with tallies; a double click on an anonymous pulse; a form-opening click served while the work queue is full."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from adapters.slack.listeners import WORK_CONCURRENCY
from tests.pulses.support import answer_counts
from tests.slack import signing
from tests.slack.conftest import ADMIN
from tests.slack.fake_api import Call, FakeSlack
from tests.slack.signing import SECRET
from tests.slack.test_e2e_plumbing import CHANNEL, decoded, post, texts, until
from tests.slack.test_translate import load
from tests.support.server import Running, running_app


def submission(view: dict[str, Any], view_id: str, trigger: str, values: dict[str, str]) -> dict[str, Any]:
    payload = load("view_submission")
    state = {}
    for block in view["blocks"]:
        if block.get("type") != "input":
            continue
        name, element = block["block_id"], block["element"]
        value = values.get(name, element.get("initial_value", ""))
        if element["type"] == "static_select":
            chosen = values.get(name) or element.get("initial_option", {}).get("value") or \
                element["options"][0]["value"]
            state[name] = {name: {"type": "static_select", "selected_option": {"value": chosen}}}
        else:
            state[name] = {name: {"type": element["type"], "value": value}}
    payload["trigger_id"] = trigger
    payload["user"] = {**payload["user"], "id": ADMIN}
    payload["view"] = {**payload["view"], **view, "id": view_id, "state": {"values": state}}
    return payload


def click(posted: Call, value: str, user: str, trigger: str, *, response_url: str | None = None,
          action_ts: str = "1700000010.123456") -> dict[str, Any]:
    """A block_actions click on the button of the posted card whose value is `value`."""
    assert posted.answer is not None
    button = next(e for b in decoded(posted.args["blocks"]) if b["type"] == "actions" for e in b["elements"]
                  if e.get("value") == value)
    payload = load("block_actions_vote")
    payload |= {"trigger_id": trigger, "user": {"id": user}, "response_url": response_url,
                "container": {"type": "message", "message_ts": posted.answer["ts"], "channel_id": CHANNEL,
                              "is_ephemeral": False}}
    payload["actions"] = [{**payload["actions"][0], "action_id": button["action_id"], "value": value,
                           "action_ts": action_ts}]
    return payload


async def launched(server: Running, fake: FakeSlack, question: str, flags: str, channel: str = CHANNEL) -> Call:
    """A pulse launched by the admin with the one-line /pulse in `channel`, as its card posted there."""
    command = {**load("command_pulse"), "text": f'"{question}" {flags}', "user_id": ADMIN, "channel_id": channel,
               "trigger_id": f"t-launch-{question}", "response_url": fake.response_url("launch")}
    assert await post(server, *signing.command(command)) == (200, "")
    return await until(fake, "chat.postMessage", lambda c: c.args["channel"] == channel and question in texts(c))


async def answers(server: Running) -> tuple[int, int]:
    """How many answers (published or waiting sealed) and participation rows the database holds."""
    return await answer_counts(server.runtime.db)


async def test_e2e_real_pulse_modal_submission_post_votes_update(db_url: str, fake: FakeSlack) -> None:
    fake.members[CHANNEL] = [ADMIN, "U0ANA0001", "U0BEN0001"]  # a channel pulse takes its members' answers
    async with running_app(db_url, demo=False, SLACK_BOT_TOKEN="xoxb-test", SLACK_SIGNING_SECRET=SECRET,
                           SLACK_API_URL=fake.api_url, EARSHOT_ADMINS=f"slack:{ADMIN}") as server:
        server.runtime.outbox.update_interval = 0.2
        command = {**load("command_pulse"), "text": "", "user_id": ADMIN, "trigger_id": "trigger-pulse-1",
                   "response_url": fake.response_url("pulse")}
        assert await post(server, *signing.command(command)) == (200, "")
        (opened,) = await fake.wait_for("views.open")
        view = decoded(opened.args["view"])
        assert opened.args["trigger_id"] == "trigger-pulse-1" and view["callback_id"] == "pulse-new"
        view_id = opened.answer["view"]["id"] if opened.answer else "V1"

        bad = submission(view, view_id, "t-submit-1", {"title": "", "questions": "single: Pick | only one"})
        status, text = await post(server, *signing.interaction(bad))
        answer = json.loads(text)
        assert status == 200 and answer["response_action"] == "errors"
        assert set(answer["errors"]) >= {"title", "questions"}

        good = submission(view, view_id, "t-submit-2", {
            "title": "Friday", "questions": "yesno: Ship on Friday? 🚢", "anonymous": "no", "close": "",
            "every": ""})
        assert await post(server, *signing.interaction(good)) == (200, "")
        posted = await until(fake, "chat.postMessage", lambda c: "Ship on Friday" in texts(c))
        assert posted.answer is not None and posted.args["channel"] == CHANNEL
        ana = click(posted, "yes", "U0ANA0001", "t-ana-1", response_url=fake.response_url("t-ana-1"))
        double = click(posted, "yes", "U0ANA0001", "t-ana-2", response_url=fake.response_url("t-ana-2"),
                       action_ts="1700000010.423456")  # a true double click: another request 0.3 s later
        ben = click(posted, "no", "U0BEN0001", "t-ben-1", response_url=fake.response_url("t-ben-1"))
        sent = await asyncio.gather(*(post(server, *signing.interaction(p)) for p in (ana, double)))
        for payload in (ana, ben):  # Ana's first click is resent
            sent.append(await post(server, *signing.interaction(payload)))
        assert sent == [(200, "")] * 4
        updated = await until(fake, "chat.update",  # the channel's card, not the author's live-results DM
                              lambda c: c.args["channel"] == CHANNEL and "2 answered" in texts(c))
        assert (updated.args["channel"], updated.args["ts"]) == (CHANNEL, posted.answer["ts"])
        assert "50% (1)" in texts(updated)
        await fake.wait_for("response_url", 3)  # a private reply to each click handled (the resend is not)
        assert await answers(server) == (2, 2)
        assert not any("3 answered" in texts(c) for c in fake.of("chat.update"))


async def test_e2e_a_double_click_on_an_anonymous_pulse_counts_once(db_url: str, fake: FakeSlack) -> None:
    fake.members[CHANNEL] = [ADMIN, "U0ANA0001"]
    async with running_app(db_url, demo=False, SLACK_BOT_TOKEN="xoxb-test", SLACK_SIGNING_SECRET=SECRET,
                           SLACK_API_URL=fake.api_url, EARSHOT_ADMINS=f"slack:{ADMIN}") as server:
        posted = await launched(server, fake, "Ship on Friday?", "yesno anonymous")
        twice = [click(posted, "yes", "U0ANA0001", f"t-{n}", response_url=fake.response_url(f"t-{n}"),
                       action_ts=f"1700000010.{n}00000") for n in (1, 2)]
        assert await asyncio.gather(*(post(server, *signing.interaction(p)) for p in twice)) == [(200, "")] * 2
        calls = await fake.wait_for("response_url", 3)
        assert await answers(server) == (1, 1)
        replies = [r.get("text", "") for c, r in zip(calls, fake.responses, strict=True) if c.args["name"] != "launch"]
        assert sum("anonymous answer is in" in r for r in replies) == 1, replies


async def test_e2e_a_form_opening_click_is_served_while_the_work_queue_is_full(db_url: str,
                                                                             fake: FakeSlack) -> None:
    async with running_app(db_url, demo=False, SLACK_BOT_TOKEN="xoxb-test", SLACK_SIGNING_SECRET=SECRET,
                           SLACK_API_URL=fake.api_url, EARSHOT_ADMINS=f"slack:{ADMIN}") as server:
        posted = await launched(server, fake, "Ship on Friday?", "yesno comment named")
        burst = WORK_CONCURRENCY + 2
        fake.members[CHANNEL] = [ADMIN, "U0ANA0001", *(f"U0VOTER{n:02d}" for n in range(burst))]
        fake.fail("chat.postEphemeral", error="not_in_channel", delay=4, times=burst)  # each vote's reply: 4 s
        for n in range(burst):  # no response_url: the thanks go by chat.postEphemeral, which holds the slot
            assert await post(server, *signing.interaction(click(posted, "yes", f"U0VOTER{n:02d}", f"t-v{n}"))) \
                == (200, "")
        await fake.wait_for("chat.postEphemeral", WORK_CONCURRENCY)  # every slot busy, the rest queued
        started = time.monotonic()
        comment = click(posted, "comment", "U0ANA0001", "t-comment")
        assert await post(server, *signing.interaction(comment)) == (200, "")
        (opened,) = await fake.wait_for("views.open", seconds=3)
        assert opened.args["trigger_id"] == "t-comment" and opened.at - started < 1.5
        assert len(fake.of("chat.postEphemeral")) == WORK_CONCURRENCY  # the votes were still waiting

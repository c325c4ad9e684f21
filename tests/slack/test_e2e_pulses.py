"""The real pulse feature over Slack, end to end: /pulse → modal (views.open) → a refused submission with the
errors in the modal → a valid one → the pulse posted → votes, one of them resent → chat.update with tallies."""

from __future__ import annotations

import json
from typing import Any

from tests.slack import signing
from tests.slack.conftest import ADMIN
from tests.slack.fake_api import FakeSlack
from tests.slack.signing import SECRET
from tests.slack.test_e2e_plumbing import CHANNEL, decoded, post, texts, until
from tests.slack.test_translate import load
from tests.support.server import running_app


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


async def test_e2e_real_pulse_modal_submission_post_votes_update(db_url: str, fake: FakeSlack) -> None:
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
        buttons = next(b for b in decoded(posted.args["blocks"]) if b["type"] == "actions")["elements"]

        def click(user: str, choice: str, trigger: str) -> dict[str, Any]:
            button = next(b for b in buttons if b["value"] == choice)
            payload = load("block_actions_vote")
            payload |= {"trigger_id": trigger, "user": {"id": user}, "response_url": fake.response_url(trigger),
                        "container": {"type": "message", "message_ts": posted.answer["ts"], "channel_id": CHANNEL,
                                      "is_ephemeral": False}}
            payload["actions"] = [{**payload["actions"][0], "action_id": button["action_id"], "value": choice}]
            return payload

        ana = click("U0ANA0001", "yes", "t-ana-1")
        for payload in (ana, ana, click("U0BEN0001", "no", "t-ben-1")):  # Ana's click arrives twice
            assert await post(server, *signing.interaction(payload)) == (200, "")
        updated = await until(fake, "chat.update",  # the channel's card, not the author's live-results DM
                              lambda c: c.args["channel"] == CHANNEL and "2 answered" in texts(c))
        assert (updated.args["channel"], updated.args["ts"]) == (CHANNEL, posted.answer["ts"])
        assert "50% (1)" in texts(updated)

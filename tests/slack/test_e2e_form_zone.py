"""The pulse form over Slack starts in the asker's own timezone, from users.info (issue 16, point 10)."""

from __future__ import annotations

from typing import Any

from tests.slack import signing
from tests.slack.conftest import ADMIN
from tests.slack.fake_api import FakeSlack
from tests.slack.test_e2e_plumbing import decoded, post
from tests.slack.test_translate import load
from tests.support.server import Running


def tz_initial(view: dict[str, Any]) -> str | None:
    (block,) = [b for b in view["blocks"] if b.get("block_id") == "tz"]
    return block["element"].get("initial_value")


async def test_the_pulse_form_starts_in_the_askers_slack_timezone(server: Running, fake: FakeSlack) -> None:
    """Was: the deployment's zone (UTC) for everyone."""
    fake.add_user(ADMIN, "Priya", "Asia/Kolkata")
    command = {**load("command_pulse"), "text": "", "user_id": ADMIN, "trigger_id": "trigger-zone",
               "response_url": fake.response_url("zone")}
    assert await post(server, *signing.command(command)) == (200, "")
    (opened,) = await fake.wait_for("views.open")
    assert tz_initial(decoded(opened.args["view"])) == "Asia/Kolkata"
    assert [c.args["user"] for c in fake.calls if c.method == "users.info"] == [ADMIN]

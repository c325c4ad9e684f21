"""Two allowed workspaces on one Earshot (OAuth installs), over real HTTP: each sees only what was made in it.

The channel both use is a Slack Connect channel shared by A and B (it has the same id in both), or an id a user
of B types in: either way, B's requests must not reach A's stations, pulses or digest teams."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlmodel import select

from storage.tables import Pulse, Station
from tests.slack import signing
from tests.slack.fake_api import FakeSlack
from tests.slack.test_e2e_plumbing import post, texts, until
from tests.slack.test_oauth import ADMIN_A, ADMIN_B, CHANNEL_A, CHANNEL_B, TEAM_A, TEAM_B, TOKEN_A, TOKEN_B
from tests.slack.test_translate import load
from tests.support.server import Running

pytestmark = pytest.mark.filterwarnings("ignore:BasicAuth is deprecated:DeprecationWarning")  # slack_sdk's


@pytest.fixture
def server(two_workspaces: Running) -> Running:
    return two_workspaces


async def command(server: Running, fake: FakeSlack, team: str, user: str, channel: str, name: str,
                  text: str) -> dict[str, Any]:
    """A slash command from a workspace; its private answer (through response_url)."""
    if text.startswith("add"):  # announced in the channel, not answered privately
        count = len(fake.of("chat.postMessage"))
        assert await post(server, *signing.command({
            **load("command_station_help"), "text": text, "team_id": team, "user_id": user, "channel_id": channel,
            "trigger_id": f"t-{team}-add", "response_url": fake.response_url(f"{team}-add")})) == (200, "")
        await fake.wait_for("chat.postMessage", count + 1)
        return {}
    reply = f"{team}-{name}-{len(fake.responses)}"
    fields = {**load("command_station_help"), "command": f"/{name}", "text": text, "team_id": team,
              "user_id": user, "channel_id": channel, "trigger_id": f"t-{reply}",
              "response_url": fake.response_url(reply)}
    assert await post(server, *signing.command(fields)) == (200, "")
    await until(fake, "response_url", lambda c: c.args["name"] == reply)
    return fake.responses[[c.args["name"] for c in fake.of("response_url")].index(reply)]


async def digest_preview(server: Running, fake: FakeSlack, team: str, user: str, channel: str) -> str:
    """`/digest preview`: it has charts, so it comes by DM; the DM's text and blocks."""
    before = len(fake.of("chat.postMessage"))
    await command(server, fake, team, user, channel, "digest", "preview")
    dm = "D" + user.lstrip("U")
    posted = await until(fake, "chat.postMessage",
                         lambda c: c.args["channel"] == dm and c in fake.of("chat.postMessage")[before:])
    return texts(posted)


def said(answer: dict[str, Any]) -> str:
    return json.dumps(answer, ensure_ascii=False)


async def test_a_workspace_sees_only_its_own_stations_pulses_and_digest_teams(server: Running,
                                                                              fake: FakeSlack) -> None:
    await command(server, fake, TEAM_A, ADMIN_A, CHANNEL_A, "station", "add area:checkout")
    for team, admin, channel, question, token in [(TEAM_A, ADMIN_A, CHANNEL_A, "Ship on Friday?", TOKEN_A),
                                                  (TEAM_B, ADMIN_B, CHANNEL_B, "Lunch on Monday?", TOKEN_B)]:
        launch = {**load("command_pulse"), "text": f'"{question}" yesno', "team_id": team, "user_id": admin,
                  "channel_id": channel, "trigger_id": f"t-{team}", "response_url": fake.response_url(team)}
        assert await post(server, *signing.command(launch)) == (200, "")
        posted = await until(fake, "chat.postMessage", lambda c, question=question: question in texts(c))
        assert posted.token == token
    async with server.runtime.db.session() as session:
        (station,) = (await session.exec(select(Station))).all()
        pulse, _ = (await session.exec(select(Pulse).order_by(Pulse.id))).all()
    assert (station.workspace, pulse.workspace) == (TEAM_A, TEAM_A)
    await command(server, fake, TEAM_B, ADMIN_B, CHANNEL_B, "station", "add all")

    # A sees its own
    assert f"#{station.id}" in said(await command(server, fake, TEAM_A, ADMIN_A, CHANNEL_A, "station", "list"))
    assert "Ship on Friday?" in said(await command(server, fake, TEAM_A, ADMIN_A, CHANNEL_A, "pulse", "list"))
    assert CHANNEL_A in await digest_preview(server, fake, TEAM_A, ADMIN_A, CHANNEL_A)

    # B, in the same (shared) channel or naming A's pulse, does not
    listed = said(await command(server, fake, TEAM_B, ADMIN_B, CHANNEL_A, "station", "list"))
    assert "no station yet" in listed and f"#{station.id}" not in listed
    assert "Ship on Friday?" not in said(await command(server, fake, TEAM_B, ADMIN_B, CHANNEL_A, "pulse", "list"))
    for words in (f"results {pulse.id}", f"export {pulse.id}", f"close {pulse.id}"):
        answer = said(await command(server, fake, TEAM_B, ADMIN_B, CHANNEL_B, "pulse", words))
        assert "no such pulse here" in answer and "Ship on Friday?" not in answer, words
    removed = said(await command(server, fake, TEAM_B, ADMIN_B, CHANNEL_A, "station", f"remove {station.id}"))
    assert "no station" in removed
    preview = await digest_preview(server, fake, TEAM_B, ADMIN_B, CHANNEL_B)
    assert CHANNEL_A not in preview and CHANNEL_B in preview

    async with server.runtime.db.session() as session:  # nothing of A's changed
        assert (await session.get(Station, station.id)).removed_at is None  # type: ignore[union-attr]
        assert (await session.get(Pulse, pulse.id)).status == "active"  # type: ignore[union-attr]
    assert not [c for c in fake.calls if c.token == TOKEN_B and CHANNEL_A in json.dumps(c.args)]

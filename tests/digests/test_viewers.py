"""A digest shown in chat is its viewer's alone: one Slack workspace's, or one platform's, never the organisation's.

The world: two Slack workspaces (A and B, OAuth installs) and Teams, each with a station, a weekly workload pulse
and three people reacting to a customer quote of their own. B's `/digest preview`, and the digest posted to a
subscription made in B, are built from B's facts alone; Teams' from Teams'; the operator's `earshot digest` still
covers them all. Customer figures (feedback volume, NPS) are the organisation's everywhere (bot.digests.viewer).
"""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, datetime, time

import pytest
from sqlmodel import col, select

from adapters.cli import main
from bot.cards import Card
from bot.digests.model import Digest
from bot.digests.viewer import Viewer
from bot.events import CommandEvent, Person
from bot.roles import grant
from storage.engine import Database
from storage.tables import Delivery, DigestSubscription
from tests.digests.conftest import WEEK
from tests.digests.seed import SETTINGS, for_the_cli
from tests.digests.world import World
from tests.support.core import CoreHarness, make_harness
from tests.support.recording import RecordingResponder

TEAM_A, TEAM_B = "TA0000001", "TB0000002"
TEAMS_CHANNEL = "19:ops@thread.tacv2"
PLACES = {  # (platform, workspace, channel): workload answers this week and last (1–5), its quote
    ("slack", TEAM_A, "CA-alpha"): ([5, 5, 5, 5], [5, 5, 5, 5], "Alpha workspace: checkout keeps failing"),
    ("slack", TEAM_B, "CB-bravo"): ([1, 1, 1], [1, 1, 1], "Bravo workspace: refunds are slow"),
    ("teams", None, TEAMS_CHANNEL): ([3, 3, 3, 3, 3], [3, 3, 3, 3, 3], "Teams side: the app logs me out"),
}
B = Viewer("slack", TEAM_B)
TEAMS = Viewer("teams", None)


async def build_world(db: Database) -> None:
    world = World(db)
    for (platform, workspace, channel), (now, before, quote) in PLACES.items():
        await world.station(channel, ["checkout"], platform=platform, workspace=workspace)
        await world.pulse(channel, now, before, platform=platform, workspace=workspace)
        key = await world.feedback("checkout", 3, "nps", text=quote)
        for person in range(3):
            await world.engage(channel, f"{channel}-fan{person}", key, hours=person + 1, platform=platform)


@pytest.fixture
async def harness(db: Database) -> CoreHarness:
    await build_world(db)
    h = make_harness(db, **SETTINGS)
    h.core.services.clock = lambda: datetime(2026, 11, 20, 12, tzinfo=UTC)  # a Friday of WEEK (2026-W47)
    async with db.session() as session:
        for platform in ("slack", "teams"):
            await grant(session, platform, "hr", "hr")
        await session.commit()
    return h


async def preview(h: CoreHarness, platform: str, workspace: str | None, channel: str) -> Card:
    responder = RecordingResponder()
    await h.core.handle(CommandEvent(platform=platform, event_id=uuid.uuid4().hex, actor=Person(platform, "hr"),
                                     channel_id=channel, command="digest", text="preview", workspace=workspace),
                        responder)
    return responder.private_cards[-1]


def quotes(digest: Digest) -> list[str]:
    return [q.text for scope in (digest.overall, *digest.teams) for q in scope.customers.quotes]


async def test_a_workspace_digest_is_built_from_that_workspace_alone(harness: CoreHarness) -> None:
    digests = harness.features.digests
    b = await digests.build(WEEK, B)
    assert [t.key for t in b.teams] == ["slack:CB-bravo"]
    assert (b.overall.employees.score.value, b.overall.employees.score.n) == (0, 3)  # B's 1s alone
    assert b.overall.employees.participation.value == 3
    assert (b.overall.bridge.people.value, b.overall.bridge.reactions.value) == (3, 3)
    assert quotes(b) and all(q.startswith("Bravo") for q in quotes(b))
    assert [p.score.value for p in b.trend[-2:]] == [0, 0]
    assert b.enps_distribution is None
    assert b.overall.customers.volume.value == 3  # the organisation's feedback: customers belong to no workspace

    teams = await digests.build(WEEK, TEAMS)
    assert [t.key for t in teams.teams] == [f"teams:{TEAMS_CHANNEL}"]
    assert (teams.overall.employees.score.value, teams.overall.employees.participation.value) == (50, 5)
    assert quotes(teams) and all(q.startswith("Teams side") for q in quotes(teams))

    nobody = await digests.build(WEEK, Viewer("slack", None))  # single-token Slack: no workspace stored here
    assert nobody.teams == [] and nobody.overall.employees.participation.value is None and not quotes(nobody)


async def test_digest_preview_shows_the_viewers_workspace_only(harness: CoreHarness) -> None:
    b = str((await preview(harness, "slack", TEAM_B, "CB-bravo")).blocks)
    assert "CB-bravo" in b and "Bravo workspace" in b
    assert "CA-alpha" not in b and "Alpha workspace" not in b and TEAMS_CHANNEL not in b and "Teams side" not in b
    a = str((await preview(harness, "slack", TEAM_A, "CA-alpha")).blocks)
    assert "CA-alpha" in a and "Alpha workspace" in a and "CB-bravo" not in a and "Bravo" not in a
    teams = str((await preview(harness, "teams", None, TEAMS_CHANNEL)).blocks)
    assert TEAMS_CHANNEL in teams and "Teams side" in teams
    for slack in ("CA-alpha", "CB-bravo", "Alpha workspace", "Bravo workspace"):
        assert slack not in teams


async def test_scheduled_digests_are_built_for_each_subscriptions_workspace(harness: CoreHarness,
                                                                           db: Database) -> None:
    async with db.session() as session:
        for platform, workspace, channel in PLACES:
            session.add(DigestSubscription(platform=platform, channel_id=channel, workspace=workspace, weekday=0,
                                           at=time(9, 0), timezone="UTC", created_by="x:hr",
                                           created_at=datetime(2026, 11, 1, tzinfo=UTC)))
        await session.commit()
    harness.core.services.clock = lambda: datetime(2026, 11, 23, 9, 1, tzinfo=UTC)  # Monday after WEEK
    assert await harness.features.digests.send_due() == 3
    async with db.session() as session:
        posted = {row.message_channel or (row.target or {}).get("channel_id"): str(row.card) for row in
                  await session.exec(select(Delivery).where(col(Delivery.dedupe_key).startswith("digest:")))}
    assert set(posted) == {channel for _, _, channel in PLACES}
    for place, (_, _, quote) in PLACES.items():
        card = posted[place[2]]
        assert place[2] in card and quote in card
        for other, (_, _, their_quote) in PLACES.items():
            if other != place:
                assert other[2] not in card and their_quote not in card


def test_the_operators_cli_digest_still_covers_every_platform_and_workspace(
        db_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    for_the_cli(db_url, monkeypatch, build_world)
    assert main(["digest", "--week", "2026-W47", "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out.lstrip("\ufeff"))))
    assert {r["scope"] for r in rows} == {"overall", "slack:CA-alpha", "slack:CB-bravo", f"teams:{TEAMS_CHANNEL}"}
    answered = next(r for r in rows if r["scope"] == "overall" and r["metric"] == "people who answered")
    assert answered["value"] == "12"

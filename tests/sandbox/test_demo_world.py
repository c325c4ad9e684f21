"""The demo world (`earshot demo`): big and varied enough that every feature shows, with the anonymity minimum
(5) kept real: three teams at or above it, #privacy below it and hidden; a live feed that never repeats a quote
before every other has had its turn; weeks of history that trends and the digest read."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import col, func, select

from adapters.sandbox.demo import TEAMS, seed_demo, seed_workspace
from adapters.sandbox.workspace import PLATFORM, Workspace
from bot.cards import Text
from bot.digests.viewer import Viewer
from bot.digests.weeks import Week
from bot.feedback.card import QUOTE_LIMIT
from bot.feedback.demo import demo_items, replay
from storage.engine import Database
from storage.tables import Participation, Pulse, PulseRun, Question, Response, RoleGrant, SandboxMessage
from tests.support.server import Running, running_app

NOW = datetime(2026, 11, 18, 15, 0, tzinfo=UTC)  # a Wednesday: this week's Monday check-in has closed
UTC_ZONE = ZoneInfo("UTC")
JSON = {"Content-Type": "application/json"}


@pytest.fixture
async def server(db_url: str) -> AsyncIterator[Running]:
    async with running_app(db_url) as running:
        yield running


async def seeded(server: Running) -> Workspace:
    workspace = server.runtime.workspace
    assert workspace is not None
    await seed_demo(server.runtime.db, workspace, now=NOW, zone=UTC_ZONE, minimum=server.runtime.settings.anon_min)
    return workspace


async def test_the_world_has_teams_of_six_to_ten_with_managers_hr_and_an_admin(db: Database) -> None:
    workspace = Workspace(db)
    await seed_workspace(db, workspace)
    people = await workspace.people()
    assert len(people) >= 28 and people[0].user_id == "ana"  # a new visitor is still Ana
    sizes = {team.name: len(await workspace.members(team.channel_id)) for team in TEAMS}
    assert sum(6 <= size <= 10 for size in sizes.values()) >= 3 and sizes["privacy"] < 5
    async with db.session() as session:
        roles = Counter((await session.exec(select(RoleGrant.role).where(RoleGrant.platform == PLATFORM))).all())
    assert roles["manager"] >= 3 and roles["hr"] >= 1 and roles["admin"] >= 1
    scripts = {name[0] for name in (p.display_name or "" for p in people)}
    assert {"ส", "Д", "О", "ر", "E"} <= scripts  # Thai, Russian, Ukrainian, Persian and English names


async def test_the_live_feed_shows_every_quote_once_before_any_comes_back(server: Running) -> None:
    items = demo_items()
    feed = asyncio.create_task(replay(server.runtime.features.stations.ingest, interval=0, seed=7))
    try:
        cards = await _cards_in(server, "C-cx", len(items) + 3)
    finally:
        feed.cancel()
    quotes = [next(b for b in card["blocks"] if b["type"] == "quote") for card in cards]
    first_round = [q["text"] + (q.get("more") or "") for q in quotes[:len(items)]]
    assert len(set(first_round)) == len(items)
    assert all(a["text"] != b["text"] for a, b in itertools.pairwise(quotes))
    assert any(q.get("more") for q in quotes)  # cut at QUOTE_LIMIT: the page shows "Show more"
    assert any(len(item["text"]) > QUOTE_LIMIT for item in items)
    assert any(_button(card, "fb:open") for card in cards)  # "Original" opens the review
    assert len({item["language"] for item in items}) >= 5 and len({item["source"] for item in items}) >= 5


async def test_the_digest_shows_teams_at_the_minimum_and_hides_the_small_one(server: Running) -> None:
    await seeded(server)
    digests = server.runtime.features.digests
    digest = await digests.build(Week.containing(NOW.date(), UTC_ZONE), Viewer(PLATFORM))
    teams = {team.name: team for team in digest.teams}
    assert {"product", "support", "billing", "privacy", "cx-feedback"} <= set(teams)
    shown = [name for name, team in teams.items()
             if team.bridge.people.value is not None and team.bridge.reactions.value is not None]
    assert len(shown) >= 2 and "privacy" not in shown
    assert sum(teams[name].employees.score.value is not None for name in ("product", "support", "billing")) >= 2
    privacy = teams["privacy"]
    assert privacy.bridge.people.value is None and privacy.bridge.reactions.value is None
    assert privacy.employees.score.value is None and privacy.employees.participation.value is None
    card = await digests.card(digest)
    listed = next(b.text for b in card.blocks if isinstance(b, Text) and b.text.startswith("Teams"))
    lines = {name: next(line for line in listed.splitlines() if name in line) for name in ("privacy", "product")}
    assert "hidden" in lines["privacy"] and "pulse hidden" not in lines["product"]


async def test_each_team_check_in_has_a_trend_of_past_weeks(server: Running) -> None:
    await seeded(server)
    pulses = server.runtime.features.pulses.pulses
    async with server.runtime.db.session() as session:
        pulse = (await session.exec(select(Pulse).where(Pulse.channel_id == "C-support"))).one()
        questions = list(await session.exec(select(Question).where(Question.pulse_id == pulse.id)
                                            .order_by(col(Question.position))))
        points, chart = await pulses.trend(session, pulse, questions)
    assert len([value for _, value in points if value is not None]) >= 3 and chart is not None


async def test_past_anonymous_answers_are_published_batches_with_no_one_beside_them(server: Running) -> None:
    await seeded(server)
    minimum = server.runtime.settings.anon_min
    async with server.runtime.db.session() as session:
        batches = list(await session.exec(select(Response.run_id, Response.question_id, func.count(),
                                                 func.count(col(Response.respondent_id)))
                                          .group_by(col(Response.run_id), col(Response.question_id))))
        sealed = (await session.exec(select(func.count()).select_from(Participation)
                                     .where(col(Participation.sealed).is_not(None)))).one()
        small = list(await session.exec(select(PulseRun.id).join(Pulse, col(Pulse.id) == PulseRun.pulse_id)
                                        .where(Pulse.channel_id == "C-privacy")))
    assert batches and all(answers >= minimum and named == 0 for _, _, answers, named in batches)
    assert sealed == 0
    assert small and not {run for run, *_ in batches} & set(small)  # below the minimum: never published


async def test_seeding_twice_adds_no_second_history(server: Running) -> None:
    await seeded(server)
    async with server.runtime.db.session() as session:
        before = (await session.exec(select(func.count()).select_from(Response))).one()
    await seeded(server)
    async with server.runtime.db.session() as session:
        assert (await session.exec(select(func.count()).select_from(Response))).one() == before
        assert (await session.exec(select(func.count()).select_from(Pulse))).one() == len(TEAMS)


async def test_a_pulse_goes_to_a_channel_named_as_people_type_it(server: Running) -> None:
    async with await server.sandbox_session() as session:
        for text in ('/pulse "Ready for the release?" yesno to:#support', '/pulse "Lunch?" yesno to:#nowhere'):
            async with session.post(f"{server.url}/sandbox/api/send", headers=JSON,
                                    data=json.dumps({"as": "maria", "channel_id": "C-general", "text": text})) as sent:
                assert sent.status == 200
    async with server.runtime.db.session() as session:
        pulses = list(await session.exec(select(Pulse)))
    assert [(p.title, p.audience["kind"], p.audience["channel_id"]) for p in pulses] == [
        ("Ready for the release?", "channel", "C-support")]  # #nowhere: "I can't find the channel", nothing sent
    cards = await _cards_in(server, "C-support", 1)
    assert "Ready for the release?" in json.dumps(cards[0], ensure_ascii=False)


async def test_to_inside_a_quoted_question_stays_as_typed(server: Running) -> None:
    text = '/pulse "Should we post updates to:#support every week?" yesno to:#product'
    async with await server.sandbox_session() as client, client.post(
            f"{server.url}/sandbox/api/send", headers=JSON,
            data=json.dumps({"as": "maria", "channel_id": "C-general", "text": text})) as sent:
        assert sent.status == 200
    async with server.runtime.db.session() as session:
        pulse = (await session.exec(select(Pulse))).one()
        question = (await session.exec(select(Question.prompt).where(Question.pulse_id == pulse.id))).one()
    assert pulse.audience["channel_id"] == "C-product"
    assert question == "Should we post updates to:#support every week?"


async def test_past_answers_carry_the_utc_day_they_were_published(server: Running) -> None:
    zone = ZoneInfo("Pacific/Kiritimati")  # UTC+14: Wednesday 09:00 there is Tuesday in UTC
    workspace = server.runtime.workspace
    assert workspace is not None
    await seed_demo(server.runtime.db, workspace, now=NOW, zone=zone, minimum=server.runtime.settings.anon_min)
    async with server.runtime.db.session() as session:
        days = list(await session.exec(select(PulseRun.closed_at, Response.answered_on).join(
            Response, col(Response.run_id) == PulseRun.id).distinct()))
    assert days and all(_utc(closed).date() == answered for closed, answered in days)
    assert any(_utc(closed).astimezone(zone).date() != answered for closed, answered in days)


def _utc(moment: datetime) -> datetime:
    """A stored moment in UTC (SQLite gives it back without its zone)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


async def _cards_in(server: Running, channel_id: str, count: int, patience: float = 60) -> list[dict]:
    """The first `count` cards the bot posted in a channel, oldest first, once they are there."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + patience
    while True:
        async with server.runtime.db.session() as session:
            rows = list(await session.exec(select(SandboxMessage.card).where(
                SandboxMessage.channel_id == channel_id, SandboxMessage.author_id == "earshot")
                .order_by(col(SandboxMessage.id)).limit(count)))
        if len(rows) >= count or loop.time() > deadline:
            assert len(rows) >= count, f"{len(rows)} cards in {channel_id}"
            return rows
        await asyncio.sleep(0.2)


def _button(card: dict, action_id: str) -> bool:
    return any(button.get("action_id") == action_id for block in card["blocks"] if block["type"] == "buttons"
               for button in block["buttons"])

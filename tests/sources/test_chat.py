"""`/station sources`: admins see the same listing as `earshot sources list`, with secret URLs masked; anyone else
is refused."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from adapters.sources.registry import Tallies, add_source, load_registered, secret_box
from bot.events import CommandEvent, Person
from storage.engine import Database
from tests.sources.fixture_kinds import SIGNED, URLONLY
from tests.support.core import CoreHarness, make_harness
from tests.support.recording import RecordingResponder


@pytest.fixture
async def harness(db: Database) -> CoreHarness:
    h = make_harness(db, EARSHOT_PUBLIC_URL="https://earshot.example.com")
    await h.grant("root", "admin")
    await h.grant("boss", "manager")
    return h


async def sources(h: CoreHarness, user: str) -> RecordingResponder:
    responder = RecordingResponder()
    event = CommandEvent(platform="test", event_id=uuid.uuid4().hex, actor=Person("test", user, user.title()),
                         channel_id="C1", command="station", text="sources")
    await h.core.handle(event, responder)
    return responder


async def test_admins_see_sources_with_secret_urls_masked(harness: CoreHarness) -> None:
    box = secret_box(harness.core.services.keys)
    await add_source(harness.db, box, SIGNED, "tool-a", {"secret": "whsec-1"}, {})
    token = await add_source(harness.db, box, URLONLY, "hook", {}, {})
    registered = await load_registered(harness.db, box)
    tallies = Tallies()
    now = harness.core.services.clock()
    tallies.count(registered["tool-a"].id, now - timedelta(hours=2), accepted=4, refused=2)
    tallies.failed(registered["tool-a"].id, now, "refused: the X-Test-Signature does not match")
    await tallies.flush(harness.db)
    text = (await sources(harness, "root")).last_text
    assert "tool-a (signed)\n  URL: https://earshot.example.com/api/sources/tool-a\n" in text
    assert "hook (urlonly)\n  URL: https://earshot.example.com/api/sources/hook/…\n" in text
    assert token is not None and token not in text and "whsec-1" not in text
    assert "last 24 h: 4 accepted · 0 updated · 0 duplicates · 0 rejected · 2 refused" in text
    assert "refused: the X-Test-Signature does not match" in text


@pytest.mark.parametrize("user", ["boss", "someone"])
async def test_others_are_refused(harness: CoreHarness, user: str) -> None:
    await add_source(harness.db, secret_box(harness.core.services.keys), SIGNED, "tool-a", {"secret": "s"}, {})
    text = (await sources(harness, user)).last_text
    assert text == "Only admins can see the feedback sources."


async def test_no_sources_yet_says_how_to_add_one(harness: CoreHarness) -> None:
    responder = await sources(harness, "root")
    assert responder.last_text == "No feedback source is registered yet."
    assert "earshot sources add" in str(responder.private_cards[-1].blocks)


async def test_the_help_lists_it(harness: CoreHarness) -> None:
    responder = RecordingResponder()
    event = CommandEvent(platform="test", event_id=uuid.uuid4().hex, actor=Person("test", "x", "X"),
                         channel_id="C1", command="station", text="help")
    await harness.core.handle(event, responder)
    assert "/station sources — the feedback tools registered as sources" in responder.last_text


async def test_the_runtime_tells_chat_which_kinds_take_a_url(db: Database) -> None:
    from adapters.runtime import Runtime
    from bot.config import load_settings

    runtime = Runtime(load_settings(DATABASE_URL=db.url, EARSHOT_SANDBOX=True))
    try:
        kinds = runtime.features.stations.webhook_kinds
        assert {"typeform", "trustpilot", "zendesk"} <= kinds and not {"appstore", "googleplay"} & kinds
    finally:
        await runtime.db.dispose()

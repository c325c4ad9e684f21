"""Command routing through the core: help, typos, unknown commands, platform retries."""

from __future__ import annotations

import pytest

from bot.events import CommandEvent, Person
from storage.engine import Database
from tests.support.core import CoreHarness, make_harness
from tests.support.recording import RecordingResponder


@pytest.fixture
def harness(db: Database) -> CoreHarness:
    return make_harness(db)


def command(name: str, text: str, event_id: str = "e1") -> CommandEvent:
    return CommandEvent(platform="test", event_id=event_id, actor=Person("test", "U1"), channel_id="C1",
                        command=name, text=text)


@pytest.mark.parametrize("name", ["pulse", "station", "digest"])
async def test_every_command_explains_itself(harness: CoreHarness, name: str) -> None:
    responder = RecordingResponder()
    await harness.core.handle(command(name, "help"), responder)
    assert responder.last_text.startswith(f"/{name}:")
    assert f"/{name} help" in responder.last_text


async def test_a_typo_gets_a_suggestion_not_a_stack_trace(harness: CoreHarness) -> None:
    responder = RecordingResponder()
    await harness.core.handle(command("digest", "hlep"), responder)
    assert "has no “hlep”" in responder.last_text


async def test_unknown_commands_and_bad_quotes_are_explained(harness: CoreHarness) -> None:
    responder = RecordingResponder()
    await harness.core.handle(command("poll", ""), responder)
    assert "I don't know /poll" in responder.last_text
    await harness.core.handle(command("pulse", 'add "unclosed', event_id="e2"), responder)
    assert "check your quotes" in responder.last_text


async def test_a_resent_event_is_handled_once(harness: CoreHarness) -> None:
    responder = RecordingResponder()
    await harness.core.handle(command("pulse", "help"), responder)
    await harness.core.handle(command("pulse", "help"), responder)  # Slack's X-Slack-Retry-Num resend
    assert len(responder.private_cards) == 1

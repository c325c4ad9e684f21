"""The sender's timezone as the Teams client tells it, for the pulse form to start in (issue 16, point 10)."""

from __future__ import annotations

from adapters.teams import translate
from bot.events import CommandEvent
from tests.teams.activities import as_received, recorded

COMMANDS = {"pulse"}


def command_of(data: dict[str, object]) -> CommandEvent:
    data["text"] = "pulse"
    (event,) = translate.events(as_received(data), COMMANDS)
    assert isinstance(event, CommandEvent)
    return event


def test_a_command_carries_the_senders_local_timezone() -> None:
    """Was: no zone on the actor, so the pulse form started in the deployment's (UTC)."""
    assert command_of(recorded("message_personal_command", localTimezone="Asia/Tokyo")).actor.timezone == \
        "Asia/Tokyo"


def test_without_local_timezone_the_client_info_entity_tells() -> None:
    data = recorded("message_personal_command")
    data.pop("localTimezone", None)
    assert command_of(data).actor.timezone == "Europe/Berlin"  # the fixture's clientInfo entity
    data["entities"] = [{"type": "clientInfo", "locale": "en-US"}]
    assert command_of(data).actor.timezone is None

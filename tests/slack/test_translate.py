"""Recorded Slack payloads → neutral events, one expectation per fixture (and every fixture has one)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from adapters.slack import translate
from adapters.slack.translate import BadPayload
from bot.events import (
    ActionEvent,
    CommandEvent,
    FormSubmitted,
    MembersAdded,
    MessageEvent,
    MessageRef,
    Person,
    ReactionEvent,
)

FIXTURES = Path(__file__).parents[1] / "fixtures" / "slack"
BOT = "UBOT0001"


def load(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def slack(user: str) -> Person:
    return Person("slack", user)


CARD = MessageRef("slack", "C2147483705", "1700000000.000100")

EXPECTED: dict[str, Any] = {
    "command_pulse": [CommandEvent(
        platform="slack", event_id="13345224609.738474920.8088930838d88f008e0", actor=slack("U2147483697"),
        channel_id="C2147483705", command="pulse", text='launch "How was this sprint?"',
        trigger_id="13345224609.738474920.8088930838d88f008e0")],
    "command_station_help": [CommandEvent(
        platform="slack", event_id="13345224610.738474920.aa11", actor=slack("U2147483697"),
        channel_id="C2147483705", command="station", text="help", trigger_id="13345224610.738474920.aa11")],
    "command_digest": [CommandEvent(
        platform="slack", event_id="13345224611.738474920.bb22", actor=slack("U2147483697"), channel_id="C0LEADS01",
        command="digest", text="", trigger_id="13345224611.738474920.bb22")],
    "block_actions_vote": [ActionEvent(
        platform="slack", event_id="12466734323.1395872398.8ee2d8c1e0c0b0a3e5e7:0", actor=slack("U2147483697"),
        channel_id="C2147483705", action_id="vote:12", value="good", message=CARD,
        trigger_id="12466734323.1395872398.8ee2d8c1e0c0b0a3e5e7")],
    "block_actions_multi_select": [ActionEvent(
        platform="slack", event_id="12466734324.1395872398.aa:0", actor=slack("U2147483697"),
        channel_id="C2147483705", action_id="topics:12", value=("billing", "onboarding"), message=CARD,
        trigger_id="12466734324.1395872398.aa")],
    "block_actions_static_select": [ActionEvent(
        platform="slack", event_id="12466734325.1395872398.bb:0", actor=slack("U2147483697"),
        channel_id="C2147483705", action_id="scale:3", value="4", message=CARD,
        trigger_id="12466734325.1395872398.bb")],
    "block_actions_link_button": [],
    "block_actions_ephemeral": [ActionEvent(
        platform="slack", event_id="12466734327.1395872398.dd:0", actor=slack("U2147483697"),
        channel_id="C2147483705", action_id="help:more", value="x", message=None,
        trigger_id="12466734327.1395872398.dd")],
    "block_actions_home": [ActionEvent(
        platform="slack", event_id="12466734328.1395872398.ee:0", actor=slack("U2147483697"), channel_id=None,
        action_id="pulse:close:7", value="7", message=None, trigger_id="12466734328.1395872398.ee")],
    "view_submission": [FormSubmitted(
        platform="slack", event_id="12466734330.1395872398.ff00", actor=slack("U2147483697"), channel_id=None,
        form_id="pulse:create", metadata='{"channel":"C2147483705"}',
        values={"question": "¿Cómo fue el sprint? 🚀", "kind": "scale", "teams": ("C-support", "C-product"),
                "close_after": "3", "note": ""})],
    "event_reaction_added": [ReactionEvent(
        platform="slack", event_id="Ev0REACT01", actor=slack("U0ANA0001"), channel_id="C2147483705",
        emoji="thumbsup", added=True, message=CARD)],
    "event_reaction_removed": [ReactionEvent(
        platform="slack", event_id="Ev0REACT02", actor=slack("U0ANA0001"), channel_id="C2147483705",
        emoji="thumbsup", added=False, message=CARD)],
    "event_reaction_on_file": [],
    "event_message_thread_reply": [MessageEvent(
        platform="slack", event_id="Ev0MSG0001", actor=slack("U0BEN0001"), channel_id="C2147483705",
        text="I'll call them today — @U0MEI0001 fyi", message=MessageRef("slack", "C2147483705", "1700000040.000300"),
        thread_id="1700000000.000100")],
    "event_message_thread_broadcast": [MessageEvent(
        platform="slack", event_id="Ev0MSG0005", actor=slack("U0BEN0001"), channel_id="C2147483705",
        text="I'll call them today — @U0MEI0001 fyi", message=MessageRef("slack", "C2147483705", "1700000041.000300"),
        thread_id="1700000000.000100")],
    "event_message_top_level": [],
    "event_message_from_bot": [],
    "event_message_changed": [],
    "event_member_joined_channel": [MembersAdded(
        platform="slack", event_id="Ev0JOIN001", actor=slack("U2147483697"), channel_id="C2147483705",
        members=(slack("U0MEI0001"),), bot_installed=False)],
    "event_member_joined_channel_bot": [MembersAdded(
        platform="slack", event_id="Ev0JOIN002", actor=slack("U2147483697"), channel_id="C0NEW0001", members=(),
        bot_installed=True)],
    "event_app_home_opened": ["U0ANA0001"],
    "event_app_home_opened_messages_tab": [],
}


def translated(name: str) -> list[Any]:
    body = load(name)
    if name.startswith("command_"):
        return [translate.command_event(body)]
    if name.startswith("block_actions_"):
        return list(translate.action_events(body))
    if name.startswith("view_submission"):
        return [translate.form_event(body)]
    kind = body["event"]["type"]
    one: Any = {
        "reaction_added": lambda: translate.reaction_event(body),
        "reaction_removed": lambda: translate.reaction_event(body),
        "message": lambda: translate.message_event(body, BOT),
        "member_joined_channel": lambda: translate.members_added(body, BOT),
        "app_home_opened": lambda: translate.home_opened_by(body),
    }[kind]()
    return [] if one is None else [one]


def test_every_fixture_has_an_expectation() -> None:
    assert sorted(p.stem for p in FIXTURES.glob("*.json")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_translates(name: str) -> None:
    assert translated(name) == EXPECTED[name]


def test_a_command_without_trigger_id_gets_a_stable_key() -> None:
    body = load("command_pulse")
    del body["trigger_id"]
    first, again = translate.command_event(body), translate.command_event(dict(body))
    assert first.event_id == again.event_id and len(first.event_id) == 32
    assert translate.command_event({**body, "text": "list"}).event_id != first.event_id


def test_the_bots_own_thread_reply_is_ignored() -> None:
    body = load("event_message_thread_reply")
    body["event"]["user"] = BOT
    assert translate.message_event(body, BOT) is None


def test_a_payload_without_a_user_is_refused() -> None:
    body = load("event_reaction_added")
    del body["event"]["user"]
    with pytest.raises(BadPayload):
        translate.reaction_event(body)
    with pytest.raises(BadPayload):
        translate.reaction_event({"type": "event_callback"})


def test_element_values_of_every_kind() -> None:
    value = translate.element_value
    assert value({"type": "checkboxes", "selected_options": []}) == ()
    assert value({"type": "static_select", "selected_option": None}) == ""
    assert value({"type": "users_select", "selected_user": "U1"}) == "U1"
    assert value({"type": "multi_users_select", "selected_users": ["U1", "U2"]}) == ("U1", "U2")
    assert value({"type": "datepicker", "selected_date": "2026-03-01"}) == "2026-03-01"
    assert value({"type": "number_input", "value": "7"}) == "7"


@pytest.mark.parametrize("wire_text, command, written", [
    ("add score&lt;7 &amp; nps&gt;2", "add score<7 & nps>2", "add score<7 & nps>2"),
    ('"Lunch?" yesno to:<@U0ANA0001|ana>,<@U0BEN0002>', '"Lunch?" yesno to:<@U0ANA0001|ana>,<@U0BEN0002>',
     '"Lunch?" yesno to:@ana,@U0BEN0002'),
    ("to:<#C0TEAM001|team> see <https://example.com/a?b=1&amp;c=2|example.com/a>",
     "to:<#C0TEAM001|team> see example.com/a", "to:#team see example.com/a"),
    ("<!here> &lt;b&gt;bold?&lt;/b&gt; <mailto:ana@example.com|ana@example.com>",
     "@here <b>bold?</b> ana@example.com", "@here <b>bold?</b> ana@example.com"),
    ("Привет &amp;&amp; ok", "Привет && ok", "Привет && ok"),
    ('"Should <@U0ANA0001|ana> lead <#C9|design>?" choices:"<@U0ANA0001|ana>, <@U0BEN0002|ben>" to:<#C1|team>',
     '"Should @ana lead #design?" choices:"@ana, @ben" to:<#C1|team>',  # only the audience stays an id
     '"Should @ana lead #design?" choices:"@ana, @ben" to:#team'),
])
def test_slack_markup_and_entities_become_what_was_typed(wire_text: str, command: str, written: str) -> None:
    """With should_escape on, Slack sends mentions and channels as ids; it always sends & < > as entities."""
    from adapters.slack.typed import typed_text

    assert typed_text(wire_text, keep_mentions=True) == command
    assert typed_text(wire_text, keep_mentions=False) == written
    event = translate.command_event({"command": "/pulse", "text": wire_text, "user_id": "U1", "channel_id": "C1",
                                     "trigger_id": "t1"})
    assert event.text == command.strip()

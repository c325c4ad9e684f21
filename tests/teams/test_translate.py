"""Pure translation of recorded Teams activities into neutral events and conversation references."""

from __future__ import annotations

import pytest

from adapters.teams import translate
from adapters.teams.ids import base_conversation_id, thread_conversation_id, thread_root
from bot.events import ActionEvent, CommandEvent, FormSubmitted, MembersAdded, MessageEvent, MessageRef, ReactionEvent
from tests.teams.activities import all_names, as_received, recorded

COMMANDS = ("pulse", "station", "digest")
CHANNEL = "19:9f1e6b2c7d8a4e3f5a0b1c2d3e4f5a6b@thread.tacv2"
TEAM = "19:2b5a3c0f8d1e4f7a9b6c5d4e3f2a1b0c@thread.tacv2"
GROUP = "19:meeting_ZmE0YzY5NzQtOTcxMS00YjM1LTk2NmYtNWE4ZjJjNTI0OTVm@thread.v2"
PERSONAL = "a:1xqGZc9yS7nTJbhbA2M9zZ4a6Xc4l3Yq7cPzq2D5vG3kZbWq8Jx0Ho1Nd6Rf5Tg4Yh3Uj2Ik1Ol0Pm9Qn8"
ANA = "29:1GcS4EyB_oSI8A88XmWBN7NJFyMqe3QGnJdgLfFGkJnVelzRGos0bPbpsfJjcbAD22bmKc4GMbrY2g4JDrWoDJA"
BEN = "29:1Rmk3pYQ7vA2mCkZ0a9oWq8Jc6QnXyHt5LbDf4Ue2Ig1Ps0Mv7Nw3Ox8Zr9Ty6Ks5Jh4Gf3Dd2Sa1"
TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"

EXPECTED_TYPES = {
    "conversation_update_bot_added_team": [MembersAdded],
    "conversation_update_members_added_group": [MembersAdded],
    "installation_update_personal": [MembersAdded],
    "installation_update_team": [MembersAdded],
    "invoke_choice_multi": [ActionEvent],
    "invoke_file_consent": [],  # the Teams adapter answers it itself (adapters.teams.files)
    "invoke_form": [FormSubmitted],
    "invoke_search_people": [],  # the Teams adapter answers it itself (adapters.teams.people)
    "invoke_vote": [ActionEvent],
    "message_channel_command": [CommandEvent],
    "message_channel_thread_command": [CommandEvent],
    "message_channel_thread_reply": [MessageEvent],
    "message_group_chat_command": [CommandEvent],
    "message_personal_command": [CommandEvent],
    "message_submit_fallback": [ActionEvent],
    "reaction_added": [ReactionEvent],
    "reaction_removed": [ReactionEvent],
    "typing_personal": [],
}


def events(name: str) -> list[object]:
    return list(translate.events(as_received(recorded(name)), COMMANDS))


def test_every_fixture_is_covered() -> None:
    assert sorted(EXPECTED_TYPES) == all_names()


@pytest.mark.parametrize("name", all_names())
def test_each_fixture_translates_to_its_events(name: str) -> None:
    found = events(name)
    assert [type(e) for e in found] == EXPECTED_TYPES[name]
    for event in found:
        assert event.platform == "teams" and event.event_id and event.actor.user_id.startswith("29:")
        assert event.channel_id is not None and ";messageid=" not in event.channel_id


@pytest.mark.parametrize("name", [n for n in all_names() if EXPECTED_TYPES[n]])
def test_a_resend_has_the_same_event_id_and_another_conversation_does_not(name: str) -> None:
    first = [e.event_id for e in events(name)]
    assert first == [e.event_id for e in events(name)]
    elsewhere = recorded(name)
    elsewhere["conversation"] = {**elsewhere["conversation"], "id": "19:other@thread.tacv2"}
    assert first != [e.event_id for e in translate.events(as_received(elsewhere), COMMANDS)]


def test_a_command_in_a_channel_loses_the_mention_and_decodes_entities() -> None:
    (command,) = events("message_channel_command")
    assert (command.command, command.text, command.channel_id, command.thread_id) == (
        "station", 'add score<7 "onboarding"', CHANNEL, None)
    assert command.actor.user_id == ANA and command.actor.name == "Ana Souza"


def test_commands_in_a_thread_a_group_chat_and_a_personal_chat() -> None:
    (in_thread,) = events("message_channel_thread_command")
    assert (in_thread.command, in_thread.text, in_thread.thread_id) == ("pulse", "results", "1709543800123")
    (group,) = events("message_group_chat_command")
    assert (group.command, group.text, group.channel_id) == ("digest", "preview", GROUP)
    (personal,) = events("message_personal_command")
    assert (personal.command, personal.text, personal.channel_id) == ("pulse", "help", PERSONAL)


def test_slash_and_case_are_accepted_and_unknown_words_are_messages() -> None:
    slash = recorded("message_personal_command", text="/Pulse close 12")
    (command,) = translate.events(as_received(slash), COMMANDS)
    assert (command.command, command.text) == ("pulse", "close 12")
    chat = recorded("message_personal_command", text="hello there")
    (message,) = translate.events(as_received(chat), COMMANDS)
    assert isinstance(message, MessageEvent) and message.text == "hello there" and message.thread_id is None


def test_a_thread_reply_is_a_message_with_its_thread() -> None:
    (reply,) = events("message_channel_thread_reply")
    assert reply.thread_id == "1709540000001" and reply.actor.user_id == BEN
    assert reply.text == "Ich kümmere mich darum 👍 — สวัสดีครับ"
    assert reply.message == MessageRef("teams", CHANNEL, "1709544012789")


def test_card_buttons_by_execute_and_by_submit() -> None:
    (vote,) = events("invoke_vote")
    assert (vote.action_id, vote.value) == ("vote:12", "4")
    assert vote.message == MessageRef("teams", CHANNEL, "1709540000001")
    (claim,) = events("message_submit_fallback")
    assert (claim.action_id, claim.value) == ("claim:41", "41")
    assert claim.message == MessageRef("teams", CHANNEL, "1709540000001")


def test_a_multi_choice_comes_back_as_a_tuple() -> None:
    (choice,) = events("invoke_choice_multi")
    assert (choice.action_id, choice.value) == ("topics:3", ("pricing", "onboarding"))


def test_a_form_submission_carries_its_inputs_and_metadata() -> None:
    (form,) = events("invoke_form")
    assert form.form_id == "pulse-new" and form.metadata == '{"channel": "19:9f1e"}'
    assert form.values == {"question": "How was this sprint? 🚀", "scale": "1-5", "audience": ("team", "managers")}


def test_reactions_point_at_the_message_they_are_on() -> None:
    (added,) = events("reaction_added")
    (removed,) = events("reaction_removed")
    assert (added.emoji, added.added, removed.emoji, removed.added) == ("like", True, "heart", False)
    assert added.message == removed.message == MessageRef("teams", CHANNEL, "1709540000001")


def test_installs_and_new_members() -> None:
    (team,) = events("conversation_update_bot_added_team")
    assert team.bot_installed and team.members == () and team.channel_id == TEAM
    (group,) = events("conversation_update_members_added_group")
    assert not group.bot_installed and [m.user_id for m in group.members] == [BEN]
    (personal,) = events("installation_update_personal")
    assert personal.bot_installed and personal.channel_id == PERSONAL
    removed = recorded("installation_update_personal", action="remove")
    assert translate.events(as_received(removed), COMMANDS) == []


@pytest.mark.parametrize("name, kind, conversation_id, user_id", [
    ("conversation_update_bot_added_team", "channel", TEAM, None),
    ("message_channel_thread_reply", "channel", CHANNEL, None),
    ("message_group_chat_command", "group", GROUP, None),
    ("installation_update_personal", "personal", PERSONAL, ANA),
])
def test_conversation_references_address_the_conversation_itself(name: str, kind: str, conversation_id: str,
                                                                  user_id: str | None) -> None:
    stored = translate.conversation_reference(as_received(recorded(name)))
    assert stored is not None
    assert (stored.kind, stored.conversation_id, stored.user_id) == (kind, conversation_id, user_id)
    reference = stored.reference
    assert reference["conversation"]["id"] == conversation_id  # never a thread: proactive posts start new ones
    assert reference["conversation"]["tenantId"] == TENANT  # kept although botbuilder's model drops it
    assert reference["serviceUrl"] == "https://smba.trafficmanager.net/emea/"
    assert reference["bot"]["id"].startswith("28:") and reference["channelId"] == "msteams"
    assert ("user" in reference) == (kind == "personal")


def test_thread_ids() -> None:
    threaded = thread_conversation_id(CHANNEL, "171")
    assert threaded == f"{CHANNEL};messageid=171"
    assert (base_conversation_id(threaded), thread_root(threaded), thread_root(CHANNEL)) == (CHANNEL, "171", None)


def test_mentions_that_name_an_audience_become_ids_and_others_stay_names() -> None:
    """`to:@Ben` in a one-line pulse: Teams sends <at>Ben Okafor</at> and the mentioned id in an entity."""
    from bot.pulses.spec import audience

    def mention(name: str, user_id: str) -> dict[str, object]:
        return {"type": "mention", "text": f"<at>{name}</at>", "mentioned": {"id": user_id, "name": name}}

    data = recorded("message_channel_command",
                    text='<at>Earshot</at> pulse "Does <at>Ben Okafor</at> need help?" yesno '
                         "to:<at>Ben Okafor</at>, <at>Cléo</at>",
                    entities=[mention("Earshot", "28:bot"), mention("Ben Okafor", BEN), mention("Cléo", "29:cleo")])
    (command,) = translate.events(as_received(data), COMMANDS)
    assert command.text == f'"Does Ben Okafor need help?" yesno to:<@{BEN}|Ben Okafor>, <@29:cleo|Cléo>'
    assert audience(command.text.split("to:")[1], CHANNEL) == {"kind": "people", "users": [BEN, "29:cleo"]}
    team = recorded("message_channel_command", text="<at>Earshot</at> pulse \"Q?\" yesno to:<at>General</at>",
                    entities=[mention("Earshot", "28:bot"), mention("General", CHANNEL)])
    (command,) = translate.events(as_received(team), COMMANDS)
    assert audience(command.text.split("to:")[1], "elsewhere") == {"kind": "channel", "channel_id": CHANNEL}

"""Pure translation of Teams activities (as JSON) into neutral events and storable conversation references.

Ids: a person is the Bot Framework user id (`29:…`, what `EARSHOT_ADMINS` lists); a channel is the conversation
id without its `;messageid=` thread suffix; a thread is its root activity id. Event ids are the activity id
qualified by its conversation: Teams message ids are millisecond timestamps, unique only within a chat.
"""

from __future__ import annotations

import html
import uuid
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

import regex

from adapters.teams.ids import PLATFORM, base_conversation_id, thread_root
from adapters.teams.render import CHOICE_PREFIX, INPUT_PREFIX, MULTI_KEY
from bot.events import (
    ActionEvent,
    AnyEvent,
    CommandEvent,
    FormSubmitted,
    MembersAdded,
    MessageEvent,
    MessageRef,
    Person,
    ReactionEvent,
)

CARD_ACTION = "adaptiveCard/action"
KINDS = {"channel": "channel", "groupChat": "group", "personal": "personal"}
_MENTION = regex.compile(r"<at>(.*?)</at>", regex.IGNORECASE | regex.DOTALL)
_LEADING_MENTIONS = regex.compile(r"^\s*(?:<at>.*?</at>\s*)+", regex.IGNORECASE | regex.DOTALL)
_AUDIENCE = regex.compile(r"(?:^|\s)to:(?:<at>.*?</at>\s*,\s*)*$", regex.IGNORECASE | regex.DOTALL)


@dataclass(frozen=True)
class StoredReference:
    """A ConversationReference as JSON, keyed by the conversation it addresses."""

    conversation_id: str
    kind: str  # channel | group | personal
    user_id: str | None  # the person, for a 1:1 chat
    reference: dict[str, Any]


def json_dict(value: object) -> dict[str, Any]:
    """A JSON field that should be an object, or {} when it is anything else."""
    return value if isinstance(value, dict) else {}


def json_str(value: object) -> str:
    """A JSON field that should be a string, or "" when it is anything else."""
    return value if isinstance(value, str) else ""


def conversation_of(activity: dict[str, Any]) -> str:
    return base_conversation_id(json_str(json_dict(activity.get("conversation")).get("id")))


def kind_of(activity: dict[str, Any]) -> str:
    conversation = json_dict(activity.get("conversation"))
    kind = KINDS.get(json_str(conversation.get("conversationType")))
    if kind:
        return kind
    return "group" if conversation.get("isGroup") else "personal"  # the Emulator says neither


def tenant_of(activity: dict[str, Any]) -> str | None:
    tenant = json_str(json_dict(json_dict(activity.get("channelData")).get("tenant")).get("id"))
    return tenant or json_str(json_dict(activity.get("conversation")).get("tenantId")) or None


def actor(activity: dict[str, Any]) -> Person:
    sender = json_dict(activity.get("from"))
    return Person(PLATFORM, json_str(sender.get("id")), json_str(sender.get("name")) or None,
                  timezone=sender_zone(activity))


def sender_zone(activity: dict[str, Any]) -> str | None:
    """The sender's IANA zone as their Teams client tells it: `localTimezone`, or the clientInfo entity's."""
    entities = activity.get("entities") if isinstance(activity.get("entities"), list) else []
    told = [json_str(e.get("timezone")) for e in entities if isinstance(e, dict) and e.get("type") == "clientInfo"]
    return (json_str(activity.get("localTimezone")) or next((z for z in told if z), ""))[:64] or None


def event_id(activity: dict[str, Any], *suffix: str) -> str:
    """Stable for a resend of the same activity, so the core handles it once."""
    own = json_str(activity.get("id")) or uuid.uuid4().hex
    return "|".join((conversation_of(activity), own, *suffix))


def is_card_action(activity: dict[str, Any]) -> bool:
    return activity.get("type") == "invoke" and activity.get("name") == CARD_ACTION


def conversation_reference(activity: dict[str, Any]) -> StoredReference | None:
    """What `continue_conversation` needs later, addressing the channel itself rather than this thread."""
    conversation = dict(json_dict(activity.get("conversation")))
    service_url = json_str(activity.get("serviceUrl"))
    if not conversation.get("id") or not service_url:
        return None
    base = base_conversation_id(conversation["id"])
    conversation["id"] = base
    tenant = tenant_of(activity)
    if tenant:
        conversation["tenantId"] = tenant
    kind = kind_of(activity)
    named = json_str(json_dict(json_dict(activity.get("channelData")).get("channel")).get("name"))
    if kind == "channel" and named and not conversation.get("name"):  # the channel's name, for the digest
        conversation["name"] = named
    user = {k: v for k, v in json_dict(activity.get("from")).items() if k in ("id", "name", "aadObjectId")}
    reference = {"bot": json_dict(activity.get("recipient")), "conversation": conversation,
                 "channelId": json_str(activity.get("channelId")) or "msteams", "serviceUrl": service_url}
    user_id: str | None = None
    if kind == "personal" and user:  # a shared conversation's reference names no one, so it stays the same
        reference["user"] = user
        user_id = json_str(user.get("id")) or None
    return StoredReference(base, kind, user_id, reference)


def events(activity: dict[str, Any], commands: Collection[str]) -> list[AnyEvent]:
    """The neutral events one activity stands for (none for what Earshot ignores)."""
    match activity.get("type"):
        case "message":
            value = activity.get("value")
            if isinstance(value, dict) and value:
                submitted = submission(activity, value)
                return [submitted] if submitted else []
            return [message(activity, commands)] if json_str(activity.get("text")).strip() else []
        case "invoke" if is_card_action(activity):
            action = json_dict(json_dict(activity.get("value")).get("action"))
            submitted = submission(activity, {**json_dict(action.get("data")), "verb": action.get("verb")})
            return [submitted] if submitted else []
        case "messageReaction":
            return reactions(activity)
        case "conversationUpdate":
            added = members_added(activity)
            return [added] if added else []
        case "installationUpdate" if json_str(activity.get("action")).startswith("add"):
            return [MembersAdded(platform=PLATFORM, event_id=event_id(activity, "installed"), actor=actor(activity),
                                 channel_id=conversation_of(activity), bot_installed=True)]
    return []


def command_text(activity: dict[str, Any]) -> str:
    """The words addressed to the bot: leading @mentions removed, HTML entities decoded. Other mentions read as
    the name, except where they name who a pulse goes to (`to:@Ben`, `to:@Ana,@Ben`, `to:#General`): there they
    become `<@29:…|Ben>` or `<#19:…|General>`, the ids the mention carries, which the command parsers read."""
    mentioned = {json_str(e.get("text")): json_str(json_dict(e.get("mentioned")).get("id"))
                 for e in activity.get("entities") or () if isinstance(e, dict) and e.get("type") == "mention"}
    text = _LEADING_MENTIONS.sub("", json_str(activity.get("text")))

    def name_or_id(match: regex.Match[str]) -> str:
        name, who = match.group(1), mentioned.get(match.group(0), "")
        if _AUDIENCE.search(text, 0, match.start()) and who.startswith(("29:", "19:")):
            return f"<{'@' if who.startswith('29:') else '#'}{who}|{name}>"
        return name

    return html.unescape(_MENTION.sub(name_or_id, text)).replace("\xa0", " ").strip()


def message(activity: dict[str, Any], commands: Collection[str]) -> CommandEvent | MessageEvent:
    text = command_text(activity)
    conversation = json_str(json_dict(activity.get("conversation")).get("id"))
    channel_id = base_conversation_id(conversation)
    own_id = json_str(activity.get("id"))
    root = thread_root(conversation) or json_str(activity.get("replyToId")) or None
    thread_id = root if root and root != own_id else None
    word, _, rest = text.partition(" ")
    name = word.lstrip("/").lower()
    if name in commands:
        return CommandEvent(platform=PLATFORM, event_id=event_id(activity), actor=actor(activity),
                            channel_id=channel_id, command=name, text=rest.strip(), thread_id=thread_id)
    return MessageEvent(platform=PLATFORM, event_id=event_id(activity), actor=actor(activity), channel_id=channel_id,
                        text=text, message=MessageRef(PLATFORM, channel_id, own_id), thread_id=thread_id)


def submission(activity: dict[str, Any], data: dict[str, Any]) -> ActionEvent | FormSubmitted | None:
    """A card button, choice or form sent back, by Action.Execute (invoke) or Action.Submit (message)."""
    card = json_str(activity.get("replyToId"))
    channel_id = conversation_of(activity)
    form_id = json_str(data.get("form_id"))
    if form_id:
        inputs = {key[len(INPUT_PREFIX):]: value for key, value in data.items() if key.startswith(INPUT_PREFIX)}
        multi = data.get(MULTI_KEY)
        if not isinstance(multi, list):  # a card posted before forms named their multi-selects
            multi = list(inputs)
        values = {name: _input_value(value) if name in multi else _input_text(value) for name, value in inputs.items()}
        return FormSubmitted(platform=PLATFORM, event_id=event_id(activity), actor=actor(activity),
                             channel_id=channel_id, form_id=form_id, values=values,
                             metadata=json_str(data.get("metadata")))
    action_id = json_str(data.get("action_id")) or json_str(data.get("verb"))
    if not action_id:
        return None
    choice = data.get(CHOICE_PREFIX + action_id)
    value: str | tuple[str, ...]
    if choice is not None:
        value = _input_value(choice) if data.get("multi") else json_str(choice)
    else:
        value = json_str(data.get("value"))
    return ActionEvent(platform=PLATFORM, event_id=event_id(activity), actor=actor(activity), channel_id=channel_id,
                       action_id=action_id, value=value,
                       message=MessageRef(PLATFORM, channel_id, card) if card else None)


def _input_text(value: object) -> str:
    return value if isinstance(value, str) else "" if value is None else str(value)


def _input_value(value: object) -> str | tuple[str, ...]:
    """Multi-select ChoiceSets answer "a,b"; one value stays a string."""
    text = _input_text(value)
    parts = tuple(part for part in text.split(",") if part)
    return parts if len(parts) > 1 else text


def reactions(activity: dict[str, Any]) -> list[AnyEvent]:
    channel_id = conversation_of(activity)
    target = MessageRef(PLATFORM, channel_id, json_str(activity.get("replyToId")))
    found: list[AnyEvent] = []
    for key, added in (("reactionsAdded", True), ("reactionsRemoved", False)):
        for reaction in activity.get(key) or ():
            emoji = json_str(json_dict(reaction).get("type"))
            if emoji and target.message_id:
                found.append(ReactionEvent(platform=PLATFORM, event_id=event_id(activity, emoji, str(added)),
                                           actor=actor(activity), channel_id=channel_id, emoji=emoji, added=added,
                                           message=target))
    return found


def members_added(activity: dict[str, Any]) -> MembersAdded | None:
    bot_id = json_str(json_dict(activity.get("recipient")).get("id"))
    added = [json_dict(m) for m in activity.get("membersAdded") or ()]
    if not added:
        return None
    people = tuple(Person(PLATFORM, json_str(m.get("id")), json_str(m.get("name")) or None)
                   for m in added if m.get("id") and m.get("id") != bot_id)
    return MembersAdded(platform=PLATFORM, event_id=event_id(activity, "added"), actor=actor(activity),
                        channel_id=conversation_of(activity), members=people,
                        bot_installed=any(m.get("id") == bot_id for m in added))

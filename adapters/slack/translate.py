"""Pure translation of Slack payloads (as bolt hands them to listeners) into neutral events.

Idempotency keys: Events API deliveries carry an `event_id` that stays the same when Slack resends them
(`X-Slack-Retry-Num`), so the core's (platform, type, event_id) key makes a resend a no-op. Interactions are
never resent by Slack; each click or command has its own `trigger_id`. A double click is two clicks: the
feature's own unique keys (one vote per person) make it count once.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from adapters.slack.blocks import decode_action_id
from adapters.slack.typed import typed_text
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

PLATFORM = "slack"
THREAD_SUBTYPES = (None, "thread_broadcast", "file_share")
"""Message subtypes that are a person writing; edits, deletions, joins and bot posts are not."""

Json = dict[str, Any]


class BadPayload(ValueError):
    """A payload without the fields a translation needs."""


def _person(user_id: object) -> Person:
    if not isinstance(user_id, str) or not user_id:
        raise BadPayload("payload has no user id")
    return Person(PLATFORM, user_id)


def _digest(data: Json) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:32]


def command_event(body: Json) -> CommandEvent:
    """A slash command (form fields). `/pulse close 3` → command "pulse", text "close 3"."""
    return CommandEvent(
        platform=PLATFORM,
        event_id=body.get("trigger_id") or _digest(body),
        actor=_person(body.get("user_id")),
        channel_id=body.get("channel_id") or None,
        command=str(body.get("command", "")).lstrip("/").lower(),
        text=typed_text(str(body.get("text") or ""), keep_mentions=True).strip(),
        trigger_id=body.get("trigger_id"),
    )


def element_value(state: Json) -> str | tuple[str, ...]:
    """The value of one interactive element, from a block action or a view's state, whatever its type."""
    if "selected_options" in state:
        return tuple(o["value"] for o in state["selected_options"] or ())
    if "selected_option" in state:
        chosen = state["selected_option"]
        return chosen["value"] if chosen else ""
    for many in ("selected_users", "selected_conversations", "selected_channels"):
        if many in state:
            return tuple(state[many] or ())
    for one in ("value", "selected_user", "selected_conversation", "selected_channel", "selected_date",
                "selected_time", "selected_date_time"):
        if one in state:
            value = state[one]
            return "" if value is None else str(value)
    return ""


def _message_ref(body: Json) -> MessageRef | None:
    container = body.get("container") or {}
    if container.get("type") != "message" or container.get("is_ephemeral"):
        return None  # a Home tab or modal, or an ephemeral message chat.update cannot reach
    channel = container.get("channel_id") or (body.get("channel") or {}).get("id")
    ts = container.get("message_ts") or (body.get("message") or {}).get("ts")
    return MessageRef(PLATFORM, channel, ts) if channel and ts else None


def action_events(body: Json) -> list[ActionEvent]:
    """`block_actions`: one event per action (Slack sends one); link buttons need only the ack."""
    actor = _person((body.get("user") or {}).get("id"))
    channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get("channel_id")
    trigger = body.get("trigger_id")
    message = _message_ref(body)
    events = []
    for index, action in enumerate(body.get("actions") or ()):
        action_id, link = decode_action_id(str(action.get("action_id", "")))
        if link or not action_id:
            continue
        key = trigger or f"{actor.user_id}:{action.get('action_ts', '')}"
        events.append(ActionEvent(
            platform=PLATFORM, event_id=f"{key}:{index}", actor=actor, channel_id=channel, action_id=action_id,
            value=element_value(action), message=message, trigger_id=trigger,
        ))
    return events


def form_event(body: Json) -> FormSubmitted:
    """`view_submission`: values by block id (each input's name), metadata from `private_metadata`."""
    view = body.get("view") or {}
    values: dict[str, str | tuple[str, ...]] = {}
    for block_id, elements in ((view.get("state") or {}).get("values") or {}).items():
        for state in elements.values():
            values[block_id] = element_value(state)
    return FormSubmitted(
        platform=PLATFORM,
        event_id=body.get("trigger_id") or f"{view.get('id')}:{view.get('hash')}",
        actor=_person((body.get("user") or {}).get("id")),
        channel_id=None,
        form_id=str(view.get("callback_id", "")),
        values=values,
        metadata=str(view.get("private_metadata") or ""),
    )


def _envelope(body: Json) -> tuple[str, Json]:
    event_id, event = body.get("event_id"), body.get("event")
    if not isinstance(event_id, str) or not isinstance(event, dict):
        raise BadPayload("not an Events API envelope")
    return event_id, event


def reaction_event(body: Json) -> ReactionEvent | None:
    """`reaction_added` / `reaction_removed` on a message (reactions on files are not ours)."""
    event_id, event = _envelope(body)
    item = event.get("item") or {}
    if item.get("type") != "message" or not item.get("channel") or not item.get("ts"):
        return None
    return ReactionEvent(
        platform=PLATFORM, event_id=event_id, actor=_person(event.get("user")), channel_id=item["channel"],
        emoji=str(event.get("reaction", "")), added=event.get("type") == "reaction_added",
        message=MessageRef(PLATFORM, item["channel"], item["ts"]),
    )


def message_event(body: Json, bot_user_id: str | None) -> MessageEvent | None:
    """A person's reply in a thread. Top-level messages, edits, deletions and bots' posts are None."""
    event_id, event = _envelope(body)
    if event.get("subtype") not in THREAD_SUBTYPES or event.get("bot_id") or event.get("hidden"):
        return None
    user, channel, ts, thread = event.get("user"), event.get("channel"), event.get("ts"), event.get("thread_ts")
    if not user or user == bot_user_id or not channel or not ts or not thread or thread == ts:
        return None
    return MessageEvent(
        platform=PLATFORM, event_id=event_id, actor=_person(user), channel_id=channel,
        text=typed_text(str(event.get("text") or ""), keep_mentions=False), message=MessageRef(PLATFORM, channel, ts),
        thread_id=thread,
    )


def members_added(body: Json, bot_user_id: str | None) -> MembersAdded:
    """`member_joined_channel`: the bot joining means it was added to the channel."""
    event_id, event = _envelope(body)
    joined = _person(event.get("user"))
    is_bot = joined.user_id == bot_user_id
    return MembersAdded(
        platform=PLATFORM, event_id=event_id, actor=_person(event.get("inviter") or joined.user_id),
        channel_id=event.get("channel"), members=() if is_bot else (joined,), bot_installed=is_bot,
    )


def home_opened_by(body: Json) -> str | None:
    """The person who opened the app's Home tab (None for the Messages or About tab)."""
    _, event = _envelope(body)
    return event.get("user") if event.get("tab") == "home" else None

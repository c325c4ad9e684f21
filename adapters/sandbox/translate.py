"""Pure translation of the sandbox page's JSON requests into neutral events."""

from __future__ import annotations

import uuid
from typing import Any

from adapters.sandbox.workspace import PLATFORM
from bot.events import ActionEvent, CommandEvent, FormSubmitted, MessageEvent, MessageRef, Person, ReactionEvent

MAX_TEXT = 4_000
MAX_MESSAGE_ID = 2**31 - 1
"""Message ids are 32-bit integers in storage; a larger one names no message (and PostgreSQL refuses it)."""


class BadPayload(ValueError):
    """The page sent something malformed; the message is safe to show."""


def _str(body: dict[str, Any], key: str, *, required: bool = True, limit: int = 200) -> str:
    value = body.get(key)
    if value is None or value == "":
        if required:
            raise BadPayload(f"missing {key}")
        return ""
    if not isinstance(value, str):
        raise BadPayload(f"{key} must be a string")
    if len(value) > limit:
        raise BadPayload(f"{key} is longer than {limit} characters")
    return value


def _event_id(body: dict[str, Any]) -> str:
    return _str(body, "client_id", required=False) or uuid.uuid4().hex


def actor(body: dict[str, Any]) -> Person:
    return Person(PLATFORM, _str(body, "as", limit=64))


def parse_command(body: dict[str, Any]) -> CommandEvent | None:
    """`/pulse close 3` typed in the composer; None when the text is an ordinary message."""
    text = _str(body, "text", limit=MAX_TEXT).strip()
    if not text.startswith("/") or text.startswith("//"):
        return None
    name, _, rest = text[1:].partition(" ")
    if not name:
        raise BadPayload("a command needs a name, like /pulse help")
    return CommandEvent(platform=PLATFORM, event_id=_event_id(body), actor=actor(body),
                        channel_id=channel(body), command=name.lower(), text=rest.strip(),
                        trigger_id=uuid.uuid4().hex, thread_id=_str(body, "thread_id", required=False) or None)


def message_event(body: dict[str, Any], posted_id: str) -> MessageEvent:
    where = channel(body)
    return MessageEvent(platform=PLATFORM, event_id=_event_id(body), actor=actor(body), channel_id=where,
                        text=_str(body, "text", limit=MAX_TEXT), message=MessageRef(PLATFORM, where, posted_id),
                        thread_id=_str(body, "thread_id", required=False) or None)


def channel(body: dict[str, Any]) -> str:
    """The conversation a message or command is sent to, as the page names it."""
    return _str(body, "channel_id", limit=64)


def message_id(body: dict[str, Any], key: str = "message_id") -> int:
    raw = _str(body, key, limit=20)
    if not (raw.isascii() and raw.isdigit()) or int(raw) > MAX_MESSAGE_ID:
        raise BadPayload(f"{key} must be a message's id")
    return int(raw)


def card_id(body: dict[str, Any]) -> str:
    """The id of the card a button was pressed on: a message's, or a private card's (`e7`, shown to one person)."""
    raw = _str(body, "message_id", limit=20)
    if raw.startswith("e") and raw[1:].isascii() and raw[1:].isdigit():
        return raw
    return str(message_id(body))


def thread_id(body: dict[str, Any]) -> int | None:
    return message_id(body, "thread_id") if body.get("thread_id") else None


def message_text(body: dict[str, Any]) -> str:
    return _str(body, "text", limit=MAX_TEXT)


def action_event(body: dict[str, Any], channel_id: str) -> ActionEvent:
    value = body.get("value", "")
    if isinstance(value, list):
        if not all(isinstance(v, str) for v in value):
            raise BadPayload("value must be a string or a list of strings")
        parsed: str | tuple[str, ...] = tuple(value)
    elif isinstance(value, str):
        parsed = value
    else:
        raise BadPayload("value must be a string or a list of strings")
    pressed = body.get("pressed")
    if pressed is not None and not isinstance(pressed, bool):
        raise BadPayload("pressed must be true, false or absent")
    return ActionEvent(platform=PLATFORM, event_id=_event_id(body), actor=actor(body), channel_id=channel_id,
                       action_id=_str(body, "action_id"), value=parsed,
                       message=MessageRef(PLATFORM, channel_id, card_id(body)), trigger_id=uuid.uuid4().hex,
                       pressed=pressed)


def reaction_event(body: dict[str, Any], channel_id: str) -> ReactionEvent:
    added = body.get("added")
    if not isinstance(added, bool):
        raise BadPayload("added must be true or false")
    return ReactionEvent(platform=PLATFORM, event_id=_event_id(body), actor=actor(body), channel_id=channel_id,
                         emoji=_str(body, "emoji", limit=32), added=added,
                         message=MessageRef(PLATFORM, channel_id, str(message_id(body))))


def form_event(body: dict[str, Any], channel_id: str | None) -> FormSubmitted:
    raw = body.get("values")
    if not isinstance(raw, dict):
        raise BadPayload("values must be an object")
    values: dict[str, str | tuple[str, ...]] = {}
    for key, value in raw.items():
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            values[str(key)] = tuple(value)
        elif isinstance(value, str):
            values[str(key)] = value
        else:
            raise BadPayload(f"field {key} must be text or a list of choices")
    return FormSubmitted(platform=PLATFORM, event_id=_event_id(body), actor=actor(body), channel_id=channel_id,
                         form_id=_str(body, "form_id"), values=values,
                         metadata=_str(body, "metadata", required=False, limit=4_000))

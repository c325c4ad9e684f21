"""Neutral addresses and inbound events. Adapters translate platform payloads into these."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Person:
    platform: str
    user_id: str
    name: str | None = None
    timezone: str | None = None  # IANA name, where the platform tells (Slack's users.info)

    @property
    def key(self) -> str:
        return f"{self.platform}:{self.user_id}"


@dataclass(frozen=True)
class Target:
    """Where a message goes: a channel, a thread under a message in a channel, or one person (a DM)."""

    platform: str
    channel_id: str | None = None
    thread_id: str | None = None
    user_id: str | None = None

    def __post_init__(self) -> None:
        if (self.channel_id is None) == (self.user_id is None):
            raise ValueError("a target is either a channel (with an optional thread) or a user")

    @classmethod
    def channel(cls, platform: str, channel_id: str, thread_id: str | None = None) -> Target:
        return cls(platform, channel_id=channel_id, thread_id=thread_id)

    @classmethod
    def user(cls, platform: str, user_id: str) -> Target:
        return cls(platform, user_id=user_id)

    @property
    def pace_key(self) -> str:
        """Messages to one conversation share a rate limit; threads count against their channel."""
        return f"{self.platform}:{self.channel_id}" if self.channel_id else f"{self.platform}:@{self.user_id}"

    def to_json(self) -> dict[str, Any]:
        return {"platform": self.platform, "channel_id": self.channel_id, "thread_id": self.thread_id,
                "user_id": self.user_id}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Target:
        return cls(**data)


@dataclass(frozen=True)
class MessageRef:
    """A message the bot posted, as its platform knows it (Slack ts, Teams activity id, sandbox id)."""

    platform: str
    channel_id: str
    message_id: str


@dataclass(frozen=True)
class Event:
    """Base of inbound events. `event_id` is the platform's idempotency key for this delivery. `workspace` is
    the platform's workspace the event comes from where one platform connection serves several (a Slack team or
    Enterprise Grid org installed over OAuth); None elsewhere. What a workspace creates is stored with it, and
    it sees only what was stored with it."""

    platform: str
    event_id: str
    actor: Person
    channel_id: str | None
    workspace: str | None = field(default=None, kw_only=True)


@dataclass(frozen=True)
class CommandEvent(Event):
    """`/pulse close 12` in Slack, `pulse close 12` to the Teams bot: command="pulse", text="close 12"."""

    command: str
    text: str
    trigger_id: str | None = None
    thread_id: str | None = None


@dataclass(frozen=True)
class ActionEvent(Event):
    """A button click or a choice on a card; `value` is a tuple for multi-select. `pressed` is the state an on/off
    button asked for where the platform shows each person their own (the sandbox: True to turn it on, False to
    take it back); None where a click can only toggle (Slack, Teams)."""

    action_id: str
    value: str | tuple[str, ...]
    message: MessageRef | None = None
    trigger_id: str | None = None
    pressed: bool | None = None


@dataclass(frozen=True)
class FormSubmitted(Event):
    form_id: str
    values: dict[str, str | tuple[str, ...]] = field(default_factory=dict)
    metadata: str = ""


@dataclass(frozen=True)
class ReactionEvent(Event):
    """An emoji added to or removed from a message. `emoji` is the platform's name or the character."""

    emoji: str
    added: bool
    message: MessageRef


@dataclass(frozen=True)
class MessageEvent(Event):
    """A person's message; `thread_id` set when it replies in a thread."""

    text: str
    message: MessageRef
    thread_id: str | None = None


@dataclass(frozen=True)
class MembersAdded(Event):
    """People (or the bot itself, `bot_installed`) joined a conversation."""

    members: tuple[Person, ...] = ()
    bot_installed: bool = False


AnyEvent = CommandEvent | ActionEvent | FormSubmitted | ReactionEvent | MessageEvent | MembersAdded

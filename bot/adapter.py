"""The contract every platform adapter fulfils, and the errors it reports back to the outbox."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol, runtime_checkable

from bot.cards import Card, Form
from bot.events import MessageRef, Person, Target
from bot.pacing import Pacing


class DeliveryError(Exception):
    """A send or update that failed. `retryable` decides between backing off and giving up; `maybe_delivered`
    says the platform may have acted on the call all the same (a timeout, a dropped connection, a 5xx)."""

    def __init__(self, reason: str, *, retryable: bool, retry_after: float | None = None,
                 maybe_delivered: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable
        self.retry_after = retry_after
        self.maybe_delivered = maybe_delivered


class Adapter(Protocol):
    """What the core may ask of a platform. Implementations translate cards and raise DeliveryError."""

    platform: str
    pacing: Pacing

    async def send(self, target: Target, card: Card, key: str | None = None) -> MessageRef:
        """Post a card; a user target means a DM. Returns where it landed, for later updates. `key` is the
        outbox delivery's identity, which an adapter that implements SentLookup attaches to the post."""
        ...

    async def update(self, ref: MessageRef, card: Card) -> None:
        """Replace a posted card in place (Slack chat.update, Teams update_activity)."""
        ...

    async def open_dm(self, user_id: str) -> str:
        """The conversation id of the bot's DM with a person, opening it if needed."""
        ...

    async def list_members(self, channel_id: str) -> list[Person]:
        """Everyone in a conversation, all pages."""
        ...

    async def post_ephemeral(self, channel_id: str, user_id: str, card: Card) -> None:
        """A message only `user_id` sees (Teams has no such thing and uses a 1:1 reply)."""
        ...


@runtime_checkable
class SentLookup(Protocol):
    """Optional: finding a post again by the `key` it was sent with. With it, a send whose outcome is unknown
    (its worker died, or the call failed without a clear answer) is looked up before it is posted again, which
    makes delivery exactly once; adapters without it are at least once."""

    async def find_sent(self, target: Target, key: str, since: datetime) -> MessageRef | None:
        """The message sent to `target` with `key` no earlier than `since` (by our clock), if there is one."""
        ...


@runtime_checkable
class NameLookup(Protocol):
    """Optional: what the platform calls a conversation and a person, for text that names them (the digest's
    teams, who set something up). None when the platform doesn't say; callers then show the id."""

    async def channel_name(self, channel_id: str) -> str | None:
        """A channel's name as its members see it, without a leading "#"."""
        ...

    async def person_name(self, user_id: str) -> str | None:
        """A person's display name."""
        ...


class Responder(Protocol):
    """Answers to the person behind one inbound event, bypassing the outbox (they must be fast)."""

    async def private(self, card: Card) -> None:
        """Reply so that only the actor sees it: help, refusals, errors."""
        ...

    async def open_form(self, form: Form) -> None:
        """Open a modal form for the actor (needs the event's trigger within seconds on Slack)."""
        ...

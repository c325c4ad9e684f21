"""The contract every platform adapter fulfils, and the errors it reports back to the outbox."""

from __future__ import annotations

from typing import Protocol

from bot.cards import Card, Form
from bot.events import MessageRef, Person, Target
from bot.pacing import Pacing


class DeliveryError(Exception):
    """A send or update that failed. `retryable` decides between backing off and giving up."""

    def __init__(self, reason: str, *, retryable: bool, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable
        self.retry_after = retry_after


class Adapter(Protocol):
    """What the core may ask of a platform. Implementations translate cards and raise DeliveryError."""

    platform: str
    pacing: Pacing

    async def send(self, target: Target, card: Card) -> MessageRef:
        """Post a card; a user target means a DM. Returns where it landed, for later updates."""
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


class Responder(Protocol):
    """Answers to the person behind one inbound event, bypassing the outbox (they must be fast)."""

    async def private(self, card: Card) -> None:
        """Reply so that only the actor sees it: help, refusals, errors."""
        ...

    async def open_form(self, form: Form) -> None:
        """Open a modal form for the actor (needs the event's trigger within seconds on Slack)."""
        ...

"""A recording adapter for core tests: keeps what the core sent, and can be told to fail."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from bot.adapter import DeliveryError
from bot.cards import Card, Form
from bot.events import MessageRef, Person, Target
from bot.pacing import Pacing


@dataclass
class Sent:
    target: Target
    card: Card
    ref: MessageRef


@dataclass
class RecordingAdapter:
    platform: str = "test"
    pacing: Pacing = field(default_factory=lambda: Pacing(1000, 1000, 10_000, 10_000))
    sent: list[Sent] = field(default_factory=list)
    updates: list[tuple[MessageRef, Card]] = field(default_factory=list)
    ephemeral: list[tuple[str, str, Card]] = field(default_factory=list)
    members: dict[str, list[str]] = field(default_factory=dict)
    failures: list[DeliveryError] = field(default_factory=list)
    """Errors to raise on the next sends, first first."""
    names: dict[str, str] = field(default_factory=dict)
    """Channel and person ids → the names the platform would give (bot.adapter.NameLookup)."""
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    async def send(self, target: Target, card: Card, key: str | None = None) -> MessageRef:
        if self.failures:
            raise self.failures.pop(0)
        channel = target.channel_id or await self.open_dm(target.user_id or "")
        ref = MessageRef(self.platform, channel, f"m{next(self._ids)}")
        self.sent.append(Sent(target, card, ref))
        return ref

    async def update(self, ref: MessageRef, card: Card) -> None:
        if self.failures:
            raise self.failures.pop(0)
        self.updates.append((ref, card))

    async def open_dm(self, user_id: str) -> str:
        return f"D-{user_id}"

    async def list_members(self, channel_id: str) -> list[Person]:
        return [Person(self.platform, user) for user in self.members.get(channel_id, [])]

    async def post_ephemeral(self, channel_id: str, user_id: str, card: Card) -> None:
        self.ephemeral.append((channel_id, user_id, card))

    async def channel_name(self, channel_id: str) -> str | None:
        return self.names.get(channel_id)

    async def person_name(self, user_id: str) -> str | None:
        return self.names.get(user_id)


@dataclass
class RecordingResponder:
    private_cards: list[Card] = field(default_factory=list)
    forms: list[Form] = field(default_factory=list)

    async def private(self, card: Card) -> None:
        self.private_cards.append(card)

    async def open_form(self, form: Form) -> None:
        self.forms.append(form)

    @property
    def last_text(self) -> str:
        return self.private_cards[-1].fallback if self.private_cards else ""

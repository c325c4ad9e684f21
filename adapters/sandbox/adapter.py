"""The sandbox as an Adapter: what the core's outbox calls to post, edit and address people."""

from __future__ import annotations

from adapters.sandbox.workspace import BOT_ID, PLATFORM, UnknownMessage, Workspace
from bot.adapter import DeliveryError
from bot.cards import Card, Form
from bot.events import MessageRef, Person, Target
from bot.pacing import Pacing

SANDBOX_PACING = Pacing(per_target_rate=20, per_target_burst=20, global_rate=200, global_burst=200, edit_interval=0)
"""A page on this machine: a card's new state is shown as soon as it is stored, follow-ups included."""


class SandboxAdapter:
    platform = PLATFORM
    pacing = SANDBOX_PACING

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace

    async def send(self, target: Target, card: Card, key: str | None = None) -> MessageRef:
        channel_id = target.channel_id or await self.open_dm(target.user_id or "")
        thread_id = int(target.thread_id) if target.thread_id else None
        try:
            message = await self.workspace.post(channel_id, BOT_ID, card, thread_id=thread_id)
        except UnknownMessage as error:
            raise DeliveryError(str(error), retryable=False) from None
        return MessageRef(PLATFORM, channel_id, message["id"])

    async def update(self, ref: MessageRef, card: Card) -> None:
        try:
            await self.workspace.edit(int(ref.message_id), card)
        except UnknownMessage as error:
            raise DeliveryError(str(error), retryable=False) from None

    async def open_dm(self, user_id: str) -> str:
        return await self.workspace.open_dm(user_id)

    async def list_members(self, channel_id: str) -> list[Person]:
        return [Person(PLATFORM, user) for user in await self.workspace.members(channel_id)]

    async def member_ids(self, channel_id: str) -> list[str]:
        """For participation rates (bot.pulses.audience.MemberIds)."""
        return list(await self.workspace.members(channel_id))

    async def post_ephemeral(self, channel_id: str, user_id: str, card: Card) -> None:
        await self.workspace.post_ephemeral(channel_id, user_id, card)

    async def person(self, user_id: str) -> Person | None:
        """One of the sandbox's people, or None (bot.pulses.audience.PersonLookup)."""
        return Person(PLATFORM, user_id) if await self.workspace.is_person(user_id) else None

    async def channel_name(self, channel_id: str) -> str | None:
        """bot.adapter.NameLookup: the channel's name in the sandbox (a DM has no name to show)."""
        channel = await self.workspace.channel(channel_id)
        return channel.name if channel is not None and channel.kind == "channel" else None

    async def person_name(self, user_id: str) -> str | None:
        """bot.adapter.NameLookup: the display name the sandbox shows."""
        name = await self.workspace.name_of(user_id)
        return name if name != user_id else None


class SandboxResponder:
    """Private replies and forms for the person behind one sandbox request. `anchor`: the card whose button was
    pressed; its private replies (a confirmation, a refusal) are shown under that card, not at the channel's end."""

    def __init__(self, workspace: Workspace, channel_id: str, user_id: str, anchor: str | None = None) -> None:
        self._workspace = workspace
        self._channel_id = channel_id
        self._user_id = user_id
        self._anchor = anchor

    async def private(self, card: Card) -> None:
        await self._workspace.post_ephemeral(self._channel_id, self._user_id, card, anchor=self._anchor)

    async def open_form(self, form: Form) -> None:
        await self._workspace.open_form(self._user_id, form, self._channel_id)

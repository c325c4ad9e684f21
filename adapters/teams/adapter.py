"""Teams as an Adapter: posts, edits, 1:1 chats and member lists through stored conversation references.

Each call opens a proactive turn (`continue_conversation`, or `create_conversation` for a new 1:1 chat) and
uses that turn's authenticated connector client, so the exact Bot Connector operation is chosen here:
a new post, a reply under a thread's root, or an in-place update.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from botbuilder.core import TurnContext
from botbuilder.integration.aiohttp import CloudAdapter
from botbuilder.schema import (
    Activity,
    ActivityTypes,
    Attachment,
    ChannelAccount,
    ConversationAccount,
    ConversationParameters,
    ConversationReference,
)
from botframework.connector.aio import ConnectorClient
from msrest.exceptions import ClientRequestError, HttpOperationError

from adapters.teams.errors import BLOCKED_STATUS, delivery_error, failure_of
from adapters.teams.files import Consent, UploadFailed, consent_activity, info_activity, upload
from adapters.teams.ids import PLATFORM, base_conversation_id, thread_conversation_id
from adapters.teams.references import References
from adapters.teams.render import render_card
from adapters.teams.translate import StoredReference
from bot.adapter import DeliveryError
from bot.cards import Card, File, Image, text_card
from bot.charts import chart_id, load_chart
from bot.config import Settings
from bot.events import MessageRef, Person, Target
from bot.files import load_file
from bot.pacing import Pacing
from storage.engine import Database

CARD_TYPE = "application/vnd.microsoft.card.adaptive"
BURST = 7
TEAMS_PACING = Pacing(per_target_rate=(1_800 - BURST) / 3_600, per_target_burst=BURST, global_rate=40, global_burst=40)
"""Teams allows 7 messages/s, 60 per 30 s and 1,800 per hour per conversation. A bucket of 7 refilling at
(1,800 − 7)/3,600 per second never passes any of the three (at most 7 + 15 in 30 s, 1,800 in an hour). The hour
cap is what binds a busy channel: sustained, one post every two seconds. It does not slow a pulse's fan-out,
where each person is a conversation of their own; the app-wide 50 requests/s per tenant does, so the outbox
takes 40/s and leaves the rest to answers given inside turns."""
MEMBERS_PAGE_SIZE = 500


def card_activity(card: dict[str, Any], summary: str) -> Activity:
    return Activity(type=ActivityTypes.message, summary=summary[:200],
                    attachments=[Attachment(content_type=CARD_TYPE, content=card)])


class TeamsAdapter:
    platform = PLATFORM
    pacing = TEAMS_PACING

    def __init__(self, cloud: CloudAdapter, references: References, db: Database, settings: Settings) -> None:
        self._cloud = cloud
        self._references = references
        self._db = db
        self._app_id = settings.teams_app_id
        self._tenant_id = settings.teams_app_tenant_id or None

    async def channel_name(self, channel_id: str) -> str | None:
        """bot.adapter.NameLookup: the name stored with the conversation's reference."""
        return await self._references.channel_name(channel_id)

    async def person_name(self, user_id: str) -> str | None:
        """bot.adapter.NameLookup: the name stored from the person's turns and member lists."""
        return await self._references.person_name(user_id)

    async def activities(self, card: Card, personal: str | None = None) -> list[Activity]:
        """The card and any continuation cards, with `chart:` images loaded to be inlined; in the 1:1 chat with
        the `personal` user, a file-consent card for each file (Teams takes a bot's files nowhere else)."""
        charts: dict[str, bytes] = {}
        offers: list[Activity] = []
        offered: set[str] = set()
        for block in card.blocks:
            if isinstance(block, Image) and chart_id(block.url) is not None:
                png = await load_chart(self._db, block.url)
                if png is not None:
                    charts[block.url] = png
            elif isinstance(block, File) and personal is not None:
                stored = await load_file(self._db, block.url)
                if stored is not None and stored.data:
                    offers.append(consent_activity(stored.id, block.name, len(stored.data), personal))
                    offered.add(block.url)
        rendered = render_card(card, charts, offered=offered)
        return [*(card_activity(r, card.fallback) for r in rendered), *offers]

    async def deliver_file(self, consent: Consent) -> Activity:
        """Answer a file-consent card: upload the file to where Teams said and link it, or say why not."""
        if not consent.accepted:
            return (await self.activities(text_card(
                f"OK, I won't send “{consent.name}”. Ask for it again whenever you like.")))[0]
        stored = await load_file(self._db, consent.file_id)
        try:
            if stored is None:
                raise UploadFailed("it is no longer kept here")
            await upload(consent.upload_url, stored.data, https_only=bool(self._app_id))
        except UploadFailed as error:
            return (await self.activities(text_card(
                f"I couldn't put “{consent.name}” in your OneDrive: {error}. Please ask for it again.")))[0]
        return info_activity(consent)

    async def send(self, target: Target, card: Card, key: str | None = None) -> MessageRef:
        if target.user_id is not None:
            return await self.send_to_person(target.user_id, await self.activities(card, personal=target.user_id))
        activities = await self.activities(card)
        conversation_id = base_conversation_id(target.channel_id or "")
        reference = await self._reference(conversation_id)
        ids = await self.post(reference, activities, thread_id=target.thread_id,
                              user_id=await self._references.user_of(conversation_id))
        return MessageRef(PLATFORM, conversation_id, ids[0])

    async def send_to_person(self, user_id: str, activities: list[Activity]) -> MessageRef:
        """Post in the 1:1 chat with a person, opening it first if the bot has none yet."""
        conversation_id = await self.open_dm(user_id)
        ids = await self.post(await self._reference(conversation_id), activities, user_id=user_id)
        return MessageRef(PLATFORM, conversation_id, ids[0])

    async def post(self, reference: dict[str, Any], activities: list[Activity], *, thread_id: str | None = None,
                   user_id: str | None = None) -> list[str]:
        """Post activities in order; under a thread's root when `thread_id` is given. Returns their ids."""
        conversation_id = reference["conversation"]["id"]
        ids: list[str] = []

        async def deliver(client: ConnectorClient, bot: ChannelAccount) -> None:
            for activity in activities:
                activity.from_property = bot
                if thread_id:
                    threaded = thread_conversation_id(conversation_id, thread_id)
                    activity.conversation = ConversationAccount(id=threaded)
                    activity.reply_to_id = thread_id
                    response = await client.conversations.reply_to_activity(threaded, thread_id, activity)
                else:
                    activity.conversation = ConversationAccount(id=conversation_id)
                    response = await client.conversations.send_to_conversation(conversation_id, activity)
                ids.append(response.id if response and response.id else "")

        await self._in_conversation(reference, deliver, user_id)
        return ids

    async def update(self, ref: MessageRef, card: Card) -> None:
        reference = await self._reference(ref.channel_id)
        first = (await self.activities(card))[0]  # continuation cards of the old version stay as they were
        first.id = ref.message_id

        async def edit(client: ConnectorClient, bot: ChannelAccount) -> None:
            first.from_property = bot
            first.conversation = ConversationAccount(id=ref.channel_id)
            await client.conversations.update_activity(ref.channel_id, ref.message_id, first)

        await self._in_conversation(reference, edit, await self._references.user_of(ref.channel_id))

    async def open_dm(self, user_id: str) -> str:
        """The 1:1 chat's id, created with `create_conversation` the first time (Teams can't address by email)."""
        existing = await self._references.personal(user_id)
        if existing is not None:
            return str(existing["conversation"]["id"])
        template = await self._references.latest()
        if template is None:
            raise DeliveryError("no Teams conversation is known yet: install the app in a team or chat first",
                                retryable=False)
        tenant_id = self._tenant_id or template["conversation"].get("tenantId")
        bot = ChannelAccount().deserialize(template["bot"])
        parameters = ConversationParameters(is_group=False, bot=bot, members=[ChannelAccount(id=user_id)],
                                            tenant_id=tenant_id, channel_data={"tenant": {"id": tenant_id}})
        created: list[str] = []

        async def remember_id(context: TurnContext) -> None:
            created.append(context.activity.conversation.id)

        await self._guard(self._cloud.create_conversation(
            self._app_id, remember_id, parameters, template.get("channelId", "msteams"), template["serviceUrl"],
            None), user_id)
        conversation = {"id": created[0], "conversationType": "personal", "tenantId": tenant_id}
        reference = {"bot": template["bot"], "conversation": conversation, "user": {"id": user_id},
                     "channelId": template.get("channelId", "msteams"), "serviceUrl": template["serviceUrl"]}
        await self._references.remember(StoredReference(created[0], "personal", user_id, reference))
        return created[0]

    async def list_members(self, channel_id: str) -> list[Person]:
        """Everyone in a team's channel or a chat, following continuation tokens page by page."""
        reference = await self._reference(base_conversation_id(channel_id))
        people: list[Person] = []

        async def page_through(client: ConnectorClient, _bot: ChannelAccount) -> None:
            token: str | None = None
            while True:
                page = await client.conversations.get_teams_conversation_paged_members(
                    reference["conversation"]["id"], MEMBERS_PAGE_SIZE, token)
                people.extend(Person(PLATFORM, m.id, m.name) for m in page.members or () if m.id)
                token = page.continuation_token
                if not token:
                    return

        await self._in_conversation(reference, page_through, None)
        return people

    async def member_ids(self, channel_id: str) -> list[str]:
        """For participation rates (bot.pulses.audience.MemberIds): the member list, page by page."""
        return [person.user_id for person in await self.list_members(channel_id)]

    async def post_ephemeral(self, channel_id: str, user_id: str, card: Card) -> None:
        """Teams has no message only one person sees in a channel: it goes to the person's 1:1 chat."""
        await self.send(Target.user(PLATFORM, user_id), card)

    async def _reference(self, conversation_id: str) -> dict[str, Any]:
        reference = await self._references.get(conversation_id)
        if reference is None:
            raise DeliveryError(f"no conversation reference for {conversation_id}: mention Earshot there once "
                                "(or reinstall the app) so it can post there", retryable=False)
        return reference

    async def _in_conversation(self, reference: dict[str, Any],
                               work: Callable[[ConnectorClient, ChannelAccount], Awaitable[None]],
                               user_id: str | None) -> None:
        """Run `work` with the connector client of a proactive turn in the referenced conversation."""
        conversation_reference = ConversationReference().deserialize(reference)

        async def turn(context: TurnContext) -> None:
            client = context.turn_state[CloudAdapter.BOT_CONNECTOR_CLIENT_KEY]
            await work(client, conversation_reference.bot)

        await self._guard(self._cloud.continue_conversation(conversation_reference, turn, self._app_id), user_id)

    async def _guard(self, call: Awaitable[Any], user_id: str | None) -> None:
        """Connector failures as DeliveryErrors; a 403 in a 1:1 chat marks the person unreachable."""
        try:
            await call
        except HttpOperationError as error:
            failure = failure_of(error)
            mapped = delivery_error(failure)
            if failure.status == BLOCKED_STATUS and user_id:
                await self._references.mark_unreachable(user_id, mapped.reason)
            raise mapped from None
        except (TimeoutError, ClientRequestError, ConnectionError) as error:
            raise DeliveryError(f"Teams could not be reached: {error}", retryable=True) from None

"""Slack as an Adapter: what the outbox calls to post, edit and address people, over the Web API."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar

from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.blocks import Rendered, render_card
from adapters.slack.clients import OneWorkspace, SlackClients, Team
from adapters.slack.errors import calling
from adapters.slack.history import find_marked, mark
from adapters.slack.translate import PLATFORM
from bot.adapter import DeliveryError
from bot.cards import Card
from bot.charts import chart_id, load_chart
from bot.events import MessageRef, Person, Target
from bot.files import load_file
from bot.pacing import Pacing
from storage.engine import Database

log = logging.getLogger(__name__)

SLACK_PACING = Pacing(per_target_rate=1, per_target_burst=3, global_rate=8, global_burst=20)
"""chat.postMessage allows about one message a second per channel with short bursts (hence 1/s, burst 3) and
"several hundred a minute" across a workspace: 8/s (480 a minute) stays inside that with room for chat.update
(Tier 3, 50+ a minute) and the files upload calls, and a burst of 20 lets one feedback item reach 20 subscribed
channels at once. A 429 still pauses the conversation for its Retry-After."""

MEMBERS_PAGE = 200
PEOPLE_TTL_SECONDS = 3600.0
T = TypeVar("T")
LOOKUP_CONCURRENCY = 8


def _render(card: Card) -> Rendered:
    try:
        return render_card(card)
    except ValueError as error:  # a card Slack cannot show: retrying will not change it
        raise DeliveryError(f"card_not_renderable: {error}", retryable=False) from None


class SlackAdapter:
    platform = PLATFORM
    pacing = SLACK_PACING

    def __init__(self, clients: SlackClients | AsyncWebClient, db: Database, clock: Any = time.monotonic) -> None:
        self.clients = OneWorkspace(clients) if isinstance(clients, AsyncWebClient) else clients
        self._db = db
        self._clock = clock
        self._dms: dict[str, str] = {}
        self._people: dict[str, tuple[float, Person | None]] = {}
        self._channel_names: dict[str, tuple[float, str | None]] = {}
        self._bot_user_ids: dict[Team | None, str] = {}

    @property
    def client(self) -> AsyncWebClient:
        """The client of the request being handled (with one bot token, the only client)."""
        return self.clients.current()

    async def _workspace(self, conversation_id: str) -> tuple[Team | None, AsyncWebClient]:
        team = await self.clients.team_of(conversation_id)
        return team, await self.clients.client(team)

    async def bot_user_id(self, team: Team | None = None) -> str:
        """The app's own user id in a workspace (auth.test, asked once)."""
        if team not in self._bot_user_ids:
            client = await self.clients.client(team)
            self._bot_user_ids[team] = str((await calling(client.auth_test()))["user_id"])
        return self._bot_user_ids[team]

    async def send(self, target: Target, card: Card, key: str | None = None) -> MessageRef:
        rendered = _render(card)
        team, client = await self._workspace(target.channel_id or target.user_id or "")
        channel = target.channel_id or await self.open_dm(target.user_id or "")
        await self.clients.remember([channel], team)  # before posting: a failure here is safe to retry
        response = await calling(client.chat_postMessage(
            channel=channel, text=rendered.text, blocks=rendered.blocks or None, thread_ts=target.thread_id,
            unfurl_links=False, unfurl_media=False, metadata=mark(key) if key else None))
        posted_in = str(response.get("channel") or channel)
        await self._upload_attachments(client, posted_in, target.thread_id, rendered)
        return MessageRef(PLATFORM, posted_in, str(response["ts"]))

    async def find_sent(self, target: Target, key: str, since: datetime) -> MessageRef | None:
        """The post marked with `key`, looked up in the conversation's history (charts that were still to be
        uploaded when its worker died stay missing)."""
        team, client = await self._workspace(target.channel_id or target.user_id or "")
        channel = target.channel_id or await self.open_dm(target.user_id or "")
        ts = await find_marked(client, channel, target.thread_id, key, since, await self.bot_user_id(team))
        return MessageRef(PLATFORM, channel, ts) if ts else None

    async def update(self, ref: MessageRef, card: Card) -> None:
        """Replace a posted card (charts were uploaded with the original and stay where they are)."""
        rendered = _render(card)
        _, client = await self._workspace(ref.channel_id)
        await calling(client.chat_update(channel=ref.channel_id, ts=ref.message_id, text=rendered.text,
                                         blocks=rendered.blocks))

    async def open_dm(self, user_id: str) -> str:
        if user_id not in self._dms:
            team, client = await self._workspace(user_id)
            response = await calling(client.conversations_open(users=user_id))
            self._dms[user_id] = str(response["channel"]["id"])
            await self.clients.remember([self._dms[user_id]], team)
        return self._dms[user_id]

    async def post_ephemeral(self, channel_id: str, user_id: str, card: Card) -> None:
        rendered = _render(card)
        _, client = await self._workspace(channel_id)
        await calling(client.chat_postEphemeral(channel=channel_id, user=user_id, text=rendered.text,
                                                blocks=rendered.blocks or None))

    async def list_members(self, channel_id: str) -> list[Person]:
        """Every person in a channel (all pages of conversations.members), with names and timezones from
        users.info, cached for an hour. Bots, deactivated accounts and the app itself are left out."""
        slots = asyncio.Semaphore(LOOKUP_CONCURRENCY)

        async def lookup(user_id: str) -> Person | None:
            async with slots:
                return await self.person(user_id)

        people = await asyncio.gather(*(lookup(u) for u in await self.member_ids(channel_id)))
        return [p for p in people if p is not None]

    async def member_ids(self, channel_id: str) -> list[str]:
        """A channel's members from conversations.members alone (paged), without the app itself or anyone
        already known to be a bot or deactivated: one call per 200 members, where list_members also looks
        up each person (participation rates and audiences need no names)."""
        team, client = await self._workspace(channel_id)
        ids: list[str] = []
        cursor: str | None = None
        while True:
            page = await calling(client.conversations_members(channel=channel_id, limit=MEMBERS_PAGE,
                                                              cursor=cursor))
            ids.extend(page.get("members") or ())
            cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
            if not cursor:
                break
        await self.clients.remember(ids, team)  # their DMs (a pulse's questions) go through this workspace
        me = await self.bot_user_id(team)
        return [user for user in dict.fromkeys(ids) if user != me and not self._known_not_a_person(user)]

    def _known_not_a_person(self, user_id: str) -> bool:
        cached = self._people.get(user_id)
        return cached is not None and cached[1] is None

    async def person(self, user_id: str) -> Person | None:
        """A person with display name and timezone; None for bots and deactivated accounts."""
        async def fetch() -> Person | None:
            _, client = await self._workspace(user_id)
            user = (await calling(client.users_info(user=user_id)))["user"]
            profile = user.get("profile") or {}
            if user.get("is_bot") or user.get("deleted") or user_id == "USLACKBOT":
                return None
            return Person(PLATFORM, user_id, timezone=user.get("tz"),
                          name=profile.get("display_name") or profile.get("real_name") or user.get("name"))

        return await self._cached(self._people, user_id, fetch)

    async def person_name(self, user_id: str) -> str | None:
        """bot.adapter.NameLookup: from users.info (cached with the person)."""
        found = await self.person(user_id)
        return found.name if found is not None else None

    async def channel_name(self, channel_id: str) -> str | None:
        """bot.adapter.NameLookup: from conversations.info, cached for an hour (a DM has no name)."""
        async def fetch() -> str | None:
            _, client = await self._workspace(channel_id)
            channel = (await calling(client.conversations_info(channel=channel_id)))["channel"]
            return None if channel.get("is_im") else str(channel.get("name") or "") or None

        return await self._cached(self._channel_names, channel_id, fetch)

    async def _cached(self, cache: dict[str, tuple[float, T]], key: str, fetch: Callable[[], Awaitable[T]]) -> T:
        """`cache[key]` while under PEOPLE_TTL_SECONDS old, else fetched again (and kept with the time)."""
        cached = cache.get(key)
        if cached is not None and self._clock() - cached[0] < PEOPLE_TTL_SECONDS:
            return cached[1]
        found = await fetch()
        cache[key] = (self._clock(), found)
        return found

    async def _upload_attachments(self, client: AsyncWebClient, channel: str, thread_ts: str | None,
                                  rendered: Rendered) -> None:
        """Chart images and files (a CSV export) go up with the files upload v2 flow, after the message. The
        message is already posted, so a missing or failed upload is logged rather than raised: a retry would post
        the message twice."""
        for chart in rendered.charts:
            alt = chart.alt or "Chart"
            await _upload(client, channel, thread_ts, f"chart {chart.url}", await load_chart(self._db, chart.url),
                          f"chart-{chart_id(chart.url)}.png", alt, alt=alt)
        for attached in rendered.files:
            stored = await load_file(self._db, attached.url)
            await _upload(client, channel, thread_ts, f"file {attached.url}", None if stored is None else stored.data,
                          attached.name, attached.name)


async def _upload(client: AsyncWebClient, channel: str, thread_ts: str | None, what: str, content: bytes | None,
                  filename: str, title: str, alt: str | None = None) -> None:
    """One file through the files upload v2 flow; a missing or failed one is logged (the message is posted)."""
    if content is None:
        log.warning("%s is gone; posting the message without it", what)
        return
    extra = {"alt_txt": alt} if alt else {}
    try:
        await calling(client.files_upload_v2(channel=channel, thread_ts=thread_ts, file=content, filename=filename,
                                             title=title, **extra))
    except DeliveryError as error:
        log.warning("uploading %s to %s failed: %s", filename, channel, error.reason)

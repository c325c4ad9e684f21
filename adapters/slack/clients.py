"""Which Web API client (which bot token) a call uses: the one `SLACK_BOT_TOKEN`, or, with OAuth installs, the
token of the workspace the conversation belongs to.

An outbox Target names a conversation, not a workspace, so the workspace of every channel and user id is learned
from inbound requests (and from posts and member lists) and kept in memory and in `slack_conversation_team`, for
workers in other processes."""

from __future__ import annotations

from collections.abc import Iterable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Protocol

from slack_sdk.oauth.installation_store.sqlalchemy import AsyncSQLAlchemyInstallationStore
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import select

from bot.adapter import DeliveryError
from storage.columns import this_hour
from storage.engine import Database
from storage.tables.slack import SlackConversationTeam
from storage.upsert import upsert_many


@dataclass(frozen=True)
class Team:
    """A workspace; `team_id` is None for an org-wide (Enterprise Grid) install."""

    enterprise_id: str | None
    team_id: str | None

    @property
    def workspace(self) -> str:
        """The core's name for it (bot.events.Event.workspace): the team id, or the org id of an org install."""
        return self.team_id or self.enterprise_id or ""


_request_team: ContextVar[Team | None] = ContextVar("slack_request_team", default=None)
"""The workspace of the request being handled. Listener tasks copy it when they are created, so replies to a
request (ephemeral messages, modals, the Home tab) use that workspace's client."""


class SlackClients(Protocol):
    def current(self) -> AsyncWebClient:
        """The client of the request being handled."""
        ...

    def workspace(self) -> str | None:
        """The workspace of the request being handled, when one Earshot serves several."""
        ...

    async def team_of(self, conversation_id: str) -> Team | None: ...

    async def client(self, team: Team | None) -> AsyncWebClient: ...

    async def remember(self, conversation_ids: Iterable[str], team: Team | None) -> None:
        """These channel, DM or user ids belong to `team`."""
        ...


class OneWorkspace:
    """`SLACK_BOT_TOKEN`: every call uses the one client."""

    def __init__(self, client: AsyncWebClient) -> None:
        self.base = client

    def current(self) -> AsyncWebClient:
        return self.base

    def workspace(self) -> str | None:
        return None

    async def team_of(self, conversation_id: str) -> Team | None:
        return None

    async def client(self, team: Team | None) -> AsyncWebClient:
        return self.base

    async def remember(self, conversation_ids: Iterable[str], team: Team | None) -> None:
        return None


class Installations:
    """OAuth installs: one client per workspace, all sharing the base client's aiohttp session and base URL, with
    the bot token slack_sdk's installation store holds for that workspace."""

    def __init__(self, base: AsyncWebClient, store: AsyncSQLAlchemyInstallationStore, db: Database) -> None:
        self.base = base
        self._store = store
        self._db = db
        self._clients: dict[Team, AsyncWebClient] = {}
        self._teams: dict[str, Team] = {}

    def enter(self, team: Team, bot_token: str) -> None:
        """A request from `team`, authorized by bolt with `bot_token` (the latest install's, so a reinstall's new
        token replaces the cached one)."""
        self._client_with(team, bot_token)
        _request_team.set(team)

    def current(self) -> AsyncWebClient:
        team = _request_team.get()
        if team is None or team not in self._clients:
            raise RuntimeError("no Slack request is being handled: pick the client by conversation")
        return self._clients[team]

    def workspace(self) -> str | None:
        team = _request_team.get()
        if team is None:
            raise RuntimeError("no Slack request is being handled: its workspace is unknown")
        return team.workspace

    async def team_of(self, conversation_id: str) -> Team:
        """The workspace a conversation or user was seen in; with a single installation, that one."""
        if conversation_id not in self._teams:
            async with self._db.session() as session:
                row = await session.get(SlackConversationTeam, conversation_id)
            if row is not None:
                self._teams[conversation_id] = Team(row.enterprise_id, row.team_id)
        known = self._teams.get(conversation_id)
        if known is not None:
            return known
        only = await self._only_installation()
        if only is None:
            raise DeliveryError(f"workspace_unknown: {conversation_id} was never seen in an installed workspace",
                                retryable=False)
        return only

    async def client(self, team: Team | None) -> AsyncWebClient:
        if team is None:
            raise DeliveryError("workspace_unknown", retryable=False)
        if team not in self._clients:
            bot = await self._store.async_find_bot(enterprise_id=team.enterprise_id, team_id=team.team_id)
            if bot is None and team.enterprise_id:
                bot = await self._store.async_find_bot(enterprise_id=team.enterprise_id, team_id=None,
                                                       is_enterprise_install=True)
            if bot is None or not bot.bot_token:
                raise DeliveryError(f"not_installed: no bot token for workspace {team.team_id or team.enterprise_id}",
                                    retryable=False)
            self._client_with(team, bot.bot_token)
        return self._clients[team]

    async def remember(self, conversation_ids: Iterable[str], team: Team | None) -> None:
        if team is None:
            return
        new = [c for c in dict.fromkeys(conversation_ids) if c and self._teams.get(c) != team]
        if not new:
            return
        now = this_hour()  # written as people act (their first request after a start): no finer than the hour
        rows = [{"conversation_id": c, "team_id": team.team_id, "enterprise_id": team.enterprise_id,
                 "updated_at": now} for c in new]
        async with self._db.write() as session:
            await upsert_many(session, SlackConversationTeam, rows, ["conversation_id"],
                              ["team_id", "enterprise_id", "updated_at"])
            await session.commit()
        self._teams.update(dict.fromkeys(new, team))

    def _client_with(self, team: Team, token: str) -> AsyncWebClient:
        client = self._clients.get(team)
        if client is None:
            base = self.base
            client = AsyncWebClient(token=token, base_url=base.base_url, timeout=base.timeout,
                                    retry_handlers=list(base.retry_handlers))
            self._clients[team] = client
        client.token = token
        client.session = self.base.session  # opened at start, after the clients may have been made
        return client

    async def _only_installation(self) -> Team | None:
        bots = self._store.bots.c
        query = (select(bots.enterprise_id, bots.team_id).distinct()
                 .where(bots.client_id == self._store.client_id, bots.bot_token.is_not(None)).limit(2))
        async with self._store.engine.connect() as connection:
            found = (await connection.execute(query)).all()
        return Team(found[0][0], found[0][1]) if len(found) == 1 else None

"""Teams as a platform of the process, mounted only when it is configured (bot.config `teams_enabled`): with a
MicrosoftAppId every request to /api/messages must carry a Bot Framework token (401 otherwise); with
EARSHOT_TEAMS_EMULATOR=1 and no app id it takes unauthenticated requests from the Bot Framework Emulator, and the
configuration keeps it on loopback. An unset app id alone never serves Teams."""

from __future__ import annotations

import logging

from aiohttp import web

from adapters.platform import PlatformContext
from adapters.teams.adapter import TeamsAdapter
from adapters.teams.connection import build_cloud_adapter
from adapters.teams.ids import PLATFORM
from adapters.teams.references import References
from adapters.teams.routes import MessagesRoute
from adapters.teams.turn import TeamsBot

log = logging.getLogger(__name__)
EMULATOR_NOTICE = "Teams emulator mode: unauthenticated, loopback only (EARSHOT_TEAMS_EMULATOR=1)"


class TeamsPlatform:
    name = PLATFORM

    def __init__(self, context: PlatformContext) -> None:
        self._emulator = context.settings.teams_emulator
        cloud, self._authentication = build_cloud_adapter(context.settings)
        references = References(context.db)
        self.adapter = TeamsAdapter(cloud, references, context.db, context.settings)
        self.bot = TeamsBot(context.core, self.adapter, references)
        self._route = MessagesRoute(cloud, self._authentication, self.bot, self._emulator)

    def mount(self, app: web.Application) -> None:
        self._route.mount(app)

    async def start(self) -> None:
        if self._emulator:
            log.warning(EMULATOR_NOTICE)

    async def stop(self) -> None:
        await self._authentication.close()

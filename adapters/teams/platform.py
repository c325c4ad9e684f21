"""Teams as a platform of the process: always mounted; with no MicrosoftAppId it runs in emulator mode."""

from __future__ import annotations

from aiohttp import web

from adapters.platform import PlatformContext
from adapters.teams.adapter import TeamsAdapter
from adapters.teams.connection import build_cloud_adapter
from adapters.teams.ids import PLATFORM
from adapters.teams.references import References
from adapters.teams.routes import MessagesRoute
from adapters.teams.turn import TeamsBot


class TeamsPlatform:
    name = PLATFORM

    def __init__(self, context: PlatformContext) -> None:
        cloud, authentication = build_cloud_adapter(context.settings)
        references = References(context.db)
        self.adapter = TeamsAdapter(cloud, references, context.db, context.settings)
        self.bot = TeamsBot(context.core, self.adapter, references)
        self._route = MessagesRoute(cloud, authentication, self.bot)

    def mount(self, app: web.Application) -> None:
        self._route.mount(app)

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

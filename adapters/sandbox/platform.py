"""The sandbox workspace as a platform of the process."""

from __future__ import annotations

from aiohttp import web

from adapters.platform import PlatformContext
from adapters.sandbox.adapter import SandboxAdapter
from adapters.sandbox.guard import Guard
from adapters.sandbox.routes import SandboxRoutes
from adapters.sandbox.workspace import PLATFORM, Workspace


class SandboxPlatform:
    name = PLATFORM

    def __init__(self, context: PlatformContext) -> None:
        core = context.core
        self.workspace = Workspace(context.db, marks=lambda refs: core.marks(PLATFORM, refs))
        self.adapter = SandboxAdapter(self.workspace)
        self.guard = Guard(context.settings)  # this process's secret: its link is printed at start
        self._core = context.core

    def mount(self, app: web.Application) -> None:
        SandboxRoutes(self._core, self.workspace).mount(app, self.guard)

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

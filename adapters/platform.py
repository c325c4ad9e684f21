"""What a platform folder provides to the process: its Adapter, its HTTP routes, and its lifecycle."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from aiohttp import web

from bot.adapter import Adapter
from bot.config import Settings
from bot.core import Earshot
from bot.metrics import Metrics
from storage.engine import Database


@dataclass(frozen=True)
class PlatformContext:
    """The shared pieces a platform is built from (passed in, never fetched from globals)."""

    settings: Settings
    core: Earshot
    db: Database
    metrics: Metrics


class Platform(Protocol):
    name: str
    adapter: Adapter

    def mount(self, app: web.Application) -> None:
        """Add this platform's endpoints to the one aiohttp application."""
        ...

    async def start(self) -> None:
        """Open long-lived connections (Socket Mode, clients); called once the app starts."""
        ...

    async def stop(self) -> None: ...

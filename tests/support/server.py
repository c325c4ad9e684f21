"""The real aiohttp application on a free loopback port, for end-to-end tests over HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from aiohttp import web

from adapters.runtime import Runtime
from adapters.sandbox.demo import seed_workspace
from adapters.web import build_app
from bot.config import load_settings
from tests.support.postgres import free_port


@dataclass
class Running:
    url: str
    runtime: Runtime


@asynccontextmanager
async def running_app(database_url: str, *, demo: bool = True, **settings: object) -> AsyncIterator[Running]:
    config = load_settings(DATABASE_URL=database_url, EARSHOT_SANDBOX=demo, **settings)
    runtime = Runtime(config)
    app = build_app(runtime)
    if demo:
        async def seed(_app: web.Application) -> None:
            assert runtime.workspace is not None
            await seed_workspace(runtime.db, runtime.workspace)

        app.on_startup.append(seed)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    try:
        yield Running(f"http://127.0.0.1:{port}", runtime)
    finally:
        await runner.cleanup()

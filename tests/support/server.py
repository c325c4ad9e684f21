"""The real aiohttp application on a free loopback port, for end-to-end tests over HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import aiohttp
from aiohttp import web

from adapters.runtime import Runtime
from adapters.sandbox.demo import seed_workspace
from adapters.sandbox.guard import Guard
from adapters.sandbox.platform import SandboxPlatform
from adapters.sandbox.workspace import Workspace
from adapters.web import build_app
from bot.config import load_settings
from tests.support.postgres import free_port


@dataclass
class Running:
    url: str
    runtime: Runtime

    @property
    def guard(self) -> Guard:
        return next(p.guard for p in self.runtime.platforms if isinstance(p, SandboxPlatform))

    @property
    def workspace(self) -> Workspace:
        """The sandbox's workspace (every test app serves the sandbox)."""
        assert self.runtime.workspace is not None
        return self.runtime.workspace

    @property
    def link(self) -> str:
        """The sandbox's link with this run's secret, as `earshot demo` prints it (on this test's port)."""
        return f"{self.url}/sandbox/?token={self.guard.token}"

    async def sandbox_session(self, **options: object) -> aiohttp.ClientSession:
        """A client that has opened the printed link, as a browser does: it holds the sandbox's cookie (the
        caller closes it; use `async with await running.sandbox_session() as session`). The jar is `unsafe`
        because aiohttp's own keeps no cookies from an IP address such as 127.0.0.1; browsers do."""
        session = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True), **options)  # type: ignore[arg-type]
        try:
            async with session.get(self.link, allow_redirects=False) as response:
                assert response.status == 303, await response.text()
        except BaseException:
            await session.close()
            raise
        return session


async def live_socket(session: aiohttp.ClientSession, url: str, person: str) -> aiohttp.ClientWebSocketResponse:
    """`person`'s live connection to the sandbox, once the server has said it is registered (its first message,
    "ready"): everything that happens after this call reaches it."""
    ws = await session.ws_connect(f"{url}/sandbox/ws?as={person}")
    first = await ws.receive_json(timeout=5)
    assert first == {"type": "ready"}, first
    return ws


@asynccontextmanager
async def running_app(database_url: str, *, demo: bool = True, **settings: object) -> AsyncIterator[Running]:
    port = free_port()
    config = load_settings(DATABASE_URL=database_url, EARSHOT_SANDBOX=demo, PORT=port, **settings)
    runtime = Runtime(config)
    app = build_app(runtime)
    if demo:
        async def seed(_app: web.Application) -> None:
            assert runtime.workspace is not None
            await seed_workspace(runtime.db, runtime.workspace)

        app.on_startup.append(seed)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    try:
        yield Running(f"http://127.0.0.1:{port}", runtime)
    finally:
        await runner.cleanup()


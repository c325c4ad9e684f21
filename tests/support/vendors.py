"""A fake feedback tool's API on loopback: it answers set paths with set replies and records every request, so a
kind's real HTTP code (headers, paths, 429 handling) is tested against a real server."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class Reply:
    status: int = 200
    body: Any = None
    """JSON-encoded unless it is bytes."""
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]


@dataclass
class FakeVendor:
    url: str
    replies: dict[str, Reply]
    """By path (query strings are ignored); a path not set answers 404. Change it between calls as needed."""
    seen: list[Seen] = field(default_factory=list)


@asynccontextmanager
async def fake_vendor(replies: dict[str, Reply]) -> AsyncIterator[FakeVendor]:
    vendor = FakeVendor("", dict(replies))

    async def answer(request: web.Request) -> web.Response:
        vendor.seen.append(Seen(request.method, request.path, dict(request.query), dict(request.headers)))
        reply = vendor.replies.get(request.path, Reply(404, {"error": "not found"}))
        body = reply.body if isinstance(reply.body, bytes) else json.dumps(reply.body).encode()
        return web.Response(status=reply.status, body=body, headers=reply.headers, content_type="application/json")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", answer)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    vendor.url = f"http://{host}:{port}"
    try:
        yield vendor
    finally:
        await runner.cleanup()

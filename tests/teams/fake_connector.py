"""A fake Bot Connector on loopback: records what the bot posts, updates and creates, and can refuse."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from aiohttp import web

from tests.support.postgres import free_port


@dataclass
class Call:
    method: str
    segments: list[str]  # the path after /v3/, each segment decoded
    query: dict[str, str]
    body: Any
    authorization: str | None

    @property
    def conversation_id(self) -> str:
        return self.segments[1] if len(self.segments) > 1 else ""

    @property
    def card(self) -> dict[str, Any]:
        return self.body["attachments"][0]["content"]


@dataclass
class Refusal:
    status: int
    code: str = ""
    retry_after: str | None = None


@dataclass
class Upload:
    """One fragment PUT to an upload session."""

    name: str
    content_range: str
    body: bytes


@dataclass
class FakeConnector:
    url: str = ""
    calls: list[Call] = field(default_factory=list)
    refusals: list[Refusal] = field(default_factory=list)
    """Answers for the next write calls (POST/PUT), first first."""
    members: list[dict[str, str]] = field(default_factory=list)
    members_of: dict[str, list[dict[str, str]]] = field(default_factory=dict)
    """Members of particular conversations (the others have `members`)."""
    uploads: list[Upload] = field(default_factory=list)
    """Fragments PUT to `upload_url(name)`, OneDrive's upload session stand-in."""
    upload_refusals: list[int] = field(default_factory=list)
    page_size: int = 2
    redirect: tuple[int, str] | None = None
    """(status, base URL): answer every Bot Connector call with that redirect to the same path under the URL."""
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    def writes(self, method: str | None = None) -> list[Call]:
        return [c for c in self.calls if c.method in ("POST", "PUT") and (method is None or c.method == method)]

    def posts(self) -> list[Call]:
        """Messages posted (new or replies), not conversations created."""
        return [c for c in self.writes("POST") if len(c.segments) >= 3]

    async def wait_for(self, count: int, method: str | None = None) -> list[Call]:
        """The write calls once there are `count` of them (ten seconds at most)."""
        async with asyncio.timeout(10):
            while len(self.writes(method)) < count:
                self._changed.clear()
                await self._changed.wait()
        return self.writes(method)

    def upload_url(self, name: str) -> str:
        return f"{self.url}upload/{name}"

    def uploaded(self, name: str) -> bytes:
        return b"".join(u.body for u in self.uploads if u.name == name)

    async def upload(self, request: web.Request) -> web.Response:
        """An upload session: 202 while parts are missing, 201 once the last byte of the range arrived."""
        name = request.match_info["name"]
        if name == "moved.csv":  # a session that answers with a redirect to somewhere else
            return web.Response(status=307, headers={"Location": self.upload_url("elsewhere.csv")})
        content_range = request.headers.get("Content-Range", "")
        self.uploads.append(Upload(name, content_range, await request.read()))
        self._changed.set()
        if self.upload_refusals:
            return web.json_response({"error": {"code": "accessDenied"}}, status=self.upload_refusals.pop(0))
        span, total = content_range.removeprefix("bytes ").split("/")
        last = int(span.split("-")[1])
        if last + 1 < int(total):
            return web.json_response({"nextExpectedRanges": [f"{last + 1}-"]}, status=202)
        return web.json_response({"id": "01QMKYGH", "name": name, "size": int(total)}, status=201)

    async def handle(self, request: web.Request) -> web.Response:
        raw = request.rel_url.raw_path.split("/v3/", 1)[1]
        segments = [unquote(part) for part in raw.split("/")]
        body = json.loads(await request.text()) if request.can_read_body else None
        call = Call(request.method, segments, dict(request.query), body, request.headers.get("Authorization"))
        self.calls.append(call)
        self._changed.set()
        if self.redirect is not None:
            status, elsewhere = self.redirect
            return web.Response(status=status, headers={"Location": f"{elsewhere}v3/{raw}"})
        if request.method in ("POST", "PUT") and self.refusals:
            refusal = self.refusals.pop(0)
            headers = {"Retry-After": refusal.retry_after} if refusal.retry_after else None
            return web.json_response({"error": {"code": refusal.code, "message": "refused by the fake"}},
                                     status=refusal.status, headers=headers)
        if request.method == "GET" and segments[-1] == "pagedmembers":
            start = int(request.query.get("continuationToken") or 0)
            members = self.members_of.get(segments[1], self.members)
            page = members[start:start + self.page_size]
            more = start + self.page_size < len(members)
            return web.json_response({"members": page, "continuationToken": str(start + self.page_size) if more
                                      else None})
        if request.method == "POST" and segments == ["conversations"]:
            return web.json_response({"id": f"a:created-{next(self._ids)}"}, status=201)
        if request.method == "PUT":
            return web.json_response({"id": segments[-1]})
        return web.json_response({"id": f"17000000000{next(self._ids):02d}"}, status=201)


@asynccontextmanager
async def running_connector() -> AsyncIterator[FakeConnector]:
    connector = FakeConnector()
    app = web.Application()
    app.router.add_route("*", "/v3/{tail:.*}", connector.handle)
    app.router.add_route("*", "/{prefix}/v3/{tail:.*}", connector.handle)  # many service URLs, one connector
    app.router.add_put("/upload/{name}", connector.upload)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    connector.url = f"http://127.0.0.1:{port}/"
    try:
        yield connector
    finally:
        await runner.cleanup()
